"""CONCEPT_DRIFT: is the model getting worse? Errors against ground truth, watched by DDM/ADWIN.

Configuration::

    {"type": Monitor.CONCEPT_DRIFT,
     "algorithm": "DDM",               # or "ADWIN", or ["DDM", "ADWIN"]
     "warn_thres": 2, "alarm_thres": 3,  # DDM (also spelt warn_level / alarm_level)
     "delta": 0.002,                   # ADWIN
     "window": 1000}                   # report the running metric every 1000 labelled rows / "1h"

Ground truth may come with the prediction (``log(inputs, outputs=..., gts=...)``) or later,
joined by identifier: log the prediction with ``identifiers=[...]`` and, when labels arrive, a
batch carrying only ``gts`` and the same ``identifiers`` (``Framework.log_ground_truth``). Either
side may arrive first; unmatched rows wait in a bounded table (``max_pending``, oldest dropped
first and counted). Each matched row gives an error: ``pred != gt`` for ``metric="accuracy"``
(class probabilities are reduced to their argmax), ``|pred - gt|`` for ``"abs_error"``; DDM
needs 0/1 errors, so with ``abs_error`` it sees ``|pred - gt| > error_threshold``.

Every closed report window writes metric rows (``monitor="concept_drift"``): the window's
``accuracy`` (or ``mean_abs_error``), each detector's running estimate (``ddm`` /
``error_rate``, ``adwin`` / ``adwin_mean`` and ``adwin_width``) with ``flagged`` true when the
detector signalled a drift in that window, and ``pending`` (rows still waiting for a match).
Each drift also raises an alert at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import ConfigDict, Field, field_validator, model_validator

from curate.config_base import CheckBase, MeasurableArgs
from curate.enums import MeasurableType, MonitorKind
from curate.tables import alert_row, metric_row
from monitors.base import BaseMonitor, MonitorResult, register
from monitors.detectors import DETECTORS, DriftDetector
from monitors.windows import Windower, parse_window

#: The valid ``algorithm`` names (lower case), from the detector registry.
ALGORITHMS = tuple(DETECTORS)


class ConceptDriftConfig(CheckBase):
    """Concept-drift check; UpTrain's ``warn_thres``/``alarm_thres`` names are accepted."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, populate_by_name=True)

    type: Literal["concept_drift"] = MonitorKind.CONCEPT_DRIFT.value
    algorithm: str | list[str] = Field("DDM", validate_default=True)
    measurable_args: MeasurableArgs | None = None
    ground_truth: str | None = None
    identifier: str | None = None
    metric: Literal["accuracy", "abs_error"] = "accuracy"
    error_threshold: float | None = None
    warn_level: float = Field(2.0, alias="warn_thres")
    alarm_level: float = Field(3.0, alias="alarm_thres")
    min_instances: int = 30
    delta: float = 0.002
    window: int | str = 1000
    max_pending: int = 100_000

    @field_validator("algorithm")
    @classmethod
    def _algorithm(cls, v: str | list[str]) -> list[str]:
        names = [v] if isinstance(v, str) else list(v)
        out = [str(getattr(n, "value", n)).lower() for n in names]
        bad = [n for n in out if n not in DETECTORS]
        if bad or not out:
            choices = " or ".join(n.upper() for n in DETECTORS)
            raise ValueError(f"unknown algorithm {bad[0] if bad else v!r}; choose {choices}")
        return list(dict.fromkeys(out))

    @field_validator("window")
    @classmethod
    def _window(cls, v: int | str) -> int | str:
        parse_window(v)
        return v

    @model_validator(mode="after")
    def _check(self) -> ConceptDriftConfig:
        for detector in DETECTORS.values():
            detector.from_config(self)  # validates every detector's parameters
        if self.max_pending < 1:
            raise ValueError(f"max_pending must be >= 1, got {self.max_pending}")
        binary = [n for n in self.algorithm if DETECTORS[n].binary_input]
        if self.metric == "abs_error" and binary and self.error_threshold is None:
            raise ValueError(
                f"{binary[0].upper()} needs 0/1 errors: with metric='abs_error' set error_threshold"
            )
        return self


class Pending:
    """Insertion-ordered ``identifier -> value`` table holding at most ``limit`` entries."""

    def __init__(self, limit: int) -> None:
        self.limit, self.items, self.dropped = limit, {}, 0

    def put(self, keys: list[Any], values: list[Any]) -> None:
        """Store values (returns ``None``, so ``x = found or table.put(...)`` reads well)."""
        self.items.update(zip(keys, values, strict=True))
        excess = len(self.items) - self.limit
        if excess > 0:
            for key in list(self._oldest(excess)):
                del self.items[key]
            self.dropped += excess

    def _oldest(self, k: int):
        it = iter(self.items)
        return [next(it) for _ in range(k)]

    def pop(self, keys: list[Any]) -> tuple[np.ndarray, list[Any]]:
        """``(found mask, values of the found keys)``; found keys are removed."""
        found = np.array([k in self.items for k in keys], dtype=bool)
        return found, [self.items.pop(k) for k, f in zip(keys, found, strict=True) if f]


@register
class ConceptDriftMonitor(BaseMonitor):
    """Joins predictions with (possibly late) ground truth; DDM and/or ADWIN on the errors.

    The detectors run in registry order (:data:`monitors.detectors.DETECTORS`), whatever the
    order of ``algorithm``.
    """

    uses_late_ground_truth = True

    kind = MonitorKind.CONCEPT_DRIFT.value
    config_model = ConceptDriftConfig

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {"window": 40}
        yield {"algorithm": ["ADWIN", "DDM"], "window": 25, "delta": 0.05}

    def __init__(self, config: Any, context: Any) -> None:
        if not isinstance(config, ConceptDriftConfig):
            config = ConceptDriftConfig.model_validate(config)
        super().__init__(config, context)
        self.pred_args = config.measurable_args or MeasurableArgs(type=MeasurableType.PREDICTION)
        self.column = self.pred_args.label
        self.detectors: dict[str, DriftDetector] = {
            name: cls.from_config(config)
            for name, cls in DETECTORS.items()
            if name in config.algorithm
        }
        self.preds, self.gts = Pending(config.max_pending), Pending(config.max_pending)
        self.windower = Windower(config.window)
        self._reset_window()

    def _reset_window(self) -> None:
        self.sum_err, self.count = 0.0, 0
        self.drifted = dict.fromkeys(self.detectors, False)
        self.first: int | None = None
        self.last: int | None = None

    # -- joining -------------------------------------------------------------------------------
    def _part(self, batch: Any, measurable: MeasurableType, name: str | None) -> list | None:
        try:
            return _values(batch.column(measurable, name))
        except KeyError:
            return None

    def _join(self, batch: Any) -> tuple[list, list, np.ndarray]:
        """Matched ``(predictions, ground truths, arrival ts)`` of this batch, in row order."""
        preds = self._part(batch, self.pred_args.type, self.pred_args.feature_name)
        gts = self._part(batch, MeasurableType.GROUND_TRUTH, self.config.ground_truth)
        ids = self._part(batch, MeasurableType.IDENTIFIER, self.config.identifier)
        n = len(batch)
        preds = preds if preds is not None else [None] * n
        gts = gts if gts is not None else [None] * n
        matched: list[tuple[Any, Any, int]] = []
        for i in range(n):
            p, g = preds[i], gts[i]
            key = ids[i] if ids is not None else None
            if p is not None and g is None and key is not None:
                found, got = self.gts.pop([key])
                g = got[0] if found[0] else self.preds.put([key], [p])
            elif g is not None and p is None and key is not None:
                found, got = self.preds.pop([key])
                p = got[0] if found[0] else self.gts.put([key], [g])
            if p is not None and g is not None:
                matched.append((p, g, int(batch.ts[i])))
        if not matched:
            return [], [], np.zeros(0, np.int64)
        out_p, out_g, out_t = zip(*matched, strict=True)
        return list(out_p), list(out_g), np.asarray(out_t, dtype=np.int64)

    def errors(self, preds: list, gts: list) -> np.ndarray:
        """Per-row error: 0/1 mismatch (accuracy) or absolute error."""
        if self.config.metric == "accuracy":
            p = [
                int(np.argmax(v)) if isinstance(v, list | tuple | np.ndarray) else v for v in preds
            ]
            return np.array([a != b for a, b in zip(p, gts, strict=True)], dtype=np.float64)
        return np.abs(np.asarray(preds, np.float64) - np.asarray(gts, np.float64))

    # -- monitoring ----------------------------------------------------------------------------
    def process(self, batch: Any) -> MonitorResult:
        result = MonitorResult()
        preds, gts, ts = self._join(batch)
        if not preds:
            return result
        err = self.errors(preds, gts)
        for piece in self.windower.split(ts):
            if piece.stop > piece.start:
                self._feed(err[piece.start : piece.stop], ts[piece.start : piece.stop], result)
            if piece.closes:
                result.extend(self._close())
        return result

    def flush(self) -> MonitorResult:
        if not self.count:
            return MonitorResult()
        result = self._close()
        if self.windower.mode == "rows":
            self.windower.rows_in_window = 0
        return result

    def _feed(self, err: np.ndarray, ts: np.ndarray, result: MonitorResult) -> None:
        if self.first is None:
            self.first = int(ts[0])
        self.last = int(ts[-1])
        self.sum_err += float(err.sum())
        self.count += len(err)
        for name, det in self.detectors.items():
            hits = det.update(self._binary(err) if det.binary_input else err).drifts
            if hits:
                self.drifted[name] = True
                result.alerts.append(self._alert(name, len(hits)))

    def _binary(self, err: np.ndarray) -> np.ndarray:
        """0/1 errors for detectors that need them: ``|pred - gt| > error_threshold``."""
        return err if self.config.metric == "accuracy" else err > self.config.error_threshold

    def _alert(self, name: str, hits: int) -> dict[str, Any]:
        det = self.detectors[name]
        value = det.estimation
        what = "error rate" if self.config.metric == "accuracy" else "error"
        return alert_row(
            monitor=self.kind,
            check=name,
            column=self.column,
            metric=det.metric,
            value=value,
            threshold=None,
            message=f"concept drift detected by {name.upper()} ({hits}x in this batch); "
            f"{what} now {value:.4g}",
        )

    def _close(self) -> MonitorResult:
        result = MonitorResult()
        if not self.count:
            self._reset_window()
            return result
        start, end = self.windower.window_bounds(self.first, self.last or self.first)
        common = {"monitor": self.kind, "column": self.column, "window_start": start,
                  "window_end": end}  # fmt: skip
        mean = self.sum_err / self.count
        if self.config.metric == "accuracy":
            rows = [("concept_drift", "accuracy", 1.0 - mean, self.count, False)]
        else:
            rows = [("concept_drift", "mean_abs_error", mean, self.count, False)]
        for name, det in self.detectors.items():
            rows.append((name, det.metric, det.estimation, det.n, self.drifted[name]))
            rows += [(name, metric, value, n, False) for metric, value, n in det.extra_metrics()]
        rows.append(
            ("concept_drift", "pending", len(self.preds.items) + len(self.gts.items), 0, False)
        )
        for check, metric, value, n, flagged in rows:
            result.metrics.append(
                metric_row(check=check, metric=metric, value=value, n=n, flagged=flagged, **common)
            )
        self._reset_window()
        return result


def _values(arr: pa.Array) -> list:
    """Python values of a column (lists stay lists, for argmax of class probabilities)."""
    if pa.types.is_dictionary(arr.type):
        arr = pc.cast(arr, arr.type.value_type)
    return arr.to_pylist()
