"""Retention: how long each table keeps its rows, and what expiring them must not change.

``retention: {"metrics": "90d", "quarantine": "30d"}`` (the Framework config, or
``curate compact --retention metrics=90d,quarantine=30d``) expires a row of a table once its
``ts`` is older than now less the duration; a compaction (:mod:`curate.compaction`) drops such
rows while it merges. A table without an entry keeps everything: the retraining set and the
review decisions in particular are never expired unless named.

What readers sum stays exact. Expired counter rows of ``metrics`` (``rows_logged``,
``violations``, ...) are rolled up into one row per writer, monitor, check, column and metric
holding their sum (:func:`rollup`); expired retraining rows and quarantine entries are counted
in the compaction record (:class:`Holdings`), and ``outcomes()`` adds them back.

>>> parse_retention("metrics=90d, quarantine=12h")
{'metrics': '90d', 'quarantine': '12h'}
>>> parse_duration("30m")
1800000000
>>> parse_retention({"metric": "90d"})
Traceback (most recent call last):
...
curate.errors.ConfigError: retention: unknown table 'metric'; valid tables: retraining, quarantine, metrics, alerts, traffic, labels, reviews
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.errors import ConfigError
from curate.store_reader import SIDE_TABLES, TABLES
from curate.tables import Metric

RETENTION_TABLES = (*TABLES, *SIDE_TABLES)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
#: Metrics whose readers sum them over the whole table: expired rows are rolled up, not lost.
COUNTERS = (
    Metric.ROWS_LOGGED, Metric.MALFORMED_CALLS, Metric.MONITOR_ERRORS, Metric.BAD_CELLS,
    Metric.WRITE_ERRORS, Metric.ROWS_DROPPED, Metric.EDGE_CASES, Metric.DUPLICATES_SKIPPED,
    Metric.BUDGET_SKIPPED, Metric.VIOLATIONS, Metric.COLUMN_MISSING,
)  # fmt: skip
ROLLUP_KEYS = ("writer", "monitor", "check", "column", "metric")


def parse_duration(text: Any, key: str = "retention") -> int:
    """Microseconds in a duration such as ``"90d"``, ``"12h"``, ``"30m"``, ``"45s"``, ``"2w"``.

    >>> parse_duration("1.5d", "retention.metrics")
    Traceback (most recent call last):
    ...
    curate.errors.ConfigError: retention.metrics: '1.5d' is not a duration like '90d', '12h', '30m', '45s' or '2w'
    """
    match = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text) if isinstance(text, str) else None
    if match is None or int(match.group(1)) == 0:
        raise ConfigError(
            f"{key}: {text!r} is not a duration like '90d', '12h', '30m', '45s' or '2w'"
        )
    return int(match.group(1)) * _UNITS[match.group(2)] * 1_000_000


def parse_retention(value: Mapping[str, Any] | str | None) -> dict[str, str]:
    """``{table: duration}`` from a mapping or ``"table=90d,table=30d"``; ``ConfigError``
    naming the key and the value that is wrong."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        pairs = {}
        for part in (p.strip() for p in value.split(",") if p.strip()):
            table, sep, duration = part.partition("=")
            if not sep:
                raise ConfigError(f"retention: {part!r} is not table=duration (e.g. metrics=90d)")
            pairs[table.strip()] = duration.strip()
        value = pairs
    if not isinstance(value, Mapping):
        raise ConfigError(f"retention must map tables to durations, got {type(value).__name__}")
    out = {}
    for table, duration in value.items():
        if table not in RETENTION_TABLES:
            raise ConfigError(
                f"retention: unknown table {table!r}; valid tables: {', '.join(RETENTION_TABLES)}"
            )
        parse_duration(duration, f"retention.{table}")
        out[table] = duration.strip()
    return out


def cutoffs(retention: Mapping[str, str], now_us: int) -> dict[str, int]:
    """``{table: cutoff}``: rows with ``ts`` (µs) below the cutoff are expired.

    >>> cutoffs({"metrics": "1s"}, 5_000_000)
    {'metrics': 4000000}
    """
    return {t: now_us - parse_duration(d, f"retention.{t}") for t, d in retention.items()}


def expired_mask(data: pa.Table, cutoff: int | None) -> np.ndarray:
    """True for the rows of ``data`` whose ``ts`` is older than ``cutoff`` (never rows without
    a ``ts``: their age is unknown).

    >>> import datetime as dt
    >>> t = pa.table({"ts": pa.array([1, 5, None], pa.timestamp("us", tz="UTC"))})
    >>> expired_mask(t, 3).tolist()
    [True, False, False]
    """
    if cutoff is None or "ts" not in data.column_names or not data.num_rows:
        return np.zeros(data.num_rows, dtype=bool)
    ts = pc.cast(data["ts"], pa.timestamp("us", tz="UTC")).cast(pa.int64())
    return pc.fill_null(pc.less(ts, cutoff), False).to_numpy(zero_copy_only=False)


def rollup(expired: pa.Table, schema: pa.Schema) -> pa.Table:
    """Expired counter rows of ``metrics`` as one row per writer, monitor, check, column and
    metric: ``value`` and ``n`` summed, the latest ``ts``, the widest window (``schema``: the
    merged segment's). The other expired rows are dropped.

    >>> import datetime as dt
    >>> from curate.tables import METRICS_SCHEMA
    >>> rows = pa.table({"metric": ["rows_logged", "rows_logged", "js"], "value": [2.0, 3.0, .1],
    ...                  "writer": ["w"] * 3, "monitor": ["framework"] * 3})
    >>> rollup(rows, METRICS_SCHEMA).select(["metric", "value"]).to_pylist()
    [{'metric': 'rows_logged', 'value': 5.0}]
    """
    if not expired.num_rows or "metric" not in expired.column_names:
        return schema.empty_table()
    counters = expired.filter(pc.is_in(expired["metric"], value_set=pa.array(COUNTERS)))
    if not counters.num_rows:
        return schema.empty_table()
    for name in (*ROLLUP_KEYS, "value", "n", "ts", "window_start", "window_end"):
        if name not in counters.column_names:
            kind = schema.field(name).type if name in schema.names else pa.string()
            counters = counters.append_column(name, pa.nulls(counters.num_rows, kind))
    aggs = [("value", "sum"), ("n", "sum"), ("ts", "max"), ("window_start", "min"),
            ("window_end", "max")]  # fmt: skip
    grouped = counters.group_by(list(ROLLUP_KEYS), use_threads=False).aggregate(aggs)
    grouped = grouped.take(pc.sort_indices(grouped, [(k, "ascending") for k in ROLLUP_KEYS]))
    columns = {k: grouped[k] for k in ROLLUP_KEYS}
    columns.update({c: grouped[f"{c}_{a}"] for c, a in aggs})
    out = []
    for field in schema:
        if field.name in columns:
            out.append(columns[field.name].cast(field.type))
        elif field.name == "flagged":
            out.append(pa.array([False] * grouped.num_rows, field.type))
        else:
            out.append(pa.nulls(grouped.num_rows, field.type))
    return pa.table(out, schema=schema)


class Holdings:
    """How many retraining rows and quarantine entries each id has (for the ids a compaction
    expires), so it can count what expiring them takes out of ``outcomes()``.

    ``outcomes()`` counts the rows of the retraining set, the quarantine entries, and the ids
    held in quarantine (an entry's id not in the retraining set). Expiring rows changes all
    three; :meth:`expire` returns by how much, to be added back.

    >>> h = Holdings(np.array([1, 2]), np.array([2, 3, 3]))
    >>> h.expire("quarantine", np.array([3]))
    {'edge_cases': 0, 'quarantined': 0, 'quarantine_entries': 1}
    >>> h.expire("quarantine", np.array([3]))
    {'edge_cases': 0, 'quarantined': 1, 'quarantine_entries': 1}
    >>> h.expire("retraining", np.array([2]))  # its quarantine entry now counts as held
    {'edge_cases': 1, 'quarantined': -1, 'quarantine_entries': 0}
    """

    def __init__(self, retraining_ids: np.ndarray, quarantine_ids: np.ndarray) -> None:
        self._ids = {"retraining": retraining_ids, "quarantine": quarantine_ids}
        self._removed: dict[str, Counter] = {"retraining": Counter(), "quarantine": Counter()}

    def _counts(self, table: str, ids: np.ndarray) -> Counter:
        present = self._ids[table]
        values, counts = np.unique(present[np.isin(present, ids)], return_counts=True)
        out = Counter(dict(zip(values.tolist(), counts.tolist(), strict=True)))
        out.subtract(self._removed[table])
        return out

    def _held(self, kept: Counter, entries: Counter, ids: np.ndarray) -> int:
        return sum(1 for i in ids.tolist() if i >= 0 and entries[i] > 0 and kept[i] <= 0)

    def expire(self, table: str, ids: np.ndarray) -> dict[str, int]:
        """Remove ``ids`` (one per expired row of ``table``, nulls as -1); the change to add
        back to ``edge_cases``, ``quarantined`` and ``quarantine_entries``."""
        affected = np.unique(ids)
        kept = self._counts("retraining", affected)
        entries = self._counts("quarantine", affected)
        before = self._held(kept, entries, affected)
        gone = Counter(ids.tolist())
        (kept if table == "retraining" else entries).subtract(gone)
        self._removed[table].update(gone)
        return {
            "edge_cases": len(ids) if table == "retraining" else 0,
            "quarantined": before - self._held(kept, entries, affected),
            "quarantine_entries": len(ids) if table == "quarantine" else 0,
        }
