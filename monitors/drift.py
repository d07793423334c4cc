"""DATA_DRIFT: how far each production window of a column has moved from a reference profile.

Configuration (a dict in ``checks``, or :class:`DataDriftConfig`)::

    {"type": Monitor.DATA_DRIFT,
     "measurable_args": {"type": MeasurableType.INPUT_FEATURE, "feature_name": "text"},
     "reference_dataset": "reference.parquet",  # or a saved profile, DataFrame, Dataset, Profile
     "window": 5000,                            # rows per tumbling window, or "1h" by time
     "method": "auto"}                          # or "ks", "psi", ... or a list of them

The reference is reduced to a :class:`~monitors.profile.Profile` once, at construction (a saved
profile file is just loaded). Each window keeps only bounded sufficient statistics
(:mod:`monitors.stats.accumulators`); when it closes, one metrics row per statistic is written
(``monitor="data_drift"``, ``check`` = method, ``column``, ``metric``, ``value``, ``threshold``,
``flagged`` = drifted, ``window_start``/``window_end``, ``n``) and one alert per drifted method.

Windows with fewer than ``min_rows`` non-null values report nothing (their statistics would be
noise). :meth:`DataDriftMonitor.flush` closes the open window early when it already holds
``min_rows`` values, otherwise its rows carry over into the next window.

Thresholds. A p-value method (``ks``, ``chi2``, ``mmd``) flags a window when its p-value is
below the threshold (0.05): calibrated by construction, 5% of windows without drift. A distance
(``js``, ``psi``, ``length``) flags when it exceeds the larger of the configured threshold (its
*minimum effect*, 0.1) and the 99.99% quantile of what same-size samples of the reference score
(a finite window never reads 0: 1,000 real review snippets read JS 0.035 against 3,000 others);
``oov`` and ``empty`` flag a share above the reference's expectation by more than the larger of
the configured margin and 3.72 standard deviations; ``wasserstein`` is a fixed 0.1 reference
standard deviations. The stored ``threshold`` is the one applied. Details per method:
:mod:`monitors.stats.auto` (which method, how each default is calibrated),
:mod:`monitors.stats.calibrate` (the null distributions), :mod:`monitors.stats.text_window`.

Each closed window also keeps the small summary its statistics were computed from (the compared
bins, :mod:`monitors.stats.window_summary`), as JSON in the ``summary`` column of its first
metrics row: the dashboard draws reference vs that window, so what is drawn is what was tested.

A reference that cannot be used (a missing or unreadable file, no such column, no values, a
profile of another kind) raises :class:`~curate.errors.ConfigError` naming the check's column
and the reference.

Alerts say what moved: the threshold and how it was set, and for word and category statistics
the values contributing most, with reference and window shares, e.g. ``js = 0.2483 is above 0.1
(minimum effect; same-size reference samples score below 0.045) over 11,836 values (...); most
changed: 'uk' 0.0% → 2.0%, 'a' 3.6% → 0.9%, 'the' 5.1% → 1.9%, 'covid' 0.0% → 0.9%, ...``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import field_validator, model_validator

from curate.config_base import CheckBase, MeasurableArgs
from curate.enums import MonitorKind
from curate.errors import ConfigError
from curate.tables import alert_row, metric_row
from monitors.base import BaseMonitor, MonitorResult, register
from monitors.profile import as_profile
from monitors.stats.accumulators import make_window
from monitors.stats.auto import DEFAULT_THRESHOLDS, KINDS, METHODS, resolve_methods
from monitors.stats.window_summary import encode
from monitors.windows import Windower, parse_window

log = logging.getLogger("curate.monitors.drift")
_ALL_METHODS = {"auto", *(m for ms in METHODS.values() for m in ms)}
_METRIC_KEYS = ("check", "metric", "value", "threshold", "flagged", "n")  # the rest: alerts only


class DataDriftConfig(CheckBase):
    """One column's drift check. See the module docstring and the README's table."""

    type: Literal["data_drift"] = MonitorKind.DATA_DRIFT.value
    measurable_args: MeasurableArgs
    #: ``None``: the store's sample of all logged traffic (last period's traffic) is the reference.
    reference_dataset: Any = None
    window: int | str = 5000
    method: str | list[str] = "auto"
    threshold: float | dict[str, float] | None = None
    kind: Literal["auto", "numeric", "categorical", "text", "embedding"] = "auto"
    min_rows: int = 100
    bins: int = 10
    max_window_sample: int = 50_000
    js_bins: int = 500
    max_vectors: int = 500
    n_permutations: int = 200
    seed: int = 0

    @field_validator("window")
    @classmethod
    def _window(cls, v: int | str) -> int | str:
        parse_window(v)
        return v

    @field_validator("method")
    @classmethod
    def _method(cls, v: str | list[str]) -> str | list[str]:
        names = [v] if isinstance(v, str) else v
        bad = [m for m in names if m not in _ALL_METHODS]
        if bad or not names:
            raise ValueError(
                f"unknown method {bad[0] if bad else v!r}; choose from "
                + ", ".join(sorted(_ALL_METHODS))
            )
        return v

    @field_validator("min_rows", "bins", "max_window_sample", "js_bins", "max_vectors")
    @classmethod
    def _positive(cls, v: int, info: Any) -> int:
        low = 2 if info.field_name in ("bins", "max_vectors") else 1
        if v < low:
            raise ValueError(f"{info.field_name} must be >= {low}, got {v}")
        return v

    @model_validator(mode="after")
    def _check(self) -> DataDriftConfig:
        if isinstance(self.threshold, dict):
            bad = [k for k in self.threshold if k not in DEFAULT_THRESHOLDS]
            if bad:
                raise ValueError(
                    f"threshold has unknown method {bad[0]!r}; valid: "
                    + ", ".join(DEFAULT_THRESHOLDS)
                )
        return self


@register
class DataDriftMonitor(BaseMonitor):
    """Windowed drift statistics of one column against a reference profile."""

    kind = MonitorKind.DATA_DRIFT.value
    config_model = DataDriftConfig

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        import numpy as np
        import pandas as pd

        rng = np.random.default_rng(0)
        words = rng.choice(["nike shoes", "adidas", "puma socks"], 400)
        reference = pd.DataFrame({"score": rng.normal(0, 1, 400), "text": words})
        for column in ("score", "text"):
            yield {"measurable_args": {"feature_name": column}, "reference_dataset": reference,
                   "window": 40, "min_rows": 10}  # fmt: skip

    def _save_reference(self, profile: Any) -> None:
        # Readers (the dashboard, before any window is tested) find it as profiles/<column>.
        if not hasattr(self.context.store, "path"):
            return  # a store without local files (a Delta store): its readers lack profiles
        safe = re.sub(r"[^\w.-]+", "_", self.column)
        try:
            path = self.context.store.path("profiles", f"{safe}.profile")
            type(profile)({self.column: self.profile}).save(path)
        except (OSError, ValueError) as exc:
            log.warning("curate: cannot save the reference profile of %r: %s", self.column, exc)

    def __init__(self, config: Any, context: Any) -> None:
        if not isinstance(config, DataDriftConfig):
            config = DataDriftConfig.model_validate(config)
        super().__init__(config, context)
        self.measurable = config.measurable_args
        self.column = self.measurable.label
        profile = self._load_reference(config)
        self._save_reference(profile)
        try:
            self.methods = resolve_methods(config.method, self.profile.kind, self.profile.n)
        except ValueError as exc:
            raise ConfigError(f"data_drift check on {self.column!r}: {exc}") from None
        self.thresholds = self._thresholds(config.threshold)
        self.state = make_window(
            self.profile,
            self.methods,
            self.thresholds,
            bins=config.bins,
            max_sample=config.max_window_sample,
            js_bins=config.js_bins,
            max_vectors=config.max_vectors,
            n_perm=config.n_permutations,
            seed=config.seed,
        )
        self.windower = Windower(config.window)
        self._first: int | None = None
        self._last: int | None = None

    def _load_reference(self, config: DataDriftConfig) -> Any:
        """The reference profile; :class:`ConfigError` saying what is wrong with it, and where."""
        ref = config.reference_dataset
        where = repr(str(ref)) if isinstance(ref, str | os.PathLike) else type(ref).__name__
        if ref is None:
            ref, where = self._traffic_reference(), "the store's traffic sample"
        kinds = None if config.kind == "auto" else {self.column: config.kind}
        try:
            profile = as_profile(ref, [self.column], kinds)
            self.profile = profile[self.column]
        except (ValueError, TypeError, KeyError, OSError, NotImplementedError) as exc:
            reason = str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc)
            raise ConfigError(
                f"data_drift check on {self.column!r}: cannot use reference_dataset {where}: "
                + re.sub(r"^reference_dataset:? ", "", reason)
            ) from None
        problem = None
        if config.kind != "auto" and self.profile.kind != config.kind:
            problem = (f"kind={config.kind!r} but its profile of {self.column!r} is "
                       f"{self.profile.kind}; rebuild the profile with that kind")  # fmt: skip
        elif self.profile.n == 0:
            problem = f"column {self.column!r} has no non-null values"
        if problem:
            raise ConfigError(
                f"data_drift check on {self.column!r}: reference_dataset {where}: {problem}"
            )
        return profile

    def _traffic_reference(self) -> Any:
        """The measured column of the store's traffic sample; ConfigError when it has none."""
        sample = getattr(self.context.store, "traffic_sample", None)
        name = self.measurable.feature_name or self.column
        table = sample(columns=[name]) if sample is not None else None
        if (
            table is None
            or name not in table.column_names
            or not table[name].null_count < len(table)
        ):
            raise ConfigError(
                f"data_drift check on {self.column!r}: no reference_dataset, and the store has no "
                f"traffic sample of {name!r} yet; give a reference_dataset, or log production "
                "traffic first (the check then compares with it: last period's traffic)"
            )
        return table.select([name])

    def _thresholds(self, given: float | dict[str, float] | None) -> dict[str, float]:
        out = {m: DEFAULT_THRESHOLDS[m] for m in self.methods}
        if isinstance(given, dict):
            out.update({m: float(v) for m, v in given.items() if m in out})
        elif given is not None:
            out = {m: float(given) for m in out}
        return out

    def process(self, batch: Any) -> MonitorResult:
        """Add a batch to the open window(s); report every window that closes."""
        result = MonitorResult()
        if len(batch) == 0:
            return result
        try:
            arr = batch.column(self.measurable.type, self.measurable.feature_name)
        except KeyError:
            return result  # e.g. a ground-truth-only batch: nothing to measure here
        for piece in self.windower.split(batch.ts):
            if piece.stop > piece.start:
                self.state.update(arr.slice(piece.start, piece.stop - piece.start))
                if self._first is None:
                    self._first = int(batch.ts[piece.start])
                self._last = int(batch.ts[piece.stop - 1])
            if piece.closes:
                result.extend(self._close())
        return result

    def flush(self) -> MonitorResult:
        """Close the open window early if it has ``min_rows`` values; else keep it open."""
        if self.state.n < self.config.min_rows:
            return MonitorResult()
        result = self._close()
        if self.windower.mode == "rows":
            self.windower.rows_in_window = 0
        return result

    def _close(self) -> MonitorResult:
        result = MonitorResult()
        if self._first is not None and self.state.n >= self.config.min_rows:
            start, end = self.windower.window_bounds(self._first, self._last or self._first)
            for row in self.state.evaluate():
                stat = {k: row[k] for k in _METRIC_KEYS}
                result.metrics.append(
                    metric_row(
                        monitor=self.kind,
                        column=self.column,
                        window_start=start,
                        window_end=end,
                        **stat,
                    )  # fmt: skip
                )
                if row["flagged"]:
                    result.alerts.append(self._alert(row, start, end))
            summary = self.state.summary()
            if result.metrics and summary is not None:
                # Once per window, on its first row: readers take the rows written with it as
                # that window's statistics (bounds alone may repeat, docs/store.md).
                result.metrics[0]["summary"] = encode(summary)
        elif self.state.rows:
            log.debug(
                "%s: window of %d values below min_rows, not reported", self.column, self.state.n
            )
        self.state.reset()
        self._first = self._last = None
        return result

    def _alert(self, row: dict[str, Any], start: int, end: int) -> dict[str, Any]:
        def iso(us: int) -> str:
            return datetime.fromtimestamp(us / 1e6, UTC).isoformat(timespec="seconds")

        side = "below" if row["metric"].endswith("pvalue") else "above"
        how = f" ({row['note']})" if row.get("note") else ""
        message = (
            f"data drift in {self.column!r}: {row['metric']} = {row['value']:.4g} is {side} "
            f"{row['threshold']:.4g}{how} over {row['n']:,} values ({iso(start)} to {iso(end)})"
        )
        if row.get("detail"):
            message += f"; {row['detail']}"
        return alert_row(
            monitor=self.kind,
            check=row["check"],
            column=self.column,
            metric=row["metric"],
            value=row["value"],
            threshold=row["threshold"],
            message=message,
        )


__all__ = ["KINDS", "DataDriftConfig", "DataDriftMonitor"]
