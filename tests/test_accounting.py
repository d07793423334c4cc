"""Every logged row ends in exactly one outcome, and ``stats()`` adds up.

Outcomes: an edge case (in the retraining set), quarantined (held out with a reason), or not
selected. Quarantine *entries* are counted apart: one row can fail several checks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from curate import Framework, Signal
from curate.store_reader import StoreReader

WORDS = ("nike", "adidas", "puma", None)


def _down(inputs, outputs, gts=None, extra_args=None):
    raise ConnectionError("scoring service down")


EDGE = {
    "nike": (Signal.contains("nike"), lambda df: df.text.fillna("").str.contains("nike")),
    "high": (Signal.length() > 8, lambda df: df.text.fillna("").str.len() > 8),
    "nike_or_down": (Signal.contains("nike") | Signal("down", _down), None),
}


@st.composite
def scenarios(draw):
    n = draw(st.integers(1, 60))
    texts = [draw(st.sampled_from(WORDS)) for _ in range(n)]
    suffix = [draw(st.integers(0, 9999)) for _ in range(n)]
    df = pd.DataFrame({
        "text": [None if t is None else f"{t} {s}" for t, s in zip(texts, suffix, strict=True)],
        "score": [draw(st.floats(-1, 2, allow_nan=False)) for _ in range(n)],
    })  # fmt: skip
    edges = draw(st.lists(st.sampled_from(sorted(EDGE)), min_size=1, max_size=3, unique=True))
    non_null_q = draw(st.sampled_from([None, True, False]))
    between_q = draw(st.sampled_from([None, True, False]))
    return df, edges, non_null_q, between_q


def _checks(edges, non_null_q, between_q) -> list[dict]:
    checks = [{"type": "edge_case", "signal_formulae": EDGE[e][0], "name": e} for e in edges]
    if non_null_q is not None:
        checks.append(
            {
                "type": "data_integrity",
                "integrity_type": "non_null",
                "quarantine": non_null_q,
                "measurable_args": {"feature_name": "text"},
            }
        )
    if between_q is not None:
        checks.append(
            {
                "type": "data_integrity",
                "integrity_type": "between",
                "lower": 0,
                "upper": 1,
                "quarantine": between_q,
                "measurable_args": {"feature_name": "score"},
            }
        )
    return checks  # fmt: skip


def _expected(df, edges, non_null_q, between_q) -> tuple[set, set, int]:
    ids = np.arange(len(df))
    held = np.zeros(len(df), dtype=bool)
    entries = 0
    if non_null_q:
        held |= df.text.isna().to_numpy()
        entries += int(df.text.isna().sum())
    if between_q:
        out = ~df.score.between(0, 1).to_numpy()
        held |= out
        entries += int(out.sum())
    selected = np.zeros(len(df), dtype=bool)
    undecided = np.zeros(len(df), dtype=bool)
    for e in edges:
        if e == "nike_or_down":
            nike = df.text.fillna("").str.contains("nike").to_numpy()
            selected |= nike
            undecided |= ~nike  # "down" failed: only nike rows are decided
            entries += int((~nike).sum())
        else:
            selected |= EDGE[e][1](df).to_numpy()
    kept = selected & ~held
    quarantined = (held | undecided) & ~kept
    return set(ids[kept]), set(ids[quarantined]), entries


@settings(max_examples=25, deadline=None)
@given(scenarios())
def test_every_row_is_in_exactly_one_outcome(tmp_path_factory, scenario):
    df, edges, non_null_q, between_q = scenario
    root = tmp_path_factory.mktemp("store")
    cfg = {"checks": _checks(edges, non_null_q, between_q), "retraining_folder": root,
           "strict": False}  # fmt: skip
    with Framework(cfg) as fw:
        half = len(df) // 2  # two calls, so outcomes add up across batches too
        for part in (df.iloc[:half], df.iloc[half:]):
            if len(part):
                fw.log(inputs={"text": part.text.tolist(), "score": part.score.tolist()})
                fw.flush()
        stats = fw.stats()
    reader = StoreReader(root)
    kept_ids = set(reader.read("retraining", ["id"]).column("id").to_pylist()) if stats[
        "edge_cases"] else set()  # fmt: skip
    entries = reader.read("quarantine").to_pandas() if reader.files("quarantine") else None
    held_ids = (set(entries["id"]) if entries is not None else set()) - kept_ids
    want_kept, want_held, want_entries = _expected(df, edges, non_null_q, between_q)
    assert kept_ids == want_kept
    assert held_ids == want_held
    assert stats["rows_logged"] == len(df)
    assert stats["edge_cases"] == len(want_kept)
    assert stats["quarantined"] == len(want_held)
    assert stats["quarantine_entries"] == want_entries
    assert stats["rows_not_selected"] == len(df) - len(want_kept) - len(want_held)
    assert stats["edge_cases"] + stats["quarantined"] + stats["rows_not_selected"] == len(df)


def test_quarantined_counts_rows_and_entries_apart(tmp_path):
    cfg = {
        "checks": [
            {"type": "edge_case", "signal_formulae": Signal.contains("nike")},
            {"type": "data_integrity", "integrity_type": "non_null",
             "measurable_args": {"feature_name": "text"}},
            {"type": "data_integrity", "integrity_type": "non_null",
             "measurable_args": {"feature_name": "title"}},
            {"type": "data_integrity", "integrity_type": "between", "lower": 0, "upper": 1,
             "measurable_args": {"feature_name": "score"}},
        ],
        "retraining_folder": tmp_path / "s",
    }  # fmt: skip
    with Framework(cfg) as fw:
        fw.log(inputs={"text": [None] * 10, "title": [None] * 10, "score": [5.0] * 10})
        stats = fw.stats()
    assert (stats["quarantined"], stats["quarantine_entries"]) == (10, 30)
    assert stats["rows_not_selected"] == 0 and stats["edge_cases"] == 0
