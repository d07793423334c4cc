"""The immutable node tree of signal formulas: the :class:`Signal` base and its operators.

Every node (leaf or operator) is a :class:`Signal`. Nodes are immutable and use ``__slots__``:
a formula shares its leaves with other formulas, evaluation caches values by ``id()`` of the
node, and the formula's ``str`` is stored as the *reason* of each edge case, so a node changed
after construction would silently change all three. Leaves live in :mod:`curate.signals.leaf`.

>>> from curate.signals import Signal
>>> a = Signal("a", lambda inputs, outputs, gts=None, extra_args=None: [True])
>>> formula = (Signal.confidence() < 0.6) & ~a
>>> type(formula).__name__, str(formula)
('BoolOp', '(confidence(outputs) < 0.6) & ~a')
"""

from __future__ import annotations

import functools
import operator
import re
from typing import Any

import numpy as np

from curate.signals.constructors import Constructors
from curate.signals.values import as_bool

Cache = dict[int, np.ndarray]

# Python's own precedence, lowest first, so the printed formula parses back the same way.
_PRECEDENCE = {"cmp": 1, "|": 2, "^": 3, "&": 4, "~": 5, "leaf": 6}
_SIMPLE_NAME = re.compile(r"^[\w.]+(\(.*\))?$")


class Signal(Constructors):
    """A named per-row value over a batch: a leaf wrapping a batch function, or a formula.

    ``Signal(name, fn)`` builds the function leaf (:class:`~curate.signals.leaf.FunctionSignal`);
    ``Signal.contains(...)`` and the other constructors build the built-in leaves.

    >>> is_long = Signal("is_long", lambda inputs, outputs, gts=None, extra_args=None:
    ...                  [len(t or "") > 10 for t in inputs["text"]])
    >>> type(is_long).__name__, str(is_long | Signal.is_null("text"))
    ('FunctionSignal', 'is_long | is_null(text)')
    """

    __slots__ = ("name",)
    name: str
    precedence = _PRECEDENCE["leaf"]

    def __new__(cls, *args: Any, **kwargs: Any) -> Signal:
        # UpTrain-style ``Signal("Is Nike?", fn)``: the base stands for the function leaf.
        return object.__new__(_function_leaf() if cls is Signal else cls)

    def _set(self, **attrs: Any) -> None:
        """Set attributes while constructing; :meth:`__setattr__` refuses them afterwards."""
        for attr, value in attrs.items():
            object.__setattr__(self, attr, value)

    def __setattr__(self, attr: str, value: Any) -> None:
        raise AttributeError(_immutable(self, f"set {attr!r} on"))

    def __delattr__(self, attr: str) -> None:
        raise AttributeError(_immutable(self, f"delete {attr!r} of"))

    def __setstate__(self, state: Any) -> None:
        # Unpickling (a distributed engine ships the config to its workers) fills the slots
        # once, as construction does; the default protocol would go through __setattr__.
        dict_state, slots = state if isinstance(state, tuple) else (state, None)
        for attr, value in {**(dict_state or {}), **(slots or {})}.items():
            object.__setattr__(self, attr, value)

    # Immutable, so a copy may be the node itself (the default protocol would set its slots).
    def __copy__(self) -> Signal:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Signal:
        return self

    # -- evaluation ---------------------------------------------------------------------------
    def evaluate(self, batch: Any, cache: Cache | None = None) -> np.ndarray:
        """Values for every row of ``batch`` (bool or float64 numpy array).

        A node shared by several branches is computed once per ``cache``.

        >>> import numpy as np
        >>> from curate.batch import Batch
        >>> b = Batch.from_log(np.arange(2), np.zeros(2, np.int64), {"text": ["a", None]})
        >>> (~Signal.is_null()).evaluate(b).tolist()
        [True, False]
        """
        if cache is None:
            cache = {}
        key = id(self)
        values = cache.get(key)
        if values is None:
            values = cache[key] = self._compute(batch, cache)
        return values

    def _compute(self, batch: Any, cache: Cache) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def evaluate_formula(self, batch: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The formula as a boolean mask, plus each leaf's values keyed by the leaf's text.

        >>> import numpy as np
        >>> from curate.batch import Batch
        >>> b = Batch.from_log(np.arange(2), np.zeros(2, np.int64), {"text": ["a", None]})
        >>> mask, leaves = (~Signal.is_null()).evaluate_formula(b)
        >>> mask.tolist(), {k: v.tolist() for k, v in leaves.items()}
        ([True, False], {'is_null(text)': [False, True]})
        """
        cache: Cache = {}
        mask = as_bool(self, self.evaluate(batch, cache))
        leaves = {str(leaf): cache[id(leaf)] for leaf in self.leaves() if id(leaf) in cache}
        return mask, leaves

    def leaves(self) -> list[Signal]:
        """The leaf signals of this formula, each once, left to right.

        >>> a = Signal.is_null()
        >>> [str(s) for s in ((a & ~a) | (Signal.length() > 3)).leaves()]
        ['is_null(text)', 'length(text)']
        """
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

    # ``==`` builds a Compare node, so dicts and caches key nodes by identity.
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


@functools.cache
def _function_leaf() -> type[Signal]:
    # Imported on first use: the leaves import this module. Cached, as an import statement
    # costs more than building the node.
    from curate.signals.leaf import FunctionSignal

    return FunctionSignal


def _immutable(node: Signal, action: str) -> str:
    return (
        f"cannot {action} {type(node).__name__} signal: signals are immutable because formulas "
        "share their nodes; build a new signal instead"
    )


# -- formula nodes ------------------------------------------------------------------------------


class Const(Signal):
    """A constant (``True``/``False`` or a number) used inside a formula.

    >>> str(Signal.is_null() & True)
    'is_null(text) & True'
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self._set(value=value, name=repr(value))

    def _compute(self, batch: Any, cache: Cache) -> np.ndarray:
        dtype = bool if isinstance(self.value, bool | np.bool_) else np.float64
        return np.full(len(batch), self.value, dtype=dtype)

    def leaves(self) -> list[Signal]:
        return []


class BoolOp(Signal):
    """``left & right``, ``left | right`` or ``left ^ right``, row by row.

    >>> a, b = Signal.is_null(), Signal.is_null("x")
    >>> str(a & (b | a))
    'is_null(text) & (is_null(x) | is_null(text))'
    """

    __slots__ = ("op", "left", "right", "precedence")
    _OPS = {"&": np.logical_and, "|": np.logical_or, "^": np.logical_xor}

    def __init__(self, op: str, left: Signal, right: Signal) -> None:
        self._set(op=op, left=left, right=right, precedence=_PRECEDENCE[op])
        self._set(name=str(self))

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
    """``~operand``: true where the operand is false.

    >>> str(~(Signal.is_null() | Signal.is_null("x")))
    '~(is_null(text) | is_null(x))'
    """

    __slots__ = ("operand",)
    precedence = _PRECEDENCE["~"]

    def __init__(self, operand: Signal) -> None:
        self._set(operand=operand)
        self._set(name=str(self))

    def _compute(self, batch: Any, cache: Cache) -> np.ndarray:
        return ~as_bool(self.operand, self.operand.evaluate(batch, cache))

    def leaves(self) -> list[Signal]:
        return self.operand.leaves()

    def __str__(self) -> str:
        return f"~{_paren(self.operand, self.precedence + 1)}"


class Compare(Signal):
    """``left <op> right`` where ``right`` is a number or another signal; NaN compares false.

    >>> str(Signal.length() >= Signal.length("title"))
    'length(text) >= length(title)'
    """

    __slots__ = ("op", "left", "right")
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
        self._set(op=op, left=left, right=right)
        self._set(name=str(self))

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
