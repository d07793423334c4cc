"""UpTrain's DATA_INTEGRITY check, with UpTrain's semantics, on any UpTrain measurable.

=================  ======================================================
``integrity_type``  a row has an issue when its value ...
=================  ======================================================
``non_null``       is missing (None, or NaN: curate stores a logged None among numbers as NaN)
``less_than``      is above ``threshold``
``greater_than``   is below ``threshold``
``equal_to``       equals ``threshold``
``minus_one``      equals -1
``z_score``        has ``|z| > threshold`` (3), z against ``reference_dataset`` or the call
``grammar_check``  is below ``threshold``; such rows become edge cases, as in UpTrain
=================  ======================================================

Rows with an issue are quarantined and kept out of the retraining set (``quarantine: False``
only counts them), except ``grammar_check`` rows, which UpTrain collects. Every ``window`` rows
(10,000) and on ``flush()`` the counts are written as ``violations`` / ``violation_ratio``
metrics; a z-score call whose outliers exceed ``outliers_alert_thres`` percent (2) alerts with
UpTrain's message, and ``alert_ratio``, when given, alerts on a window's ratio as curate does.

>>> import numpy as np
>>> issues({"integrity_type": "greater_than", "threshold": 1}, np.array([0, 1, 2, None]))
array([ True, False, False, False])
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import zscore

from curate.arrow_values import safe_repr
from curate.compat.base import UpTrainMonitor
from curate.compat.calls import Call
from curate.compat.measurables import Measurable
from curate.errors import ConfigError
from curate.tables import Metric, alert_row, metric_row, quarantine_table
from monitors.base import MonitorResult, register

TYPES = ("non_null", "less_than", "greater_than", "equal_to", "minus_one", "z_score",
         "grammar_check")  # fmt: skip
_NEEDS_THRESHOLD = ("less_than", "greater_than", "equal_to", "grammar_check")


def _numbers(values: np.ndarray) -> np.ndarray:
    """Values as floats; what is not a number (None, text) becomes NaN and compares False."""
    out = np.full(values.shape, np.nan)
    for i, v in np.ndenumerate(values):
        if isinstance(v, int | float | np.number) and not isinstance(v, bool):
            out[i] = v
    return out


def issues(check: dict[str, Any], values: Any, moments: tuple[float, float] | None = None):
    """UpTrain's ``has_issue`` mask of one call's measurable values."""
    kind, threshold = check["integrity_type"], check.get("threshold")
    values = np.squeeze(np.asarray(values, dtype=object if _has_none(values) else None))
    values = np.atleast_1d(values)
    if kind == "non_null":
        return np.array([v is None or (isinstance(v, float) and v != v) for v in values])
    x = values.astype(float) if values.dtype.kind in "iufb" else _numbers(values)
    with np.errstate(invalid="ignore"):
        if kind == "less_than":
            return x > threshold
        if kind in ("greater_than", "grammar_check"):
            return x < threshold
        if kind == "equal_to":
            return x == threshold
        if kind == "minus_one":
            return x == -1
        mean, std = moments if moments is not None else (None, None)
        z = zscore(x, nan_policy="omit") if moments is None else (x - mean) / std
        return np.abs(z) > (3 if threshold is None else threshold)


def _has_none(values: Any) -> bool:
    return isinstance(values, list | tuple) and any(v is None for v in values)


def reference_values(path: Any, measurable: Measurable) -> np.ndarray:
    """The measurable over a JSON (records, or ``{"data": [...]}``) or CSV reference file.

    Values given directly (a list or an array) are the reference themselves.
    """
    if not isinstance(path, str | Path):
        return np.asarray(path)  # the reference values themselves
    if str(path).endswith(".json"):
        data = json.loads(Path(path).read_text())
        if isinstance(data, dict):
            data = data.get("data", data)
        return np.asarray([measurable.from_record(x) for x in data])
    if str(path).endswith(".csv"):
        frame = pd.read_csv(path)
        return np.asarray(measurable.from_record({k: frame[k].to_numpy() for k in frame}))
    raise ConfigError(f"reference_dataset {path!r}: expected a .json or .csv file")


@register
class UpTrainIntegrityMonitor(UpTrainMonitor):
    """One UpTrain integrity check over one measurable."""

    kind = "uptrain_data_integrity"
    guards_rows = True

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {
            "check": {
                "integrity_type": "greater_than",
                "threshold": 0,
                "window": 40,
                "measurable_args": {"type": "input_feature", "feature_name": "score"},
            }
        }
        yield {"check": {"integrity_type": "z_score", "threshold": 2,
                         "measurable_args": {"type": "input_feature", "feature_name": "score"}}}  # fmt: skip

    def setup(self, check: dict[str, Any]) -> None:
        kind = check.get("integrity_type")
        if kind not in TYPES:
            raise ConfigError(f"integrity_type {kind!r} is not one of {', '.join(TYPES)}")
        if kind in _NEEDS_THRESHOLD and check.get("threshold") is None:
            raise ConfigError(f"integrity_type {kind!r} needs the key 'threshold'")
        if "measurable_args" not in check:
            raise ConfigError(
                "data_integrity needs 'measurable_args' (or the Framework's feat_name_list)"
            )
        self.measurable = Measurable(check["measurable_args"])
        self.column = self.measurable.name
        self.moments = None
        if check.get("reference_dataset") is not None:
            ref = reference_values(check["reference_dataset"], self.measurable).astype(float)
            self.moments = (float(np.mean(ref)), float(np.std(ref)))
        self.window = int(check.get("window", 10_000))
        self.count = self.num_issues = self._n = self._bad = 0

    def label(self) -> str:
        return f"{self.check['integrity_type']}({self.column})"

    def on_call(self, call: Call, result: MonitorResult, batch: Any) -> None:
        values = self.measurable.compute(call.inputs, call.outputs, call.gts, call.extra)
        bad = issues(self.check, values, self.moments)
        kind = self.check["integrity_type"]
        self.count += len(bad)
        self.num_issues += int(bad.sum())
        if kind == "z_score":
            self._z_alert(bad, result)
        if kind == "grammar_check":
            mask = (
                np.zeros(len(batch), dtype=bool) if result.edge_mask is None else result.edge_mask
            )
            mask[call.rows[bad]] = True
            result.edge_mask, result.reason = mask, f"Data Integrity Issue, Type: {kind}"
        elif self.check.get("quarantine", True):
            mask = (
                np.zeros(len(batch), dtype=bool) if result.violations is None else result.violations
            )
            mask[call.rows[bad]] = True
            result.violations = mask
            if bad.any():
                result.quarantine.append(self._quarantine(batch, call.rows[bad], values, bad))
        self._n += len(bad)
        self._bad += int(bad.sum())
        if self._n >= self.window:
            result.extend(self.flush())

    def _z_alert(self, bad: np.ndarray, result: MonitorResult) -> None:
        share = 100 * bad.sum() / max(len(bad), 1)
        if bad.any() and share > self.check.get("outliers_alert_thres", 2):
            threshold = self.check.get("threshold") or 3
            message = (f"Z-score outliers detected for {self.column} 🚨: {int(bad.sum())} of "
                       f"{len(bad)} samples have Z-Score > {threshold} ({round(share, 1)}%)")  # fmt: skip
            result.alerts.append(
                alert_row(monitor=self.kind, check="z_score", column=self.column,
                          metric="outlier_percentage", value=share, threshold=threshold,
                          message=message)
            )  # fmt: skip

    def _quarantine(self, batch: Any, rows: np.ndarray, values: Any, bad: np.ndarray):
        shown = np.atleast_1d(np.squeeze(np.asarray(values, dtype=object)))[bad]
        return quarantine_table(
            batch.ids[rows], batch.ts[rows], monitor=self.kind,
            check=self.check["integrity_type"], column=self.column,
            values=[None if v is None else safe_repr(v) for v in shown],
            reasons=f"UpTrain {self.check['integrity_type']} check", rows=batch.rows_json(rows),
        )  # fmt: skip

    def flush(self) -> MonitorResult:
        result = MonitorResult()
        if not self._n:
            return result
        ratio, limit = self._bad / self._n, self.check.get("alert_ratio")
        flagged = limit is not None and ratio > limit
        common = dict(monitor=self.kind, check=self.check["integrity_type"], column=self.column,
                      n=self._n)  # fmt: skip
        result.metrics.append(metric_row(metric=Metric.VIOLATIONS, value=self._bad, **common))
        result.metrics.append(
            metric_row(metric=Metric.VIOLATION_RATIO, value=ratio, threshold=limit,
                       flagged=flagged, **common)
        )  # fmt: skip
        if flagged:
            result.alerts.append(
                alert_row(monitor=self.kind, check=common["check"], column=self.column,
                          metric=Metric.VIOLATION_RATIO, value=ratio, threshold=limit,
                          message=f"{self.name}: {self._bad} of {self._n} rows ({ratio:.1%}) "
                                  f"have an integrity issue; alert above {limit:.1%}")
            )  # fmt: skip
        self._n = self._bad = 0
        return result
