"""UpTrain's model signals, and calling UpTrain signal functions the way UpTrain did.

``Signal(name, fn, extra_args=...)`` and ``Signal(ModelSignal.X, is_model_signal=True)`` are
curate's own :class:`~curate.signals.Signal`; this module registers the functions behind
UpTrain's :class:`~curate.compat.names.ModelSignal` members and gives UpTrain's CUSTOM
measurables a function leaf's raw result (numbers, vectors: anything the function returns).

>>> import numpy as np
>>> from curate.signals import Signal
>>> conf = Signal(ModelSignal.CROSS_ENTROPY_CONFIDENCE, is_model_signal=True)
>>> str(conf), call_signal(conf, {}, np.array([[0.0, 0.0], [10.0, 0.0]])).round(3).tolist()
('ModelSignal.CROSS_ENTROPY_CONFIDENCE', [0.5, 1.0])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from curate.compat.names import ModelSignal
from curate.errors import SignalError
from curate.signals.leaf import MODEL_SIGNALS, FunctionSignal


def _rows(inputs: Any, outputs: Any) -> int:
    if outputs is not None:
        return len(outputs)
    return len(next(iter(v for k, v in inputs.items() if k != "id")))


def cross_entropy_confidence(inputs: Any, outputs: Any, gts: Any = None, extra_args: Any = None):
    """Top softmax probability of each row's logits."""
    logits = np.reshape(np.asarray(outputs, dtype=float), (len(outputs), -1))
    logits = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (logits / logits.sum(axis=1, keepdims=True)).max(axis=1)


def binary_entropy_confidence(inputs: Any, outputs: Any, gts: Any = None, extra_args: Any = None):
    """Confidence of a binary probability: ``p`` above 0.5, ``1 - p`` below."""
    conf = np.reshape(np.asarray(outputs, dtype=float), -1)
    return np.where(conf >= 0.5, conf, 1 - conf)


def pass_all(inputs: Any, outputs: Any, gts: Any = None, extra_args: Any = None) -> np.ndarray:
    """True for every row."""
    return np.ones(_rows(inputs, outputs), dtype=bool)


def pass_none(inputs: Any, outputs: Any, gts: Any = None, extra_args: Any = None) -> np.ndarray:
    """False for every row (UpTrain's default formula)."""
    return np.zeros(_rows(inputs, outputs), dtype=bool)


MODEL_SIGNALS.update({
    ModelSignal.DEFAULT: pass_none,
    ModelSignal.CROSS_ENTROPY_CONFIDENCE: cross_entropy_confidence,
    ModelSignal.BINARY_ENTROPY_CONFIDENCE: binary_entropy_confidence,
    ModelSignal.PASS_ALL: pass_all,
})  # fmt: skip


def row_ids(batch: Any) -> np.ndarray:
    """The ids UpTrain code sees: the logged identifiers when there are any, else the row ids."""
    if batch.identifiers is not None and batch.identifiers.num_columns == 1:
        return np.asarray(batch.identifiers.column(0).to_pylist(), dtype=object)
    return batch.ids


def call_signal(formula: Any, inputs: dict[str, Any], outputs: Any = None, gts: Any = None,
                extra: dict[str, Any] | None = None) -> Any:  # fmt: skip
    """A signal's values on UpTrain-style arguments: a function leaf's raw result, or a formula's."""
    if isinstance(formula, FunctionSignal) and type(formula) is FunctionSignal:
        extra_args = {**(extra or {}), **formula.extra_args}
        try:
            return np.asarray(formula.fn(inputs, outputs, gts=gts, extra_args=extra_args))
        except Exception as exc:
            raise SignalError(
                f"signal {formula.name!r} raised {type(exc).__name__}: {exc}"
            ) from exc
    from curate.batch import Batch

    columns = {k: v for k, v in inputs.items() if k != "id"}
    n = _rows(columns, outputs)
    batch = Batch.from_log(np.arange(n), np.zeros(n, np.int64), columns, outputs)
    return formula.evaluate(batch)
