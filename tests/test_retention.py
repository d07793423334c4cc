"""Retention and the readers of a compacted store: expired rows go and every total stays; run
snapshots, the next run's new edge cases, alert sinks and Prometheus read what they read before;
``curate compact`` on a real store, and its errors.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from compaction_fixtures import (
    COUNTERS,
    HOUR,
    ids_of,
    metrics_rows,
    retraining_rows,
    three_segments,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curate import Framework, Monitor, Signal, cli
from curate.compaction import compact
from curate.errors import ConfigError
from curate.locks import file_lock
from curate.prometheus import CurateCollector
from curate.runs import RunRegistry
from curate.sinks.callback import CallbackSink
from curate.store import Store
from curate.store_reader import StoreReader
from curate.tables import QUARANTINE_SCHEMA, TS, now_us

# -- retention ------------------------------------------------------------------------------
offsets = st.integers(0, 8)  # hours; rows sit at offset + 30 minutes, never on a cutoff


@st.composite
def stores(draw):
    segments = draw(st.lists(st.lists(st.tuples(offsets, st.sampled_from(["w1", "w2"]),
        st.sampled_from([*COUNTERS, "js_distance"]), st.integers(0, 5)), min_size=1, max_size=6),
        min_size=1, max_size=5))  # fmt: skip
    edges = draw(st.lists(offsets, max_size=12))  # retraining rows: ids 0..n-1
    entries = draw(st.lists(st.tuples(st.integers(-1, 16), offsets), max_size=14))
    retention = {"metrics": draw(st.integers(1, 6)), "quarantine": draw(st.integers(1, 6))}
    if draw(st.booleans()):
        retention["retraining"] = draw(st.integers(1, 6))
    return segments, edges, entries, {k: f"{v}h" for k, v in retention.items()}


def _ts(now: int, offset: int) -> int:
    return now - offset * HOUR - HOUR // 2


def _fill(root: Path, segments, edges, entries, now: int) -> Store:
    store = Store(root)
    store.write("metrics", metrics_rows([(now, "w0", "rows_logged", 1000.0)]))
    for rows in segments:
        store.write("metrics", metrics_rows([(_ts(now, o), w, m, float(v)) for o, w, m, v in rows]))
    for i in range(0, len(edges), 4):
        chunk = list(range(i, min(i + 4, len(edges))))
        table = retraining_rows(chunk)
        store.write(
            "retraining",
            table.set_column(1, "ts", pa.array([_ts(now, edges[j]) for j in chunk], TS)),
        )
    for i in range(0, len(entries), 5):
        part = entries[i : i + 5]
        ids = pa.array([None if e == -1 else e for e, _ in part], pa.int64())
        table = pa.table({"id": ids, "ts": pa.array([_ts(now, o) for _, o in part], TS),
                          "monitor": ["data_integrity"] * len(part)}).cast(
            pa.schema([QUARANTINE_SCHEMA.field(n) for n in ("id", "ts", "monitor")]))  # fmt: skip
        store.write("quarantine", table)
    return store


def _frame(store: StoreReader, table: str) -> pd.DataFrame:
    data = store.read(table)
    if not data.num_rows:
        return pd.DataFrame(columns=["ts", "id", "metric"])
    return data.to_pandas(types_mapper=pd.ArrowDtype)


def _sums(frame: pd.DataFrame) -> pd.Series:
    return frame[frame.metric.isin(COUNTERS)].groupby(["writer", "metric"]).value.sum()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stores())
def test_retention_keeps_exactly_the_rows_newer_than_the_cutoff_and_every_total(
    tmp_path_factory, case
):
    segments, edges, entries, retention = case
    now = now_us()
    store = _fill(tmp_path_factory.mktemp("r"), segments, edges, entries, now)
    before = {t: _frame(store, t) for t in ("metrics", "retraining", "quarantine")}
    outcomes, summary = store.outcomes(), store.summary()
    compact(store.root, retention=retention, min_age=0, grace=0, target_size="3rows")
    compact(store.root, retention=retention, min_age=0, grace=0)  # re-rolls the roll-ups
    assert store.outcomes() == outcomes
    # Expired edge cases are no longer pending: nothing can train on them.
    moved = {"files", "edge_cases_since_last_run"} if "retraining" in retention else {"files"}
    assert {k: v for k, v in store.summary().items() if k not in moved} == {
        k: v for k, v in summary.items() if k not in moved}  # fmt: skip
    for table in ("retraining", "quarantine", "metrics"):
        cut = pd.Timestamp(now - int(retention.get(table, "0h")[:-1]) * HOUR, unit="us", tz="UTC")
        old, new = before[table], _frame(store, table)
        expect = old if table not in retention else old[old.ts >= cut]
        if table == "metrics":
            rolled = new[new.ts < cut]
            assert set(rolled.metric) <= set(COUNTERS)  # only counters survive expiry
            keys = old[(old.ts < cut) & old.metric.isin(COUNTERS)][["writer", "metric"]]
            assert len(rolled) == len(keys.drop_duplicates())  # one roll-up per key
            new = new[new.ts >= cut]
            pd.testing.assert_series_equal(_sums(_frame(store, "metrics")), _sums(old))
        cols = ["ts", "metric", "writer", "value"] if table == "metrics" else ["ts", "id"]
        assert new[cols].astype(str).values.tolist() == expect[cols].astype(str).values.tolist()


def test_expiring_every_table_keeps_stats_and_prometheus_totals(tmp_path):
    cfg = {"checks": [{"type": Monitor.EDGE_CASE, "signal_formulae": Signal.contains("nike")},
                      {"type": "data_integrity", "integrity_type": "non_null",
                       "measurable_args": {"type": "input_feature", "feature_name": "text"}}],
           "retraining_folder": tmp_path, "retention": {"metrics": "1s", "quarantine": "1s",
                                                        "retraining": "1s"}}  # fmt: skip
    with Framework(cfg) as fw:
        for i in range(8):
            fw.log(inputs={"text": [f"nike {i}", "adidas", None, f"nike air {i}"]})
            fw.flush()
        collector = CurateCollector(tmp_path, ttl=0)
        before, scraped = fw.stats(), collector.snapshot().counts
        time.sleep(1.1)
        report = fw.compact(min_age=0, grace=0)
        after = fw.stats()
        scraped_after = collector.snapshot().counts
    # Expired edge cases are no longer pending (nothing can train on them); the rest holds.
    moved = ("files", "edge_cases_since_last_run")
    assert {k: v for k, v in scraped_after.items() if k not in moved} == {
        k: v for k, v in scraped.items() if k not in moved}  # fmt: skip
    assert (
        report.table("quarantine").rows_expired == 8
        and report.table("retraining").rows_expired == 16
    )
    assert after["files"]["retraining"] == after["files"]["quarantine"] == 0
    assert after["edge_cases_since_last_run"] == scraped_after["edge_cases_since_last_run"] == 0
    assert {k: v for k, v in after.items() if k not in moved} == {
        k: v for k, v in before.items() if k not in moved}  # fmt: skip
    assert before["edge_cases"] == 16 and before["quarantined"] == 8
    assert StoreReader(tmp_path).settings()["retention"]["metrics"] == "1s"


# -- run snapshots ----------------------------------------------------------------------------
def test_a_run_snapshot_reads_the_same_rows_after_compaction_and_merges_never_cross_it(tmp_path):
    store = Store(tmp_path)
    for i in range(4):
        store.write("retraining", retraining_rows([i]))
        store.write("labels", pa.table({"ts": pa.array([now_us()], TS), "identifiers": [f"r{i}"]}))
    run = RunRegistry(store).create(snapshot=store.files("retraining"), trigger="manual",
                                    kind="callback")  # fmt: skip
    for i in range(4, 7):
        store.write("retraining", retraining_rows([i]))
    rows, labels = (
        store.read("retraining", files=run.snapshot),
        store.read("labels", files=run.labels_snapshot),
    )
    pending = store.pending_rows()
    report = compact(tmp_path, min_age=0, grace=0)
    assert report.table("retraining").merges == 2  # the run's four, and the three after it
    again = store.run(run.run_id)
    assert len(again.snapshot) == 1 and len(again.record["snapshot"]) == 4
    assert store.read("retraining", files=again.snapshot).equals(rows)
    assert store.read("labels", files=again.labels_snapshot).equals(labels)
    assert store.pending_rows() == pending == 3
    assert [p.name for p in store.pending_files()] == [store.files("retraining")[1].name]


def test_no_run_table_is_compacted_while_a_run_trains(tmp_path):
    store = three_segments(tmp_path)
    store.write("metrics", metrics_rows([(now_us(), "w", "rows_logged", 1.0)] * 2))
    store.write("metrics", metrics_rows([(now_us(), "w", "rows_logged", 1.0)]))
    with RunRegistry(store).claim(trigger="manual", kind="callback") as claim:
        assert claim is not None
        report = compact(tmp_path, min_age=0, grace=0)
    assert "a run is training" in report.table("retraining").skipped
    assert report.table("metrics").merges == 1 and len(store.files("retraining")) == 3


LABELLED = [f"{w} review number {i}" for i, w in enumerate(["great", "awful"] * 30)]


def _log_and_label(root: Path, texts: list[str], first: int, label: slice) -> None:
    cfg = {"checks": [{"type": Monitor.EDGE_CASE, "signal_formulae": Signal.confidence() < 0.9}],
           "retraining_folder": root, "traffic_sample": 20, "traffic_seed": first}  # fmt: skip
    with Framework(cfg) as fw:
        for i in range(0, len(texts), 5):  # one segment per chunk
            chunk = texts[i : i + 5]
            fw.log(inputs={"text": chunk}, outputs=np.full((len(chunk), 2), 0.5),
                   identifiers=[f"req-{first + i + j}" for j in range(len(chunk))])  # fmt: skip
            fw.flush()
        ids = [f"req-{first + i}" for i in range(len(texts))][label]
        gts = ["pos" if t.startswith("great") else "neg" for t in texts][label]
        fw.log_ground_truth(identifiers=ids, gts=gts)


def test_the_next_run_trains_on_exactly_the_new_edge_cases_after_compactions(tmp_path):
    from trainer.config import TrainingArgs
    from trainer.data import select_examples
    from trainer.tasks import get_task

    root, twin = tmp_path / "compacted", tmp_path / "twin"
    task = get_task("classification", TrainingArgs(task="classification", max_eval_samples=2))
    splits = {}
    for folder, compacting in ((root, True), (twin, False)):
        _log_and_label(folder, LABELLED[:30], 0, slice(0, 10))
        store = Store(folder)
        first = RunRegistry(store).create(snapshot=store.files("retraining"), trigger="manual",
                                          kind="trainer")  # fmt: skip
        _log_and_label(folder, LABELLED[30:], 30, slice(0, 30))
        if compacting:  # between the runs, and again once the second one is recorded
            compact(folder, min_age=0, grace=0)
        second = RunRegistry(store).create(snapshot=store.files("retraining"), trigger="manual",
                                           kind="trainer")  # fmt: skip
        if compacting:
            compact(folder, min_age=0, grace=0)
            assert len(store.files("retraining")) == 2 and len(second.record["snapshot"]) == 2
        splits[compacting] = select_examples(
            store.run(second.run_id), task, previous=store.run(first.run_id)
        )
    assert splits[True].counts == splits[False].counts
    assert splits[True].counts["new_edge_cases"] + splits[True].counts["held_out_rows"] == 30
    assert (splits[True].train, splits[True].eval) == (splits[False].train, splits[False].eval)


# -- readers that remember what they have seen ------------------------------------------------
def test_an_alert_sink_does_not_send_alerts_again_when_their_segments_are_merged(tmp_path):
    store = Store(tmp_path)
    alert = {"ts": [now_us()], "monitor": ["data_integrity"], "check": ["c"], "column": ["text"],
             "metric": ["violations"], "value": [1.0], "threshold": [0.0], "message": ["bad"]}  # fmt: skip
    table = pa.table(alert).cast(store.schema("alerts"))
    sent: list[list[dict]] = []
    sink = CallbackSink(store, sent.append, start=False)
    for _ in range(3):
        store.write("alerts", table)
    assert sink.poll() == 3
    compact(tmp_path, tables="alerts", min_age=0, grace=0)
    store.write("alerts", table)
    assert sink.poll() == 1  # only the new one
    compact(tmp_path, tables="alerts", min_age=0, grace=0)  # a merge of a merge
    late = CallbackSink(store, sent.append, start=False)  # started after the merges
    compact(tmp_path, tables="alerts", min_age=0, grace=0)
    assert sink.poll() == 0 and late.poll() == 0 and len(store.files("alerts")) == 1
    assert sum(len(batch) for batch in sent) == 4


# -- the command line -------------------------------------------------------------------------
def test_curate_compact_on_a_real_store_and_its_dry_run(tmp_path, capsys):
    store = three_segments(tmp_path)
    store.write("metrics", metrics_rows([(now_us() - 3 * HOUR, "w", "rows_logged", 4.0),
                                     (now_us() - 3 * HOUR, "w", "js_distance", 0.2)]))  # fmt: skip
    store.write_json("framework.json", {"retention": {"metrics": "2h"}})
    files = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert cli.main(["compact", "--store", str(tmp_path), "--dry-run", "--min-age", "0"]) == 0
    out = capsys.readouterr().out
    assert "dry run" in out and "retention metrics=2h" in out
    assert "retraining: 3 -> 1 segments" in out and "2 expired" in out
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()
                  if "_locks" not in p.parts) == [f for f in files if "_locks" not in f.parts]  # fmt: skip
    argv = ["compact", "--store", str(tmp_path), "--min-age", "0", "--grace", "0", "--json"]
    assert cli.main(argv) == 0
    report = __import__("json").loads(capsys.readouterr().out)
    assert report["tables"]["retraining"]["segments_after"] == 1
    assert report["tables"]["metrics"]["rows_expired"] == 2
    assert store.read("metrics").to_pylist()[0]["value"] == 4.0  # rolled up, not lost
    again = compact(tmp_path, min_age=0, grace=0)  # a lone roll-up segment is left as it is
    assert again.table("metrics").merges == 0 and again.table("metrics").segments_after == 1
    assert ids_of(store) == list(range(6))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--retention", "metrics=90 days"], "retention.metrics: '90 days' is not a duration"),
        (["--retention", "metricz=90d"], "unknown table 'metricz'; valid tables: retraining"),
        (["--retention", "metrics"], "'metrics' is not table=duration"),
        (["--tables", "metrics,nope"], "unknown table(s) 'nope'"),
        (["--target-size", "huge"], "target size 'huge'"),
    ],
)
def test_curate_compact_says_what_input_was_wrong(tmp_path, capsys, argv, message):
    three_segments(tmp_path)
    assert cli.main(["compact", "--store", str(tmp_path), *argv]) == 1
    assert message in capsys.readouterr().err
    assert len(StoreReader(tmp_path).files("retraining")) == 3


def test_curate_compact_refuses_a_missing_store_a_delta_store_and_a_second_compactor(
    tmp_path, capsys
):
    assert cli.main(["compact", "--store", str(tmp_path / "nothing")]) == 1
    assert "no store at" in capsys.readouterr().err
    assert cli.main(["compact", "--store", "s3://bucket/store"]) == 1
    assert "Delta stores: not supported by this command yet" in capsys.readouterr().err
    store = three_segments(tmp_path)
    with file_lock(store.lock_path("compact")):
        assert cli.main(["compact", "--store", str(tmp_path), "--min-age", "0"]) == 1
    assert "another compaction" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="retention.quarantine: '0d'"):
        Framework({"retraining_folder": tmp_path, "retention": {"quarantine": "0d"}})
