"""DATA_INTEGRITY: every check on edge values, windows, metrics, alerts and quarantine."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.batch import Batch
from monitors import integrity_checks as checks
from monitors.base import MonitorContext
from monitors.integrity import IntegrityCheck, IntegrityMonitor
from monitors.windows import Windower, parse_window

HUGE = "x" * 2_000_000
NUMBERS = [None, math.nan, math.inf, -math.inf, 0.0, -0.0, 1e308, -1e-308, 5.0, 2.0]
TEXTS = [None, "", "   ", "☃ é 日本 🙂", HUGE, "nike", "\x00", "nike"]


def is_missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


# An oracle per check, one Python value at a time: (check name, params, violates(v)).
NUMERIC_CASES = [
    ("non_null", {}, is_missing),
    ("less_than", {"threshold": 3}, lambda v: not is_missing(v) and not v < 3),
    ("greater_than", {"threshold": 3}, lambda v: not is_missing(v) and not v > 3),
    ("between", {"lower": 0, "upper": 1}, lambda v: not is_missing(v) and not 0 <= v <= 1),
    ("in_set", {"values": [0, 5]}, lambda v: not is_missing(v) and v not in (0, 5)),
    ("dtype", {"dtype": "float"}, lambda v: False),
    ("dtype", {"dtype": "str"}, lambda v: not is_missing(v)),
    ("matches", {"pattern": "5"}, lambda v: not is_missing(v)),  # numbers are not text
    (
        "z_score",
        {"mean": 2.0, "std": 1.0, "z_threshold": 2},
        lambda v: not is_missing(v) and not abs(v - 2.0) <= 2,
    ),
]

TEXT_CASES = [
    ("non_null", {}, is_missing),
    ("non_null", {"empty_is_null": True}, lambda v: v is None or not v.strip()),
    ("less_than", {"threshold": 3}, lambda v: v is not None),  # text is not a number
    ("between", {"lower": 0, "upper": 1}, lambda v: v is not None),
    ("z_score", {"mean": 0.0, "std": 1.0}, lambda v: v is not None),
    ("in_set", {"values": ["nike", ""]}, lambda v: v is not None and v not in ("nike", "")),
    ("matches", {"pattern": "^n"}, lambda v: v is not None and not v.startswith("n")),
    ("matches", {"pattern": r"\p{So}"}, lambda v: v is not None and "☃" not in v),
    ("dtype", {"dtype": "str"}, lambda v: False),
    ("dtype", {"dtype": "int"}, lambda v: v is not None),
]


def run_check(name: str, col: pa.Array, params: dict) -> tuple[np.ndarray, str]:
    fn = checks.DuplicateTracker() if name == "duplicate" else checks.CHECKS[name]
    mask, reason = fn(col, **params)
    assert isinstance(mask, np.ndarray) and mask.dtype == bool and len(mask) == len(col)
    assert isinstance(reason, str) and reason
    return mask, reason


@pytest.mark.parametrize(("name", "params", "oracle"), NUMERIC_CASES)
def test_numeric_edge_values(name, params, oracle):
    mask, _ = run_check(name, pa.array(NUMBERS, pa.float64()), params)
    assert mask.tolist() == [bool(oracle(v)) for v in NUMBERS]


@pytest.mark.parametrize(("name", "params", "oracle"), TEXT_CASES)
def test_text_edge_values(name, params, oracle):
    mask, reason = run_check(name, pa.array(TEXTS), params)
    assert mask.tolist() == [bool(oracle(v)) for v in TEXTS]
    assert len(reason) < 300  # a huge value never ends up in the reason


@pytest.mark.parametrize("name", [*checks.CHECKS, "duplicate"])
@pytest.mark.parametrize(
    "col",
    [
        pa.array([], pa.float64()),
        pa.array([], pa.string()),
        pa.nulls(3),
        pa.array([None, None], pa.string()),
        pa.array([[1, 2], None, []]),
        pa.array([True, False, None]),
    ],
    ids=["empty-float", "empty-str", "all-null", "null-str", "lists", "bools"],
)
def test_every_check_survives_empty_null_and_odd_columns(name, col):
    params = {
        "threshold": 1, "lower": 0, "upper": 1, "values": [1, "a"], "pattern": "a",
        "dtype": "int", "mean": 0.0, "std": 1.0,
    }  # fmt: skip
    mask, _ = run_check(name, col, params)
    missing = pc.is_null(col, nan_is_null=True).to_numpy(zero_copy_only=False)
    if name == "non_null":
        assert mask.tolist() == missing.tolist()
    else:  # a missing value only ever violates non_null
        assert not mask[missing].any()


def test_duplicate_remembers_across_batches_and_forgets_beyond_its_memory():
    track = checks.DuplicateTracker(memory=3)
    assert track(pa.array(["a", "b", "a", None, None]))[0].tolist() == [
        False, False, True, False, False,
    ]  # fmt: skip
    assert track(pa.array(["b", HUGE, "☃"]))[0].tolist() == [True, False, False]
    # memory holds the 3 newest distinct values: "a" is forgotten, "☃" is not
    assert track(pa.array(["a", "☃"]))[0].tolist() == [False, True]
    assert track(pa.array([0.0, -0.0, math.nan, math.nan]))[0].tolist() == [
        False, True, False, False,
    ]  # fmt: skip


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.none() | st.floats(allow_nan=True, allow_infinity=True), max_size=30),
    st.floats(-1e6, 1e6),
    st.floats(0, 1e6),
)
def test_numeric_checks_property_against_python(values, a, width):
    col = pa.array(values, pa.float64())
    lo, hi = a, a + width
    expect = lambda f: [not is_missing(v) and not f(v) for v in values]  # noqa: E731
    assert run_check("less_than", col, {"threshold": a})[0].tolist() == expect(lambda v: v < a)
    assert run_check("greater_than", col, {"threshold": a})[0].tolist() == expect(lambda v: v > a)
    assert run_check("between", col, {"lower": lo, "upper": hi})[0].tolist() == expect(
        lambda v: lo <= v <= hi
    )
    assert run_check("non_null", col, {})[0].tolist() == [is_missing(v) for v in values]


# -- through the monitor: mixed types and where violations go --------------------------------------


def monitor(tmp_path, **check) -> IntegrityMonitor:
    from curate.store import Store

    check.setdefault("measurable_args", {"type": "input_feature", "feature_name": "c"})
    config = IntegrityCheck(type="data_integrity", **check)
    return IntegrityMonitor(config, MonitorContext(store=Store(tmp_path / "s")))


def batch(values, name="c") -> Batch:
    n = len(values)
    return Batch.from_log(np.arange(n), np.arange(n, dtype=np.int64), {name: values})


def test_mixed_types_are_dtype_violations_with_the_original_value(tmp_path):
    mon = monitor(tmp_path, integrity_type="dtype", dtype="int")
    result = mon.process(batch([1, "a", None, 2, {"k": 1}, 3]))
    assert np.flatnonzero(result.violations).tolist() == [1, 4]
    q = result.quarantine[0].to_pylist()
    assert [r["check"] for r in q] == ["dtype", "dtype"]
    assert [json.loads(r["row"])["c"] for r in q] == ["a", "{'k': 1}"]
    assert {r["reason"] for r in q} == {"value is not of type int"}


def test_a_missing_column_violates_every_row_once_the_column_was_seen(tmp_path):
    mon = monitor(tmp_path, integrity_type="non_null")
    never = mon.process(batch(["x", "y"], name="other"))
    assert never.violations is None and [a["metric"] for a in never.alerts] == ["column_missing"]
    assert mon.process(batch(["x"])).violations.tolist() == [False]
    result = mon.process(batch(["x", "y"], name="other"))
    assert result.violations.all() and not result.alerts
    reasons = result.quarantine[0].column("reason").to_pylist()
    assert reasons[0].startswith("column missing: ") and "logged columns: other" in reasons[0]


def test_quarantine_value_is_short_and_row_is_complete(tmp_path):
    mon = monitor(tmp_path, integrity_type="matches", pattern="^n")
    result = mon.process(batch(["nike", HUGE]))
    (row,) = result.quarantine[0].to_pylist()
    assert row["id"] == 1 and row["monitor"] == "data_integrity" and row["check"] == "matches"
    assert row["column"] == "c" and len(row["value"]) < 300
    assert json.loads(row["row"])["c"] == HUGE


def test_z_score_reference_from_values_and_files(tmp_path):
    import pandas as pd
    import pyarrow.parquet as pq

    ref = np.random.default_rng(0).normal(10, 2, 500)
    pq.write_table(pa.table({"c": ref}), tmp_path / "ref.parquet")
    pd.DataFrame({"c": ref}).to_csv(tmp_path / "ref.csv", index=False)
    for reference in (ref.tolist(), str(tmp_path / "ref.parquet"), tmp_path / "ref.csv"):
        mon = monitor(tmp_path, integrity_type="z_score", reference=reference)
        assert mon._params["mean"] == pytest.approx(ref.mean())
        assert mon._params["std"] == pytest.approx(ref.std(ddof=1))
        got = mon.process(batch([10.0, 30.0, None])).violations
        assert got.tolist() == [False, True, False]


# -- windows -----------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 7), st.lists(st.integers(0, 12), min_size=1, max_size=8))
def test_row_windows_partition_the_stream_into_equal_windows(size, batch_sizes):
    w = Windower(size)
    closed, total, in_window = 0, 0, 0
    for n in batch_sizes:
        pieces = w.split(np.zeros(n, np.int64))
        if n == 0:
            assert pieces == []
            continue
        assert [p.start for p in pieces] == [0, *[p.stop for p in pieces[:-1]]]
        assert pieces[-1].stop == n
        for p in pieces:
            in_window += p.stop - p.start
            if p.closes:
                assert in_window == size
                closed, in_window = closed + 1, 0
        total += n
    assert closed == total // size and in_window == total % size


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 10_000_000), min_size=1, max_size=10), max_size=5))
def test_time_windows_never_mix_keys_and_late_rows_join_the_open_window(batches):
    w = Windower("1s")
    open_key = None
    for ts in batches:
        ts = np.array(ts, np.int64)
        pieces = w.split(ts)
        keys = np.maximum.accumulate(ts // 1_000_000)
        if open_key is not None:
            keys = np.maximum(keys, open_key)
        assert sum(p.stop - p.start for p in pieces) == len(ts)
        for p in pieces:
            assert len(set(keys[p.start : p.stop].tolist())) <= 1
            if p.stop < len(ts) and p.stop > p.start:
                assert p.closes and keys[p.stop] > keys[p.stop - 1]
        open_key = int(keys[-1])


def test_parse_window_errors():
    assert parse_window("30s") == ("time", 30_000_000)
    assert parse_window("2d") == ("time", 2 * 86400 * 1_000_000)
    for bad in (0, -1, "0s", "5x", "", True, 1.5):
        with pytest.raises(ValueError, match="window must be a (positive )?row count"):
            parse_window(bad)


def test_windows_write_metrics_and_alerts_and_quarantine_says_which_check(make_framework):
    fw = make_framework(
        [
            {"type": "data_integrity", "integrity_type": "non_null", "window": 4,
             "alert_ratio": 0.3, "measurable_args": {"feature_name": "text"}},
            {"type": "data_integrity", "integrity_type": "between", "lower": 0, "upper": 1,
             "name": "score range", "measurable_args": {"feature_name": "score"}},
        ],
    )  # fmt: skip
    # windows of 4 rows: [a, None, None, b] -> 50% flagged, [c, d, e, f] -> 0%, [None, g] partial
    texts = ["a", None, None, "b", "c", "d", "e", "f", None, "g"]
    scores = [0.5, 2.0, 0.1, 0.2, 0.3, 0.4, float("nan"), -1, 0.5, 0.5]
    fw.log(inputs={"text": texts[:3], "score": scores[:3]})
    fw.log(inputs={"text": texts[3:], "score": scores[3:]})
    fw.flush()
    metrics = fw.store.read("metrics").to_pandas()
    nn = metrics[(metrics.check == "non_null") & (metrics.metric == "violation_ratio")]
    assert nn["value"].tolist() == [0.5, 0.0, 0.5]
    assert nn["n"].tolist() == [4, 4, 2]
    assert nn["flagged"].tolist() == [True, False, True]
    assert (nn["threshold"] == 0.3).all() and (nn["column"] == "text").all()
    counts = metrics[(metrics.check == "non_null") & (metrics.metric == "violations")]
    assert counts["value"].tolist() == [2, 0, 1]
    alerts = fw.store.read("alerts").to_pandas()
    nn_alerts = alerts[alerts.check == "non_null"]
    assert len(nn_alerts) == 2
    assert nn_alerts["message"].iloc[0] == (
        "non_null(text): 2 of 4 rows (50.0%) violate the check; alert above 30.0%"
    )
    q = fw.store.read("quarantine").to_pandas()
    assert sorted(q[q.check == "non_null"]["id"]) == [1, 2, 8]
    assert sorted(q[q.check == "between"]["id"]) == [1, 7]
    assert set(q[q.check == "between"]["column"]) == {"score"}
    assert set(q["monitor"]) == {"data_integrity"}
    between_ratio = metrics[(metrics.check == "between") & (metrics.metric == "violation_ratio")]
    assert between_ratio["value"].tolist() == [0.2]  # one partial window of 10 rows, 2 bad


def test_a_key_the_check_does_not_read_is_an_error():
    with pytest.raises(
        ValueError, match="key 'threshold' does not apply to integrity_type 'non_null'"
    ):
        IntegrityCheck.model_validate(
            {"integrity_type": "non_null", "threshold": 2, "measurable_args": {"feature_name": "x"}}
        )
    IntegrityCheck.model_validate(
        {
            "integrity_type": "non_null",
            "empty_is_null": True,
            "measurable_args": {"feature_name": "x"},
        }
    )


def test_arrow_signals_can_subscript_the_batch():
    from curate import Signal
    from curate.batch import Batch

    batch = Batch.from_log(np.arange(3), np.zeros(3, np.int64), {"text": ["a", "bb", None]})
    short = Signal.arrow(
        "short", lambda b: pc.fill_null(pc.less(pc.utf8_length(b["text"]), 2), False)
    )
    assert short.evaluate(batch).tolist() == [True, False, False]
    with pytest.raises(KeyError, match="no column 'nope'"):
        batch["nope"]
