"""What a signal may return: one bool or number per row, checked and normalised to numpy.

Every leaf passes its raw output through :func:`check_values`; boolean operators read their
operands through :func:`as_bool`. Both name the signal in their errors, since the user sees
only the formula.

>>> import numpy as np
>>> from curate.signals import Signal
>>> s = Signal("s", lambda inputs, outputs, gts=None, extra_args=None: [1, 0])
>>> check_values(s, [1, 0], 2).dtype, as_bool(s, np.array([1.0, 0.0])).tolist()
(dtype('float64'), [True, False])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from curate.errors import SignalError

if TYPE_CHECKING:
    from curate.signals.node import Signal


def check_values(sig: Signal, values: Any, n: int) -> np.ndarray:
    """A signal's raw output as a 1-D bool or float64 array of length ``n``, or a SignalError.

    >>> import numpy as np
    >>> from curate.signals import Signal
    >>> s = Signal("s", lambda inputs, outputs, gts=None, extra_args=None: [])
    >>> check_values(s, [True, False], 2).tolist()
    [True, False]
    """
    if values is None:
        raise SignalError(f"signal {sig.name!r} returned None; it must return one value per row")
    if hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):
        values = values.to_numpy(zero_copy_only=False) if _is_arrow(values) else values.to_numpy()
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise SignalError(f"signal {sig.name!r} returned values numpy cannot read: {exc}") from exc
    if arr.ndim != 1 or len(arr) != n:
        got = f"shape {arr.shape}" if arr.ndim != 1 else f"{len(arr)} values"
        raise SignalError(
            f"signal {sig.name!r} returned {got} for a batch of {n} rows; "
            "it must return one bool or number per row"
        )
    if arr.dtype == bool:
        return arr
    if arr.dtype.kind in "iuf":
        return arr.astype(np.float64, copy=False)
    if arr.dtype == object:
        return _object_values(sig, arr)
    raise SignalError(
        f"signal {sig.name!r} returned values of dtype {arr.dtype}; expected bools or numbers"
    )


def _object_values(sig: Signal, arr: np.ndarray) -> np.ndarray:
    for i, v in enumerate(arr):
        if not isinstance(v, bool | int | float | np.bool_ | np.number):
            raise SignalError(
                f"signal {sig.name!r} returned {type(v).__name__} {v!r} at row {i}; "
                "expected a bool or a number per row"
            )
    if all(isinstance(v, bool | np.bool_) for v in arr):
        return arr.astype(bool)
    return arr.astype(np.float64)


def _is_arrow(values: Any) -> bool:
    return type(values).__module__.startswith("pyarrow")


def as_bool(sig: Signal, values: np.ndarray) -> np.ndarray:
    """Values used as a predicate: bools, or numbers that are all 0 or 1.

    >>> import numpy as np
    >>> from curate.signals import Signal
    >>> s = Signal("s", lambda inputs, outputs, gts=None, extra_args=None: [])
    >>> as_bool(s, np.array([1.0, np.nan, 0.0])).tolist()
    [True, False, False]
    """
    if values.dtype == bool:
        return values
    finite = values[~np.isnan(values)]
    if np.isin(finite, (0.0, 1.0)).all():
        return np.nan_to_num(values, nan=0.0).astype(bool)
    raise SignalError(
        f"signal {str(sig)!r} returns numbers, not true/false; compare it to make a predicate, "
        f"e.g. ({sig} > 0.5)"
    )
