"""What an EDGE_CASE check already collected: the newest values of its rows in the retraining set.

A deduper starts from these, so a restarted process (or a second process, or a batch job,
writing the same store) does not collect again what is already there. A check's rows are those
whose ``reasons`` name its formula (``str(check.signal_formulae)``, also with `` (without
...)`` when one of its leaves failed). Only the dedupe column and ``reasons`` are read, newest
segments first, until ``limit`` rows of the check are found (a local store, through
:class:`~curate.store_reader.StoreReader`); a Delta store is read through its own ``read``,
which loads the two columns of the whole table first.

>>> import tempfile
>>> from curate.store import Store
>>> store = Store(tempfile.mkdtemp())
>>> reasons = pa.array([["a"], ["b"], ["a (without x)", "b"]], pa.list_(pa.string()))
>>> _ = store.write("retraining", pa.table({"text": ["one", "two", "three"], "reasons": reasons}))
>>> _ = store.write("retraining", pa.table({"text": ["four"], "reasons": [["a"]]}))
>>> collected_values(store, "a", "text", limit=2).to_pylist()
['three', 'four']
>>> collected_values(store, "a", "missing", limit=2).to_pylist()
[]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.store_reader import StoreReader

TABLE = "retraining"


def _mine(reasons: pa.ChunkedArray | pa.Array, reason: str) -> np.ndarray:
    """Rows whose ``reasons`` list names ``reason`` (exactly, or as ``reason (without ...)``)."""
    if isinstance(reasons, pa.ChunkedArray):
        reasons = reasons.combine_chunks()
    flat = pc.list_flatten(reasons)
    parents = np.asarray(pc.list_parent_indices(reasons))
    hit = pc.or_(pc.equal(flat, reason), pc.starts_with(flat, f"{reason} (without "))
    out = np.zeros(len(reasons), dtype=bool)
    out[parents[np.asarray(hit.fill_null(False), dtype=bool)]] = True
    return out


def _values(table: pa.Table, reason: str, column: str) -> pa.Array | None:
    if column not in table.column_names or "reasons" not in table.column_names:
        return None
    values = table.column(column).filter(pa.array(_mine(table.column("reasons"), reason)))
    return values.combine_chunks()


def collected_values(store: Any, reason: str, column: str, limit: int) -> pa.Array:
    """The newest ``limit`` values of ``column`` among the check's rows, oldest first."""
    if not isinstance(store, StoreReader):  # a Delta store: one snapshot of both columns
        found = _values(store.read(TABLE, columns=[column, "reasons"]), reason, column)
        return pa.array([]) if found is None else found.slice(max(len(found) - limit, 0))
    files = store.files(TABLE)
    parts: list[pa.Array] = []
    got, end = 0, len(files)
    while end > 0 and got < limit:
        # Newest segments first, in steps of about twice the rows still wanted (other checks'
        # rows are among them); footers give the counts without reading the segments.
        start, rows = end, 0
        while start > 0 and rows < 2 * (limit - got):
            start -= 1
            rows += store.num_rows([files[start]])
        found = _values(store.read(TABLE, [column, "reasons"], files[start:end]), reason, column)
        if found is None:  # neither column in these segments: the check never stored one here
            found = pa.array([])
        parts.insert(0, found)
        got += len(found)
        end = start
    if not parts or not got:
        return pa.array([])
    parts = [p for p in parts if len(p)]
    # Older segments may hold the column with another type (a string before a large_string).
    values = pa.concat_arrays([p.cast(parts[-1].type) for p in parts])
    return values.slice(max(len(values) - limit, 0))


def history(store: Any, reason: str, column: str, limit: int) -> Callable[[], pa.Array] | None:
    """A loader of :func:`collected_values` for a deduper to call when it first runs (in the
    writer thread, not while the Framework is being built), or ``None`` without a store."""
    if store is None:
        return None
    return lambda: collected_values(store, reason, column, limit)
