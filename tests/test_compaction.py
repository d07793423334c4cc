"""Compaction and retention: merged segments replace their sources atomically, expired rows go,
and every reader (the table, run snapshots, outcomes, alert sinks, Prometheus) stays exact.

Each test states what could go wrong: a reader seeing a row twice or not at all while a merge
is put in place, a crash between two steps leaving duplicates, a run training on a different
set of rows after a compaction, totals changing when counter rows expire.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import threading
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest
import real_corpora
from compaction_fixtures import (
    HOUR,
    ids_of,
    metrics_rows,
    retraining_rows,
    three_segments,
)

from curate import Framework, Monitor, Signal
from curate import compaction as compaction_module
from curate.compaction import CompactionBusy, compact
from curate.compaction_log import Record, View, merged_name
from curate.locks import file_lock
from curate.store import Store
from curate.store_reader import StoreReader
from curate.tables import now_us


# -- the view readers apply ---------------------------------------------------------------
def test_merged_names_sort_where_their_first_source_did():
    names = [f"part-{t:016d}-host-1-abc-{s:06d}.parquet" for t, s in ((5, 1), (5, 2), (9, 3))]
    merged = merged_name(names[1], "00ff")
    assert sorted([names[0], merged, names[2]]) == [names[0], merged, names[2]]
    again = merged_name(merged, "0a")  # a merge of a merge keeps the same place
    assert sorted([names[0], again, names[2]]) == [names[0], again, names[2]]
    assert again.count("~c") == 1


def test_a_merge_of_a_merge_hides_every_source_even_once_the_middle_one_is_gone():
    s1, s2, s3 = (f"part-{i:016d}-w-{i:06d}.parquet" for i in (1, 2, 3))
    m1, m3 = merged_name(s1, "a1"), merged_name(s1, "b2")
    r1 = Record("r1.json", "t", m1, (s1, s2), 0, 0, {})
    r2 = Record("r2.json", "t", m3, (m1, s3), 0, 0, {})
    # m1 deleted after the second merge while s1 and s2 are still waiting for their grace
    view = View(frozenset({s1, s2, m3}), (r1, r2))
    assert view.visible == [m3] and view.applied(r1) and view.applied(r2)
    assert view.resolve([s2, s1, s3]) == [m3]
    assert view.origins(m3) == {s1, s2, s3}
    # the second merge not renamed into place yet: readers see the first merge and s3
    pending = View(frozenset({s1, s2, m1, s3}), (r1, r2))
    assert pending.visible == [m1, s3] and not pending.applied(r2)


# -- concurrent writers ---------------------------------------------------------------------
class Ledger:
    """What writers started and finished writing, so a reader can bound what it must see."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started: set[int] = set()
        self.acked: set[int] = set()
        self.value_started = self.value_acked = 0.0


def _writer(store: Store, ledger: Ledger, ids: itertools.count, stop: threading.Event) -> None:
    while not stop.is_set():
        with ledger.lock:
            batch = [next(ids) for _ in range(3)]
            ledger.started.update(batch)
            ledger.value_started += 3
        store.write("retraining", retraining_rows(batch))
        # Half of the counter rows are two hours old: retention expires and rolls them up.
        old = now_us() - 2 * HOUR
        store.write("metrics", metrics_rows([(old, store.writer_id, "rows_logged", 1.0),
                                         (now_us(), store.writer_id, "rows_logged", 2.0)]))  # fmt: skip
        with ledger.lock:
            ledger.acked.update(batch)
            ledger.value_acked += 3


def _read_checked(reader: StoreReader, ledger: Ledger, problems: list[str]) -> bool:
    with ledger.lock:  # what had to be there before the read; what could be, after it
        must = set(ledger.acked)
        value_must = ledger.value_acked
    try:
        ids = ids_of(reader)
        metrics = reader.read("metrics", ["metric", "value"]).to_pandas()
    except (OSError, pa.ArrowInvalid):
        return False  # a source deleted (grace 0) between listing and reading: read again
    with ledger.lock:
        may, value_may = set(ledger.started), ledger.value_started
    if len(ids) != len(set(ids)):
        problems.append(f"duplicate ids: {[i for i, c in Counter(ids).items() if c > 1][:5]}")
    if not must <= set(ids):
        problems.append(f"lost rows: {sorted(must - set(ids))[:5]}")
    if not set(ids) <= may:
        problems.append("rows nobody wrote")
    total = metrics.loc[metrics.metric == "rows_logged", "value"].sum()
    if not value_must <= total <= value_may:
        problems.append(f"rows_logged {total} outside [{value_must}, {value_may}]")
    return True


def test_compaction_under_concurrent_writer_threads_keeps_every_row_exactly_once(tmp_path):
    store, ledger, ids = Store(tmp_path), Ledger(), itertools.count()
    stop, problems, reads = threading.Event(), [], Counter()
    writers = [threading.Thread(target=_writer, args=(Store(tmp_path), ledger, ids, stop))
               for _ in range(3)]  # fmt: skip

    def reader() -> None:
        while not stop.is_set():
            reads[_read_checked(StoreReader(tmp_path), ledger, problems)] += 1

    threads = [*writers, threading.Thread(target=reader)]
    for t in threads:
        t.start()
    reports = []
    try:
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            reports.append(compact(tmp_path, tables="retraining,metrics", min_age=0, grace=0,
                                   retention="metrics=1h", target_size="40rows"))  # fmt: skip
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not problems, problems[:5]
    assert reads[True] > 5, reads
    merges = sum(r.table("retraining").merges for r in reports)
    expired = sum(r.table("metrics").rows_expired for r in reports)
    assert merges > 3 and expired > 0
    final = compact(tmp_path, min_age=0, grace=0, retention="metrics=1h")
    assert sorted(ids_of(store)) == sorted(ledger.acked) and len(ledger.acked) > 30
    metrics = store.read("metrics").to_pandas()
    assert metrics["value"].sum() == ledger.value_acked
    assert final.table("retraining").segments_after < 5
    assert sorted(os.listdir(tmp_path / "retraining")) == [
        p.name for p in store.files("retraining")
    ]


def _process_writer(root: str, n: int) -> None:
    store = Store(root)
    first = store.reserve_ids(n)
    for start in range(first, first + n, 5):
        store.write("retraining", retraining_rows(list(range(start, min(start + 5, first + n)))))


def test_compaction_under_concurrent_writer_processes_keeps_every_row_exactly_once(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_process_writer, args=(str(tmp_path), 400)) for _ in range(2)]
    Store(tmp_path)
    for p in procs:
        p.start()
    seen_counts = []
    while any(p.is_alive() for p in procs):
        compact(tmp_path, tables=["retraining"], min_age=0, grace=0, target_size="50rows")
        ids = ids_of(StoreReader(tmp_path))
        assert len(ids) == len(set(ids))
        seen_counts.append(len(ids))
    for p in procs:
        p.join()
        assert p.exitcode == 0
    compact(tmp_path, tables=["retraining"], min_age=0, grace=0)
    ids = ids_of(StoreReader(tmp_path))
    assert len(ids) == 800 == len(set(ids))
    assert seen_counts == sorted(seen_counts)  # rows never vanish while being merged


def _log_reviews(root: Path, compact_every: int | None) -> dict:
    texts = list(real_corpora.reviews()["text"][:400])
    cfg = {"checks": [{"type": Monitor.EDGE_CASE, "signal_formulae": Signal.contains("film")},
                      {"type": "data_integrity", "integrity_type": "non_null",
                       "measurable_args": {"type": "input_feature", "feature_name": "text"}}],
           "retraining_folder": root, "traffic_sample": 50, "traffic_seed": 7}  # fmt: skip
    with Framework(cfg) as fw:
        for n, i in enumerate(range(0, len(texts), 20)):
            fw.log(inputs={"text": [*texts[i : i + 19], None]})
            fw.flush()
            if compact_every and n % compact_every == 0:
                fw.compact(min_age=0, grace=0, retention={})
        return fw.stats()


@pytest.mark.skipif(not real_corpora.available(), reason=real_corpora.SKIP_REASON)
def test_a_framework_logging_while_compacting_matches_one_that_never_compacts(tmp_path):
    stats = _log_reviews(tmp_path / "compacted", compact_every=3)
    twin = _log_reviews(tmp_path / "twin", compact_every=None)
    compacted, plain = StoreReader(tmp_path / "compacted"), StoreReader(tmp_path / "twin")
    keys = plain.outcomes().keys()
    assert {k: stats[k] for k in keys} == {k: twin[k] for k in keys} == plain.outcomes()
    assert compacted.outcomes() == plain.outcomes() and plain.outcomes()["edge_cases"] > 50
    assert ids_of(compacted) == ids_of(plain)  # the same rows, in the same order
    for table in ("quarantine", "traffic", "alerts"):
        assert (
            compacted.read(table)
            .drop_columns(["ts"])
            .equals(plain.read(table).drop_columns(["ts"]))
        )
    assert len(compacted.files("retraining")) < len(plain.files("retraining"))


# -- crashes between the steps --------------------------------------------------------------
class Crash(Exception):
    pass


def test_a_crash_after_the_record_before_the_rename_leaves_exact_reads(tmp_path, monkeypatch):
    store = three_segments(tmp_path)
    real_rename = os.rename

    def crash_on_merged(src, dst, *a, **k):
        if "~c" in str(dst) and str(dst).endswith(".parquet"):
            raise Crash("killed before the rename")
        return real_rename(src, dst, *a, **k)

    monkeypatch.setattr(compaction_module.os, "rename", crash_on_merged)
    with pytest.raises(Crash):
        compact(tmp_path, min_age=0, grace=0)
    monkeypatch.undo()
    assert len(list((tmp_path / "_compactions" / "retraining").iterdir())) == 1
    assert any(n.startswith(".tmp-") for n in os.listdir(tmp_path / "retraining"))
    assert ids_of(store) == list(range(6)) and len(store.files("retraining")) == 3
    report = compact(tmp_path, tables="retraining", min_age=0, grace=0)
    assert report.table("retraining").recovered == 1
    assert ids_of(store) == list(range(6))
    assert os.listdir(tmp_path / "retraining") == [store.files("retraining")[0].name]


def test_a_crash_before_the_record_leaves_only_a_temporary_that_is_cleaned(tmp_path, monkeypatch):
    store = three_segments(tmp_path)

    def crash(*args, **kwargs):
        raise Crash("killed while writing the record")

    monkeypatch.setattr(compaction_module, "_write_record", crash)
    with pytest.raises(Crash):
        compact(tmp_path, min_age=0, grace=0)
    monkeypatch.undo()
    assert ids_of(store) == list(range(6)) and len(store.files("retraining")) == 3
    compact(tmp_path, tables="retraining", min_age=0, grace=0)
    assert ids_of(store) == list(range(6))
    assert not [n for n in os.listdir(tmp_path / "retraining") if n.startswith(".tmp-")]


def test_a_crash_before_the_sources_are_deleted_hides_them_until_a_rerun_deletes_them(
    tmp_path, monkeypatch
):
    store = three_segments(tmp_path)
    monkeypatch.setattr(compaction_module, "_delete_sources", lambda *a, **k: None)
    compact(tmp_path, min_age=0, grace=0)
    monkeypatch.undo()
    assert len(os.listdir(tmp_path / "retraining")) == 4  # three sources and the merged one
    assert ids_of(store) == list(range(6)) and len(store.files("retraining")) == 1
    assert [s.name for s in store.segments("retraining")] == [
        f.name for f in store.files("retraining")
    ]
    report = compact(tmp_path, tables="retraining", min_age=0, grace=0)
    assert report.table("retraining").deleted == 3 and len(os.listdir(tmp_path / "retraining")) == 1


def test_the_grace_period_keeps_sources_for_readers_that_listed_them(tmp_path):
    store = three_segments(tmp_path)
    listed = store.files("retraining")  # a reader lists, then the compaction runs
    report = compact(tmp_path, tables="retraining", min_age=0, grace=600)
    assert report.table("retraining").deferred == 3 and report.table("retraining").deleted == 0
    assert store.read("retraining", files=listed)["id"].to_pylist() == list(range(6))
    assert ids_of(store) == list(range(6))
    assert "kept for the grace period" in report.text()


def test_fresh_and_large_segments_stay_and_cut_merges_so_rows_keep_their_order(tmp_path):
    store = Store(tmp_path)
    for i in range(4):
        store.write("retraining", retraining_rows([i]))
    store.write("retraining", retraining_rows(list(range(4, 104))))  # large: 100 rows
    for i in range(104, 107):
        store.write("retraining", retraining_rows([i]))
    report = compact(tmp_path, tables="retraining", min_age=0, grace=0, target_size="50rows")
    assert report.table("retraining").merges == 2 and len(store.files("retraining")) == 3
    assert ids_of(store) == list(range(107))
    store.write("retraining", retraining_rows([107]))
    again = compact(tmp_path, tables="retraining", min_age=3600, grace=0)
    assert again.table("retraining").merges == 0  # nothing is an hour old


def test_one_compaction_at_a_time(tmp_path):
    store = three_segments(tmp_path)
    with file_lock(store.lock_path("compact")), pytest.raises(CompactionBusy, match="another"):
        compact(tmp_path, min_age=0)
