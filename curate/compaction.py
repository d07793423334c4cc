"""``curate compact``: merge small segments into large ones and drop expired rows, while
writers keep writing.

Per table, under ``_locks/compact.lock`` (one compactor at a time):

1. finish or roll back what a compactor that crashed left (:func:`recover`);
2. plan merges (:mod:`curate.compaction_plan`): runs of neighbouring segments, older than
   ``min_age``, each merge reaching about ``target_size`` bytes (or rows); a segment with
   expired rows is rewritten even when large;
3. per merge: write the merged segment as ``.tmp-<merged>``, fsync; write the record
   ``_compactions/<table>/<merged>.json`` atomically; rename the merged segment into place.
   Readers (:class:`~curate.store_reader.StoreReader`) hide the sources from then on;
4. delete sources whose record is older than ``grace`` (a reader that listed them a moment ago
   may still be reading them), keeping the records: run snapshots name old segments.

``docs/store.md`` ("Compaction and retention") describes the contract.

>>> import tempfile, pyarrow as pa
>>> from curate.store import Store
>>> store = Store(tempfile.mkdtemp())
>>> for i in range(3):
...     _ = store.write("labels", pa.table({"x": [i]}))
>>> report = compact(store.root, min_age=0, grace=0)
>>> report.table("labels").segments_before, len(store.files("labels"))
(3, 1)
>>> store.read("labels")["x"].to_pylist()
[0, 1, 2]
"""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate import compaction_log
from curate.compaction_log import RECORDS, Record, merged_name, record_json
from curate.compaction_plan import (
    DEFAULT_TARGET,
    ROLLUP_METADATA,
    RUN_TABLES,
    CompactionReport,
    SegmentInfo,
    TableReport,
    Target,
    parse_tables,
    parse_target,
    plan,
    segment_info,
)
from curate.delta_store import is_uri
from curate.errors import ConfigError, StoreError
from curate.locks import file_lock
from curate.retention import Holdings, cutoffs, expired_mask, parse_retention, rollup
from curate.store import Store, _fsync_dir
from curate.store_reader import _ROWS, StoreReader
from curate.traffic import SIZE_METADATA

__all__ = ["CompactionBusy", "CompactionReport", "TableReport", "compact", "recover"]


class CompactionBusy(StoreError):
    """Another compaction holds the store's compaction lock."""


def compact(
    store: str | os.PathLike[str],
    *,
    tables: Sequence[str] | str | None = None,
    retention: Mapping[str, str] | str | None = None,
    target_size: Target | int | str = DEFAULT_TARGET,
    min_age: float = 60.0,
    grace: float = 600.0,
    dry_run: bool = False,
) -> CompactionReport:
    """Compact the local store at ``store`` (see the module docstring).

    ``retention``: ``{table: "90d"}`` or ``"metrics=90d,quarantine=30d"``; ``None`` uses what
    the last Framework recorded in ``framework.json``. ``min_age`` and ``grace`` are seconds.
    ``dry_run`` reports the plan and changes nothing.
    """
    if is_uri(store) and not str(store).lower().startswith("file://"):
        raise ConfigError(f"store {store!r}: Delta stores: not supported by this command yet")
    reader = StoreReader(store)
    if not reader.exists():
        raise FileNotFoundError(f"no store at {reader.root}")
    if reader.mirror_record():  # its segments are the Delta store's files, replaced on pull
        raise ConfigError(f"{reader.root} is a local copy of {reader.mirror_record().get('uri')}; "
                          "it is not compacted (a pull would undo it)")  # fmt: skip
    kept = parse_retention(reader.settings().get("retention") if retention is None else retention)
    target = target_size if isinstance(target_size, Target) else parse_target(target_size)
    if min_age < 0 or grace < 0:
        raise ConfigError(f"min_age and grace must be >= 0 seconds, got {min_age} and {grace}")
    names = parse_tables(tables)
    report = CompactionReport(str(reader.root), dry_run, kept)
    with file_lock(reader.lock_path("compact"), blocking=False) as got:
        if not got:
            raise CompactionBusy(
                f"another compaction of {reader.root} is running (it holds "
                f"{reader.lock_path('compact')}); try again when it has finished"
            )
        writer = reader if dry_run else Store(reader.root)
        for table in names:
            now = time.time_ns() // 1000
            cutoff = cutoffs(kept, now).get(table)
            report.tables.append(_compact_table(writer, table, cutoff, target, min_age,
                                                grace, dry_run, now))  # fmt: skip
    return report


def _compact_table(store: StoreReader, table: str, cutoff: int | None, target: Target,
                   min_age: float, grace: float, dry_run: bool,
                   now: int) -> TableReport:  # fmt: skip
    report = TableReport(table)
    if not dry_run:
        report.recovered = recover(store, table)  # type: ignore[arg-type]
    before = store.segments(table)
    report.segments_before, report.bytes_before = len(before), sum(s.size for s in before)
    if table in RUN_TABLES and store.is_training():
        report.skipped = "a run is training (the training lock is held): left for the next time"
        report.segments_after, report.bytes_after = report.segments_before, report.bytes_before
        return report
    keys = _run_groups(store, table)
    infos = [segment_info(store, table, s, cutoff, keys.get(s.name, frozenset())) for s in before]
    holdings: list[Holdings] = []
    for group in plan(infos, target, int(min_age * 1e6), now):
        _merge(store, table, group, cutoff, holdings, dry_run, report)
    _delete_sources(store, table, int(grace * 1e6), dry_run, report)
    after = store.segments(table)
    report.segments_after, report.bytes_after = len(after), sum(s.size for s in after)
    if dry_run:  # what the merges would leave; their size is known once written
        report.segments_after = report.segments_before - report.planned_away
        report.bytes_after = None
    return report


def _run_groups(store: StoreReader, table: str) -> dict[str, frozenset[str]]:
    """Segment name -> the runs whose snapshot lists it: a merge never crosses that boundary,
    so every run's snapshot maps to whole merged segments."""
    key = RUN_TABLES.get(table)
    if key is None:
        return {}
    out: dict[str, set[str]] = {}
    for run in store.runs():
        for path in store.snapshot_files(table, run.record.get(key) or []):
            out.setdefault(path.name, set()).add(run.run_id)
    return {name: frozenset(ids) for name, ids in out.items()}


def _holdings(store: StoreReader, cache: list[Holdings]) -> Holdings:
    if not cache:

        def ids(table: str) -> np.ndarray:
            data = store.read(table, ["id"]) if store.files(table) else pa.table({})
            if "id" not in data.column_names:
                return np.empty(0, np.int64)
            return data["id"].fill_null(-1).to_numpy().astype(np.int64)

        cache.append(Holdings(ids("retraining"), ids("quarantine")))
    return cache[0]


def _merged_table(store: StoreReader, table: str, group: list[SegmentInfo],
                  cutoff: int | None) -> tuple[pa.Table, pa.Table]:  # fmt: skip
    """The merged rows (roll-ups first: they are the oldest) and the expired ones."""
    data = store.read(table, files=[i.path for i in group])
    mask = expired_mask(data, cutoff)
    expired, kept = data.filter(mask), data.filter(~mask)
    if table == "metrics" and expired.num_rows:
        rolled = rollup(expired, kept.schema)
        # Roll-ups go first and are counted, so the next plan can tell them from expired rows.
        kept = pa.concat_tables([rolled, kept]).replace_schema_metadata(
            {ROLLUP_METADATA: str(rolled.num_rows).encode()}
        )
    sizes = [i.sample_size for i in group]
    if table == "traffic":
        # Readers take the smallest size any writer kept: the merged segment keeps that (and
        # none when a source had none, as readers then fall back to the rows they read).
        known = all(s is not None for s in sizes)
        kept = kept.replace_schema_metadata(
            {SIZE_METADATA: str(min(sizes)).encode()} if known else None
        )
    return kept, expired


def _merge(store: StoreReader, table: str, group: list[SegmentInfo], cutoff: int | None,
           holdings: list[Holdings], dry_run: bool, report: TableReport) -> None:  # fmt: skip
    merged, expired = _merged_table(store, table, group, cutoff)
    report.merges += 1
    report.rows_merged += sum(i.rows for i in group)
    report.rows_expired += expired.num_rows
    report.planned_away += len(group) - (1 if merged.num_rows else 0)
    if dry_run:
        return
    counts: dict[str, int] = {}
    if table in ("retraining", "quarantine") and expired.num_rows and "id" in expired.column_names:
        ids = expired["id"].fill_null(-1).to_numpy().astype(np.int64)
        counts = _holdings(store, holdings).expire(table, ids)
    name = merged_name(group[0].name, uuid.uuid4().hex[:12])
    folder = store.root / table
    record = Record(f"{name}.json", table, name if merged.num_rows else None,
                    tuple(i.name for i in group), expired.num_rows, time.time_ns() // 1000,
                    counts)  # fmt: skip
    tmp = folder / f"{compaction_log.TMP_PREFIX}{name}"
    if merged.num_rows:
        _write_fsynced(tmp, merged)
    try:
        _write_record(store, record)
        if merged.num_rows:
            os.rename(tmp, folder / name)
            _fsync_dir(folder)
            _ROWS.put(str(folder / name), merged.num_rows)
    except OSError as exc:
        raise StoreError(f"compacting {table}: cannot put {name} in place: {exc}") from exc
    if not merged.num_rows:
        report.dropped_segments += len(group)


def _write_fsynced(path: Path, data: pa.Table) -> None:
    try:
        with open(path, "wb") as fh:
            pq.write_table(data, fh, compression="zstd")
            fh.flush()
            os.fsync(fh.fileno())
    except Exception as exc:
        path.unlink(missing_ok=True)
        raise StoreError(f"cannot write the merged segment {path}: {exc}") from exc


def _write_record(store: StoreReader, record: Record) -> None:
    folder = store.root / RECORDS / record.table
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        _fsync_dir(folder.parent)
        _fsync_dir(store.root)
    assert isinstance(store, Store)
    store.write_json(f"{RECORDS}/{record.table}/{record.name}", record_json(record))


def recover(store: Store, table: str) -> int:
    """Finish what a compaction that stopped half-way left (call under the compaction lock):
    a record whose merged segment is still under its temporary name gets it renamed into
    place; a record without one is removed (its sources were never hidden); a temporary
    without a record is deleted. The number of records finished or removed."""
    view = store.compactions(table)
    folder, done = store.root / table, 0
    for record in view.records:
        if view.applied(record) or record.merged is None:
            continue
        tmp = folder / f"{compaction_log.TMP_PREFIX}{record.merged}"
        if tmp.exists():
            os.rename(tmp, folder / record.merged)
            _fsync_dir(folder)
        else:
            (store.root / RECORDS / table / record.name).unlink(missing_ok=True)
            _fsync_dir(store.root / RECORDS / table)
        done += 1
    named = {f"{compaction_log.TMP_PREFIX}{r.merged}" for r in view.records if r.merged}
    for orphan in view.temporaries - named:
        (folder / orphan).unlink(missing_ok=True)
    return done


def _delete_sources(store: StoreReader, table: str, grace_us: int, dry_run: bool,
                    report: TableReport) -> None:  # fmt: skip
    view = store.compactions(table)
    now, folder, deleted = time.time_ns() // 1000, store.root / table, 0
    for record in view.records:
        present = [s for s in record.sources if s in view.listed]
        if not present or not view.applied(record):
            continue
        if now - record.at_us < grace_us:
            report.deferred += len(present)
            due = dt.datetime.fromtimestamp((record.at_us + grace_us) / 1e6, dt.UTC)
            report.deferred_until = max(report.deferred_until or "", due.isoformat())
            continue
        if dry_run:  # reported as what would be deleted
            report.deleted += len(present)
            continue
        for source in present:
            (folder / source).unlink(missing_ok=True)
            deleted += 1
    if deleted:
        _fsync_dir(folder)
    report.deleted += deleted
