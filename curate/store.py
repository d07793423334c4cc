"""The writable store: append-only Parquet segments, crash-safe and shared by many writers.

The layout is documented once, in ``docs/store.md``; reading goes through
:class:`curate.store_reader.StoreReader`, which :class:`Store` extends. Every segment is written
to a ``.tmp-*`` name in its folder, fsynced, renamed to its final
``part-<utc-µs>-<writer>-<seq>.parquet`` name and the folder is fsynced, so a crash leaves either
the whole segment or no segment. No file is ever rewritten in place or deleted by curate.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curate.errors import StoreError
from curate.locks import file_lock, is_locked, try_lock
from curate.store_reader import _ROWS, FORMAT_VERSION, METADATA, SIDE_TABLES, TABLES, StoreReader
from curate.tables import (
    ALERTS_SCHEMA,
    FIXED_SCHEMAS,
    METRICS_SCHEMA,
    QUARANTINE_SCHEMA,
    now_us,
)

ID_BLOCK = 1 << 16

__all__ = [
    "ALERTS_SCHEMA",
    "FIXED_SCHEMAS",
    "ID_BLOCK",
    "METRICS_SCHEMA",
    "QUARANTINE_SCHEMA",
    "TABLES",
    "Store",
    "file_lock",
    "is_locked",
    "now_us",
    "try_lock",
]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Store(StoreReader):
    """A folder of append-only Parquet segments that several processes may write at once.

    Creating a ``Store`` creates the folder layout and ``store.json`` when missing; it never
    wipes what is there.

    >>> import tempfile, pyarrow as pa
    >>> store = Store(tempfile.mkdtemp())
    >>> _ = store.write("metrics", pa.table({"metric": ["rows"], "value": [3.0]}))
    >>> store.read("metrics").num_rows
    1
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        super().__init__(root)
        self.writer_id = f"{socket.gethostname()[:16]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._seq = 0
        self._seq_lock = threading.Lock()
        try:
            for name in (*TABLES, *SIDE_TABLES, "runs", "profiles", "_locks"):
                (self.root / name).mkdir(parents=True, exist_ok=True)
            meta = self.root / METADATA
            if not meta.exists():
                self._write_bytes_atomic(
                    meta, json.dumps({"format_version": FORMAT_VERSION}).encode()
                )
        except OSError as exc:
            raise StoreError(f"cannot create the store at {self.root}: {exc}") from exc

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
        if table not in TABLES and table not in SIDE_TABLES:
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
        _ROWS.put(str(final), data.num_rows)
        return final

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
