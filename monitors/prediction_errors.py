"""Which logged rows the model got wrong: the prediction in ``outputs`` against ``gts``.

Signal analysis measures a formula's *precision*: the share of the labelled rows it selects that
the model mispredicted (edge cases are the rows the model gets wrong). The prediction is read
from ``outputs`` as the signals read it (:mod:`curate.signals.uncertainty`):

* class probabilities per row (a list, or a fixed-size list): the argmax;
* one number per row: a class index when every value is a whole number, else ``P(class 1)`` of
  a binary model when all lie in [0, 1] (predicted class ``p >= 0.5``); other numbers (a
  regression) have no class, so no precision;
* a class name (string) or a bool.

Ground truth is a class index (ints, or floats such as ``2.0``), a bool, or a class name. A
name compares with a name and an index with an index; a row with a null, NaN, negative or
fractional label, or a null prediction, is unlabelled. With several ``outputs``/``gts``
columns, ``gts.<key>`` is compared with ``outputs.<key>``.

>>> import numpy as np
>>> from curate.batch import Batch
>>> b = Batch.from_log(np.arange(4), np.zeros(4, np.int64), {"x": [1, 2, 3, 4]},
...                    outputs=[[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], None], gts=[0, 0, None, 1])
>>> labelled, wrong = prediction_errors(b)
>>> labelled.tolist(), wrong.tolist()
([True, True, False, False], [False, True, False, False])
>>> prediction_errors(Batch.from_log(np.arange(1), np.zeros(1, np.int64), {"x": [1]})) is None
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def prediction_errors(batch: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """``(labelled, wrong)`` masks of ``batch``; ``None`` when it cannot say for any row (no
    ground truth logged, no single prediction column, or kinds that do not compare)."""
    pair = _columns(batch)
    if pair is None:
        return None
    pred, truth = _classes(pair[0], prediction=True), _classes(pair[1], prediction=False)
    if pred is None or truth is None or pred.dtype.kind != truth.dtype.kind:
        return None
    if pred.dtype.kind == "f":
        labelled = ~(np.isnan(pred) | np.isnan(truth))
        return labelled, labelled & (pred != truth)
    labelled = (pred != None) & (truth != None)  # noqa: E711 - class names; None: missing
    wrong = np.zeros(len(labelled), dtype=bool)
    wrong[labelled] = pred[labelled] != truth[labelled]
    return labelled, wrong


def _columns(batch: Any) -> tuple[pa.Array, pa.Array] | None:
    outputs, gts = getattr(batch, "outputs", None), getattr(batch, "gts", None)
    if outputs is None or gts is None or not outputs.num_columns or not gts.num_columns:
        return None
    truth_name = _single(gts, "gts")
    if truth_name is None:
        return None
    key = truth_name.partition(".")[2]
    pred_name = f"outputs.{key}" if key and f"outputs.{key}" in outputs.column_names else None
    pred_name = pred_name or _single(outputs, "outputs")
    if pred_name is None:
        return None
    return outputs.column(pred_name).combine_chunks(), gts.column(truth_name).combine_chunks()


def _single(table: pa.Table, part: str) -> str | None:
    if part in table.column_names:
        return part
    return table.column_names[0] if table.num_columns == 1 else None


def _classes(col: pa.Array, prediction: bool) -> np.ndarray | None:
    """Class indices (float, NaN unknown) or class names (object, None unknown) of a column;
    a fractional ``prediction`` is a binary model's probability, a fractional label unknown."""
    t = col.type
    if pa.types.is_dictionary(t):
        col, t = col.cast(t.value_type), t.value_type
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return _argmax(col)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return np.asarray(col.to_pylist(), dtype=object)
    if pa.types.is_null(t):
        return np.full(len(col), np.nan)
    if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)):
        return None
    x = col.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False).copy()
    if not pa.types.is_floating(t):  # whole numbers already: only a negative is no class
        with np.errstate(invalid="ignore"):
            x[x < 0] = np.nan
        return x
    finite = x[np.isfinite(x)]
    if prediction and (finite != np.floor(finite)).any():
        if ((finite < 0) | (finite > 1)).any():
            return None  # a regression output: no class to be right or wrong about
        return np.where(np.isnan(x), np.nan, (x >= 0.5).astype(np.float64))
    with np.errstate(invalid="ignore"):
        x[(x < 0) | ~np.isfinite(x) | (x != np.floor(x))] = np.nan
    return x


def _argmax(col: pa.Array) -> np.ndarray:
    """The index of each row's largest probability (NaN for a null, empty or NaN row)."""
    lengths = pc.list_value_length(col).fill_null(0).to_numpy(zero_copy_only=False)
    flat = pc.list_flatten(col).cast(pa.float64()).fill_null(np.nan)
    flat = flat.to_numpy(zero_copy_only=False)
    out = np.full(len(lengths), np.nan)
    if len(lengths) and lengths.min() == lengths.max() > 0:
        # Every row has k probabilities (a 2-D array logged): one argmax over a matrix.
        grid = flat.reshape(len(lengths), -1)
        bad = np.isnan(flat)
        if bad.any():
            grid = np.where(np.isnan(grid), -np.inf, grid)
        out = _argmax_rows(grid)
        if bad.any():
            out[bad.reshape(grid.shape).any(axis=1)] = np.nan
        return out
    rows = np.flatnonzero(lengths > 0)
    if not len(rows):
        return out
    starts = (np.cumsum(lengths) - lengths)[rows]
    row_of = np.repeat(np.arange(len(rows)), lengths[rows])
    bad = np.zeros(len(rows), dtype=bool)
    bad[row_of[np.isnan(flat)]] = True
    best = np.maximum.reduceat(np.nan_to_num(flat, nan=-np.inf), starts)
    hit = np.flatnonzero(flat == best[row_of])
    first = hit[np.unique(row_of[hit], return_index=True)[1]]
    index = (first - starts[row_of[first]]).astype(np.float64)
    found = np.full(len(rows), np.nan)
    found[row_of[first]] = index
    found[bad] = np.nan
    out[rows] = found
    return out


def _argmax_rows(grid: np.ndarray) -> np.ndarray:
    """``argmax(grid, axis=1)`` as floats, first maximum on ties; column by column for a few
    classes, where numpy's reduction over a short inner axis is slow."""
    if grid.shape[1] > 16:
        return np.argmax(grid, axis=1).astype(np.float64)
    best = grid[:, 0].copy()
    out = np.zeros(len(grid), dtype=np.float64)
    for j in range(1, grid.shape[1]):
        better = grid[:, j] > best
        out[better] = j
        np.maximum(best, grid[:, j], out=best)
    return out
