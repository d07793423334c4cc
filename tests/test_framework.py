"""Framework.log(): accepted forms, ids, failure containment (production) vs strict, retraining."""

from __future__ import annotations

import errno
import logging
import re
import threading
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from curate import CurateError, Framework, LogInputError, Signal, SignalError
from curate.store import Store

NIKE = Signal.contains("nike")


def edge(formula=NIKE) -> dict:
    return {"type": "edge_case", "signal_formulae": formula}


def non_null(feature="text") -> dict:
    return {"type": "data_integrity", "integrity_type": "non_null",
            "measurable_args": {"feature_name": feature}}  # fmt: skip


def metric_sum(fw: Framework, metric: str) -> float:
    metrics = fw.store.read("metrics").to_pandas()
    return float(metrics.loc[metrics.metric == metric, "value"].sum())


def curate_errors(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "curate" and r.levelno >= 40]


# -- accepted forms and ids ---------------------------------------------------------------------


@pytest.mark.parametrize("strict", [False, True])
def test_log_accepts_every_form_and_returns_consecutive_id_ranges(make_framework, strict):
    fw = make_framework([edge(), non_null()], strict=strict)
    forms = [
        {"text": ["nike a", "b"]},
        [{"text": "nike c"}, {"text": None}],
        pd.DataFrame({"text": ["d", "nike e", "f"]}),
        pa.table({"text": ["nike g"]}),
        {"text": np.array(["h", "nike i"], dtype=object)},
    ]
    ranges = [fw.log(inputs=f) for f in forms]
    assert all(isinstance(r, range) for r in ranges)
    assert [list(r) for r in ranges] == [[0, 1], [2, 3], [4, 5, 6], [7], [8, 9]]
    stats = fw.stats()
    assert stats["rows_logged"] == 10 and stats["edge_cases"] == 5 and stats["quarantined"] == 1
    retraining = fw.store.read("retraining")
    assert retraining.column("id").to_pylist() == [0, 2, 5, 7, 9]
    assert retraining.column("text").to_pylist() == ["nike a", "nike c", "nike e", "nike g",
                                                      "nike i"]  # fmt: skip


def test_one_row_calls_from_many_threads_get_unique_ids_and_are_all_stored(make_framework):
    fw = make_framework([edge(Signal.contains("x"))], batch_size=100)
    ids: list[list[int]] = [[] for _ in range(4)]

    def worker(k):
        for i in range(500):
            ids[k].extend(fw.log(inputs={"text": [f"x{k}-{i}"]}))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = [i for chunk in ids for i in chunk]
    assert sorted(flat) == list(range(2000))
    fw.flush()
    table = fw.store.read("retraining").to_pydict()
    assert sorted(table["id"]) == list(range(2000))
    # each id is stored with the text its caller logged under it
    by_id = dict(zip(table["id"], table["text"], strict=True))
    for k in range(4):
        assert [by_id[i] for i in ids[k]] == [f"x{k}-{i}" for i in range(500)]


# -- production mode contains every failure ----------------------------------------------------

MALFORMED = [
    # (inputs, outputs, message naming what and where)
    ({"text": ["a", "b"], "n": [1]}, None, "inputs['n'] has 1 values but the call has 2 rows"),
    ({"text": ["a", "b"]}, [0.1], "outputs['outputs'] has 1 values but the call has 2 rows"),
    ({"text": ["a"]}, {1, 2}, "outputs: unsupported type set"),
]
REFUSED = [
    ({"text": []}, "inputs: no rows (every column is empty)"),
    ({}, "inputs: empty dict; expected at least one column"),
    (None, "inputs: unsupported type NoneType"),
    (42, "inputs: unsupported type int"),
    ({"text": "just a string"}, "inputs['text']: expected a sequence with one value per row"),
]


@pytest.mark.parametrize(("inputs", "outputs", "message"), MALFORMED)
def test_malformed_calls_are_logged_counted_quarantined_never_raised(
    make_framework, caplog, inputs, outputs, message
):
    fw = make_framework([edge(), non_null()])
    good = fw.log(inputs={"text": ["nike ok"]})
    bad = fw.log(inputs=inputs, outputs=outputs)
    after = fw.log(inputs={"text": ["nike after"]})
    fw.flush()
    errors = curate_errors(caplog)
    assert any(message in e and f"ids {bad[0]}.." in e for e in errors), errors
    assert metric_sum(fw, "malformed_calls") == 1
    q = fw.store.read("quarantine").to_pandas()
    assert sorted(q["id"]) == list(bad)
    assert set(q["check"]) == {"malformed_call"} and message in q["reason"].iloc[0]
    assert fw.store.read("retraining").column("id").to_pylist() == [good[0], after[0]]
    strict = make_framework([edge(), non_null()], strict=True)
    with pytest.raises(LogInputError, match=re.escape(message)):
        strict.log(inputs=inputs, outputs=outputs)


@pytest.mark.parametrize(("inputs", "message"), REFUSED)
def test_calls_without_rows_are_refused_with_a_report(make_framework, caplog, inputs, message):
    fw = make_framework([edge()])
    assert fw.log(inputs=inputs) == range(0)
    fw.flush()
    assert any(message in e for e in curate_errors(caplog))
    assert metric_sum(fw, "malformed_calls") == 1
    q = fw.store.read("quarantine").to_pylist()
    assert len(q) == 1 and q[0]["id"] == -1 and message in q[0]["reason"]
    strict = make_framework([edge()], strict=True)
    with pytest.raises(LogInputError, match=re.escape(message)):
        strict.log(inputs=inputs)


def test_a_bad_value_quarantines_its_row_only(make_framework, caplog):
    fw = make_framework([edge(Signal.contains("a")), non_null()])
    fw.log(inputs={"text": ["a1", 7, "a3", {"k": "a"}]})
    fw.flush()
    expected = "inputs['text'] row 1 (id 1): expected str like most of the column, got int: 7"
    # the strict Framework below shares the store, so its ids come from a later block
    strict_message = r"inputs\['text'\] row 1 \(id \d+\): expected str like most.*got int: 7"
    assert any(expected in e and "2 value(s)" in e for e in curate_errors(caplog))
    assert metric_sum(fw, "bad_cells") == 2
    q = fw.store.read("quarantine").to_pandas()
    dtype = q[q.check == "dtype"]
    assert dtype["id"].tolist() == [1, 3] and dtype["value"].tolist() == ["7", "{'k': 'a'}"]
    assert fw.store.read("retraining").column("id").to_pylist() == [0, 2]
    strict = make_framework([edge()], strict=True)
    with pytest.raises(LogInputError, match=strict_message):
        strict.log(inputs={"text": ["a1", 7, "a3", {"k": "a"}]})


def raising(inputs, outputs, gts=None, extra_args=None):
    raise RuntimeError("model server down")


def short(inputs, outputs, gts=None, extra_args=None):
    return [True]


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        (Signal("raising", raising), "signal 'raising' raised RuntimeError: model server down"),
        (Signal("short", short), "signal 'short' returned 1 values for a batch of 3 rows"),
        (Signal.contains("x", column="body"), "no column 'body' in the batch"),
        (Signal.confidence() < 0.5, "expected a list of class probabilities"),
    ],
)
def test_a_failing_signal_is_contained(make_framework, caplog, formula, message):
    fw = make_framework([edge(formula), non_null()])
    ids = fw.log(inputs={"text": ["a", "b", "c"]}, outputs=["x", "y", "z"])
    fw.flush()
    errors = curate_errors(caplog)
    assert any(message in e and f"failed on rows {ids[0]}..{ids[-1]}" in e for e in errors), errors
    assert metric_sum(fw, "monitor_errors") == 1
    q = fw.store.read("quarantine").to_pandas()
    assert sorted(q["id"]) == list(ids) and set(q["monitor"]) == {"edge_case"}
    assert message in q["reason"].iloc[0]
    assert fw.stats()["edge_cases"] == 0
    # the other monitors still ran: the non_null window was counted
    assert metric_sum(fw, "rows_logged") == 3
    strict = make_framework([edge(formula)], strict=True)
    with pytest.raises(SignalError, match=re.escape(message)):
        strict.log(inputs={"text": ["a", "b", "c"]}, outputs=["x", "y", "z"])


def test_a_column_never_logged_is_reported_missing_once_not_as_nulls(make_framework, caplog):
    fw = make_framework([non_null("price")])
    for _ in range(3):
        fw.log(inputs={"text": ["a", "b"]})
        fw.flush()
    assert fw.stats()["quarantined"] == 0, "rows of a misnamed column are not 100% nulls"
    alerts = fw.store.read("alerts").to_pylist()
    assert len(alerts) == 1 and alerts[0]["metric"] == "column_missing"
    assert "inputs has no column 'price'" in alerts[0]["message"]
    assert "logged columns: text" in alerts[0]["message"]
    assert sum("has no column 'price'" in r.getMessage() for r in caplog.records) == 1
    metrics = fw.store.read("metrics").to_pandas()
    assert metrics.loc[metrics.metric == "column_missing", "value"].sum() == 6
    assert (
        not (metrics.metric == "violation_ratio").any()
        or (metrics.loc[metrics.metric == "violation_ratio", "n"] == 0).all()
    )


def test_a_column_missing_from_a_call_after_it_was_seen_is_null_in_every_row(make_framework):
    fw = make_framework([non_null("price")])
    fw.log(inputs={"text": ["a"], "price": [1.0]})
    fw.flush()
    ids = fw.log(inputs={"text": ["a", "b"]})
    fw.flush()
    q = fw.store.read("quarantine").to_pylist()
    assert [r["id"] for r in q] == list(ids)
    assert q[0]["reason"].startswith("column missing: inputs has no column 'price'")


def test_a_disk_error_is_contained_and_the_rows_are_written_on_the_next_flush(
    make_framework, caplog, monkeypatch
):
    fw = make_framework([edge(), non_null()])
    real_write = Store.write

    def full_disk(self, table, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Store, "write", full_disk)
    ids = fw.log(inputs={"text": ["nike 1", None, "nike 3"]})
    fw.flush()  # logs the failure, raises nothing
    errors = curate_errors(caplog)
    assert any("writing retraining failed, rows kept in memory to retry" in e and
               "No space left on device" in e for e in errors), errors  # fmt: skip
    assert fw.store.files("retraining") == []
    monkeypatch.setattr(Store, "write", real_write)
    fw.log(inputs={"text": ["nike 4"]})
    fw.flush()
    assert fw.store.read("retraining").column("id").to_pylist() == [ids[0], ids[2], ids[2] + 1]
    assert fw.store.read("quarantine").column("id").to_pylist() == [ids[1]]
    assert metric_sum(fw, "write_errors") >= 1
    assert metric_sum(fw, "rows_logged") == 4


def test_strict_mode_raises_disk_errors(make_framework, monkeypatch):
    fw = make_framework([edge()], strict=True, batch_size=1)

    def full_disk(self, table, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Store, "write", full_disk)
    with pytest.raises(OSError, match="No space left"):
        fw.log(inputs={"text": ["nike"]})
    monkeypatch.undo()


def test_log_after_close_is_refused_and_close_is_idempotent(make_framework, caplog):
    fw = make_framework([edge()])
    fw.log(inputs={"text": ["nike"]})
    fw.close()
    fw.close()
    assert fw.log(inputs={"text": ["nike"]}) == range(0)
    strict = make_framework([edge()], strict=True)
    strict.close()
    with pytest.raises(LogInputError, match="after close"):
        strict.log(inputs={"text": ["a"]})


def test_backpressure_bounds_the_queue_and_loses_nothing(make_framework):
    fw = make_framework([edge(Signal.contains("x"))], batch_size=50, max_pending_rows=200)
    for i in range(3000):
        fw.log(inputs={"text": [f"x{i}"]})
        assert fw._writer.pending_rows <= 200 + 1
    assert fw.stats()["edge_cases"] == 3000


# -- retraining trigger ----------------------------------------------------------------------------


def test_on_retrain_runs_once_in_the_background_and_the_count_restarts(make_framework):
    calls, release = [], threading.Event()

    def on_retrain(run):
        calls.append((run.run_id, threading.current_thread().name, run.record["snapshot_rows"]))
        release.wait(10)

    fw = make_framework([edge()], retrain_after=3, on_retrain=on_retrain)
    fw.log(inputs={"text": ["nike 1", "nike 2"]})
    fw.flush()
    assert not fw.need_retraining() and calls == []
    fw.log(inputs={"text": ["nike 3", "no"]})
    fw.flush()  # threshold reached: the run starts; the writer does not wait for it
    deadline = time.time() + 10
    while not calls and time.time() < deadline:
        time.sleep(0.01)
    assert len(calls) == 1 and calls[0][1].startswith("curate-run-") and calls[0][2] == 3
    assert fw.runs.is_training()
    fw.log(inputs={"text": ["nike 4", "nike 5", "nike 6"]})
    fw.flush()  # above the threshold again, but one run at a time
    assert len(calls) == 1
    release.set()
    run = fw.wait_for_training(10)
    assert run.status == "succeeded" and run.record["finished_at"]
    assert fw.runs.pending_rows() == 3  # written while the first run trained
    fw.log(inputs={"text": ["no"]})
    fw.flush()  # the next write notices the pending threshold and starts the second run
    fw.wait_for_training(10)
    assert len(calls) == 2 and calls[1][2] == 6
    assert fw.stats()["edge_cases_since_last_run"] == 0 and not fw.need_retraining()


def test_manual_retraining_control(make_framework):
    seen = []
    fw = make_framework([edge()], retrain_after=100, on_retrain=lambda run: seen.append(run))
    fw.log(inputs={"text": ["nike"] * 5})
    assert not fw.need_retraining()
    run = fw.retrain(wait=True, timeout=30)
    assert run.status == "succeeded" and [r.run_id for r in seen] == [run.run_id]
    assert run.record["trigger"] == "manual" and run.record["kind"] == "callback"
    assert run.record["snapshot_rows"] == 5 and fw.runs.pending_rows() == 0
    assert run.dataset()["text"] == ["nike"] * 5


def test_manual_retrain_while_training_is_an_error(make_framework):
    release = threading.Event()
    fw = make_framework([edge()], retrain_after=1, on_retrain=lambda run: release.wait(10))
    fw.log(inputs={"text": ["nike"]})
    fw.flush()
    with pytest.raises(CurateError, match="already in progress"):
        fw.retrain()
    release.set()
    fw.wait_for_training(10)


def test_a_failing_callback_is_a_failed_run(make_framework, caplog):
    def broken(run):
        raise ValueError("no GPU today")

    fw = make_framework([edge()], retrain_after=1, on_retrain=broken)
    fw.log(inputs={"text": ["nike"]})
    fw.flush()
    run = fw.wait_for_training(10)
    assert run.status == "failed" and run.error == "ValueError: no GPU today"
    assert any("on_retrain failed" in e and "no GPU today" in e for e in curate_errors(caplog))
    assert fw.runs.get(run.run_id).status == "failed"


def test_retrain_after_without_action_only_reports(make_framework, caplog):
    with caplog.at_level(logging.WARNING, logger="curate"):
        fw = make_framework([edge()], retrain_after=1)
    assert any("need_retraining() reports the threshold" in r.getMessage() for r in caplog.records)
    fw.log(inputs={"text": ["nike"]})
    fw.flush()
    assert fw.need_retraining() and fw.runs.list() == []
