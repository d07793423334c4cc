"""The Monitor interface, its results, and the registry that maps check types to monitors.

A monitor gets every batch of logged rows (:class:`curate.batch.Batch`) in the writer thread and
returns a :class:`MonitorResult`: rows for the retraining set (edge cases), rows for quarantine,
metric rows and alerts. It keeps whatever window state it needs, bounded in size, and emits
partial windows on :meth:`Monitor.flush`.

Adding a monitor kind is one module::

    @register
    class MyMonitor(Monitor):
        kind = "my_kind"
        config_model = MyCheckConfig      # a pydantic model with ``type: Literal["my_kind"]``
        def process(self, batch): ...
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from curate.store import ALERTS_SCHEMA, METRICS_SCHEMA, QUARANTINE_SCHEMA, Store, now_us

log = logging.getLogger("curate.monitors")


@dataclass
class MonitorContext:
    """What every monitor may use: the store and the run mode."""

    store: Store
    strict: bool = False


@dataclass
class MonitorResult:
    """What one monitor produced for one batch (or one flush).

    ``edge_mask`` marks rows for the retraining set, ``reason`` says why (the formula) and
    ``leaves`` holds the per-leaf signal values of the flagged rows' batch, keyed by leaf name.
    ``violations`` marks rows that failed a check: they are kept apart and never trained on.
    """

    edge_mask: np.ndarray | None = None
    violations: np.ndarray | None = None
    reason: str | None = None
    leaves: dict[str, np.ndarray] = field(default_factory=dict)
    quarantine: list[pa.Table] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)

    def extend(self, other: MonitorResult) -> None:
        """Append ``other``'s quarantine rows, metrics and alerts to this result."""
        self.quarantine.extend(other.quarantine)
        self.metrics.extend(other.metrics)
        self.alerts.extend(other.alerts)


class Monitor:
    """Base class of every monitor. Subclasses set ``kind`` and ``config_model``."""

    kind: ClassVar[str]
    config_model: ClassVar[type]
    #: True for monitors that use batches carrying only late ground truth (``log_ground_truth``).
    uses_late_ground_truth: ClassVar[bool] = False

    def __init__(self, config: Any, context: MonitorContext) -> None:
        self.config = config
        self.context = context

    @property
    def name(self) -> str:
        """A short label for logs, metrics and the dashboard."""
        return getattr(self.config, "name", None) or self.kind

    def process(self, batch: Any) -> MonitorResult:  # pragma: no cover - interface
        """Look at one batch; return what should be stored."""
        raise NotImplementedError

    def flush(self) -> MonitorResult:
        """Emit partial windows (called by ``Framework.flush()`` and ``close()``)."""
        return MonitorResult()

    def close(self) -> None:
        """Release resources. Called once, after the final :meth:`flush`."""


REGISTRY: dict[str, type[Monitor]] = {}


def register(cls: type[Monitor]) -> type[Monitor]:
    """Class decorator that makes a monitor available to configs under ``cls.kind``."""
    REGISTRY[str(cls.kind)] = cls
    return cls


# -- rows in the store's fixed schemas -------------------------------------------------------


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
            "ts": pa.array(ts, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
            "monitor": pa.array([monitor] * n, pa.string()),
            "check": pa.array([check] * n, pa.string()),
            "column": pa.array([column] * n, pa.string()),
            "value": pa.array(values, pa.string()),
            "reason": pa.array(reasons, pa.string()),
            "row": pa.array(rows, pa.string()),
        },
        schema=QUARANTINE_SCHEMA,
    )
