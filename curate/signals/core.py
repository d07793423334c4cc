"""Signals: per-row predicates and scores, combined into formulas with ``& | ^ ~`` and comparisons.

A leaf wraps a batch function ``fn(inputs, outputs, gts=None, extra_args=None)`` that returns one
bool or number per row; ``inputs`` maps each column to a numpy array of the batch (strings as
``str``, missing values as ``None``). Combining signals builds an immutable tree whose ``str`` is
the readable formula stored as the *reason* of each edge case.

The code is split by concern; this module gathers the names so imports from
``curate.signals.core`` keep working:

* :mod:`curate.signals.node`: the immutable :class:`Signal` base and the formula nodes
  (:class:`BoolOp`, :class:`Not`, :class:`Compare`, :class:`Const`);
* :mod:`curate.signals.leaf`: the leaves (:class:`FunctionSignal`, :class:`ArrowSignal`,
  :class:`Builtin` and its :data:`BUILTINS` registry) and the :func:`signal` decorator;
* :mod:`curate.signals.constructors`: ``Signal.contains(...)`` and the other constructors,
  :func:`register_constructor` and :func:`constructor`;
* :mod:`curate.signals.values`: :func:`check_values` and :func:`as_bool`.

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

from curate.signals.constructors import Constructors, constructor, register_constructor
from curate.signals.leaf import (
    BUILTINS,
    ArrowSignal,
    BatchFn,
    Builtin,
    FunctionSignal,
    signal,
)
from curate.signals.node import BoolOp, Cache, Compare, Const, Not, Signal
from curate.signals.values import as_bool, check_values

__all__ = [
    "BUILTINS",
    "ArrowSignal",
    "BatchFn",
    "BoolOp",
    "Builtin",
    "Cache",
    "Compare",
    "Const",
    "Constructors",
    "FunctionSignal",
    "Not",
    "Signal",
    "as_bool",
    "check_values",
    "constructor",
    "register_constructor",
    "signal",
]
