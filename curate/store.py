"""The on-disk store: append-only Parquet segments, crash-safe and shared by many writers.

Layout (the contract between the log path and its readers, documented in README.md)::

    <root>/
      store.json                     format version; created once, never rewritten
      retraining/part-*.parquet      edge cases (the retraining set)
      quarantine/part-*.parquet      rows that failed an integrity check or could not be read
      metrics/part-*.parquet         one row per window, monitor, check, column and statistic
      alerts/part-*.parquet          one row per threshold crossing
      profiles/                      saved reference profiles
      runs/<run_id>/run.json         training runs (see curate.runs)
      _ids                           next free row id (hi/lo allocation under a lock)
      _locks/                        lock files (flock); never data

Every segment is written to a ``.tmp-*`` name in its folder, fsynced, renamed to its final
``part-<utc-µs>-<writer>-<seq>.parquet`` name and the folder is fsynced. Readers list only
``part-*.parquet`` names, so they never see a partial file; ``pyarrow.dataset`` and
``datasets.load_dataset("parquet")`` ignore the dot-prefixed temporaries as well. No file is
ever rewritten in place or deleted by curate.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from curate.errors import StoreError

FORMAT_VERSION = 1
TABLES = ("retraining", "quarantine", "metrics", "alerts")
ID_BLOCK = 1 << 16

QUARANTINE_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("monitor", pa.string()),
        ("check", pa.string()),
        ("column", pa.string()),
        ("value", pa.string()),
        ("reason", pa.string()),
        ("row", pa.string()),
    ]
)

METRICS_SCHEMA = pa.schema(
    [
        ("ts", pa.timestamp("us", tz="UTC")),
        ("window_start", pa.timestamp("us", tz="UTC")),
        ("window_end", pa.timestamp("us", tz="UTC")),
        ("writer", pa.string()),
        ("monitor", pa.string()),
        ("check", pa.string()),
        ("column", pa.string()),
        ("metric", pa.string()),
        ("value", pa.float64()),
        ("threshold", pa.float64()),
        ("flagged", pa.bool_()),
        ("n", pa.int64()),
    ]
)

ALERTS_SCHEMA = pa.schema(
    [
        ("ts", pa.timestamp("us", tz="UTC")),
        ("monitor", pa.string()),
        ("check", pa.string()),
        ("column", pa.string()),
        ("metric", pa.string()),
        ("value", pa.float64()),
        ("threshold", pa.float64()),
        ("message", pa.string()),
    ]
)

FIXED_SCHEMAS = {
    "quarantine": QUARANTINE_SCHEMA,
    "metrics": METRICS_SCHEMA,
    "alerts": ALERTS_SCHEMA,
}


def now_us() -> int:
    """Microseconds since the epoch (UTC), the unit of every timestamp in the store."""
    return time.time_ns() // 1000


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def file_lock(path: Path, *, blocking: bool = True) -> Iterator[bool]:
    """Hold an exclusive ``flock`` on ``path`` for the ``with`` block.

    Yields ``False`` (and holds nothing) when ``blocking=False`` and another process or
    open file holds it.

    >>> import tempfile, pathlib
    >>> with file_lock(pathlib.Path(tempfile.mkdtemp()) / "x.lock") as got:
    ...     got
    True
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def try_lock(path: Path) -> int | None:
    """Open ``path`` and take an exclusive ``flock`` without waiting: the descriptor, or ``None``
    when another open file holds it. The lock lasts until every copy of the descriptor is
    closed, so it can be handed to a child process (``pass_fds``).

    >>> import os, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.lock"
    >>> fd = try_lock(path)
    >>> try_lock(path) is None
    True
    >>> os.close(fd)
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def is_locked(path: Path) -> bool:
    """True when some open file (in any process) holds an exclusive ``flock`` on ``path``."""
    if not path.exists():
        return False
    with file_lock(path, blocking=False) as got:
        return not got


class Store:
    """A folder of append-only Parquet segments that several processes may write at once.

    >>> import tempfile, pyarrow as pa
    >>> store = Store(tempfile.mkdtemp())
    >>> _ = store.write("metrics", pa.table({"metric": ["rows"], "value": [3.0]}))
    >>> store.read("metrics").num_rows
    1
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.writer_id = f"{socket.gethostname()[:16]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._seq = 0
        self._seq_lock = threading.Lock()
        self._rows_cache: dict[str, int] = {}
        self._schema_cache: dict[str, pa.Schema] = {}
        try:
            for name in (*TABLES, "runs", "profiles", "_locks"):
                (self.root / name).mkdir(parents=True, exist_ok=True)
            meta = self.root / "store.json"
            if not meta.exists():
                self._write_bytes_atomic(
                    meta, json.dumps({"format_version": FORMAT_VERSION}).encode()
                )
        except OSError as exc:
            raise StoreError(f"cannot create the store at {self.root}: {exc}") from exc

    # -- paths -------------------------------------------------------------------------------
    def path(self, *parts: str) -> Path:
        """A path inside the store; refuses anything that would escape the store root.

        >>> import tempfile
        >>> Store(tempfile.mkdtemp()).path("..", "etc")
        Traceback (most recent call last):
        ...
        curate.errors.StoreError: path '../etc' escapes the store root
        """
        candidate = self.root.joinpath(*parts).resolve()
        if candidate != self.root and self.root not in candidate.parents:
            raise StoreError(f"path {'/'.join(parts)!r} escapes the store root")
        return candidate

    def lock_path(self, name: str) -> Path:
        """The lock file called ``name`` under ``_locks/``."""
        return self.path("_locks", f"{name}.lock")

    # -- writing -----------------------------------------------------------------------------
    def _write_bytes_atomic(self, target: Path, data: bytes) -> None:
        tmp = target.with_name(f".tmp-{self.writer_id}-{uuid.uuid4().hex[:8]}-{target.name}")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)

    def write_json(self, relpath: str, obj: object) -> Path:
        """Atomically (re)place a small JSON document, e.g. a run record."""
        target = self.path(relpath)
        target.parent.mkdir(parents=True, exist_ok=True)
        self._write_bytes_atomic(target, json.dumps(obj, indent=2, default=str).encode())
        return target

    def write(self, table: str, data: pa.Table) -> Path:
        """Write ``data`` as one new segment of ``table``; durable when this returns.

        The file is written under a temporary name, fsynced, renamed and its folder fsynced, so
        a crash leaves either the whole segment or no segment.
        """
        if table not in TABLES:
            raise StoreError(f"unknown table {table!r}; valid tables: {', '.join(TABLES)}")
        with self._seq_lock:
            self._seq += 1
            seq = self._seq
        folder = self.root / table
        name = f"part-{now_us():016d}-{self.writer_id}-{seq:06d}.parquet"
        tmp = folder / f".tmp-{name}"
        try:
            with open(tmp, "wb") as fh:
                pq.write_table(data, fh, compression="zstd")
                fh.flush()
                os.fsync(fh.fileno())
            final = folder / name
            os.rename(tmp, final)
            _fsync_dir(folder)
        except Exception as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise StoreError(f"cannot write a {table} segment under {folder}: {exc}") from exc
        self._rows_cache[str(final)] = data.num_rows
        return final

    # -- reading -----------------------------------------------------------------------------
    def files(self, table: str) -> list[Path]:
        """Complete segments of ``table``, oldest first (names sort by creation time)."""
        folder = self.root / table
        try:
            names = sorted(
                n for n in os.listdir(folder) if n.startswith("part-") and n.endswith(".parquet")
            )
        except FileNotFoundError:
            return []
        return [folder / n for n in names]

    def num_rows(self, files: Sequence[Path]) -> int:
        """Row count of segments from their Parquet footers (cached: segments never change)."""
        total = 0
        for f in files:
            key = str(f)
            if key not in self._rows_cache:
                self._rows_cache[key] = pq.ParquetFile(f).metadata.num_rows
            total += self._rows_cache[key]
        return total

    def schema(self, table: str, files: Sequence[Path] | None = None) -> pa.Schema:
        """The union of the segments' schemas (columns added later are nullable in old files)."""
        files = self.files(table) if files is None else list(files)
        schemas = []
        for f in files:
            key = str(f)
            if key not in self._schema_cache:
                self._schema_cache[key] = pq.read_schema(f)
            schemas.append(self._schema_cache[key])
        if not schemas:
            return FIXED_SCHEMAS.get(table, pa.schema([]))
        return pa.unify_schemas(schemas, promote_options="permissive")

    def dataset(self, table: str, files: Sequence[Path] | None = None) -> pads.Dataset:
        """A ``pyarrow.dataset`` over complete segments with the unified schema."""
        files = self.files(table) if files is None else list(files)
        return pads.dataset(
            [str(f) for f in files], schema=self.schema(table, files), format="parquet"
        )

    def read(
        self,
        table: str,
        columns: Sequence[str] | None = None,
        files: Sequence[Path] | None = None,
    ) -> pa.Table:
        """Read a table (or the given segments of it) into one Arrow table."""
        files = self.files(table) if files is None else list(files)
        if not files:
            schema = self.schema(table, [])
            if columns is not None:
                schema = pa.schema([schema.field(c) for c in columns if c in schema.names])
            return schema.empty_table()
        dataset = self.dataset(table, files)
        if columns is not None:
            columns = [c for c in columns if c in dataset.schema.names]
        return dataset.to_table(columns=columns)

    # -- ids ---------------------------------------------------------------------------------
    def reserve_ids(self, count: int = ID_BLOCK) -> int:
        """Reserve ``count`` consecutive row ids for this writer and return the first.

        Writers reserve blocks under a lock (hi/lo allocation), so ids are unique across
        processes and restarts without a lock per ``log()`` call.
        """
        counter = self.root / "_ids"
        with file_lock(self.lock_path("ids")):
            start = int(counter.read_text() or 0) if counter.exists() else 0
            self._write_bytes_atomic(counter, str(start + count).encode())
        return start
