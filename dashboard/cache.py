"""The dashboard's read cache: whole tables and query results, keyed on the segment listing.

Everything is read through :class:`curate.store_reader.StoreReader`, which alone knows the
store layout. Segments are append-only: once a segment is listed it never changes and is never
deleted. So a table read is cached per (store, table, columns) together with the listing it
covered (:meth:`StoreReader.segments`: name, size, mtime); the next read lists again and, when
every covered segment is still there unchanged, reads only the new ones and appends them. A
listing that lost or changed a covered segment (which curate never does) reads everything
again. Nothing here writes to the store: no folders are created, no locks are taken.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp()) / "store"
>>> read_table(root, "metrics").num_rows, table_schema(root, "retraining").names, root.exists()
(0, ['id', 'ts'], False)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from curate import store_reader
from curate.lru import LRU
from curate.store_reader import Segment, StoreReader
from curate.tables import FIXED_SCHEMAS, RETRAINING_BASE_SCHEMA


@dataclass(frozen=True)
class _Entry:
    segments: frozenset[Segment]
    table: pa.Table


# Bounded so that a dashboard left open for weeks on many stores stays small.
_TABLES = LRU(48)
_SCHEMAS = LRU(64)
_MEMO = LRU(256)


def empty_schema(table: str) -> pa.Schema:
    """The schema the dashboard shows for a table with no segments yet.

    The reader knows no columns of an empty retraining set (they are the logged ones); the
    dashboard still shows its base columns so that its pages can rely on ``id`` and ``ts``.

    >>> empty_schema("retraining").names
    ['id', 'ts']
    """
    return FIXED_SCHEMAS.get(table, RETRAINING_BASE_SCHEMA)


def _paths(reader: StoreReader, table: str, segments: Sequence[Segment]) -> list[Path]:
    return [reader.path(table, s.name) for s in segments]


def _read(
    reader: StoreReader, table: str, segments: Sequence[Segment], columns: tuple[str, ...] | None
) -> pa.Table:
    if not segments:
        empty = empty_schema(table).empty_table()
        if columns is None:
            return empty
        return empty.select([c for c in columns if c in empty.column_names])
    return reader.read(table, columns, _paths(reader, table, segments))


def read_table(root: Path, table: str, columns: Sequence[str] | None = None) -> pa.Table:
    """Every complete segment of ``table`` as one Arrow table (only ``columns`` when given).

    Columns missing from every segment are left out; columns missing from some segments are
    null there. Incremental: only segments not read before are read.

    >>> import tempfile, pathlib
    >>> read_table(pathlib.Path(tempfile.mkdtemp()), "alerts", ["ts", "nope"]).column_names
    ['ts']
    """
    reader = StoreReader(root)
    cols = None if columns is None else tuple(columns)
    listing = reader.segments(table)
    key = (str(reader.root), table, cols)
    entry: _Entry | None = _TABLES.get(key)
    current = frozenset(listing)
    if entry is not None and entry.segments == current:
        return entry.table
    if entry is not None and entry.segments <= current:
        added = _read(reader, table, [s for s in listing if s not in entry.segments], cols)
        result = pa.concat_tables([entry.table, added], promote_options="permissive")
    else:
        result = _read(reader, table, listing, cols)
    _TABLES.put(key, _Entry(current, result))
    return result


def table_schema(root: Path, table: str) -> pa.Schema:
    """The union of the segments' schemas (:func:`empty_schema` when there are none).

    >>> import tempfile, pathlib
    >>> table_schema(pathlib.Path(tempfile.mkdtemp()), "alerts").names[:2]
    ['ts', 'monitor']
    """
    reader = StoreReader(root)
    listing = reader.segments(table)
    if not listing:
        return empty_schema(table)
    # Unifying hundreds of schemas costs more than a listing: cache it on the listing.
    key = (str(reader.root), table, listing)
    schema = _SCHEMAS.get(key)
    if schema is None:
        schema = reader.schema(table, _paths(reader, table, listing))
        _SCHEMAS.put(key, schema)
    return schema


def memo(tables: Sequence[str]) -> Callable:
    """Cache a query ``fn(root, *args)`` on the segment listing of ``tables``.

    The result is recomputed only when a segment appears; the cached object is shared, so
    callers must not modify it.

    >>> import tempfile, pathlib
    >>> calls = []
    >>> @memo(["metrics"])
    ... def probe(root):
    ...     calls.append(root)
    ...     return len(calls)
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> probe(root), probe(root)
    (1, 1)
    """

    def decorate(fn: Callable) -> Callable:
        def wrapper(root: Path, *args: Any) -> Any:
            reader = StoreReader(root)
            signature = tuple(reader.segments(t) for t in tables)
            key = (fn.__module__, fn.__qualname__, str(reader.root), args, signature)
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


def file_stamp(path: Path) -> tuple[int, int] | None:
    """``(size, mtime_ns)`` of a file, ``None`` when it is missing (a cache key for files that
    may be rewritten).

    >>> file_stamp(Path("/nonexistent/file")) is None
    True
    """
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def clear_caches() -> None:
    """Forget every cached read, the reader's footers and schemas included (benchmarks use it
    to time cold reads).

    >>> clear_caches()
    """
    for cache in (_TABLES, _SCHEMAS, _MEMO):
        cache.clear()
    store_reader.clear_caches()
