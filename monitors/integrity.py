"""DATA_INTEGRITY: per-row checks on one column; counts per window, violating rows quarantined.

>>> cfg = IntegrityCheck(type="data_integrity", integrity_type="between", lower=0, upper=1,
...                      measurable_args={"type": "input_feature", "feature_name": "score"})
>>> cfg.measurable_args.feature_name
'score'
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field, field_validator, model_validator

from curate.arrow_values import safe_repr
from curate.config_base import CheckBase, MeasurableArgs
from curate.enums import MonitorKind
from curate.tables import Metric, alert_row, metric_row, quarantine_table
from monitors import integrity_checks as checks
from monitors.base import BaseMonitor, MonitorResult, register
from monitors.windows import Windower, parse_window

IntegrityType = Literal[
    "non_null", "less_than", "greater_than", "between", "in_set", "matches", "dtype", "z_score",
    "duplicate",
]  # fmt: skip

_REQUIRED = {
    "less_than": ("threshold",),
    "greater_than": ("threshold",),
    "between": ("lower", "upper"),
    "in_set": ("values",),
    "matches": ("pattern",),
    "dtype": ("dtype",),
    "z_score": ("reference",),
}


# The optional keys each check reads; a key set for a check that ignores it is an error, so a
# typo or a misplaced option is never silently dropped.
_USES = {
    "non_null": ("empty_is_null",),
    "less_than": ("threshold",),
    "greater_than": ("threshold",),
    "between": ("lower", "upper"),
    "in_set": ("values",),
    "matches": ("pattern",),
    "dtype": ("dtype",),
    "z_score": ("reference", "z_threshold"),
    "duplicate": ("duplicate_memory",),
}
_PARAMETERS = sorted({key for keys in _USES.values() for key in keys})


class IntegrityCheck(CheckBase):
    """Config of a DATA_INTEGRITY check on one column.

    ``z_score`` needs ``reference``: ``{"mean": m, "std": s}``, a sequence of reference values,
    or a Parquet/CSV file path with the column. An alert is written when a window's violation
    ratio exceeds ``alert_ratio``.
    """

    type: Literal["data_integrity"] = MonitorKind.DATA_INTEGRITY.value
    measurable_args: MeasurableArgs = Field(default_factory=MeasurableArgs)
    integrity_type: IntegrityType
    threshold: float | None = None
    lower: float | None = None
    upper: float | None = None
    values: list[Any] | None = None
    pattern: str | None = None
    dtype: str | None = None
    reference: Any = None
    z_threshold: float = Field(3.0, gt=0)
    empty_is_null: bool = False
    duplicate_memory: int = Field(1_000_000, gt=0)
    alert_ratio: float = Field(0.05, ge=0, le=1)
    window: int | str = 10_000
    quarantine: bool = True

    @field_validator("window")
    @classmethod
    def _window(cls, value: int | str) -> int | str:
        parse_window(value)
        return value

    @field_validator("dtype")
    @classmethod
    def _dtype(cls, value: str | None) -> str | None:
        if value is not None and value not in checks.DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(checks.DTYPES)}; got {value!r}")
        return value

    @model_validator(mode="after")
    def _required(self) -> IntegrityCheck:
        for key in _REQUIRED.get(self.integrity_type, ()):
            if getattr(self, key) is None:
                raise ValueError(f"integrity_type {self.integrity_type!r} needs the key {key!r}")
        uses = _USES[self.integrity_type]
        for key in sorted(set(_PARAMETERS) & self.model_fields_set - set(uses)):
            raise ValueError(
                f"key {key!r} does not apply to integrity_type {self.integrity_type!r} "
                f"(it reads: {', '.join(uses)})"
            )
        if self.integrity_type == "between" and self.lower > self.upper:
            raise ValueError(f"between: lower ({self.lower}) is above upper ({self.upper})")
        return self


def reference_moments(reference: Any, column: str) -> tuple[float, float]:
    """Mean and standard deviation from a ``{"mean", "std"}`` dict, values or a data file."""
    if isinstance(reference, dict):
        try:
            return float(reference["mean"]), float(reference["std"])
        except KeyError as exc:
            raise ValueError(f"z_score reference needs 'mean' and 'std'; missing {exc}") from exc
    if isinstance(reference, str | Path):
        path = Path(reference)
        if path.suffix == ".csv":
            import pandas as pd

            values = pd.read_csv(path, usecols=[column])[column].to_numpy(dtype=float)
        else:
            import pyarrow.parquet as pq

            values = pq.read_table(path, columns=[column]).column(column).to_numpy()
    elif hasattr(reference, "columns") and column in reference.columns:
        values = np.asarray(reference[column], dtype=float)
    else:
        values = np.asarray(reference, dtype=float)
    values = values[~np.isnan(values)]
    if len(values) < 2:
        raise ValueError(f"z_score reference for {column!r} needs at least 2 numeric values")
    return float(values.mean()), float(values.std(ddof=1))


@register
class IntegrityMonitor(BaseMonitor):
    """Runs one integrity check over a column and keeps per-window violation counts."""

    kind = MonitorKind.DATA_INTEGRITY.value
    config_model = IntegrityCheck

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {"integrity_type": "between", "lower": -2, "upper": 2, "window": 40,
               "measurable_args": {"feature_name": "score"}}  # fmt: skip
        yield {"integrity_type": "non_null", "window": 40,
               "measurable_args": {"feature_name": "text"}}  # fmt: skip

    def __init__(self, config: IntegrityCheck, context: Any) -> None:
        super().__init__(config, context)
        self.column = config.measurable_args.label
        self.check = config.integrity_type
        self._params = config.model_dump(
            include={"threshold", "lower", "upper", "values", "pattern", "dtype", "z_threshold"}
        )
        self._params["empty_is_null"] = config.empty_is_null
        if self.check == "z_score":
            self._params["mean"], self._params["std"] = reference_moments(
                config.reference, self.column
            )
        self._fn = (
            checks.DuplicateTracker(config.duplicate_memory)
            if self.check == "duplicate"
            else checks.CHECKS[self.check]
        )
        self._windower = Windower(config.window)
        self._n = self._violations = 0
        self._first_ts: int | None = None
        self._last_ts = 0
        self._seen = self._warned = False

    @property
    def name(self) -> str:
        return self.config.name or f"{self.check}({self.column})"

    def violations(self, batch: Any) -> tuple[np.ndarray, str | list[str], pa.Array | None]:
        """The violation mask of a batch, the reason(s), and the measured column."""
        try:
            col = batch.column(
                self.config.measurable_args.type, self.config.measurable_args.feature_name
            )
        except KeyError as exc:
            # A column absent from the call is missing in every row: only non_null objects.
            violated = self.check == "non_null"
            reason = f"column missing: {exc.args[0] if exc.args else exc}"
            return np.full(len(batch), violated, dtype=bool), reason, None
        params = dict(self._params)
        # Cells of the wrong type were stored as null and are reported as dtype problems.
        coerced = np.zeros(len(batch), dtype=bool)
        for p in batch.problems:
            if p.column == self.column or f"{p.part}.{p.column}" == self.column:
                coerced[p.row] = True
        if self.check == "dtype":
            params["problem_rows"] = coerced
        mask, reason = self._fn(col, **params)
        if self.check == "non_null":
            mask = mask & ~coerced  # present, only of another type: not a missing value
        return mask, reason, col

    def process(self, batch: Any) -> MonitorResult:
        mask, reason, col = self.violations(batch)
        if col is None and not self._seen:
            return self._never_seen(batch, str(reason))
        self._seen = True
        # With quarantine off the check only counts: its rows stay eligible as edge cases, so
        # none is in neither table without a reason.
        result = MonitorResult(violations=mask if self.config.quarantine else None)
        if self.config.quarantine and mask.any():
            result.quarantine.append(self._quarantine(batch, mask, reason, col))
        self.count_windows(batch, mask, result)
        return result

    def count_windows(self, batch: Any, mask: np.ndarray, result: MonitorResult) -> None:
        """Add a batch's violation mask to the open window; close the windows it completes.

        Batch curation overrides this to keep the counts as mergeable partials per window
        (:func:`window_result` closes them after the map step).
        """
        for piece in self._windower.split(batch.ts):
            if piece.stop > piece.start:
                self._accumulate(batch.ts[piece.start : piece.stop], mask[piece.start : piece.stop])
            if piece.closes:
                result.extend(self._close_window())

    def _never_seen(self, batch: Any, reason: str) -> MonitorResult:
        """The column has not appeared in any call yet: a configuration problem, not nulls.

        Its rows are counted as unchecked and one alert says so (once per check); once the
        column has appeared, a call without it is missing it in every row.
        """
        result = MonitorResult()
        result.metrics.append(
            metric_row(monitor=self.kind, check=self.check, column=self.column,
                       metric=Metric.COLUMN_MISSING, value=len(batch), n=len(batch))
        )  # fmt: skip
        if not self._warned:
            self._warned = True
            message = (
                f"{self.name}: {reason}; the check has not run on any row yet (is the column "
                "name right?)"
            )
            result.alerts.append(
                alert_row(monitor=self.kind, check=self.check, column=self.column,
                          metric=Metric.COLUMN_MISSING, value=len(batch), threshold=None,
                          message=message)
            )  # fmt: skip
        return result

    def _accumulate(self, ts: np.ndarray, mask: np.ndarray) -> None:
        if self._first_ts is None:
            self._first_ts = int(ts.min())
        self._last_ts = max(self._last_ts, int(ts.max()))
        self._n += len(mask)
        self._violations += int(mask.sum())

    def _quarantine(self, batch: Any, mask: np.ndarray, reason: Any, col: pa.Array | None):
        idx = np.flatnonzero(mask)
        values = [None] * len(idx)
        if col is not None:
            values = [
                safe_repr(v) if v is not None else None for v in col.take(pa.array(idx)).to_pylist()
            ]
        return quarantine_table(
            batch.ids[idx],
            batch.ts[idx],
            monitor=self.kind,
            check=self.check,
            column=self.column,
            values=values,
            reasons=reason,
            rows=batch.rows_json(idx),
        )

    def _close_window(self) -> MonitorResult:
        if self._n == 0:
            return MonitorResult()
        start, end = self._windower.window_bounds(self._first_ts or 0, self._last_ts)
        result = self.window_result(self._n, self._violations, start, end)
        self._n = self._violations = 0
        self._first_ts, self._last_ts = None, 0
        return result

    def window_result(self, n: int, violations: int, start: int, end: int) -> MonitorResult:
        """The metric rows (and alert) of a closed window of ``n`` rows with ``violations``.

        >>> from monitors.base import MonitorContext
        >>> cfg = IntegrityCheck(type="data_integrity", integrity_type="non_null",
        ...                      measurable_args={"feature_name": "text"})
        >>> m = IntegrityMonitor(cfg, MonitorContext(store=None))
        >>> [r["value"] for r in m.window_result(10, 5, 0, 9).metrics], m.name
        ([5.0, 0.5], 'non_null(text)')
        """
        result = MonitorResult()
        ratio = violations / n
        threshold = self.config.alert_ratio
        flagged = ratio > threshold
        common = dict(monitor=self.kind, check=self.check, column=self.column, n=n,
                      window_start=start, window_end=end)  # fmt: skip
        result.metrics.append(metric_row(metric=Metric.VIOLATIONS, value=violations, **common))
        result.metrics.append(
            metric_row(
                metric=Metric.VIOLATION_RATIO,
                value=ratio,
                threshold=threshold,
                flagged=flagged,
                **common,
            )
        )
        if flagged:
            result.alerts.append(
                alert_row(
                    monitor=self.kind,
                    check=self.check,
                    column=self.column,
                    metric=Metric.VIOLATION_RATIO,
                    value=ratio,
                    threshold=threshold,
                    message=(
                        f"{self.name}: {violations} of {n} rows "
                        f"({ratio:.1%}) violate the check; alert above {threshold:.1%}"
                    ),
                )
            )
        return result

    def flush(self) -> MonitorResult:
        return self._close_window()
