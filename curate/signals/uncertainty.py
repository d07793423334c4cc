"""Uncertainty and label-quality signals over each row's predicted class probabilities.

* :class:`Margin` (``Signal.margin()``): top-1 minus top-2 probability; a small margin means the
  model hesitates between two classes.
* :class:`LabelIssue` (``Signal.label_issue()``): how likely the logged ground truth is wrong,
  ``1 -`` cleanlab's label-quality score (``cleanlab.rank.get_label_quality_scores``):
  ``self_confidence`` quality is ``p[label]``; ``normalized_margin`` quality is
  ``(p[label] - max_{k != label} p[k] + 1) / 2``. Both are in [0, 1], higher = more suspect.

Unlike ``confidence()``/``entropy()``, which fail the whole batch on a row without
probabilities, these score such rows NaN (unknown: comparisons are false, the row is neither
selected nor quarantined by the signal): a null or empty list, a NaN inside it, or a null
probability. For ``label_issue`` a null label, or one that is not a class index of that row
(negative, too large, 1.5), is unknown too. One bad row costs only itself.

A single number per row (a binary model) is ``p`` = P(class 1): the distribution is
``[1 - p, p]``, so ground truth ``1`` reads ``p``.

>>> import numpy as np
>>> from curate.batch import Batch
>>> b = Batch.from_log(np.arange(3), np.zeros(3, np.int64), {"x": [1, 2, 3]},
...                    outputs=[[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], None], gts=[0, 0, 1])
>>> Margin().evaluate(b).round(2).tolist()
[0.5, 0.7, nan]
>>> LabelIssue().evaluate(b).round(2).tolist()
[0.3, 0.9, nan]
>>> LabelIssue(method="normalized_margin").evaluate(b).round(2).tolist()
[0.25, 0.85, nan]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.errors import SignalError
from curate.signals.leaf import Builtin, batch_column
from curate.signals.node import Signal

__all__ = ["LABEL_ISSUE_METHODS", "LabelIssue", "Margin", "Rows"]

LABEL_ISSUE_METHODS = ("self_confidence", "normalized_margin")


@dataclass(frozen=True)
class Rows:
    """Each row's probabilities, flat: row ``i`` is ``flat[starts[i]:starts[i] + lengths[i]]``.

    ``lengths`` is 0 for a null or empty row; ``bad`` marks rows with no usable distribution
    (empty, or holding a NaN/null). No padding: one ragged row with many values costs only its
    own values.
    """

    flat: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    bad: np.ndarray

    @property
    def row_of(self) -> np.ndarray:
        """The row index of each flat value."""
        return np.repeat(np.arange(len(self.lengths)), self.lengths)


def probability_rows(sig: Signal, col: pa.Array) -> Rows:
    """The :class:`Rows` of an outputs column: lists of probabilities or one number per row.

    >>> import pyarrow as pa
    >>> r = probability_rows(Signal.is_null(), pa.array([[0.2, 0.8], None, [1.0, float("nan")]]))
    >>> r.lengths.tolist(), r.bad.tolist()
    ([2, 0, 2], [False, True, True])
    """
    t = col.type
    if pa.types.is_null(t):
        return _rows(np.zeros(0), np.zeros(len(col), np.int64))
    if pa.types.is_floating(t) or pa.types.is_integer(t):
        # One probability per row (binary models): P(class 1), so the row is [1 - p, p].
        p = col.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False)
        return _rows(np.stack([1.0 - p, p], axis=1).reshape(-1), np.full(len(p), 2, np.int64))
    if not (pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)):
        raise SignalError(
            f"signal {str(sig)!r}: column {sig.column!r} is {t}; expected a list of class "
            "probabilities per row (or one probability for binary models)"
        )
    lengths = pc.list_value_length(col).fill_null(0).to_numpy(zero_copy_only=False)
    values = pc.list_flatten(col)  # null rows contribute no values
    try:
        values = values.cast(pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SignalError(
            f"signal {str(sig)!r}: column {sig.column!r} holds {values.type}, not probabilities"
        ) from exc
    return _rows(values.fill_null(np.nan).to_numpy(zero_copy_only=False), lengths)


def _rows(flat: np.ndarray, lengths: np.ndarray) -> Rows:
    lengths = lengths.astype(np.int64)
    starts = np.cumsum(lengths) - lengths
    nan_rows = np.zeros(len(lengths), dtype=bool)
    if len(flat):
        nan_rows[np.repeat(np.arange(len(lengths)), lengths)[np.isnan(flat)]] = True
    return Rows(flat.astype(np.float64), starts, lengths, nan_rows | (lengths == 0))


class Margin(Builtin):
    """Top-1 minus top-2 class probability of each row, in [0, 1]; NaN without probabilities.

    A one-class row has margin ``p`` (its runner-up is 0); a binary ``p`` has ``|2p - 1|``.

    >>> import numpy as np
    >>> from curate.batch import Batch
    >>> b = Batch.from_log(np.arange(2), np.zeros(2, np.int64), {"x": [1, 2]},
    ...                    outputs=[[0.5, 0.3, 0.2], [0.45, 0.1, 0.45]])
    >>> (Margin() < 0.1).evaluate(b).tolist()
    [False, True]
    """

    __slots__ = ()

    def __init__(self, column: str = "outputs") -> None:
        super().__init__(f"margin({column})", column)

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {}

    def values(self, batch: Any) -> np.ndarray:
        rows = probability_rows(self, batch_column(self, batch, self.column))
        out = np.full(len(rows.lengths), np.nan)
        ok = ~rows.bad
        if not ok.any():
            return out
        # Sorted within each row (row index first, then value): the last two are the top two.
        ordered = rows.flat[np.lexsort((rows.flat, rows.row_of))]
        ends, n = rows.starts[ok] + rows.lengths[ok], rows.lengths[ok]
        second = np.where(n >= 2, ordered[np.maximum(ends - 2, 0)], 0.0)
        out[ok] = ordered[ends - 1] - second
        return out


class LabelIssue(Builtin):
    """``1 -`` cleanlab's label quality of each row's ground truth: high = likely mislabelled.

    ``gts`` names the ground-truth column: class indices (ints, or floats such as ``2.0``), or
    class names when ``classes`` lists them in the order of the probabilities. Rows of a batch
    logged without any ground truth are NaN (labels may arrive later; this signal scores only
    labels logged with the outputs).

    >>> import numpy as np
    >>> from curate.batch import Batch
    >>> b = Batch.from_log(np.arange(3), np.zeros(3, np.int64), {"x": [1, 2, 3]},
    ...                    outputs=[[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]], gts=["neg", "neg", None])
    >>> (LabelIssue(classes=["neg", "pos"]) > 0.5).evaluate(b).tolist()
    [False, True, False]
    """

    __slots__ = ("gts", "method", "classes")

    def __init__(
        self,
        column: str = "outputs",
        gts: str = "gts",
        method: str = "self_confidence",
        classes: Sequence[str] | None = None,
    ) -> None:
        if method not in LABEL_ISSUE_METHODS:
            raise ValueError(
                f"label_issue: method must be one of {', '.join(LABEL_ISSUE_METHODS)}; "
                f"got {method!r}"
            )
        if classes is not None and (isinstance(classes, str) or not len(classes)):
            raise ValueError(f"label_issue: classes must be a list of class names, got {classes!r}")
        names = None if classes is None else tuple(str(c) for c in classes)
        self._set(gts=gts, method=method, classes=names)
        extras = (f", method={method!r}" if method != "self_confidence" else "") + (
            f", classes={list(names)!r}" if names else ""
        )
        super().__init__(f"label_issue({column}, {gts}{extras})", column)

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {}
        yield {"method": "normalized_margin"}
        yield {"classes": ["a", "b", "c"]}  # names are for text labels; ints still index

    def values(self, batch: Any) -> np.ndarray:
        rows = probability_rows(self, batch_column(self, batch, self.column))
        labels = self._labels(batch)
        n = len(rows.lengths)
        valid = ~rows.bad & ~np.isnan(labels)
        valid[valid] &= labels[valid] < rows.lengths[valid]
        out = np.full(n, np.nan)
        if not valid.any():
            return out
        at = rows.starts[valid] + labels[valid].astype(np.int64)
        quality = rows.flat[at]
        if self.method == "normalized_margin":
            quality = (quality - _best_other(rows, valid, at) + 1.0) / 2.0
        out[valid] = 1.0 - quality
        return out

    def _labels(self, batch: Any) -> np.ndarray:
        """Class indices as floats; NaN where the label is missing or is not an index."""
        try:
            col = batch[self.gts]
        except KeyError as exc:
            if getattr(batch, "gts", None) is None:
                return np.full(len(batch), np.nan)  # no ground truth logged with these rows
            raise SignalError(f"signal {str(self)!r}: {exc.args[0]}") from None
        return label_indices(self, col, self.classes)


def _best_other(rows: Rows, valid: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The highest probability other than the label's, per valid row (0 for one-class rows)."""
    others = rows.flat.copy()
    others[at] = -np.inf
    nonempty = rows.lengths > 0
    best = np.full(len(rows.lengths), -np.inf)
    best[nonempty] = np.maximum.reduceat(others, rows.starts[nonempty]) if len(others) else []
    best = best[valid]
    return np.where(np.isneginf(best), 0.0, best)


def label_indices(sig: Signal, col: pa.Array, classes: Sequence[str] | None) -> np.ndarray:
    """Ground-truth labels as class indices (float, NaN where unknown).

    >>> import pyarrow as pa
    >>> label_indices(Signal.is_null(), pa.array([2, None, -1]), None).tolist()
    [2.0, nan, nan]
    >>> label_indices(Signal.is_null(), pa.array(["b", "z", None]), ["a", "b"]).tolist()
    [1.0, nan, nan]
    """
    t = col.type
    if pa.types.is_dictionary(t):
        col, t = col.cast(t.value_type), t.value_type
    if pa.types.is_null(t):
        return np.full(len(col), np.nan)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        if classes is None:
            raise SignalError(
                f"signal {str(sig)!r}: ground truth {col.type} holds class names; pass "
                "classes=[...] naming the classes in the order of the probabilities"
            )
        found = pc.index_in(col, value_set=pa.array(list(classes), pa.string()))
        return found.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False)
    if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)):
        raise SignalError(
            f"signal {str(sig)!r}: ground truth is {t}; expected class indices or class names"
        )
    x = col.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False).copy()
    with np.errstate(invalid="ignore"):
        x[(x < 0) | (x != np.floor(x))] = np.nan  # not a class index: unknown, not an error
    return x
