"""UpTrain's CONCEPT_DRIFT and ACCURACY checks on labelled rows, with river's detectors.

CONCEPT_DRIFT feeds one river detector (``algorithm``: ``DataDriftAlgo.DDM``, ``ADWIN`` or any
other of ``river.drift``) with the measurable of each labelled row in label order; as in UpTrain,
DDM sees 1 for a wrong row and 0 for a right one, and the first drift raises UpTrain's alert
``Concept Drift detected! [Algorithm: DDM] [Time: <row>] [Measurable: Accuracy]`` (later drifts
are counted in the metrics). ACCURACY writes the running mean of its measurable (MAE unless
given) after each labelled call, as UpTrain's dashboard plotted it.

>>> make_detector({"algorithm": "DDM", "warm_start": 200}).params
{'warm_start': 200, 'warning_threshold': 2.0, 'drift_threshold': 3.0}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from curate.compat.base import UpTrainMonitor
from curate.compat.calls import Call
from curate.compat.measurables import Measurable
from curate.errors import ConfigError
from curate.tables import alert_row, metric_row
from monitors.base import register
from monitors.detectors.river_detectors import RiverDetector

# UpTrain's defaults, passed to river positionally by UpTrain 0.2.
_DEFAULTS = {
    "DDM": {"warm_start": 500, "warn_threshold": 2.0, "alarm_threshold": 3.0},
    "ADWIN": {"delta": 0.002, "clock": 32, "max_buckets": 5, "min_window_length": 5,
              "grace_period": 5},
}  # fmt: skip
_NOT_DETECTOR_KEYS = {"type", "algorithm", "measurable_args", "feature_args", "model_args",
                      "feat_slicing", "name", "window"}  # fmt: skip


def algorithm_name(check: dict[str, Any]) -> str:
    """The check's ``algorithm`` as a plain string (``"DDM"``)."""
    if "algorithm" not in check:
        raise ConfigError("concept_drift needs 'algorithm' (DataDriftAlgo.DDM or ADWIN)")
    return str(getattr(check["algorithm"], "value", check["algorithm"]))


def make_detector(check: dict[str, Any]) -> RiverDetector:
    """The river detector an UpTrain check asks for, with UpTrain's defaults for DDM/ADWIN."""
    name = algorithm_name(check)
    params = dict(_DEFAULTS.get(name.upper(), {}))
    params.update({k: v for k, v in check.items() if k not in _NOT_DETECTOR_KEYS})
    try:
        return RiverDetector(name, **params)
    except ValueError as exc:
        raise ConfigError(f"concept_drift: {exc}") from None


@register
class UpTrainConceptDriftMonitor(UpTrainMonitor):
    """UpTrain's CONCEPT_DRIFT: a river detector over a measurable of labelled rows."""

    kind = "uptrain_concept_drift"
    needs_labels = True

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {"check": {"algorithm": "DDM", "warm_start": 30}}
        yield {"check": {"algorithm": "ADWIN", "delta": 0.1,
                         "measurable_args": {"type": "accuracy"}}}  # fmt: skip

    def setup(self, check: dict[str, Any]) -> None:
        self.algorithm = algorithm_name(check)
        self.measurable = Measurable(check.get("measurable_args") or {"type": "accuracy"})
        self.detector = make_detector(check)
        self.counter = 0
        self.avg = 0.0
        self.drifts = 0
        self.alerted = False

    def label(self) -> str:
        return f"{self.algorithm}({self.measurable.name})"

    def on_labels(self, call: Call) -> None:
        values = np.atleast_1d(
            self.measurable.compute(call.inputs, call.outputs, call.gts, call.extra)
        )
        if self.algorithm.upper() == "DDM":
            values = np.array([0 if x else 1 for x in values])
        result = self.log_handler.result
        for i in self.detector.update(values).drifts:
            self.drifts += 1
            if not self.alerted:
                self.alerted = True
                result.alerts.append(self._alert(self.counter + i))
        values = values.astype(float)
        total = self.avg * self.counter + float(values.sum())
        self.counter += len(values)
        self.avg = total / self.counter if self.counter else 0.0
        common = dict(monitor=self.kind, check=self.algorithm, column=self.measurable.name,
                      n=self.counter)  # fmt: skip
        result.metrics.append(metric_row(metric="avg_value", value=self.avg, **common))
        result.metrics.append(
            metric_row(metric="estimation", value=self.detector.estimation, **common)
        )
        result.metrics.append(
            metric_row(metric="drifts", value=self.drifts, flagged=self.drifts > 0, **common)
        )

    def _alert(self, time: int) -> dict[str, Any]:
        message = (f"Concept Drift detected! [Algorithm: {self.algorithm}] [Time: {time}] "
                   f"[Measurable: {self.measurable.name}]")  # fmt: skip
        print(message)  # UpTrain printed the alert; notebooks show it in the cell's output
        return alert_row(monitor=self.kind, check=self.algorithm, column=self.measurable.name,
                         metric="drift_at", value=time, threshold=None,
                         message=f"Model Performance Degradation Alert 🚨: {message}")  # fmt: skip


@register
class UpTrainAccuracyMonitor(UpTrainMonitor):
    """UpTrain's ACCURACY: the running mean of a label measurable (MAE by default)."""

    kind = "uptrain_accuracy"
    needs_labels = True

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {"check": {"measurable_args": {"type": "accuracy"}}}
        yield {"check": {"measurable_args": {"type": "hit_rate"}}}

    def setup(self, check: dict[str, Any]) -> None:
        self.measurable = Measurable(check.get("measurable_args") or {"type": "MAE"})
        if not self.measurable.needs_ground_truth:
            raise ConfigError(
                f"accuracy: measurable {self.measurable.kind!r} does not use labels; "
                "use accuracy, MAE, MAPE or hit_rate"
            )
        self.total, self.count = 0.0, 0

    def label(self) -> str:
        return f"accuracy({self.measurable.name})"

    def on_labels(self, call: Call) -> None:
        values = np.atleast_1d(self.measurable.compute(call.inputs, call.outputs, call.gts))
        self.total += float(np.sum(values.astype(float)))
        self.count += len(values)
        self.log_handler.result.metrics.append(
            metric_row(monitor=self.kind, check="accuracy", column=self.measurable.name,
                       metric=f"mean_{self.measurable.name}", value=self.total / self.count,
                       n=self.count)
        )  # fmt: skip
