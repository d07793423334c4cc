"""Labels that arrive after their predictions (``log_ground_truth``), kept and joined back.

Every ``log_ground_truth(identifiers, gts)`` call is appended to the store's ``labels`` table as
it was given: ``ts``, the identifier column(s) and the ground-truth column(s), named as ``log()``
stores them (``identifiers``/``gts`` for one column, ``identifiers.<key>``/``gts.<key>`` for a
dict). Readers that need labels (the trainer's classification task) call :func:`attach_labels`
on the rows they read: each row whose identifiers have a late label gets the **newest** one in
its ``gts`` column(s) (null late labels are ignored); rows without one keep the label they were logged with (or null).

>>> import pyarrow as pa
>>> rows = pa.table({"text": ["a", "b", "c"], "identifiers": ["r1", "r2", "r3"],
...                  "gts": pa.array([None, "neg", None], pa.string())})
>>> late = pa.table({"ts": pa.array([1, 2, 3], pa.timestamp("us", tz="UTC")),
...                  "identifiers": ["r1", "r2", "r1"], "gts": ["pos", "pos", "neg"]})
>>> attach_labels(rows, late).column("gts").to_pylist()
['neg', 'pos', None]
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["LABELS_TABLE", "attach_labels", "label_rows"]

LABELS_TABLE = "labels"
_ROW = "__curate_row"


def _part_columns(names: list[str], part: str) -> list[str]:
    return [n for n in names if n == part or n.startswith(f"{part}.")]


def label_rows(stored: pa.Table) -> pa.Table:
    """The ``labels`` rows of a ``log_ground_truth`` batch's stored table (its ids are not rows).

    >>> t = pa.table({"id": [-1], "ts": [5], "gts": [1], "identifiers": ["r1"]})
    >>> label_rows(t).column_names
    ['ts', 'identifiers', 'gts']
    """
    names = stored.column_names
    keep = ["ts", *_part_columns(names, "identifiers"), *_part_columns(names, "gts")]
    return stored.select([n for n in keep if n in names])


def _newest(labels: pa.Table, keys: list[str], values: list[str]) -> pa.Table:
    """One row per identifier: its newest non-null label (a later call wins a tie on ``ts``)."""
    order = pc.sort_indices(labels, [("ts", "ascending")])
    ordered = labels.take(order).select([*keys, *values])
    # Ordered aggregation: "last" needs the single-threaded group-by to keep row order.
    grouped = ordered.group_by(keys, use_threads=False).aggregate([(v, "last") for v in values])
    late = {f"{v}_last": f"__late.{v}" for v in values}
    return grouped.rename_columns([late.get(c, c) for c in grouped.column_names])


def attach_labels(rows: pa.Table, labels: pa.Table) -> pa.Table:
    """``rows`` (in their order) with each ``gts`` column replaced by its newest late label.

    The join uses the identifier columns ``rows`` and ``labels`` share; a late label whose
    type differs from the logged one is cast to it when it can be, else the column takes the
    late labels' type (the logged values cast to it). Rows, labels or identifiers missing:
    ``rows`` unchanged.
    """
    keys = [k for k in _part_columns(rows.column_names, "identifiers") if k in labels.column_names]
    values = _part_columns(labels.column_names, "gts")
    if not keys or not values or not rows.num_rows or not labels.num_rows:
        return rows
    latest = _newest(labels, keys, values)
    indexed = rows.select(keys).append_column(_ROW, pa.array(range(rows.num_rows), pa.int64()))
    joined = indexed.join(latest, keys, join_type="left outer", use_threads=False)
    joined = joined.take(pc.sort_indices(joined, [(_ROW, "ascending")]))
    out = rows
    for value in values:
        late = joined.column(f"__late.{value}")
        if value in out.column_names:
            logged = out.column(value)
            late, logged = _common_type(late, logged)
            merged = pc.coalesce(late, logged)
            out = out.set_column(out.column_names.index(value), value, merged)
        else:
            out = out.append_column(value, late)
    return out


def _common_type(late: pa.ChunkedArray, logged: pa.ChunkedArray) -> tuple:
    if late.type == logged.type:
        return late, logged
    if pa.types.is_null(logged.type):
        return late, logged.cast(late.type)
    try:
        return late.cast(logged.type), logged
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return late, logged.cast(late.type)
