"""A formula's predicates, their values on a batch, and the formula re-decided without each one.

Signal analysis looks at a formula as a boolean skeleton (``&``, ``|``, ``^``, ``~`` and
constants) over *predicates*: the largest parts that are not boolean operators, each a boolean
signal (``contains(text, 'nike')``) or a comparison (``confidence(outputs) < 0.6``). They play
the part of Snorkel's labelling functions: a numeric leaf such as ``confidence(outputs)`` has
no coverage of its own, the predicate built from it has. Predicates with the same text are one.

A leaf that failed on a batch (:mod:`curate.signals.isolated`) makes the predicates built on
it unknown; the skeleton follows Kleene's logic as the monitor does, so the formula's known-true
rows here are exactly the rows the monitor selects. :func:`marginal` re-decides the formula's
selected rows with one predicate forced false, for every predicate at once.

>>> import numpy as np
>>> from curate.batch import Batch
>>> from curate.signals import Signal
>>> from curate.signals.isolated import evaluate_isolated
>>> f = Signal.contains("nike") & (Signal.length() > 5) | Signal.is_null()
>>> sk = skeleton(f)
>>> sk.names
("contains(text, 'nike')", 'length(text) > 5', 'is_null(text)')
>>> b = Batch.from_log(np.arange(3), np.zeros(3, np.int64), {"text": ["nike air", "nike", None]})
>>> values, unknown = predicate_values(sk, b, evaluate_isolated(f, b).leaves)
>>> values.tolist()
[[True, True, False], [True, False, False], [False, False, True]]
>>> marginal(sk, values, unknown, np.array([True, False, True])).tolist()
[[True, True, False], [False, False, False], [False, False, True]]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from curate.signals.node import BoolOp, Cache, Compare, Const, Not, Signal
from curate.signals.values import as_bool

#: A node of the skeleton: ``("p", i)`` predicate ``i``, ``("c", bool)`` a constant,
#: ``("~", child)`` or ``(op, left, right)`` with ``op`` one of ``& | ^``.
Tree = tuple[Any, ...]
#: Per predicate, the rows where it is unknown (``None``: known on every row).
Unknown = list[np.ndarray | None]


@dataclass(frozen=True)
class Skeleton:
    """The boolean structure of a formula over its distinct predicates.

    >>> from curate.signals import Signal
    >>> a = Signal.is_null()
    >>> sk = skeleton((a & ~a) ^ True)
    >>> sk.names, sk.tree
    (('is_null(text)',), ('^', ('&', ('p', 0), ('~', ('p', 0))), ('c', True)))
    """

    formula: Signal
    predicates: tuple[Signal, ...]
    names: tuple[str, ...]
    tree: Tree


def skeleton(formula: Signal) -> Skeleton:
    """The :class:`Skeleton` of ``formula``.

    >>> from curate.signals import Signal
    >>> skeleton(Signal.confidence() < 0.6).names
    ('confidence(outputs) < 0.6',)
    """
    found: dict[str, int] = {}
    predicates: list[Signal] = []

    def build(node: Signal) -> Tree:
        if isinstance(node, BoolOp):
            return (node.op, build(node.left), build(node.right))
        if isinstance(node, Not):
            return ("~", build(node.operand))
        if isinstance(node, Const) and isinstance(node.value, bool | np.bool_):
            return ("c", bool(node.value))
        name = str(node)
        if name not in found:
            found[name] = len(predicates)
            predicates.append(node)
        return ("p", found[name])

    tree = build(formula)
    return Skeleton(formula, tuple(predicates), tuple(str(p) for p in predicates), tree)


def predicate_values(
    sk: Skeleton, batch: Any, leaves: dict[str, np.ndarray]
) -> tuple[np.ndarray, Unknown]:
    """Each predicate's value per row (``n x L`` bools) and where it is unknown.

    ``leaves`` are the values of the leaves that ran (``Isolated.leaves``); a leaf missing from
    it failed. Only operators are computed here: every leaf's value is taken from ``leaves``,
    so no user function runs twice.
    """
    n = len(batch)
    cache: Cache = {}
    failed: set[int] = set()
    for leaf in sk.formula.leaves():
        values = leaves.get(str(leaf))
        if values is None:
            failed.add(id(leaf))
            values = np.zeros(n, dtype=bool)  # a placeholder: every row it decides is unknown
        cache[id(leaf)] = values
    # Column-major: every predicate's rows are contiguous for the per-column work that follows.
    out = np.zeros((n, len(sk.predicates)), dtype=bool, order="F")
    unknown: Unknown = []
    memo: dict[int, np.ndarray | None] = {}
    for j, pred in enumerate(sk.predicates):
        out[:, j] = as_bool(pred, pred.evaluate(batch, cache))
        unknown.append(_unknown(pred, cache, failed, memo))
    return out, unknown


def _unknown(
    node: Signal, cache: Cache, failed: set[int], memo: dict[int, np.ndarray | None]
) -> np.ndarray | None:
    """Where ``node`` depends on a failed leaf, with Kleene's rules for ``&`` and ``|``."""
    key = id(node)
    if key in memo:
        return memo[key]
    if isinstance(node, BoolOp | Not | Compare):
        children = _children(node)
        masks = [_unknown(c, cache, failed, memo) for c in children]
        if all(m is None for m in masks):
            result = None
        elif isinstance(node, BoolOp) and node.op in ("&", "|"):
            values = [as_bool(c, cache[id(c)]) for c in children]
            result = _decided(node.op, values[0], masks[0], values[1], masks[1])
        else:
            result = np.logical_or.reduce([m for m in masks if m is not None])
    else:
        result = np.ones(len(cache[key]), dtype=bool) if key in failed else None
    memo[key] = result
    return result


def _children(node: Signal) -> list[Signal]:
    if isinstance(node, BoolOp):
        return [node.left, node.right]
    if isinstance(node, Not):
        return [node.operand]
    assert isinstance(node, Compare)
    return [node.left, *([node.right] if isinstance(node.right, Signal) else [])]


def _decided(
    op: str, lv: np.ndarray, lu: np.ndarray | None, rv: np.ndarray, ru: np.ndarray | None
) -> np.ndarray | None:
    """The unknown rows of ``l & r`` or ``l | r``: a known false (``&``) or true (``|``)
    side decides the row whatever the other side is."""
    if lu is None and ru is None:
        return None
    decisive = op == "|"
    either = np.zeros(len(lv), dtype=bool)
    decided = np.zeros(len(lv), dtype=bool)
    for v, u in ((lv, lu), (rv, ru)):
        if u is None:
            decided |= v == decisive
        else:
            either |= u
            decided |= (v == decisive) & ~u
    return either & ~decided


def evaluate(
    tree: Tree, values: np.ndarray, unknown: Unknown, forced: int | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """The skeleton's value per row and where it is unknown; ``forced`` is a predicate taken
    as known false on every row.

    >>> import numpy as np
    >>> v = np.array([[True, False], [False, False]])
    >>> val, unk = evaluate(("|", ("p", 0), ("p", 1)), v, [None, np.ones(2, bool)])
    >>> (val & ~unk).tolist(), unk.tolist()
    ([True, False], [False, True])
    """
    kind = tree[0]
    if kind == "p":
        if tree[1] == forced:
            return np.zeros(len(values), dtype=bool), None
        return values[:, tree[1]], unknown[tree[1]]
    if kind == "c":
        return np.full(len(values), tree[1], dtype=bool), None
    if kind == "~":
        v, u = evaluate(tree[1], values, unknown, forced)
        return ~v, u
    lv, lu = evaluate(tree[1], values, unknown, forced)
    rv, ru = evaluate(tree[2], values, unknown, forced)
    if kind == "^":
        u = lu if ru is None else ru if lu is None else lu | ru
        return lv ^ rv, u
    value = lv & rv if kind == "&" else lv | rv
    return value, _decided(kind, lv, lu, rv, ru)


def known_true(tree: Tree, values: np.ndarray, unknown: Unknown) -> tuple[np.ndarray, np.ndarray]:
    """Rows where the formula is known true, and rows where it is unknown.

    >>> import numpy as np
    >>> known_true(("~", ("p", 0)), np.array([[True], [False]]), [None])
    (array([False,  True]), array([False, False]))
    """
    v, u = evaluate(tree, values, unknown)
    if u is None:
        return v, np.zeros(len(v), dtype=bool)
    return v & ~u, u


def marginal(
    sk: Skeleton, values: np.ndarray, unknown: Unknown, selected: np.ndarray
) -> np.ndarray:
    """``n x L``: rows the formula selects that it would reject were predicate ``j`` false.

    Computed on the selected rows only; a row whose forced outcome is unknown (it depends on
    another, failed predicate) is not counted: it is not known to be rejected.
    """
    out = np.zeros(values.shape, dtype=bool)
    idx = np.flatnonzero(selected)
    if not len(idx):
        return out
    sub = values[idx]
    sub_unknown = [None if u is None else u[idx] for u in unknown]
    for j in range(values.shape[1]):
        v, u = evaluate(sk.tree, sub, sub_unknown, forced=j)
        out[idx, j] = ~v if u is None else ~v & ~u
    return out
