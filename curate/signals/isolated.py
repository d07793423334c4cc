"""Formulas evaluated so that a failing leaf costs only the rows it could have changed.

A leaf that raises (a model endpoint timing out, a bug in a user function) makes its values
*unknown* for the batch. The operators then follow Kleene's three-valued logic: ``True | ?`` is
true and ``False & ?`` is false, so those rows are decided by the other side; every other row
whose value depends on the failed leaf is unknown, and the caller keeps it apart with the error
instead of guessing.

>>> import numpy as np
>>> from curate.batch import Batch
>>> from curate.signals import Signal
>>> def boom(inputs, outputs, gts=None, extra_args=None):
...     raise TimeoutError("endpoint timed out")
>>> b = Batch.from_log(np.arange(3), np.zeros(3, np.int64), {"text": ["nike", "adidas", None]})
>>> out = evaluate_isolated(Signal("boom", boom) | Signal.contains("nike"), b)
>>> out.mask.tolist(), out.unknown.tolist(), sorted(out.errors)
([True, False, False], [False, True, True], ['boom'])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from curate.signals.node import BoolOp, Cache, Compare, Const, Not, Signal
from curate.signals.values import as_bool


@dataclass
class Isolated:
    """A formula's outcome on one batch when some of its leaves may have failed.

    ``mask`` is true where the formula is known to be true, ``unknown`` where it depends on a
    failed leaf, ``leaves`` holds the values of the leaves that ran (keyed by leaf text) and
    ``errors`` the exception of each leaf that failed.
    """

    mask: np.ndarray
    unknown: np.ndarray
    leaves: dict[str, np.ndarray] = field(default_factory=dict)
    errors: dict[str, BaseException] = field(default_factory=dict)

    def failed_leaves(self) -> str:
        """The failed leaves, as ``a, b`` (empty when none failed).

        >>> Isolated(np.ones(1, bool), np.zeros(1, bool), errors={"a": ValueError()}).failed_leaves()
        'a'
        """
        return ", ".join(self.errors)


def evaluate_isolated(formula: Signal, batch: Any) -> Isolated:
    """Evaluate ``formula`` on ``batch``; a raising leaf makes only the rows it decides unknown.

    Operator errors (a number used as a predicate) are errors of the formula itself and still
    raise: they would fail on every batch, whatever the data.

    >>> import numpy as np
    >>> from curate.batch import Batch
    >>> from curate.signals import Signal
    >>> b = Batch.from_log(np.arange(2), np.zeros(2, np.int64), {"text": ["a", None]})
    >>> out = evaluate_isolated(~Signal.is_null(), b)
    >>> out.mask.tolist(), bool(out.unknown.any()), out.errors
    ([True, False], False, {})
    """
    cache: Cache = {}
    unknown: dict[int, np.ndarray] = {}
    errors: dict[str, BaseException] = {}
    _walk(formula, batch, cache, unknown, errors)
    values = as_bool(formula, cache[id(formula)])
    u = unknown.get(id(formula), np.zeros(len(batch), dtype=bool))
    leaves = {
        str(leaf): cache[id(leaf)]
        for leaf in formula.leaves()
        if id(leaf) in cache and str(leaf) not in errors
    }
    return Isolated(values & ~u, u, leaves, errors)


def _walk(
    node: Signal,
    batch: Any,
    cache: Cache,
    unknown: dict[int, np.ndarray],
    errors: dict[str, BaseException],
) -> None:
    """Fill ``cache`` (values) and ``unknown`` (masks) for ``node`` and its subtree."""
    key = id(node)
    if key in cache:
        return
    children = _children(node)
    if not children and not isinstance(node, Const):
        try:
            cache[key] = node.evaluate(batch, cache)
        except Exception as exc:  # noqa: BLE001 - a failing leaf is isolated, not raised
            errors[str(node)] = exc
            # Any placeholder will do: every row it could decide is marked unknown.
            cache[key] = np.zeros(len(batch), dtype=bool)
            unknown[key] = np.ones(len(batch), dtype=bool)
        return
    for child in children:
        _walk(child, batch, cache, unknown, errors)
    cache[key] = node.evaluate(batch, cache)  # children are cached: only this operator runs
    masks = [unknown.get(id(c)) for c in children]
    if any(m is not None for m in masks):
        unknown[key] = _unknown(node, children, masks, cache)


def _children(node: Signal) -> list[Signal]:
    if isinstance(node, BoolOp):
        return [node.left, node.right]
    if isinstance(node, Not):
        return [node.operand]
    if isinstance(node, Compare):
        return [node.left, *([node.right] if isinstance(node.right, Signal) else [])]
    return []


def _unknown(
    node: Signal, children: list[Signal], masks: list[np.ndarray | None], cache: Cache
) -> np.ndarray:
    n = len(cache[id(node)])
    us = [np.zeros(n, dtype=bool) if m is None else m for m in masks]
    either = np.logical_or.reduce(us)
    if isinstance(node, BoolOp) and node.op in ("&", "|"):
        # A side known to be false decides ``&``; a side known to be true decides ``|``.
        decisive = node.op == "|"
        decided = np.zeros(n, dtype=bool)
        for child, u in zip(children, us, strict=True):
            decided |= (as_bool(child, cache[id(child)]) == decisive) & ~u
        return either & ~decided
    return either
