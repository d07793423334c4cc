"""The base of the monitors that run UpTrain 0.2's checks with UpTrain's semantics.

Each UpTrain check becomes one curate monitor (``type: "uptrain_<kind>"``) whose config holds
the UpTrain check dict as given. The monitor gets curate's batches from the writer thread and
hands UpTrain's per-call view of them (:class:`~curate.compat.calls.Call`) to
:meth:`UpTrainMonitor.on_call` (rows as logged) or :meth:`UpTrainMonitor.on_labels` (rows
whose labels are known). What UpTrain drew on its dashboard and alerted on becomes curate's
metric and alert rows, through the :class:`LogHandler` UpTrain code calls
(``self.log_handler.add_scalars(...)`` in a custom monitor).

>>> h = LogHandler("custom_monitor", "my_check")
>>> h.add_scalars("accuracy", {"y_acc": 0.9}, 200, "my_dashboard")
>>> h.add_alert("Degradation", "accuracy fell", "my_dashboard")
>>> [(m["metric"], m["value"], m["n"]) for m in h.result.metrics], h.result.alerts[0]["message"]
([('y_acc', 0.9, 200)], 'Degradation: accuracy fell')
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import create_model

from curate.compat.calls import Call, Shared
from curate.config_base import StrictModel
from curate.tables import alert_row, metric_row
from monitors.base import BaseMonitor, MonitorResult

log = logging.getLogger("curate")


class UpTrainCheckConfig(StrictModel):
    """An UpTrain check as given (``check``), and the state the Framework's UpTrain checks share."""

    type: str
    check: dict[str, Any]
    shared: Any = None
    name: str | None = None


def config_model(kind: str) -> type[UpTrainCheckConfig]:
    """The config model of one UpTrain check kind (its ``type`` is ``kind``)."""
    model = create_model(f"Config_{kind}", __base__=UpTrainCheckConfig, type=(Literal[kind], kind))
    model.__doc__ = (
        f"Config of an UpTrain check run as ``{kind}``: the UpTrain check dict as given."
    )
    return model


class LogHandler:
    """UpTrain's ``log_handler`` calls, recorded as curate metric and alert rows."""

    def __init__(self, monitor: str, check: str) -> None:
        self.monitor, self.check = monitor, check
        self.result = MonitorResult()

    def _metric(self, column: str, metric: str, value: Any, n: Any, **kw: Any) -> None:
        try:
            value = float(value)
        except (TypeError, ValueError):
            return  # UpTrain's dashboard also drew only numbers
        self.result.metrics.append(
            metric_row(monitor=self.monitor, check=self.check, column=str(column),
                       metric=str(metric), value=value, n=int(n or 0), **kw)
        )  # fmt: skip

    def add_scalars(self, plot_name: str, dictn: dict[str, Any], count: Any, dashboard_name: str,
                    features: Any = None, models: Any = None, file_name: Any = None,
                    update_val: bool = False) -> None:  # fmt: skip
        """One metric row per value of ``dictn`` (UpTrain's line-plot point at ``count``)."""
        column = file_name or plot_name
        for key, value in dictn.items():
            self._metric(f"{dashboard_name}/{column}", key, value, count)

    def add_histogram(self, plot_name: str, data: Any, dashboard_name: str, features: Any = None,
                      models: Any = None, file_name: Any = None) -> None:  # fmt: skip
        """The histogram's values summarised as count and mean rows."""
        values = np.asarray(data, dtype=float).ravel() if len(data) else np.zeros(0)
        column = f"{dashboard_name}/{file_name or plot_name}"
        self._metric(column, "hist_count", len(values), len(values))
        if len(values):
            self._metric(column, "hist_mean", float(np.nanmean(values)), len(values))

    def add_bar_graphs(self, plot_name: str, data: dict[str, dict[str, Any]], dashboard_name: str,
                       hover_data: Any = None) -> None:  # fmt: skip
        """One metric row per bar: ``<series>:<bar>``."""
        for series, bars in data.items():
            for bar, value in bars.items():
                self._metric(f"{dashboard_name}/{plot_name}", f"{series}:{bar}", value, 0)

    def add_alert(self, alert_name: str, alert: str, dashboard_name: str) -> None:
        """An alert row; it is also logged and sent to Slack when a webhook is configured."""
        self.result.alerts.append(
            alert_row(monitor=self.monitor, check=self.check, column=str(dashboard_name),
                      metric="alert", value=1.0, threshold=None, message=f"{alert_name}: {alert}")
        )  # fmt: skip

    def add_st_metadata(self, *args: Any, **kwargs: Any) -> None:
        """Dashboard metadata: curate's dashboard reads the store, nothing to record."""

    def add_dashboard_metadata(self, *args: Any, **kwargs: Any) -> None:
        """Dashboard metadata: curate's dashboard reads the store, nothing to record."""

    def take(self) -> MonitorResult:
        """The rows recorded since the last call, handed to the pipeline."""
        result, self.result = self.result, MonitorResult()
        return result


class UpTrainMonitor(BaseMonitor):
    """Runs one UpTrain check per call; subclasses implement ``on_call`` and/or ``on_labels``."""

    config_model: ClassVar[type] = UpTrainCheckConfig
    guards_rows: ClassVar[bool] = False
    #: Checks that need labels (UpTrain's ``need_ground_truth()``).
    needs_labels: ClassVar[bool] = False
    dashboard_name: ClassVar[str] = "uptrain"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" in vars(cls):
            cls.config_model = config_model(cls.kind)

    def __init__(self, config: UpTrainCheckConfig, context: Any) -> None:
        super().__init__(config, context)
        self.check = config.check
        self.shared: Shared = config.shared if config.shared is not None else Shared()
        if self.needs_labels:
            self.shared.wants_labels = True
        self.setup(self.check)
        if not hasattr(self, "log_handler"):
            self.log_handler = LogHandler(self.kind, self.name)

    @property
    def uses_late_ground_truth(self) -> bool:  # type: ignore[override]
        return self.needs_labels

    @property
    def name(self) -> str:
        return self.config.name or self.label()

    def label(self) -> str:
        """The check's name in metrics and alerts."""
        return self.kind.removeprefix("uptrain_")

    def setup(self, check: dict[str, Any]) -> None:
        """Read the UpTrain check dict (raise ``ConfigError`` for what cannot work)."""

    def on_call(self, call: Call, result: MonitorResult, batch: Any) -> None:
        """Look at the rows of one call (``call.rows`` are its offsets in ``batch``)."""

    def on_labels(self, call: Call) -> None:
        """Look at rows whose labels are now known."""

    def process(self, batch: Any) -> MonitorResult:
        result = MonitorResult()
        if self.needs_labels:
            for call in self.shared.labelled(batch):
                self.on_labels(call)
        else:
            for call in self.shared.split(batch):
                self.on_call(call, result, batch)
        result.extend(self.log_handler.take())
        return result

    @classmethod
    def _unit_test_params(cls):  # pragma: no cover - each kind declares its own
        raise NotImplementedError(f"monitor kind {cls.kind!r} declares no _unit_test_params()")
