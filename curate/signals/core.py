"""Signals: per-row predicates and scores, combined into formulas with ``& | ^ ~`` and comparisons.

A leaf wraps a batch function ``fn(inputs, outputs, gts=None, extra_args=None)`` that returns one
bool or number per row; ``inputs`` maps each column to a numpy array of the batch (strings as
``str``, missing values as ``None``). Combining signals builds an immutable tree whose ``str`` is
the readable formula stored as the *reason* of each edge case.

>>> import numpy as np
>>> from curate.batch import Batch
>>> short = Signal("short", lambda inputs, outputs, gts=None, extra_args=None:
...                [t is not None and len(t) < 5 for t in inputs["text"]])
>>> nike = Signal.contains("nike")
>>> formula = nike & ~short
>>> str(formula)
"contains(text, 'nike') & ~short"
>>> batch = Batch.from_log(np.arange(3), np.zeros(3, np.int64),
...                        {"text": ["nike", "nike shoes", None]})
>>> formula.evaluate(batch).tolist()
[False, True, False]
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from curate.errors import SignalError

BatchFn = Callable[..., Sequence[Any]]
Cache = dict[int, np.ndarray]

# Python's own precedence, lowest first, so the printed formula parses back the same way.
_PRECEDENCE = {"cmp": 1, "|": 2, "^": 3, "&": 4, "~": 5, "leaf": 6}
_SIMPLE_NAME = re.compile(r"^[\w.]+(\(.*\))?$")


class Signal:
    """A named per-row value over a batch: a leaf wrapping a batch function, or a formula.

    >>> is_long = Signal("is_long", lambda inputs, outputs, gts=None, extra_args=None:
    ...                  [len(t or "") > 10 for t in inputs["text"]])
    >>> str(is_long | Signal.is_null("text"))
    'is_long | is_null(text)'
    """

    precedence = _PRECEDENCE["leaf"]

    def __init__(self, name: str, fn: BatchFn) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"Signal name must be a non-empty string, got {name!r}")
        if not callable(fn):
            raise TypeError(f"Signal {name!r}: fn must be callable, got {type(fn).__name__}")
        self.name = name
        self.fn = fn

    # -- evaluation ---------------------------------------------------------------------------
    def evaluate(self, batch: Any, cache: Cache | None = None) -> np.ndarray:
        """Values for every row of ``batch`` (bool or float64 numpy array)."""
        cache = {} if cache is None else cache
        key = id(self)
        if key not in cache:
            cache[key] = self._compute(batch, cache)
        return cache[key]

    def _compute(self, batch: Any, cache: Cache) -> np.ndarray:
        try:
            values = self.fn(
                batch.python_inputs(),
                batch.python_part("outputs"),
                gts=batch.python_part("gts"),
                extra_args=batch.extra_args,
            )
        except Exception as exc:
            raise SignalError(f"signal {self.name!r} raised {type(exc).__name__}: {exc}") from exc
        return check_values(self, values, len(batch))

    def evaluate_formula(self, batch: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The formula as a boolean mask, plus each leaf's values keyed by the leaf's text."""
        cache: Cache = {}
        mask = as_bool(self, self.evaluate(batch, cache))
        leaves = {str(leaf): cache[id(leaf)] for leaf in self.leaves() if id(leaf) in cache}
        return mask, leaves

    def leaves(self) -> list[Signal]:
        """The leaf signals of this formula, each once, left to right."""
        return [self]

    # -- algebra --------------------------------------------------------------------------------
    def __and__(self, other: Any) -> Signal:
        return BoolOp("&", self, _wrap(other))

    def __rand__(self, other: Any) -> Signal:
        return BoolOp("&", _wrap(other), self)

    def __or__(self, other: Any) -> Signal:
        return BoolOp("|", self, _wrap(other))

    def __ror__(self, other: Any) -> Signal:
        return BoolOp("|", _wrap(other), self)

    def __xor__(self, other: Any) -> Signal:
        return BoolOp("^", self, _wrap(other))

    def __rxor__(self, other: Any) -> Signal:
        return BoolOp("^", _wrap(other), self)

    def __invert__(self) -> Signal:
        return Not(self)

    def __lt__(self, other: Any) -> Signal:
        return Compare("<", self, other)

    def __le__(self, other: Any) -> Signal:
        return Compare("<=", self, other)

    def __gt__(self, other: Any) -> Signal:
        return Compare(">", self, other)

    def __ge__(self, other: Any) -> Signal:
        return Compare(">=", self, other)

    def __eq__(self, other: Any) -> Signal:  # type: ignore[override]
        return Compare("==", self, other)

    def __ne__(self, other: Any) -> Signal:  # type: ignore[override]
        return Compare("!=", self, other)

    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        raise TypeError(
            f"the truth value of signal {str(self)!r} is per row; combine signals with "
            "& | ^ ~ instead of and/or/not, and parenthesise comparisons: (a < 0.6) & b"
        )

    def __str__(self) -> str:
        return self.name if _SIMPLE_NAME.match(self.name) else repr(self.name)

    def __repr__(self) -> str:
        return f"Signal({str(self)})"

    # -- constructors for the built-in, vectorised signals (see curate.signals.builtins) -------
    @staticmethod
    def arrow(name: str, fn: Callable[[Any], Any]) -> Signal:
        """A leaf computed from the whole :class:`~curate.batch.Batch` (vectorised code).

        >>> import numpy as np
        >>> from curate.batch import Batch
        >>> s = Signal.arrow("first", lambda batch: batch.ids == 0)
        >>> s.evaluate(Batch.from_log(np.arange(2), np.zeros(2, np.int64), {"x": [1, 2]})).tolist()
        [True, False]
        """
        return ArrowSignal(name, fn)

    @staticmethod
    def contains(term: str | Sequence[str], column: str = "text", **kwargs: Any) -> Signal:
        """True where ``column`` contains ``term`` (any of several terms); see ``Contains``."""
        from curate.signals.builtins import Contains

        return Contains(term, column, **kwargs)

    @staticmethod
    def matches(pattern: str, column: str = "text") -> Signal:
        """True where ``column`` matches the regular expression ``pattern`` anywhere."""
        from curate.signals.builtins import Matches

        return Matches(pattern, column)

    @staticmethod
    def is_null(column: str = "text", empty: bool = False) -> Signal:
        """True where ``column`` is missing (None/NaN), or also empty text if ``empty``."""
        from curate.signals.builtins import IsNull

        return IsNull(column, empty)

    @staticmethod
    def length(column: str = "text") -> Signal:
        """Length of text (characters) or of lists in ``column``; NaN where missing."""
        from curate.signals.builtins import Length

        return Length(column)

    @staticmethod
    def in_set(column: str, values: Sequence[Any]) -> Signal:
        """True where ``column``'s value is one of ``values``."""
        from curate.signals.builtins import InSet

        return InSet(column, values)

    @staticmethod
    def confidence(column: str = "outputs") -> Signal:
        """The top class probability of each row's predicted distribution."""
        from curate.signals.builtins import Confidence

        return Confidence(column)

    @staticmethod
    def entropy(column: str = "outputs", normalize: bool = False) -> Signal:
        """Shannon entropy (nats, or in [0, 1] if ``normalize``) of each row's distribution."""
        from curate.signals.builtins import Entropy

        return Entropy(column, normalize)

    @staticmethod
    def drift_outlier(reference: Any, column: str, kind: str = "auto", **kwargs: Any) -> Signal:
        """True for rows from regions the reference never saw (see monitors.drift_signals).

        Provided by the monitors layer, which registers it when imported (``import curate``
        or ``import monitors`` does).
        """
        return constructor("drift_outlier")(reference, column, kind=kind, **kwargs)


_CONSTRUCTORS: dict[str, Callable[..., Signal]] = {}


def register_constructor(name: str, fn: Callable[..., Signal]) -> None:
    """Make ``fn`` the constructor behind ``Signal.<name>`` (for signals of higher layers)."""
    _CONSTRUCTORS[name] = fn


def constructor(name: str) -> Callable[..., Signal]:
    """The registered constructor ``name``, or an error saying which package provides it."""
    try:
        return _CONSTRUCTORS[name]
    except KeyError:
        raise SignalError(
            f"Signal.{name} is provided by the monitors package: import monitors (or curate) "
            "before using it"
        ) from None


def signal(name: str | BatchFn | None = None) -> Any:
    """Decorator that turns a batch function into a :class:`Signal`.

    >>> @signal("Is it short?")
    ... def short(inputs, outputs, gts=None, extra_args=None):
    ...     return [len(t or "") < 5 for t in inputs["text"]]
    >>> str(short)
    "'Is it short?'"
    """
    if callable(name):
        return Signal(name.__name__, name)

    def wrap(fn: BatchFn) -> Signal:
        return Signal(name or fn.__name__, fn)

    return wrap


class ArrowSignal(Signal):
    """A leaf computed by ``fn(batch)`` with vectorised code (Arrow, numpy, rapidfuzz)."""

    def _compute(self, batch: Any, cache: Cache) -> np.ndarray:
        try:
            values = self.fn(batch)
        except SignalError:
            raise
        except Exception as exc:
            raise SignalError(f"signal {self.name!r} raised {type(exc).__name__}: {exc}") from exc
        return check_values(self, values, len(batch))


class Const(Signal):
    """A constant (``True``/``False`` or a number) used inside a formula."""

    def __init__(self, value: Any) -> None:
        self.value = value
        self.name = repr(value)

    def _compute(self, batch: Any, cache: Cache) -> np.ndarray:
        dtype = bool if isinstance(self.value, bool | np.bool_) else np.float64
        return np.full(len(batch), self.value, dtype=dtype)

    def leaves(self) -> list[Signal]:
        return []


class BoolOp(Signal):
    """``left & right``, ``left | right`` or ``left ^ right``, row by row."""

    _OPS = {"&": np.logical_and, "|": np.logical_or, "^": np.logical_xor}

    def __init__(self, op: str, left: Signal, right: Signal) -> None:
        self.op, self.left, self.right = op, left, right
        self.precedence = _PRECEDENCE[op]
        self.name = str(self)

    def _compute(self, batch: Any, cache: Cache) -> np.ndarray:
        left = as_bool(self.left, self.left.evaluate(batch, cache))
        right = as_bool(self.right, self.right.evaluate(batch, cache))
        return self._OPS[self.op](left, right)

    def leaves(self) -> list[Signal]:
        return _unique([*self.left.leaves(), *self.right.leaves()])

    def __str__(self) -> str:
        # & | ^ are associative, so an operand of the same operator needs no parentheses.
        return (
            f"{_paren(self.left, self.precedence)} {self.op} {_paren(self.right, self.precedence)}"
        )


class Not(Signal):
    """``~operand``: true where the operand is false."""

    precedence = _PRECEDENCE["~"]

    def __init__(self, operand: Signal) -> None:
        self.operand = operand
        self.name = str(self)

    def _compute(self, batch: Any, cache: Cache) -> np.ndarray:
        return ~as_bool(self.operand, self.operand.evaluate(batch, cache))

    def leaves(self) -> list[Signal]:
        return self.operand.leaves()

    def __str__(self) -> str:
        return f"~{_paren(self.operand, self.precedence + 1)}"


class Compare(Signal):
    """``left <op> right`` where ``right`` is a number or another signal; NaN compares false."""

    precedence = _PRECEDENCE["cmp"]
    _OPS = {
        "<": operator.lt,
        "<=": operator.le,
        ">": operator.gt,
        ">=": operator.ge,
        "==": operator.eq,
        "!=": operator.ne,
    }

    def __init__(self, op: str, left: Signal, right: Any) -> None:
        if not isinstance(right, Signal) and not isinstance(right, int | float | np.number):
            raise TypeError(
                f"cannot compare signal {str(left)!r} with {type(right).__name__}; "
                "compare with a number or another signal"
            )
        self.op, self.left, self.right = op, left, right
        self.name = str(self)

    def _compute(self, batch: Any, cache: Cache) -> np.ndarray:
        left = self.left.evaluate(batch, cache).astype(np.float64)
        right = (
            self.right.evaluate(batch, cache).astype(np.float64)
            if isinstance(self.right, Signal)
            else float(self.right)
        )
        with np.errstate(invalid="ignore"):
            out = self._OPS[self.op](left, right)
        if self.op == "!=":
            # NaN != x is true in IEEE arithmetic, but a missing value is not "different".
            out &= ~np.isnan(left) & ~np.isnan(right)
        return out

    def leaves(self) -> list[Signal]:
        right = self.right.leaves() if isinstance(self.right, Signal) else []
        return _unique([*self.left.leaves(), *right])

    def __str__(self) -> str:
        right = (
            _paren(self.right, self.precedence + 1)
            if isinstance(self.right, Signal)
            else repr(self.right)
        )
        return f"{_paren(self.left, self.precedence + 1)} {self.op} {right}"


# -- helpers ----------------------------------------------------------------------------------


def _wrap(other: Any) -> Signal:
    if isinstance(other, Signal):
        return other
    if isinstance(other, bool | np.bool_):
        return Const(bool(other))
    raise TypeError(
        f"cannot combine a signal with {type(other).__name__}; both sides of & | ^ must be "
        "signals (compare numbers first: Signal.confidence() < 0.6)"
    )


def _paren(node: Signal, parent_precedence: int) -> str:
    text = str(node)
    return f"({text})" if node.precedence < parent_precedence else text


def _unique(signals: list[Signal]) -> list[Signal]:
    seen: dict[int, Signal] = {}
    for s in signals:
        seen.setdefault(id(s), s)
    return list(seen.values())


def check_values(sig: Signal, values: Any, n: int) -> np.ndarray:
    """A signal's raw output as a 1-D bool or float64 array of length ``n``, or a SignalError."""
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
        for i, v in enumerate(arr):
            if not isinstance(v, bool | int | float | np.bool_ | np.number):
                raise SignalError(
                    f"signal {sig.name!r} returned {type(v).__name__} {v!r} at row {i}; "
                    "expected a bool or a number per row"
                )
        if all(isinstance(v, bool | np.bool_) for v in arr):
            return arr.astype(bool)
        return arr.astype(np.float64)
    raise SignalError(
        f"signal {sig.name!r} returned values of dtype {arr.dtype}; expected bools or numbers"
    )


def _is_arrow(values: Any) -> bool:
    return type(values).__module__.startswith("pyarrow")


def as_bool(sig: Signal, values: np.ndarray) -> np.ndarray:
    """Values used as a predicate: bools, or numbers that are all 0 or 1."""
    if values.dtype == bool:
        return values
    finite = values[~np.isnan(values)]
    if np.isin(finite, (0.0, 1.0)).all():
        return np.nan_to_num(values, nan=0.0).astype(bool)
    raise SignalError(
        f"signal {str(sig)!r} returns numbers, not true/false; compare it to make a predicate, "
        f"e.g. ({sig} > 0.5)"
    )
