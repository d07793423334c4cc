"""The Monitor interface, its results, and the registry that maps check types to monitors.

A monitor gets every batch of logged rows (:class:`curate.batch.Batch`) in the writer thread and
returns a :class:`MonitorResult`: rows for the retraining set (edge cases), rows for quarantine,
metric rows and alerts. It keeps whatever window state it needs, bounded in size, and emits
partial windows on :meth:`Monitor.flush`.

Adding a monitor kind is one module::

    @register
    class MyMonitor(BaseMonitor):
        kind = "my_kind"
        config_model = MyCheckConfig      # a pydantic model with ``type: Literal["my_kind"]``
        def process(self, batch): ...

        @classmethod
        def _unit_test_params(cls):       # configs the shared contract test runs it with
            yield {"feature": "x"}

The rows a monitor returns are built with :mod:`curate.tables` (``metric_row``, ``alert_row``,
``quarantine_table``), the store's schemas.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from curate.store import Store

log = logging.getLogger("curate.monitors")


@dataclass
class MonitorContext:
    """What every monitor may use: the store and the run mode."""

    store: Store
    strict: bool = False


@dataclass
class EdgeRows:
    """Edge cases a monitor held and hands over now: the rows, why, and their leaf values.

    An EDGE_CASE check with a ``budget`` holds its best candidates until their window closes;
    ``leaves`` maps each leaf's text to one value per row of ``batch``.
    """

    batch: Any
    reason: str
    leaves: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class MonitorResult:
    """What one monitor produced for one batch (or one flush).

    ``edge_mask`` marks rows for the retraining set, ``reason`` says why (the formula) and
    ``leaves`` holds the per-leaf signal values of the flagged rows' batch, keyed by leaf name.
    ``violations`` marks rows that failed a check: they are kept apart and never trained on.
    ``errors`` holds what went wrong inside the check without stopping it (a signal leaf that
    raised): the log path records each as a monitor error. ``deferred`` says ``edge_mask`` only
    marks candidates: the pipeline calls :meth:`BaseMonitor.settle` once it knows which rows may
    be kept. ``released`` holds edge cases of earlier batches (or this one) handed over now.
    """

    edge_mask: np.ndarray | None = None
    violations: np.ndarray | None = None
    reason: str | None = None
    leaves: dict[str, np.ndarray] = field(default_factory=dict)
    quarantine: list[pa.Table] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    deferred: bool = False
    released: list[EdgeRows] = field(default_factory=list)

    def extend(self, other: MonitorResult) -> None:
        """Append ``other``'s quarantine rows, metrics and alerts to this result."""
        self.quarantine.extend(other.quarantine)
        self.metrics.extend(other.metrics)
        self.alerts.extend(other.alerts)
        self.errors.extend(other.errors)
        self.released.extend(other.released)


class BaseMonitor:
    """Base class of every monitor. Subclasses set ``kind`` and ``config_model``, and declare
    ``_unit_test_params()``: the check configs the shared contract test runs them with."""

    kind: ClassVar[str]
    config_model: ClassVar[type]
    #: True for monitors that use batches carrying only late ground truth (``log_ground_truth``).
    uses_late_ground_truth: ClassVar[bool] = False
    #: True when the rows of a batch this monitor failed on must stay out of the retraining
    #: set (an integrity check that could not run could not vouch for them). An edge-case
    #: check that fails only loses its own selections: other checks still collect theirs.
    guards_rows: ClassVar[bool] = True

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

    def settle(
        self, batch: Any, result: MonitorResult, allowed: np.ndarray
    ) -> tuple[MonitorResult, np.ndarray]:
        """Decide on the candidates of a ``deferred`` result of :meth:`process`.

        ``allowed`` marks the rows of ``batch`` this monitor may keep: no integrity violation,
        not already an edge case of another check. Returns what to store now (``released``
        rows, metrics) and the rows of ``batch`` this monitor kept or holds, which the monitors
        settled after it may no longer keep.
        """
        return MonitorResult(), np.zeros(len(batch), dtype=bool)

    def flush(self) -> MonitorResult:
        """Emit partial windows (called by ``Framework.flush()`` and ``close()``)."""
        return MonitorResult()

    def close(self) -> None:
        """Release resources. Called once, after the final :meth:`flush`."""

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        """Check configs (without ``type``) for the shared contract test; every kind has its own."""
        raise NotImplementedError(f"monitor kind {cls.kind!r} declares no _unit_test_params()")


#: The older name of :class:`BaseMonitor`.
Monitor = BaseMonitor


REGISTRY: dict[str, type[BaseMonitor]] = {}


def register(cls: type[BaseMonitor]) -> type[BaseMonitor]:
    """Class decorator that makes a monitor available to configs under ``cls.kind``."""
    REGISTRY[str(cls.kind)] = cls
    return cls
