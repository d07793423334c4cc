"""What a compaction merges (:func:`plan`), and the report it gives (:class:`CompactionReport`).

Merges are runs of *neighbouring* segments in name order: a segment that stays (too fresh, large
enough, or read by a different set of runs) ends a run. Merged rows keep their sources' order
and the merged segment sorts where its first source did, so the table reads in the same order
as before: what depends on row order (a drift window's rows after its summary row, the newest
review decision on equal timestamps) stays true.

>>> parse_target("128MB"), parse_target("500k rows"), parse_target(4096)
(Target(bytes=134217728, rows=None), Target(bytes=None, rows=500000), Target(bytes=4096, rows=None))
>>> parse_target("big")
Traceback (most recent call last):
...
curate.errors.ConfigError: target size 'big': give bytes (134217728, 128MB, 1GiB) or rows (500000rows, 500k rows)
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.errors import ConfigError
from curate.retention import RETENTION_TABLES
from curate.store_reader import Segment, StoreReader
from curate.traffic import SIZE_METADATA

#: Tables that runs snapshot, with the key of their run record that lists the segments.
RUN_TABLES = {"retraining": "snapshot", "traffic": "traffic_snapshot",
              "labels": "labels_snapshot", "reviews": "reviews_snapshot"}  # fmt: skip
DEFAULT_TARGET = 128 * 2**20
#: Schema metadata of a merged metrics segment: how many of its first rows are roll-ups.
ROLLUP_METADATA = b"curate.rollup_rows"
_SCALE = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}


@dataclass(frozen=True)
class Target:
    """How big a merged segment should get: bytes, or rows."""

    bytes: int | None = DEFAULT_TARGET
    rows: int | None = None

    def small(self, info: SegmentInfo) -> bool:
        """True when ``info`` is below the target (worth merging with its neighbours)."""
        return (self.bytes is None or info.size < self.bytes) and (
            self.rows is None or info.rows < self.rows
        )

    def reached(self, group: list[SegmentInfo]) -> bool:
        """True once ``group`` adds up to the target."""
        if self.bytes is not None and sum(i.size for i in group) >= self.bytes:
            return True
        return self.rows is not None and sum(i.rows for i in group) >= self.rows


def parse_target(value: int | str) -> Target:
    """A :class:`Target` from bytes (``134217728``, ``"128MB"``, ``"1GiB"``: binary units)
    or rows (``"500000rows"``, ``"500k rows"``)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return Target(bytes=value)
    text = str(value).strip().lower()
    match = re.fullmatch(r"(\d+)\s*([kmg]?)\s*(rows?|i?b?)", text)
    if match is None or int(match.group(1)) == 0:
        raise ConfigError(
            f"target size {value!r}: give bytes (134217728, 128MB, 1GiB) or rows "
            "(500000rows, 500k rows)"
        )
    number, unit = int(match.group(1)), match.group(2)
    if match.group(3).startswith("row"):  # rows count in thousands, bytes in binary units
        return Target(bytes=None, rows=number * 1000 ** ("_kmg".find(unit) if unit else 0))
    return Target(bytes=number * _SCALE[unit])


def parse_tables(tables: Any) -> list[str]:
    """The tables to compact (``None``: all), from a list or ``"metrics,quarantine"``.

    >>> parse_tables("metrics, quarantine")
    ['metrics', 'quarantine']
    """
    if tables is None:
        return list(RETENTION_TABLES)
    names = [t.strip() for t in tables.split(",")] if isinstance(tables, str) else list(tables)
    unknown = [t for t in names if t not in RETENTION_TABLES]
    if unknown or not names:
        raise ConfigError(
            f"tables: unknown table(s) {', '.join(map(repr, unknown)) or 'none given'}; "
            f"valid tables: {', '.join(RETENTION_TABLES)}"
        )
    return names


@dataclass(frozen=True)
class SegmentInfo:
    """What planning needs of one segment."""

    name: str
    path: Path
    size: int
    mtime_us: int
    rows: int
    expiring: bool
    key: frozenset[str]
    sample_size: int | None


def _ts_min(meta: pq.FileMetaData) -> int | None:
    """The smallest ``ts`` from the footer's statistics (``None``: no ts column, no rows)."""
    low = None
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            col = group.column(c)
            if col.path_in_schema != "ts":
                continue
            stats = col.statistics
            if stats is None or not stats.has_min_max:
                raise LookupError("no statistics")
            value = pa.scalar(stats.min, pa.timestamp("us", tz="UTC")).value
            low = value if low is None else min(low, value)
    return low


def _ts_column_min(path: Path, handle: pq.ParquetFile, skip: int) -> int | None:
    if "ts" not in handle.schema_arrow.names:
        return None
    ts = pq.read_table(path, columns=["ts"])["ts"].slice(skip)
    return pc.min(ts.cast(pa.int64())).as_py() if len(ts) else None


def segment_info(reader: StoreReader, table: str, seg: Segment, cutoff: int | None,
                 key: frozenset[str]) -> SegmentInfo:  # fmt: skip
    """Size, age, rows and whether ``seg`` holds rows older than ``cutoff``."""
    path = reader.root / table / seg.name
    handle = pq.ParquetFile(path)
    meta = handle.metadata
    expiring = False
    if cutoff is not None and meta.num_rows:
        metadata = handle.schema_arrow.metadata or {}
        try:
            low = _ts_min(meta)
        except (LookupError, TypeError, pa.ArrowInvalid):  # no usable statistics: read the column
            low = _ts_column_min(path, handle, 0)
        rolled = int(metadata.get(ROLLUP_METADATA, 0))
        if low is not None and low < cutoff and rolled:
            # Roll-ups are old by nature: only rows after them can expire.
            low = _ts_column_min(path, handle, rolled)
        expiring = low is not None and low < cutoff
    size = None
    if table == "traffic":
        raw = (handle.schema_arrow.metadata or {}).get(SIZE_METADATA)
        size = int(raw) if raw is not None else None
    return SegmentInfo(seg.name, path, seg.size, seg.mtime_ns // 1000, meta.num_rows,
                       expiring, key, size)  # fmt: skip


def plan(
    infos: list[SegmentInfo], target: Target, min_age_us: int, now_us: int
) -> list[list[SegmentInfo]]:
    """The merges: runs of neighbouring segments that may move (older than ``min_age_us`` and
    small, or holding expired rows) with the same runs' snapshots listing them, cut when a run
    reaches ``target``; a lone segment only when it has rows to expire."""
    groups: list[list[SegmentInfo]] = []
    current: list[SegmentInfo] = []

    def close() -> None:
        if len(current) > 1 or (current and current[0].expiring):
            groups.append(list(current))
        current.clear()

    for info in infos:
        movable = now_us - info.mtime_us >= min_age_us and (target.small(info) or info.expiring)
        if not movable or (current and info.key != current[0].key):
            close()
        if not movable:
            continue
        current.append(info)
        if target.reached(current):
            close()
    close()
    return groups


@dataclass
class TableReport:
    """What a compaction did to one table (in a dry run: what it would do)."""

    table: str
    segments_before: int = 0
    segments_after: int = 0
    bytes_before: int = 0
    bytes_after: int | None = 0
    merges: int = 0
    rows_merged: int = 0
    rows_expired: int = 0
    dropped_segments: int = 0
    deleted: int = 0
    deferred: int = 0
    deferred_until: str | None = None
    recovered: int = 0
    skipped: str | None = None
    planned_away: int = field(default=0, repr=False)

    def line(self) -> str:
        """One line for people: ``metrics: 120 -> 3 segments (...)``."""
        if self.skipped:
            return f"{self.table}: skipped: {self.skipped}"
        out = (f"{self.table}: {self.segments_before} -> {self.segments_after} segments "
               f"({_size(self.bytes_before)} -> {_size(self.bytes_after)}), {self.merges} "
               f"merges, {self.rows_merged:,} rows merged, {self.rows_expired:,} expired")  # fmt: skip
        if self.dropped_segments:
            out += f", {self.dropped_segments} segments dropped whole"
        if self.deleted:
            out += f", {self.deleted} replaced segments deleted"
        if self.deferred:
            out += (f"; {self.deferred} replaced segments kept for the grace period "
                    f"(until {self.deferred_until})")  # fmt: skip
        if self.recovered:
            out += f"; {self.recovered} interrupted compactions finished"
        return out


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


@dataclass
class CompactionReport:
    """What :func:`curate.compaction.compact` did, per table."""

    store: str
    dry_run: bool
    retention: dict[str, str]
    tables: list[TableReport] = field(default_factory=list)

    def table(self, name: str) -> TableReport:
        """The report of table ``name`` (``KeyError`` if it was not compacted)."""
        for report in self.tables:
            if report.table == name:
                return report
        raise KeyError(f"table {name!r} was not compacted")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        tables = {}
        for t in self.tables:
            tables[t.table] = {
                k: v for k, v in asdict(t).items() if k not in ("table", "planned_away")
            }
        return {"store": self.store, "dry_run": self.dry_run, "retention": self.retention,
                "tables": tables}  # fmt: skip

    def text(self) -> str:
        """The report for people, a line per table."""
        head = f"curate compact {self.store}" + (
            " (dry run: nothing changed)" if self.dry_run else ""
        )
        if self.retention:
            head += "; retention " + ", ".join(f"{k}={v}" for k, v in self.retention.items())
        return "\n".join([head, *(t.line() for t in self.tables)])
