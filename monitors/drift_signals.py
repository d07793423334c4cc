"""Drift as an edge-case signal: rows that fall where the reference has (almost) nothing.

:func:`drift_outlier` turns a reference profile into a per-row leaf
:class:`~curate.signals.Signal` (``Signal.drift_outlier(...)``) so drifted rows can be collected
for retraining, e.g. ``Signal.drift_outlier("ref.profile", "text") & is_product``.

What counts as an outlier, by column kind:

* numeric: a value below the reference's ``tail`` quantile or above its ``1 - tail`` quantile
  (``tail=0`` means outside the reference's [min, max]);
* categorical: a value the reference never had (when the profile kept every category; with
  more than ``max_categories`` categories the rare ones count as unseen too);
* text: a row whose share of words missing from the reference vocabulary is above
  ``oov_cutoff`` (default 0.1: one new word in a five-word review qualifies, one in ten does not);
* embedding: a vector further from every reference sample vector than 99% of the reference
  sample is from its own nearest neighbour.

Missing values are never outliers (integrity checks own them).

>>> import numpy as np
>>> from curate.batch import Batch
>>> ref = {"text": ["nike shoes are great", "the shoes fit well"] * 50}
>>> sig = drift_outlier(ref, "text")
>>> batch = Batch.from_log(np.arange(3), np.zeros(3, np.int64),
...                        {"text": ["nike shoes fit", "zoomx pegasus shoes", None]})
>>> sig.evaluate(batch).tolist()
[False, True, False]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.enums import MeasurableType
from curate.signals.core import Signal, register_constructor
from monitors.profile import as_profile
from monitors.stats.columns import ColumnProfile, embedding_matrix
from monitors.stats.mmd import _sqdist
from monitors.stats.text import as_strings, oov_share_per_row


def drift_outlier(
    profile_or_reference: Any,
    column: str,
    kind: str = "auto",
    *,
    tail: float = 0.001,
    oov_cutoff: float = 0.1,
    measurable: MeasurableType | str = MeasurableType.INPUT_FEATURE,
):
    """A leaf signal, True for rows of ``column`` outside the reference (see module docs)."""
    if not 0 <= tail < 0.5:
        raise ValueError(f"tail must be in [0, 0.5), got {tail!r}")
    if not 0 <= oov_cutoff < 1:
        raise ValueError(f"oov_cutoff must be in [0, 1), got {oov_cutoff!r}")
    kinds = None if kind == "auto" else {column: kind}
    prof = as_profile(profile_or_reference, [column], kinds)[column]
    if kind != "auto" and prof.kind != kind:
        raise ValueError(f"kind={kind!r} but the profile of {column!r} is {prof.kind}")
    test = _outlier_test(prof, tail, oov_cutoff)
    measurable = MeasurableType(measurable)

    def fn(batch: Any) -> np.ndarray:
        arr = batch.column(measurable, column)
        return test(arr) & arr.is_valid().to_numpy(zero_copy_only=False)

    return Signal.arrow(f"drift_outlier({column})", fn)


def _outlier_test(prof: ColumnProfile, tail: float, oov_cutoff: float) -> Callable:
    if prof.kind == "numeric":
        lo, hi = (prof.min, prof.max) if tail == 0 else np.quantile(prof.values, [tail, 1 - tail])
        return lambda arr: _outside(arr, float(lo), float(hi))
    if prof.kind == "categorical":
        keys = pa.array(prof.keys, pa.string())
        return lambda arr: (
            ~pc.fill_null(pc.is_in(as_strings(arr), value_set=keys), True).to_numpy(
                zero_copy_only=False
            )
        )
    if prof.kind == "text":
        vocab = pa.array(prof.vocab, pa.string())
        return lambda arr: oov_share_per_row(arr, vocab) > oov_cutoff
    return lambda arr: _far_vectors(arr, prof.sample, prof.nn_cutoff)


def _outside(arr: pa.Array, lo: float, hi: float) -> np.ndarray:
    x = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        return (x < lo) | (x > hi)


def _far_vectors(arr: pa.Array, sample: np.ndarray, cutoff: float) -> np.ndarray:
    out = np.zeros(len(arr), dtype=bool)
    mat, valid = embedding_matrix(arr)
    if len(mat) and mat.shape[1] == sample.shape[1]:
        nearest = np.sqrt(_sqdist(mat, sample).min(axis=1))
        out[np.flatnonzero(valid)] = nearest > cutoff
    return out


register_constructor("drift_outlier", drift_outlier)
