"""Read-only access to a store's Parquet segments, cached on the folder listing.

Segments are append-only: a file, once it has its final ``part-*.parquet`` name, never changes
and is never deleted. So a table read is cached per (store, table, columns) together with the
set of files it covered, keyed on ``(name, size, mtime_ns)``; the next read lists the folder
and, when every covered file is still there unchanged, reads only the new files and appends
them. A listing that lost or changed a covered file (which curate never does) reads everything
again. Nothing here writes to the store: no folders are created, no locks are taken.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> read_table(root, "metrics").num_rows
0
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from curate.store import FIXED_SCHEMAS

RETRAINING_BASE = pa.schema([("id", pa.int64()), ("ts", pa.timestamp("us", tz="UTC"))])


class FileKey(NamedTuple):
    """One complete segment as listed: its name, size and modification time."""

    name: str
    size: int
    mtime_ns: int


Listing = tuple[FileKey, ...]


def list_files(root: Path, table: str) -> Listing:
    """The complete segments of ``table`` (``part-*.parquet``), sorted by name.

    A missing folder is an empty listing; temporaries (``.tmp-*``) are never listed.
    """
    keys = []
    try:
        with os.scandir(root / table) as it:
            for entry in it:
                name = entry.name
                if name.startswith("part-") and name.endswith(".parquet"):
                    try:
                        st = entry.stat()
                    except FileNotFoundError:
                        continue
                    keys.append(FileKey(name, st.st_size, st.st_mtime_ns))
    except (FileNotFoundError, NotADirectoryError):
        return ()
    return tuple(sorted(keys))


class LRU:
    """A small thread-safe least-recently-used mapping."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            if key not in self._data:
                return None
            self._data.move_to_end(key)
            return self._data[key]

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


@dataclass(frozen=True)
class _Entry:
    files: frozenset[FileKey]
    table: pa.Table


_TABLES = LRU(48)
_SCHEMAS = LRU(200_000)
_ROWS = LRU(200_000)
_MEMO = LRU(256)


def _schema(path: Path, key: FileKey) -> pa.Schema:
    cache_key = (str(path), key)
    schema = _SCHEMAS.get(cache_key)
    if schema is None:
        schema = pq.read_schema(path)
        _SCHEMAS.put(cache_key, schema)
    return schema


def empty_schema(table: str) -> pa.Schema:
    """The schema of a table with no segments yet."""
    return FIXED_SCHEMAS.get(table, RETRAINING_BASE)


def _read_files(
    folder: Path, keys: Sequence[FileKey], table: str, columns: tuple[str, ...] | None
) -> pa.Table:
    paths = [folder / k.name for k in keys]
    if not paths:
        return _select(empty_schema(table).empty_table(), columns)
    if table in FIXED_SCHEMAS:  # every segment has (a subset of) this schema
        schema = FIXED_SCHEMAS[table]
    else:
        schema = pa.unify_schemas(
            [_schema(p, k) for p, k in zip(paths, keys, strict=True)],
            promote_options="permissive",
        )
    wanted = None if columns is None else [c for c in columns if c in schema.names]
    dataset = pads.dataset([str(p) for p in paths], schema=schema, format="parquet")
    return dataset.to_table(columns=wanted)


def _select(table: pa.Table, columns: tuple[str, ...] | None) -> pa.Table:
    if columns is None:
        return table
    return table.select([c for c in columns if c in table.column_names])


def read_table(root: Path, table: str, columns: Sequence[str] | None = None) -> pa.Table:
    """Every complete segment of ``table`` as one Arrow table (only ``columns`` when given).

    Columns missing from every segment are left out; columns missing from some segments are
    null there. Incremental: only files not read before are read.
    """
    cols = None if columns is None else tuple(columns)
    listing = list_files(root, table)
    key = (str(root), table, cols)
    entry: _Entry | None = _TABLES.get(key)
    current = frozenset(listing)
    if entry is not None and entry.files == current:
        return entry.table
    folder = root / table
    if entry is not None and entry.files <= current:
        new = [k for k in listing if k not in entry.files]
        added = _read_files(folder, new, table, cols)
        result = pa.concat_tables([entry.table, added], promote_options="permissive")
    else:
        result = _read_files(folder, listing, table, cols)
    _TABLES.put(key, _Entry(current, result))
    return result


def table_schema(root: Path, table: str) -> pa.Schema:
    """The union of the segments' schemas (the fixed schema when there are none)."""
    listing = list_files(root, table)
    if not listing:
        return empty_schema(table)
    folder = root / table
    return pa.unify_schemas(
        [_schema(folder / k.name, k) for k in listing], promote_options="permissive"
    )


def row_counts(root: Path, table: str, names: Sequence[str] | None = None) -> int:
    """Rows in the segments of ``table`` (all, or the given names) from the Parquet footers."""
    listing = list_files(root, table)
    wanted = None if names is None else set(names)
    total = 0
    for k in listing:
        if wanted is not None and k.name not in wanted:
            continue
        cache_key = (str(root), table, k)
        n = _ROWS.get(cache_key)
        if n is None:
            n = pq.read_metadata(root / table / k.name).num_rows
            _ROWS.put(cache_key, n)
        total += n
    return total


def memo(tables: Sequence[str], *, extra: Sequence[Path] = ()) -> Callable:
    """Cache a query ``fn(root, *args)`` on the listing of ``tables`` (and ``extra`` files).

    The result is recomputed only when a segment appears (or an ``extra`` file changes); the
    cached object is shared, so callers must not modify it.
    """

    def decorate(fn: Callable) -> Callable:
        def wrapper(root: Path, *args: Any) -> Any:
            signature = tuple(list_files(root, t) for t in tables)
            stamps = tuple(_stamp(root / p) for p in extra)
            key = (fn.__module__, fn.__qualname__, str(root), args, signature, stamps)
            hit = _MEMO.get(key)
            if hit is None:
                hit = (fn(root, *args),)
                _MEMO.put(key, hit)
            return hit[0]

        wrapper.__doc__ = fn.__doc__
        wrapper.__name__ = fn.__name__
        wrapper.__wrapped__ = fn  # type: ignore[attr-defined]
        return wrapper

    return decorate


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def clear_caches() -> None:
    """Forget every cached read (tests and benchmarks use it to time cold reads)."""
    for cache in (_TABLES, _SCHEMAS, _ROWS, _MEMO):
        cache.clear()
