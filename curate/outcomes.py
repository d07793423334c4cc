"""Where every logged row went, counted from a store's tables (local folder or Delta).

One function for both kinds of store, given only how to read a table's columns: the durable
``rows_logged``/``rows_dropped`` metrics, and the ids of the retraining set and quarantine.

>>> import pyarrow as pa
>>> tables = {"metrics": pa.table({"metric": ["rows_logged"], "value": [5.0]}),
...           "retraining": pa.table({"id": [0, 1]}), "quarantine": pa.table({"id": [1, 4]})}
>>> outcomes(lambda table, columns: tables[table].select(columns))
{'rows_logged': 5, 'edge_cases': 2, 'quarantined': 1, 'rows_not_selected': 2, 'quarantine_entries': 2, 'rows_dropped': 0}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pyarrow as pa
import pyarrow.compute as pc

from curate.tables import Metric

#: ``read(table, columns) -> pa.Table`` (columns a table lacks are left out).
Read = Callable[[str, list[str]], pa.Table]

__all__ = ["metric_sums", "outcomes"]


def metric_sums(read: Read, *names: str) -> dict[str, int]:
    """The sum of each named metric over the whole metrics table."""
    metrics = read("metrics", ["metric", "value"])
    sums = dict.fromkeys(names, 0)
    if not metrics.num_rows or "metric" not in metrics.column_names:
        return sums
    for name in names:
        rows = metrics.filter(pc.equal(metrics["metric"], name))
        sums[name] = int(pc.sum(rows["value"]).as_py() or 0)
    return sums


def _ids(read: Read, table: str) -> pa.ChunkedArray:
    data = read(table, ["id"])
    if "id" not in data.column_names:
        return pa.chunked_array([], pa.int64())
    return data.column("id")


def outcomes(read: Read, expired: Mapping[str, int] | None = None) -> dict[str, int]:
    """``rows_logged == edge_cases + quarantined + rows_not_selected`` (see
    :meth:`curate.store_reader.StoreReader.outcomes`), with ``quarantine_entries`` and
    ``rows_dropped``. ``expired``: what rows a compaction expired added to ``edge_cases``,
    ``quarantined`` and ``quarantine_entries`` (``curate.compaction_log``), counted back in."""
    sums = metric_sums(read, Metric.ROWS_LOGGED, Metric.ROWS_DROPPED)
    kept, entries = _ids(read, "retraining"), _ids(read, "quarantine")
    held = pc.unique(entries.filter(pc.greater_equal(entries, 0)))
    held = held.filter(pc.invert(pc.is_in(held, value_set=pc.unique(kept))))
    logged, dropped = sums[Metric.ROWS_LOGGED], sums[Metric.ROWS_DROPPED]
    gone = expired or {}
    n_kept = len(kept) + gone.get("edge_cases", 0)
    n_held = len(held) + gone.get("quarantined", 0)
    return {
        "rows_logged": logged,
        "edge_cases": n_kept,
        "quarantined": n_held,
        "rows_not_selected": max(0, logged - n_kept - n_held - dropped),
        "quarantine_entries": len(entries) + gone.get("quarantine_entries", 0),
        "rows_dropped": dropped,
    }
