"""Keeping a store table's column types stable across segments.

Segments are read together with their union schema, so a column that is ``double`` in one file
and ``list<int64>`` in the next would make the whole table unreadable. Before a segment is
written, :class:`SchemaGuard` casts each column to the type the table already has; rows whose
value cannot take that type are split off (the caller quarantines them as ``schema``
violations). New columns are welcome: they are added to the known schema.

>>> import pyarrow as pa
>>> guard = SchemaGuard(pa.schema([("score", pa.float64())]))
>>> ok, rejected = guard.conform(pa.table({"score": pa.array([[1], None], pa.list_(pa.int64()))}))
>>> ok.column("score").to_pylist(), rejected["score"].tolist()
([None], [True, False])
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


class SchemaGuard:
    """Remembers a table's column types and conforms new segments to them."""

    def __init__(self, schema: pa.Schema | None = None) -> None:
        self.types: dict[str, pa.DataType] = {}
        if schema is not None:
            self.learn(schema)

    def learn(self, schema: pa.Schema) -> None:
        """Adopt the (non-null) types of ``schema`` for columns not known yet."""
        for f in schema:
            if f.name not in self.types and not pa.types.is_null(f.type):
                self.types[f.name] = f.type

    def conform(self, table: pa.Table) -> tuple[pa.Table, dict[str, np.ndarray]]:
        """``table`` with known columns cast to their types, minus rows that cannot be.

        Returns the conforming rows and, per offending column, the mask of rejected rows
        (over the input table).
        """
        rejected: dict[str, np.ndarray] = {}
        columns = {}
        for name in table.column_names:
            col = table.column(name).combine_chunks()
            target = self.types.get(name)
            if target is None or col.type == target:
                columns[name] = col
                continue
            try:
                if not _same_kind(col.type, target):
                    raise pa.ArrowInvalid(f"{col.type} is not a kind of {target}")
                columns[name] = col.cast(target)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                bad = col.is_valid().to_numpy(zero_copy_only=False)
                rejected[name] = bad
                columns[name] = pa.nulls(len(col), target)
        keep = np.ones(table.num_rows, dtype=bool)
        for bad in rejected.values():
            keep &= ~bad
        # Field metadata (a signal column's display name) survives the casts.
        fields = [
            pa.field(n, c.type, metadata=table.schema.field(n).metadata) for n, c in columns.items()
        ]
        out = pa.Table.from_arrays(list(columns.values()), schema=pa.schema(fields))
        if not keep.all():
            out = out.filter(pa.array(keep))
        self.learn(out.schema)
        return out, rejected


_KINDS = (
    lambda t: pa.types.is_integer(t) or pa.types.is_floating(t),
    lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
    lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t),
    pa.types.is_boolean,
    pa.types.is_timestamp,
    lambda t: pa.types.is_list(t) or pa.types.is_large_list(t),
    pa.types.is_struct,
)


def _same_kind(got: pa.DataType, stored: pa.DataType) -> bool:
    """Whether ``got`` values may be cast to ``stored``: Arrow would turn 12345 into "12345",
    but a number where text was logged is a changed column, not text.

    >>> _same_kind(pa.int64(), pa.float64()), _same_kind(pa.int64(), pa.string())
    (True, False)
    """
    if pa.types.is_null(got):
        return True
    return any(kind(got) and kind(stored) for kind in _KINDS)
