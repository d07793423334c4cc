"""EDGE_CASE: rows for which a signal formula is true go to the retraining set.

With a ``budget`` (:mod:`monitors.budget`) only the most informative selected rows of each
window go: the check's result is *deferred*, and :meth:`EdgeCaseMonitor.settle` offers the
rows the pipeline allows (no integrity violation, not another check's edge case) to the
window's top ``n``, which is written when the window closes or on ``flush()``.

>>> from curate.signals import Signal
>>> cfg = EdgeCaseCheck(type="edge_case", signal_formulae=Signal.contains("nike"))
>>> str(cfg.signal_formulae)
"contains(text, 'nike')"
>>> cfg = EdgeCaseCheck(type="edge_case", signal_formulae=Signal.margin() < 0.2,
...                     budget={"n": 100, "by": Signal.margin(), "order": "ascending"})
>>> cfg.budget.n, cfg.budget.window
(100, 10000)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import Field, field_validator
from rapidfuzz import fuzz, process

from curate.config_base import CheckBase
from curate.enums import MonitorKind
from curate.errors import ConfigError
from curate.signals import Signal
from curate.signals.isolated import Isolated, evaluate_isolated
from curate.tables import Metric, metric_row, quarantine_table
from monitors import integrity_checks
from monitors.base import BaseMonitor, MonitorResult, register
from monitors.budget import Budget, ClosedWindow, TopN
from monitors.collected import history
from monitors.minhash_dedupe import MinHashDeduper, is_text
from monitors.signal_analysis import SignalAnalysis
from monitors.windows import parse_window


class EdgeCaseCheck(CheckBase):
    """Config of an EDGE_CASE check.

    ``dedupe="exact"`` skips rows whose ``dedupe_column`` value was already collected;
    ``dedupe="fuzzy"`` also skips near-duplicates (rapidfuzz ``ratio`` ≥ ``fuzzy_threshold``)
    among the last ``fuzzy_memory`` collected texts. ``dedupe="minhash"`` skips texts whose
    word ``shingle_size``-gram sets have an estimated Jaccard similarity ≥
    ``minhash_threshold`` with a collected one's (``num_perm`` permutations and an LSH index,
    :mod:`monitors.minhash_dedupe`: near-duplicates at scale). Each remembers the last
    ``dedupe_memory`` collected rows, so memory stays bounded, and starts from the newest of
    them already in the retraining set (:mod:`monitors.collected`): a restarted process does
    not collect them again. ``budget`` keeps only the ``n``
    most informative selected rows per window (:class:`~monitors.budget.Budget`); dedupe
    applies first, to every selected row. ``signal_analysis`` counts what each predicate of
    the formula does per ``analysis_window`` (:mod:`monitors.signal_analysis`).
    """

    type: Literal["edge_case"] = MonitorKind.EDGE_CASE.value
    signal_formulae: Signal
    dedupe: Literal["exact", "fuzzy", "minhash"] | None = None
    dedupe_column: str = "text"
    fuzzy_threshold: float = Field(95.0, gt=0, le=100)
    dedupe_memory: int = Field(1_000_000, gt=0)
    fuzzy_memory: int = Field(2_000, gt=0)
    minhash_threshold: float = Field(0.8, gt=0, le=1)
    num_perm: int = Field(128, ge=8, le=1024)
    shingle_size: int = Field(1, ge=1, le=16)
    budget: Budget | None = None
    signal_analysis: bool = True
    analysis_window: int | str = 10_000

    @field_validator("signal_formulae", mode="before")
    @classmethod
    def _must_be_signal(cls, value: Any) -> Any:
        if not isinstance(value, Signal):
            raise ValueError(
                f"signal_formulae must be a Signal or a formula of signals, got "
                f"{type(value).__name__}"
            )
        return value

    @field_validator("analysis_window")
    @classmethod
    def _window(cls, value: int | str) -> int | str:
        parse_window(value)
        return value


def hash_values(values: pa.Array) -> np.ndarray:
    """64-bit hashes of an Arrow column's values (vectorised through pandas)."""
    return integrity_checks.hash_values(values)


class Deduper:
    """Remembers recently collected values and flags repeats, exact, fuzzy or MinHash near
    duplicates, in bounded memory.

    ``history`` (a loader of :func:`monitors.collected.collected_values`) gives the values
    already collected; they are remembered first, when :meth:`duplicates` is first called.

    >>> d = Deduper.for_check(EdgeCaseCheck(signal_formulae=Signal.contains("a"),
    ...                                     dedupe="minhash"), history=lambda: pa.array(["a b c"]))
    >>> d.duplicates(pa.array(["A b c!", "a b d", "a b d"])).tolist()
    [True, False, True]
    """

    def __init__(
        self,
        mode: str,
        threshold: float,
        memory: int,
        fuzzy_memory: int,
        *,
        minhash: MinHashDeduper | None = None,
        history: Callable[[], pa.Array] | None = None,
        strict: bool = False,
    ) -> None:
        self.mode, self.threshold = mode, threshold
        self._hashes: deque[np.ndarray] = deque()
        self._known = np.zeros(0, dtype=np.uint64)
        self._memory = memory
        self._texts: deque[str] = deque(maxlen=fuzzy_memory)
        if mode == "minhash" and minhash is None:
            minhash = MinHashDeduper(memory=memory)
        self._minhash = minhash
        self._history, self.strict = history, strict
        self.errors: list[str] = []  # what went wrong without stopping it, for the caller

    @classmethod
    def for_check(
        cls,
        check: EdgeCaseCheck,
        history: Callable[[], pa.Array] | None = None,
        strict: bool = False,
    ) -> Deduper:
        """The deduper an EDGE_CASE check's config asks for."""
        minhash = None
        if check.dedupe == "minhash":
            minhash = MinHashDeduper(
                check.minhash_threshold, check.num_perm, check.dedupe_memory, check.shingle_size
            )
        return cls(check.dedupe, check.fuzzy_threshold, check.dedupe_memory, check.fuzzy_memory,
                   minhash=minhash, history=history, strict=strict)  # fmt: skip

    def take_errors(self) -> list[str]:
        """The errors recorded since the last call (and forget them)."""
        errors, self.errors = self.errors, []
        return errors

    def _rebuild(self) -> None:
        """Remember what the retraining set already holds (once, before the first values)."""
        load, self._history = self._history, None
        try:
            values = load()
            if len(values):
                self.duplicates(values)
        except Exception as exc:
            if self.strict:
                raise
            self.errors.append(
                f"dedupe could not read the values already collected: {type(exc).__name__}: "
                f"{exc}; it starts empty, so rows collected before may be collected again"
            )

    def duplicates(self, values: pa.Array) -> np.ndarray:
        """Which values repeat an earlier one (or an earlier one in this same call)."""
        if self._history is not None:
            self._rebuild()
        if self._minhash is not None:
            if not is_text(values.type):
                message = (f"dedupe='minhash' compares texts, but the column is {values.type}: "
                           "its rows were kept without deduplication (use dedupe='exact')")  # fmt: skip
                if self.strict:
                    raise ConfigError(message)
                self.errors.append(message)
                return np.zeros(len(values), dtype=bool)
            return self._minhash.duplicates(values)
        h = hash_values(values)
        dup = np.isin(h, self._known) | pd.Series(h).duplicated().to_numpy()
        if self.mode == "fuzzy":
            dup |= self._fuzzy_duplicates(values, dup)
        self._remember(h[~dup], values.filter(pa.array(~dup)))
        return dup

    def _fuzzy_duplicates(self, values: pa.Array, exact: np.ndarray) -> np.ndarray:
        texts = [v if isinstance(v, str) else str(v) for v in values.to_pylist()]
        out = np.zeros(len(texts), dtype=bool)
        if self._texts:
            scores = process.cdist(
                texts, list(self._texts), scorer=fuzz.ratio, score_cutoff=self.threshold
            )
            out |= (scores > 0).any(axis=1)
        if len(texts) > 1:
            within = process.cdist(texts, texts, scorer=fuzz.ratio, score_cutoff=self.threshold)
            out |= np.tril(within > 0, k=-1).any(axis=1)
        return out & ~exact

    def _remember(self, hashes: np.ndarray, values: pa.Array) -> None:
        self._hashes.append(hashes)
        total = sum(len(h) for h in self._hashes)
        while total > self._memory and len(self._hashes) > 1:
            total -= len(self._hashes.popleft())
        self._known = np.concatenate(list(self._hashes)) if self._hashes else self._known
        if self.mode == "fuzzy":
            self._texts.extend(v if isinstance(v, str) else str(v) for v in values.to_pylist())


@register
class EdgeCaseMonitor(BaseMonitor):
    """Evaluates the signal formula on each batch and marks the rows it selects."""

    kind = MonitorKind.EDGE_CASE.value
    config_model = EdgeCaseCheck
    guards_rows = False

    def __init__(self, config: EdgeCaseCheck, context: Any) -> None:
        super().__init__(config, context)
        self.formula = config.signal_formulae
        self.reason = str(self.formula)
        self._deduper = (
            Deduper.for_check(
                config,
                history(context.store, self.reason, config.dedupe_column, config.dedupe_memory),
                strict=context.strict,
            )
            if config.dedupe
            else None
        )
        self._top = TopN(config.budget) if config.budget is not None else None
        self._analysis = (
            SignalAnalysis(self.formula, config.analysis_window, self.name, context.strict)
            if config.signal_analysis
            else None
        )

    @property
    def name(self) -> str:
        return self.config.name or self.reason

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {"signal_formulae": Signal.contains("nike") & (Signal.confidence() < 0.9)}
        yield {"signal_formulae": Signal.contains("nike"), "dedupe": "exact"}
        yield {"signal_formulae": Signal.contains("nike"), "dedupe": "minhash", "num_perm": 32}
        yield {"signal_formulae": Signal.margin() < 0.5, "budget": {"n": 5, "window": 40,
               "by": Signal.margin(), "order": "ascending"}}  # fmt: skip

    def process(self, batch: Any) -> MonitorResult:
        outcome = evaluate_isolated(self.formula, batch)
        # Before dedupe, which edits the mask: the analysis is of the formula's own selections.
        analysed = self._analysis.update(batch, outcome) if self._analysis else MonitorResult()
        mask = outcome.mask
        skipped = 0
        if self._deduper is not None and mask.any():
            idx = np.flatnonzero(mask)
            column = batch.column("input_feature", self.config.dedupe_column).take(pa.array(idx))
            dup = self._deduper.duplicates(column)
            mask[idx[dup]] = False
            skipped = int(dup.sum())
        result = MonitorResult(edge_mask=mask, reason=self.reason, leaves=outcome.leaves)
        result.extend(analysed)
        if self._top is None:
            result.metrics.append(self._metric(Metric.EDGE_CASES, int(mask.sum()), len(batch)))
        else:
            self._score(batch, result)  # counted per window, when the window closes
        if self._deduper is not None:
            where = f"dedupe of check {self.name!r} on {self.config.dedupe_column!r}"
            result.errors.extend(f"{where}: {e}" for e in self._deduper.take_errors())
            result.metrics.append(
                self._metric(Metric.DUPLICATES_SKIPPED, skipped, len(batch),
                             self.config.dedupe_column)
            )  # fmt: skip
        if outcome.errors:
            self._isolate_failures(batch, outcome, result)
        return result

    def _score(self, batch: Any, result: MonitorResult) -> None:
        """Defer the decision to :meth:`settle`, with the budget's ranking values as a leaf."""
        result.deferred = True
        by = self.config.budget.by
        if str(by) in result.leaves:
            return  # a leaf of the formula too: computed once
        try:
            result.leaves[str(by)] = by.evaluate(batch).astype(np.float64)
        except Exception as exc:
            if self.context.strict:
                raise
            # The rows still compete, after every row with a value: none is lost for it.
            result.errors.append(
                f"budget signal {by} of check {self.name!r} failed on rows "
                f"{batch.ids[0]}..{batch.ids[-1]}: {type(exc).__name__}: {exc}; "
                "its rows rank last in the window"
            )

    def settle(
        self, batch: Any, result: MonitorResult, allowed: np.ndarray
    ) -> tuple[MonitorResult, np.ndarray]:
        """Offer the allowed candidates to the window's top ``n``; emit the windows closed."""
        out = MonitorResult()
        if self._top is None:
            return out, np.zeros(len(batch), dtype=bool)
        scores = result.leaves.get(str(self.config.budget.by))
        if scores is None:
            scores = np.full(len(batch), np.nan)
        closed, held = self._top.offer(
            batch, result.edge_mask & allowed, scores, result.reason or self.reason, result.leaves
        )
        for window in closed:
            self._emit(window, out)
        return out, held

    def flush(self) -> MonitorResult:
        """Write the open budget window's rows so far (a partial window, as drift's flush)."""
        out = MonitorResult()
        window = self._top.flush() if self._top is not None else None
        if window is not None:
            self._emit(window, out)
        if self._analysis is not None:
            out.extend(self._analysis.flush())
        return out

    def _emit(self, window: ClosedWindow, out: MonitorResult) -> None:
        out.released.extend(window.rows)
        bounds = {"window_start": window.start, "window_end": window.end}
        kept = window.kept
        out.metrics.append(self._metric(Metric.EDGE_CASES, kept, window.n, **bounds))
        skipped = window.offered - kept
        out.metrics.append(self._metric(Metric.BUDGET_SKIPPED, skipped, window.n, **bounds))

    def _metric(
        self, metric: str, value: int, n: int, column: str = "", **bounds: int
    ) -> dict[str, Any]:
        return metric_row(
            monitor=self.kind, check=self.name, column=column, metric=metric, value=value, n=n,
            **bounds,
        )  # fmt: skip

    def _isolate_failures(self, batch: Any, outcome: Isolated, result: MonitorResult) -> None:
        """Rows the failed leaves could have changed go to quarantine; the rest are decided."""
        if self.context.strict:
            raise next(iter(outcome.errors.values()))
        failed = outcome.failed_leaves()
        errors = "; ".join(f"{type(e).__name__}: {e}" for e in outcome.errors.values())
        n_unknown = int(outcome.unknown.sum())
        result.errors.append(
            f"signal {failed} of check {self.name!r} failed on rows {batch.ids[0]}..{batch.ids[-1]}"
            f": {errors}; {n_unknown} rows it decides are quarantined, "
            f"{len(batch) - n_unknown} were decided without it"
        )
        # Rows selected in this batch were decided by the other leaves: the reason says so.
        result.reason = f"{self.reason} (without {failed})"
        if n_unknown:
            idx = np.flatnonzero(outcome.unknown)
            result.quarantine.append(
                quarantine_table(
                    batch.ids[idx], batch.ts[idx], monitor=self.kind, check=self.name,
                    column="", values=[None] * len(idx),
                    reasons=f"signal {failed} failed: {errors}", rows=batch.rows_json(idx),
                )
            )  # fmt: skip
