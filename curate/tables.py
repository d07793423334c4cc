"""The store's fixed tables: their schemas, the names of framework metrics, and row builders.

Monitors, the log path, the trainer and the dashboard all speak of ``metrics``, ``alerts`` and
``quarantine`` rows through this module, so a metric name or a column is spelt in one place.

>>> row = metric_row(monitor="framework", check="log", column="", metric=Metric.ROWS_LOGGED,
...                  value=3, n=3)
>>> metrics_table([row], writer="w1").column("metric").to_pylist()
['rows_logged']
"""

from __future__ import annotations

import re
import time
from typing import Any

import numpy as np
import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")

QUARANTINE_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("ts", TS),
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
        ("ts", TS),
        ("window_start", TS),
        ("window_end", TS),
        ("writer", pa.string()),
        ("monitor", pa.string()),
        ("check", pa.string()),
        ("column", pa.string()),
        ("metric", pa.string()),
        ("value", pa.float64()),
        ("threshold", pa.float64()),
        ("flagged", pa.bool_()),
        ("n", pa.int64()),
        # JSON: what a drift window's statistics were computed from (docs/store.md); null on
        # every other row, and in segments written before the column existed.
        ("summary", pa.string()),
    ]
)

ALERTS_SCHEMA = pa.schema(
    [
        ("ts", TS),
        ("monitor", pa.string()),
        ("check", pa.string()),
        ("column", pa.string()),
        ("metric", pa.string()),
        ("value", pa.float64()),
        ("threshold", pa.float64()),
        ("message", pa.string()),
    ]
)

#: The base columns of every retraining-set row (user columns and ``reasons`` follow).
RETRAINING_BASE_SCHEMA = pa.schema([("id", pa.int64()), ("ts", TS)])

FIXED_SCHEMAS = {
    "quarantine": QUARANTINE_SCHEMA,
    "metrics": METRICS_SCHEMA,
    "alerts": ALERTS_SCHEMA,
}

#: ``monitor`` of the rows the log path itself writes (as opposed to a configured check).
FRAMEWORK = "framework"
#: Prefix of the per-leaf signal value columns of the retraining set (``signal.<leaf>``).
SIGNAL_PREFIX = "signal."
#: Field-metadata key holding a signal column's display name (the leaf as written).
DISPLAY_NAME = b"curate.display_name"


def signal_column(leaf: str) -> str:
    """The retraining-set column of a signal leaf: ``signal.`` and a slug of its text.

    Slugs keep column names plain for SQL, pandas and ``datasets``; the leaf's own text is
    kept in the column's field metadata (:data:`DISPLAY_NAME`).

    >>> signal_column("'mixed sentiment words'"), signal_column("contains(text, 'nike')")
    ('signal.mixed_sentiment_words', 'signal.contains_text_nike')
    """
    slug = re.sub(r"[^0-9a-z]+", "_", leaf.lower()).strip("_") or "leaf"
    return SIGNAL_PREFIX + slug


def display_name(field: pa.Field) -> str:
    """The name to show for a stored column: a signal's leaf text, else the column name.

    >>> display_name(pa.field("signal.a_b", pa.bool_(), metadata={DISPLAY_NAME: "'a b'"}))
    "'a b'"
    """
    meta = field.metadata or {}
    return meta[DISPLAY_NAME].decode() if DISPLAY_NAME in meta else field.name


class Metric:
    """Names of the metrics the store's readers look up (``metrics.metric``)."""

    ROWS_LOGGED = "rows_logged"
    MALFORMED_CALLS = "malformed_calls"
    MONITOR_ERRORS = "monitor_errors"
    BAD_CELLS = "bad_cells"
    WRITE_ERRORS = "write_errors"
    ROWS_DROPPED = "rows_dropped"
    EDGE_CASES = "edge_cases"
    DUPLICATES_SKIPPED = "duplicates_skipped"
    BUDGET_SKIPPED = "budget_skipped"
    VIOLATIONS = "violations"
    VIOLATION_RATIO = "violation_ratio"
    COLUMN_MISSING = "column_missing"
    # Signal analysis of an EDGE_CASE formula, per window and predicate (``column``; ``""``:
    # the formula): shares of the window's rows, precision of its labelled selected rows.
    SIGNAL_COVERAGE = "signal_coverage"
    SIGNAL_OVERLAP = "signal_overlap"
    SIGNAL_MARGINAL = "signal_marginal"
    SIGNAL_UNKNOWN = "signal_unknown"
    SIGNAL_PRECISION = "signal_precision"


def now_us() -> int:
    """Microseconds since the epoch (UTC), the unit of every timestamp in the store."""
    return time.time_ns() // 1000


def metric_row(
    *,
    monitor: str,
    check: str,
    column: str,
    metric: str,
    value: float,
    n: int,
    threshold: float | None = None,
    flagged: bool = False,
    window_start: int | None = None,
    window_end: int | None = None,
) -> dict[str, Any]:
    """One row of the metrics table (timestamps in µs since the epoch, UTC)."""
    ts = now_us()
    return {
        "ts": ts,
        "window_start": window_start if window_start is not None else ts,
        "window_end": window_end if window_end is not None else ts,
        "monitor": monitor,
        "check": check,
        "column": column,
        "metric": metric,
        "value": float(value),
        "threshold": None if threshold is None else float(threshold),
        "flagged": bool(flagged),
        "n": int(n),
    }


def framework_metric(check: str, metric: str, value: float, n: int, **window: int) -> dict:
    """A metric row written by the log path itself (``monitor="framework"``, no column).

    >>> framework_metric("log", Metric.MALFORMED_CALLS, 1, 0)["monitor"]
    'framework'
    """
    return metric_row(
        monitor=FRAMEWORK, check=check, column="", metric=metric, value=value, n=n, **window
    )


def alert_row(
    *,
    monitor: str,
    check: str,
    column: str,
    metric: str,
    value: float,
    threshold: float | None,
    message: str,
) -> dict[str, Any]:
    """One row of the alerts table."""
    return {
        "ts": now_us(),
        "monitor": monitor,
        "check": check,
        "column": column,
        "metric": metric,
        "value": float(value),
        "threshold": None if threshold is None else float(threshold),
        "message": message,
    }


def rows_to_table(rows: list[dict[str, Any]], schema: pa.Schema, writer: str = "") -> pa.Table:
    """Build a fixed-schema table (metrics or alerts) from row dicts."""
    columns = {}
    for f in schema:
        if f.name == "writer":
            columns["writer"] = pa.array([writer] * len(rows), pa.string())
        else:
            columns[f.name] = pa.array([r.get(f.name) for r in rows], f.type)
    return pa.table(columns, schema=schema)


def metrics_table(rows: list[dict[str, Any]], writer: str = "") -> pa.Table:
    """Metric row dicts as a table in the store's metrics schema."""
    return rows_to_table(rows, METRICS_SCHEMA, writer)


def alerts_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Alert row dicts as a table in the store's alerts schema."""
    return rows_to_table(rows, ALERTS_SCHEMA)


def quarantine_table(
    ids: np.ndarray,
    ts: np.ndarray,
    *,
    monitor: str,
    check: str,
    column: str,
    values: list[str | None],
    reasons: list[str] | str,
    rows: list[str],
) -> pa.Table:
    """Rows for the quarantine table: which check failed on which value, and the whole row."""
    n = len(ids)
    if isinstance(reasons, str):
        reasons = [reasons] * n
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "ts": pa.array(ts, pa.int64()).cast(TS),
            "monitor": pa.array([monitor] * n, pa.string()),
            "check": pa.array([check] * n, pa.string()),
            "column": pa.array([column] * n, pa.string()),
            "value": pa.array(values, pa.string()),
            "reason": pa.array(reasons, pa.string()),
            "row": pa.array(rows, pa.string()),
        },
        schema=QUARANTINE_SCHEMA,
    )
