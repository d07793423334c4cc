"""UpTrain's CUSTOM_MONITOR, FEATURE_DRIFT and POPULARITY_BIAS checks.

CUSTOM_MONITOR calls ``initialize_func(self)`` once and ``check_func(self, inputs, outputs,
gts=gts, extra_args=extra_args)`` for each call (each labelled call with ``need_gt``), where
``self`` holds whatever ``initialize_func`` set plus ``log_handler`` and ``dashboard_name``;
what it logs through ``self.log_handler`` becomes metric and alert rows. FEATURE_DRIFT compares
each ``step`` (2,000) values of a feature with a reference file by PSI over the reference's
``num_buckets`` (10) quantile buckets, alerting above ``psi_threshold`` (0.2). POPULARITY_BIAS
writes the mean popularity (in ``sessions``) of the items each call recommended.

>>> psi(np.array([0.5, 0.5]), np.array([0.5, 0.5]))
0.0
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np
from scipy.stats.mstats import mquantiles

from curate.compat.base import LogHandler, UpTrainMonitor
from curate.compat.calls import Call
from curate.compat.integrity import reference_values
from curate.compat.measurables import Measurable
from curate.errors import ConfigError
from curate.tables import alert_row, metric_row
from monitors.base import MonitorResult, register


@register
class UpTrainCustomMonitor(UpTrainMonitor):
    """UpTrain's CUSTOM_MONITOR: the user's ``initialize_func`` / ``check_func``."""

    kind = "uptrain_custom_monitor"

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        def count(self, inputs, outputs, gts=None, extra_args=None):
            self.log_handler.add_scalars("rows", {"y_rows": len(extra_args["id"])}, 0, "custom")

        yield {"check": {"check_func": count, "need_gt": False}}
        yield {"check": {"check_func": count, "need_gt": True}}

    @property
    def uses_late_ground_truth(self) -> bool:  # type: ignore[override]
        return bool(self.check.get("need_gt"))

    @property
    def needs_labels(self) -> bool:  # type: ignore[override]
        return bool(self.check.get("need_gt"))

    def setup(self, check: dict[str, Any]) -> None:
        if not callable(check.get("check_func")) or "need_gt" not in check:
            raise ConfigError("custom_monitor needs 'check_func' (a callable) and 'need_gt'")
        self.log_handler = LogHandler(self.kind, check.get("dashboard_name", "custom_measure"))
        self.state = SimpleNamespace(
            log_handler=self.log_handler,
            dashboard_name=check.get("dashboard_name", "custom_measure"),
            check_func=check["check_func"],
            need_gt=bool(check["need_gt"]),
        )
        if check.get("initialize_func") is not None:
            check["initialize_func"](self.state)

    def label(self) -> str:
        return self.check.get("dashboard_name", "custom_measure")

    def _run(self, call: Call) -> None:
        self.state.check_func(self.state, call.inputs, call.outputs, gts=call.gts,
                              extra_args=call.extra)  # fmt: skip

    def on_call(self, call: Call, result: MonitorResult, batch: Any) -> None:
        self._run(call)

    def on_labels(self, call: Call) -> None:
        self._run(call)


def psi(ref: np.ndarray, prod: np.ndarray) -> float:
    """UpTrain's population stability index (buckets empty in the reference count zero)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(ref == 0, 0, (ref - prod) * np.log(ref / prod))
    return float(np.sum(terms))


@register
class UpTrainFeatureDriftMonitor(UpTrainMonitor):
    """UpTrain's FEATURE_DRIFT: PSI of each ``step`` values against a reference file."""

    kind = "uptrain_feature_drift"

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        reference = np.random.default_rng(0).normal(0, 1, 500).tolist()
        yield {"check": {"reference_dataset": reference, "step": 50,
                         "measurable_args": {"type": "input_feature", "feature_name": "score"}}}  # fmt: skip

    def setup(self, check: dict[str, Any]) -> None:
        if "reference_dataset" not in check or "measurable_args" not in check:
            raise ConfigError("feature_drift needs 'reference_dataset' and 'measurable_args'")
        self.measurable = Measurable(check["measurable_args"])
        ref = reference_values(check["reference_dataset"], self.measurable).astype(float)
        buckets = check.get("num_buckets", 10)
        bins = mquantiles(ref, np.linspace(0, 1, buckets + 1))
        counts, self.bins = np.histogram(ref, bins=bins)
        self.ref = counts / counts.sum()
        self.threshold = check.get("psi_threshold", 0.2)
        self.step = check.get("step", 2000)
        self.values = np.zeros(0)
        self.count = 0

    def label(self) -> str:
        return f"feature_drift({self.measurable.name})"

    def on_call(self, call: Call, result: MonitorResult, batch: Any) -> None:
        feats = np.asarray(self.measurable.compute(call.inputs, call.outputs), dtype=float)
        self.count += len(feats)
        self.values = np.append(self.values, np.squeeze(feats))
        if len(self.values) < self.step:
            return
        prod, _ = np.histogram(self.values, bins=self.bins)
        value = psi(self.ref, prod / prod.sum())
        name = self.measurable.name
        result.metrics.append(
            metric_row(monitor=self.kind, check="psi", column=name, metric="psi", value=value,
                       n=self.count, threshold=self.threshold, flagged=value > self.threshold)
        )  # fmt: skip
        if value > self.threshold:
            result.alerts.append(
                alert_row(monitor=self.kind, check="psi", column=name, metric="psi",
                          value=value, threshold=self.threshold,
                          message=f"Feature Drift Alert for {name} 🚨: Feature Drift last "
                                  f"detected at {self.count} for {name} with PSI = {value}")
            )  # fmt: skip
        self.values = np.zeros(0)


@register
class UpTrainPopularityBiasMonitor(UpTrainMonitor):
    """UpTrain's POPULARITY_BIAS: how popular (in ``sessions``) the recommended items are."""

    kind = "uptrain_popularity_bias"

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {"check": {"algorithm": "popularity_bias", "sessions": [["a", "b"], ["a"]]}}

    def setup(self, check: dict[str, Any]) -> None:
        if (
            str(getattr(check.get("algorithm"), "value", check.get("algorithm")))
            != "popularity_bias"
        ):
            raise ConfigError("popularity_bias needs 'algorithm': BiasAlgo.POPULARITY_BIAS")
        counts: collections.Counter = collections.Counter()
        for session in check.get("sessions") or []:
            counts.update(session)
        total = sum(counts.values()) or 1
        self.popularity = {k: v / total for k, v in counts.items()}
        self.scores: list[float] = []

    def on_call(self, call: Call, result: MonitorResult, batch: Any) -> None:
        if call.outputs is None:
            return
        for prediction in call.outputs:
            items = (
                prediction if isinstance(prediction, list | tuple | np.ndarray) else [prediction]
            )
            self.scores += [self.popularity.get(item, 0.0) for item in items]
        if self.scores:
            result.metrics.append(
                metric_row(monitor=self.kind, check="popularity_bias", column="outputs",
                           metric="mean_popularity", value=float(np.mean(self.scores)),
                           n=len(self.scores))
            )  # fmt: skip


#: UpTrain's name of the class behind CUSTOM_MONITOR checks.
CustomMonitor = UpTrainCustomMonitor
