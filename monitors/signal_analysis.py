"""What an EDGE_CASE formula's predicates do, per window: Snorkel's ``LFAnalysis`` for formulas.

For every predicate of the formula (:mod:`monitors.signal_predicates`: each boolean signal or
comparison, such as ``contains(text, 'nike')`` or ``confidence(outputs) < 0.6``) and for the
formula itself, each window of ``analysis_window`` logged rows (or a duration, as the other
checks count windows; default 10,000) records:

* **coverage**: the share of rows where the predicate is true (the formula: where it selects);
* **overlap**: the share of rows where it and another predicate are both true, and the full
  ``L x L`` matrix of rows where two predicates are both true;
* **marginal**: the share of rows the formula selects only because of this predicate: the
  formula is true, and re-decided with this predicate false it is known false;
* **unknown**: the share of rows where the predicate could not be computed (a leaf failed);
* **precision**, when ground truth is logged with the outputs: the share of the labelled rows
  a predicate (or the formula) selects that the model mispredicted
  (:mod:`monitors.prediction_errors`); edge cases are the rows the model gets wrong.

Everything is counted from the values the monitor computed anyway (no signal runs twice) into
a few integers per predicate and one ``L x L`` matrix per window, whatever the window's length.
A closed window writes one metrics row per predicate and statistic (``signal_coverage``,
``signal_overlap``, ``signal_marginal``, ``signal_unknown``, ``signal_precision``; the
formula's rows have ``column=""``) and its counts, the overlap matrix included, as JSON in the
``summary`` column of its first row, from which :mod:`monitors.signal_report` sums windows
exactly. ``flush()`` closes the open window early, as the drift checks do.

>>> import numpy as np
>>> from curate.batch import Batch
>>> from curate.signals import Signal
>>> from curate.signals.isolated import evaluate_isolated
>>> f = Signal.contains("good") | Signal.contains("fine")
>>> acc = SignalAnalysis(f, window=4, check="c")
>>> b = Batch.from_log(np.arange(6), np.arange(6),
...                    {"text": ["good", "fine", "good and fine", "bad", "ok", "good"]})
>>> closed = acc.update(b, evaluate_isolated(f, b)).metrics
>>> sorted({(r["column"], r["metric"]): r["value"] for r in closed}.items())[:3]
[(('', 'signal_coverage'), 0.75), (('', 'signal_unknown'), 0.0), (("contains(text, 'fine')", 'signal_coverage'), 0.5)]
>>> counts = WindowCounts.from_summary(closed[0]["summary"])
>>> counts.overlap.tolist(), counts.marginal.tolist(), acc.window.rows
([[2, 1], [1, 2]], [1, 1], 2)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from curate.enums import MonitorKind
from curate.signals import Signal
from curate.signals.isolated import Isolated
from curate.tables import Metric, metric_row
from monitors.base import MonitorResult
from monitors.prediction_errors import prediction_errors
from monitors.signal_predicates import known_true, marginal, predicate_values, skeleton
from monitors.windows import Windower

SUMMARY_VERSION = 1
#: ``metrics.column`` of the rows about the formula itself (a predicate's rows name it).
FORMULA_COLUMN = ""
_PER_LEAF = ("true", "unknown", "overlap_any", "marginal", "labelled", "wrong",
             "marginal_labelled", "marginal_wrong")  # fmt: skip
_FORMULA = ("selected", "selected_unknown", "selected_labelled", "selected_wrong")


@dataclass
class BatchStats:
    """Per row of one batch, as float 0/1 columns so that counting is matrix products.

    ``masks`` (``n x (3L + 2)``): each predicate's value, the rows it alone makes the formula
    select (marginal), where it is unknown, then the formula's selected and unknown rows.
    ``weights`` (``n x 4``): every row, rows where two or more predicates are true, labelled
    rows, mispredicted rows. ``values`` (``n x L``): the predicates' values again, for the
    overlap matrix.
    """

    values: np.ndarray
    masks: np.ndarray
    weights: np.ndarray


@dataclass
class WindowCounts:
    """The counts of one window (or of several, added): the bounded state of the analysis.

    >>> w = WindowCounts(("a", "b"))
    >>> w.rows, w.overlap.shape
    (0, (2, 2))
    """

    leaves: tuple[str, ...]
    rows: int = 0
    overlap: np.ndarray = field(init=False)
    first: int | None = None
    last: int | None = None

    def __post_init__(self) -> None:
        k = len(self.leaves)
        self.overlap = np.zeros((k, k), dtype=np.int64)
        for name in _PER_LEAF:
            setattr(self, name, np.zeros(k, dtype=np.int64))
        for name in _FORMULA:
            setattr(self, name, 0)

    def add(self, s: BatchStats, ts: np.ndarray, start: int, stop: int) -> None:
        """Count rows ``[start, stop)`` of a batch's :class:`BatchStats`."""
        k = len(self.leaves)
        p = s.values[start:stop]
        # Two BLAS products count everything, exactly for any count below 2**53.
        self.overlap += np.rint(p.T @ p).astype(np.int64)
        c = np.rint(s.weights[start:stop].T @ s.masks[start:stop]).astype(np.int64)
        every, several, lab, wrong = c
        self.true += every[:k]
        self.overlap_any += several[:k]
        self.labelled += lab[:k]
        self.wrong += wrong[:k]
        self.marginal += every[k : 2 * k]
        self.marginal_labelled += lab[k : 2 * k]
        self.marginal_wrong += wrong[k : 2 * k]
        self.unknown += every[2 * k : 3 * k]
        self.selected += int(every[3 * k])
        self.selected_labelled += int(lab[3 * k])
        self.selected_wrong += int(wrong[3 * k])
        self.selected_unknown += int(every[3 * k + 1])
        self.rows += stop - start
        self.first = int(ts[start]) if self.first is None else self.first
        self.last = int(ts[stop - 1])

    def summary(self, formula: str) -> str:
        """The counts as the JSON of the window's ``summary`` column (docs/store.md)."""
        out: dict[str, Any] = {"v": SUMMARY_VERSION, "formula": formula,
                               "leaves": list(self.leaves), "rows": self.rows,
                               "overlap": self.overlap.tolist()}  # fmt: skip
        out.update({name: getattr(self, name).tolist() for name in _PER_LEAF})
        out.update({name: int(getattr(self, name)) for name in _FORMULA})
        return json.dumps(out, separators=(",", ":"))

    @classmethod
    def from_summary(cls, text: str) -> WindowCounts:
        """The counts a ``summary`` JSON holds; ``ValueError`` naming what is wrong with it."""
        try:
            d = json.loads(text)
            counts = cls(tuple(d["leaves"]), rows=int(d["rows"]))
            k = len(counts.leaves)
            counts.overlap = np.asarray(d["overlap"], dtype=np.int64).reshape(k, k)
            for name in _PER_LEAF:
                setattr(counts, name, np.asarray(d[name], dtype=np.int64).reshape(k))
            for name in _FORMULA:
                setattr(counts, name, int(d[name]))
        except (TypeError, KeyError, ValueError) as exc:
            raise ValueError(
                f"not a signal-analysis summary ({type(exc).__name__}: {exc})"
            ) from exc
        return counts

    def __iadd__(self, other: WindowCounts) -> WindowCounts:
        if other.leaves != self.leaves:
            raise ValueError(f"cannot add counts of leaves {other.leaves} to {self.leaves}")
        self.rows += other.rows
        self.overlap = self.overlap + other.overlap
        for name in (*_PER_LEAF, *_FORMULA):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self


class SignalAnalysis:
    """Accumulates one EDGE_CASE formula's window counts and emits each closed window."""

    def __init__(self, formula: Signal, window: int | str, check: str,
                 strict: bool = False) -> None:  # fmt: skip
        self.skeleton = skeleton(formula)
        self.formula = str(formula)
        self.check, self.strict = check, strict
        self.windower = Windower(window)
        self.window = WindowCounts(self.skeleton.names)

    def update(self, batch: Any, outcome: Isolated) -> MonitorResult:
        """Count a batch from its formula outcome; the metric rows of the windows it closed.

        A failure here never costs the check its edge cases: it is reported in ``errors``
        and the batch's rows are left out of the analysis (strict mode raises it).
        """
        out = MonitorResult()
        if not len(batch):
            return out
        try:
            stats = self.batch_stats(batch, outcome)
        except Exception as exc:
            if self.strict:
                raise
            out.errors.append(
                f"signal analysis of check {self.check!r} failed on rows {batch.ids[0]}.."
                f"{batch.ids[-1]}: {type(exc).__name__}: {exc}; they are left out of its windows"
            )
            return out
        for piece in self.windower.split(batch.ts):
            if piece.stop > piece.start:
                self.window.add(stats, batch.ts, piece.start, piece.stop)
            if piece.closes:
                out.metrics.extend(self._close())
        return out

    def flush(self) -> MonitorResult:
        """Close the open window early (``Framework.flush()``), if it has rows."""
        out = MonitorResult()
        if self.window.rows:
            out.metrics.extend(self._close())
            if self.windower.mode == "rows":
                self.windower.rows_in_window = 0
        return out

    def batch_stats(self, batch: Any, outcome: Isolated) -> BatchStats:
        """The per-row values one batch contributes (see :class:`BatchStats`)."""
        sk = self.skeleton
        values, unknown = predicate_values(sk, batch, outcome.leaves)
        selected, selected_unknown = known_true(sk.tree, values, unknown)
        n, k = values.shape
        known = values.copy(order="F")
        masks = np.zeros((n, 3 * k + 2), dtype=np.float64, order="F")
        for j, u in enumerate(unknown):
            if u is not None:
                known[:, j] &= ~u
                masks[:, 2 * k + j] = u
        masks[:, :k] = known
        masks[:, k : 2 * k] = marginal(sk, values, unknown, selected)
        masks[:, 3 * k] = selected
        masks[:, 3 * k + 1] = selected_unknown
        weights = np.zeros((n, 4), dtype=np.float64, order="F")
        weights[:, 0] = 1.0
        true_count = np.zeros(n, dtype=np.int16)
        for j in range(k):
            true_count += known[:, j]
        weights[:, 1] = true_count >= 2
        errors = prediction_errors(batch)
        if errors is not None:
            weights[:, 2], weights[:, 3] = errors
        return BatchStats(np.asfortranarray(masks[:, :k]), masks, weights)

    def _close(self) -> list[dict[str, Any]]:
        w = self.window
        rows: list[dict[str, Any]] = []
        if w.rows:
            start, end = self.windower.window_bounds(w.first or 0, w.last or w.first or 0)
            rows = window_rows(w, self.check, start, end)
            rows[0]["summary"] = w.summary(self.formula)
        self.window = WindowCounts(self.skeleton.names)
        return rows


def window_rows(w: WindowCounts, check: str, start: int, end: int) -> list[dict[str, Any]]:
    """The metrics rows of a closed window: the formula's first, then each predicate's."""

    def row(column: str, metric: str, count: int, n: int) -> dict[str, Any]:
        value = count / n if n else float("nan")
        return metric_row(monitor=MonitorKind.EDGE_CASE.value, check=check, column=column,
                          metric=metric, value=value, n=n, window_start=start,
                          window_end=end)  # fmt: skip

    out = [
        row(FORMULA_COLUMN, Metric.SIGNAL_COVERAGE, w.selected, w.rows),
        row(FORMULA_COLUMN, Metric.SIGNAL_UNKNOWN, w.selected_unknown, w.rows),
    ]
    if w.selected_labelled:
        out.append(row(FORMULA_COLUMN, Metric.SIGNAL_PRECISION, w.selected_wrong,
                       w.selected_labelled))  # fmt: skip
    for j, leaf in enumerate(w.leaves):
        out.append(row(leaf, Metric.SIGNAL_COVERAGE, w.true[j], w.rows))
        out.append(row(leaf, Metric.SIGNAL_OVERLAP, w.overlap_any[j], w.rows))
        out.append(row(leaf, Metric.SIGNAL_MARGINAL, w.marginal[j], w.rows))
        out.append(row(leaf, Metric.SIGNAL_UNKNOWN, w.unknown[j], w.rows))
        if w.labelled[j]:
            out.append(row(leaf, Metric.SIGNAL_PRECISION, w.wrong[j], w.labelled[j]))
    return out
