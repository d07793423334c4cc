"""Labels that arrive after their predictions reach the retraining set a classifier trains on.

Production logs a prediction with an identifier and, often days later, its true label with
``log_ground_truth``. The labels are stored (``labels`` table) and joined back on the
identifiers when a run reads its edge cases; the newest label wins; an edge case that was
unlabelled when a run trained and gets its label later is new to the next run.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from trainer_fixtures import make_tiny_mlm

from curate import Framework, Monitor, Signal
from curate.labels import LABELS_TABLE, attach_labels
from curate.runs import RunRegistry
from curate.store import Store
from trainer.config import TrainingArgs
from trainer.data import select_examples
from trainer.launch import start_run
from trainer.tasks import get_task

TS = pa.timestamp("us", tz="UTC")
ids = st.sampled_from(["a", "b", "c", "d", None])
labels = st.sampled_from(["pos", "neg", "meh", None])


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.tuples(ids, labels), max_size=12),
    late=st.lists(st.tuples(ids, st.integers(0, 3), labels), max_size=12),
)
def test_the_newest_late_label_wins_and_rows_keep_their_order(rows, late):
    table = pa.table({"identifiers": pa.array([r[0] for r in rows], pa.string()),
                      "gts": pa.array([r[1] for r in rows], pa.string()),
                      "n": list(range(len(rows)))})  # fmt: skip
    given_late = pa.table({"ts": pa.array([t for _, t, _ in late], pa.int64()).cast(TS),
                           "identifiers": pa.array([i for i, _, _ in late], pa.string()),
                           "gts": pa.array([g for _, _, g in late], pa.string())})  # fmt: skip
    newest: dict[str, str | None] = {}
    for _, (ident, _ts, label) in sorted(enumerate(late), key=lambda e: (e[1][1], e[0])):
        if ident is not None and label is not None:  # a null late label says nothing
            newest[ident] = label
    expected = [newest.get(ident, logged) for ident, logged in rows]
    out = attach_labels(table, given_late)
    assert out.column("n").to_pylist() == list(range(len(rows)))
    assert out.column("gts").to_pylist() == expected


def test_late_labels_of_another_type_and_of_dict_columns():
    rows = pa.table({"identifiers.req": ["r1", "r2"], "gts.label": [0, None]})
    late = pa.table({"ts": pa.array([1, 2], TS), "identifiers.req": ["r2", "r9"],
                     "gts.label": pa.array([1.0, 0.0])})  # fmt: skip
    out = attach_labels(rows, late)
    assert out.column("gts.label").to_pylist() == [0, 1]
    assert out.column("gts.label").type == pa.int64()
    texts = pa.table({"identifiers": ["r1"], "gts": pa.array([None], pa.null())})
    late = pa.table({"ts": pa.array([1], TS), "identifiers": ["r1"], "gts": ["pos"]})
    assert attach_labels(texts, late).column("gts").to_pylist() == ["pos"]
    no_keys = pa.table({"text": ["x"]})
    assert attach_labels(no_keys, late) is no_keys


TEXTS = [f"{word} review number {i}" for i, word in enumerate(["great", "awful"] * 30)]


def _log(store, texts: list[str], first: int) -> None:
    cfg = {"checks": [{"type": Monitor.EDGE_CASE, "signal_formulae": Signal.confidence() < 0.9}],
           "retraining_folder": store, "traffic_sample": 0}  # fmt: skip
    with Framework(cfg) as fw:
        n = len(texts)
        # Predictions without labels, as a request handler logs them.
        fw.log(inputs={"text": texts}, outputs=np.full((n, 2), 0.5),
               identifiers=[f"req-{first + i}" for i in range(n)])  # fmt: skip


def _label(store, texts: list[str], first: int) -> None:
    with Framework({"retraining_folder": store, "traffic_sample": 0}) as fw:
        fw.log_ground_truth(
            identifiers=[f"req-{first + i}" for i in range(len(texts))],
            gts=["pos" if t.startswith("great") else "neg" for t in texts],
        )


def _run(store: Store):
    return RunRegistry(store).create(snapshot=store.files("retraining"), trigger="manual",
                                     kind="trainer")  # fmt: skip


def test_labels_logged_later_are_stored_and_joined_to_the_edge_cases(tmp_path):
    _log(tmp_path / "s", TEXTS, 0)
    _label(tmp_path / "s", TEXTS[:40], 0)
    store = Store(tmp_path / "s")
    stored = store.read(LABELS_TABLE)
    assert stored.num_rows == 40 and {"ts", "identifiers", "gts"} <= set(stored.column_names)
    task = get_task("classification", TrainingArgs(task="classification", max_eval_samples=4))
    splits = select_examples(_run(store), task, previous=None)
    examples = splits.train + splits.eval
    assert splits.counts["rows_dropped_null_or_empty"] == 20  # the 20 never labelled
    assert sorted(examples) == sorted(
        (t, "pos" if t.startswith("great") else "neg") for t in TEXTS[:40]
    )


def test_an_edge_case_labelled_after_a_run_is_new_to_the_next(tmp_path):
    _log(tmp_path / "s", TEXTS[:30], 0)
    _label(tmp_path / "s", TEXTS[:10], 0)
    store = Store(tmp_path / "s")
    task = get_task("classification", TrainingArgs(task="classification", max_eval_samples=2))
    first = _run(store)
    assert len(select_examples(first, task, previous=None).counts) and first.labels_snapshot
    _label(tmp_path / "s", TEXTS[10:30], 10)  # labels arrive after the first run started
    _log(tmp_path / "s", TEXTS[30:], 30)
    _label(tmp_path / "s", TEXTS[30:], 30)
    splits = select_examples(_run(store), task, previous=first)
    assert splits.counts["labelled_since_last_run"] == 20
    new = splits.train[: splits.counts["new_edge_cases"]] + splits.eval
    assert sorted(t for t, _ in new) == sorted(TEXTS[10:])
    assert splits.counts["replay_edge_cases"] <= 10  # only what the first run trained on


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    return str(make_tiny_mlm(tmp_path_factory.mktemp("tiny-late")))


def test_a_classification_run_trains_on_late_labels(tmp_path, tiny):
    _log(tmp_path / "s", TEXTS, 0)
    _label(tmp_path / "s", TEXTS, 0)
    args = {"task": "classification", "model": tiny, "max_steps": 3, "batch_size": 8,
            "max_length": 16, "num_threads": 1, "max_eval_samples": 8}  # fmt: skip
    run = start_run(Store(tmp_path / "s"), args, progress_bar=False)
    assert run.has_model, run.error
    config = json.loads((run.path / "model" / "config.json").read_text())
    assert sorted(config["id2label"].values()) == ["neg", "pos"]
    assert run.record["metrics"]["rows_dropped_null_or_empty"] == 0
