"""Drift as an edge-case signal: rows that fall where the reference has (almost) nothing.

:class:`DriftOutlier` (also ``drift_outlier(...)`` and ``Signal.drift_outlier(...)``) turns a
reference profile into a per-row built-in leaf :class:`~curate.signals.Signal` so drifted rows
can be collected for retraining, e.g. ``Signal.drift_outlier("ref.profile", "text") & product``.

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

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.enums import MeasurableType
from curate.errors import SignalError
from curate.signals.core import Builtin, register_constructor
from monitors.profile import as_profile
from monitors.stats.column_profile import ColumnProfile
from monitors.stats.embedding import embedding_matrix
from monitors.stats.mmd import _sqdist
from monitors.stats.text import as_strings, oov_share_per_row


class DriftOutlier(Builtin):
    """A leaf signal, True for rows of ``column`` outside the reference (see module docs).

    The reference is profiled once, at construction; evaluating reads only the profile.

    >>> import numpy as np
    >>> from curate.batch import Batch
    >>> sig = DriftOutlier({"x": np.linspace(0.0, 2.0, 101)}, "x", tail=0)
    >>> b = Batch.from_log(np.arange(2), np.zeros(2, np.int64), {"x": [1.5, 7.0]})
    >>> str(sig), sig.evaluate(b).tolist()
    ('drift_outlier(x)', [False, True])
    """

    __slots__ = ("measurable", "_test")

    def __init__(
        self,
        profile_or_reference: Any,
        column: str,
        kind: str = "auto",
        *,
        tail: float = 0.001,
        oov_cutoff: float = 0.1,
        measurable: MeasurableType | str = MeasurableType.INPUT_FEATURE,
    ) -> None:
        if not 0 <= tail < 0.5:
            raise ValueError(f"tail must be in [0, 0.5), got {tail!r}")
        if not 0 <= oov_cutoff < 1:
            raise ValueError(f"oov_cutoff must be in [0, 1), got {oov_cutoff!r}")
        kinds = None if kind == "auto" else {column: kind}
        prof = as_profile(profile_or_reference, [column], kinds)[column]
        if kind != "auto" and prof.kind != kind:
            raise ValueError(f"kind={kind!r} but the profile of {column!r} is {prof.kind}")
        self._set(
            measurable=MeasurableType(measurable), _test=_outlier_test(prof, tail, oov_cutoff)
        )
        super().__init__(f"drift_outlier({column})", column)

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        rng = np.random.default_rng(0)
        yield {"profile_or_reference": {"number": rng.normal(size=500)}, "column": "number"}
        yield {
            "profile_or_reference": {"number": rng.normal(size=500)},
            "column": "number",
            "tail": 0,
        }
        yield {"profile_or_reference": {"category": ["red", "green"] * 50}, "column": "category"}
        yield {
            "profile_or_reference": {"text": ["nike shoes are great", "the fit is good"] * 50},
            "column": "text",
            "oov_cutoff": 0.5,
        }
        yield {
            "profile_or_reference": {"embedding": list(rng.normal(size=(200, 4)))},
            "column": "embedding",
            "kind": "embedding",
        }

    def values(self, batch: Any) -> np.ndarray:
        # Errors read as they did when this was an ArrowSignal: "signal 'drift_outlier(x)'
        # raised KeyError: \"inputs has no column 'x'; ...\"".
        try:
            arr = batch.column(self.measurable, self.column)
            return self._test(arr) & arr.is_valid().to_numpy(zero_copy_only=False)
        except Exception as exc:
            raise SignalError(f"signal {self.name!r} raised {type(exc).__name__}: {exc}") from exc


# The constructor's name since it was a function; ``Signal.drift_outlier`` builds the same.
drift_outlier = DriftOutlier


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


register_constructor("drift_outlier", DriftOutlier)
