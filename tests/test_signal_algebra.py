"""Signal formulas obey boolean algebra: checked as properties against plain numpy booleans."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from curate.batch import Batch
from curate.errors import SignalError
from curate.signals import Signal

SETTINGS = settings(max_examples=80, deadline=None)
NAMES = ("a", "b", "c", "d")


def batch_of(n: int) -> Batch:
    return Batch.from_log(np.arange(n), np.zeros(n, np.int64), {"x": list(range(n))})


def leaf(name: str, values: np.ndarray) -> Signal:
    return Signal(name, lambda inputs, outputs, gts=None, extra_args=None: values)


@st.composite
def leaves(draw, k: int = 3):
    """``k`` boolean leaf signals over one batch, and their values as numpy arrays."""
    n = draw(st.integers(1, 40))
    arrays = [draw(hnp.arrays(bool, n)) for _ in range(k)]
    signals = [leaf(NAMES[i], arr) for i, arr in enumerate(arrays)]
    return batch_of(n), signals, arrays


def ev(formula: Signal, batch: Batch) -> np.ndarray:
    return formula.evaluate(batch)


@SETTINGS
@given(leaves(2))
def test_de_morgan(data):
    batch, (a, b), (x, y) = data
    assert np.array_equal(ev(~(a & b), batch), ev(~a | ~b, batch))
    assert np.array_equal(ev(~(a | b), batch), ev(~a & ~b, batch))
    assert np.array_equal(ev(~(a & b), batch), ~(x & y))
    assert np.array_equal(ev(~(a | b), batch), ~x & ~y)


@SETTINGS
@given(leaves(3))
def test_associativity(data):
    batch, (a, b, c), (x, y, z) = data
    for op, np_op in (("&", np.logical_and), ("|", np.logical_or), ("^", np.logical_xor)):
        left = {"&": (a & b) & c, "|": (a | b) | c, "^": (a ^ b) ^ c}[op]
        right = {"&": a & (b & c), "|": a | (b | c), "^": a ^ (b ^ c)}[op]
        expected = np_op(np_op(x, y), z)
        assert np.array_equal(ev(left, batch), expected)
        assert np.array_equal(ev(right, batch), expected)


@SETTINGS
@given(leaves(3))
def test_distributivity(data):
    batch, (a, b, c), (x, y, z) = data
    assert np.array_equal(ev(a & (b | c), batch), ev((a & b) | (a & c), batch))
    assert np.array_equal(ev(a | (b & c), batch), ev((a | b) & (a | c), batch))
    assert np.array_equal(ev(a & (b | c), batch), x & (y | z))
    assert np.array_equal(ev(a | (b & c), batch), x | (y & z))


@SETTINGS
@given(leaves(1))
def test_identities_with_constants(data):
    batch, (a,), (x,) = data
    assert np.array_equal(ev(~~a, batch), x)
    assert np.array_equal(ev(a & True, batch), x)
    assert np.array_equal(ev(True & a, batch), x)
    assert not ev(a & False, batch).any()
    assert ev(a | True, batch).all()
    assert ev(a | ~a, batch).all()
    assert not ev(a & ~a, batch).any()
    assert not ev(a ^ a, batch).any()


# -- random formulas: the tree, its numpy evaluation and its printed form agree ----------------


def formulas(signals: list[Signal], arrays: list[np.ndarray]):
    """A strategy of (formula, numpy value) pairs built from the given leaves."""
    base = st.sampled_from(list(zip(signals, arrays, strict=True)))

    def extend(children):
        unary = children.map(lambda p: (~p[0], ~p[1]))
        binary = st.tuples(st.sampled_from("&|^"), children, children).map(
            lambda t: (
                {"&": t[1][0] & t[2][0], "|": t[1][0] | t[2][0], "^": t[1][0] ^ t[2][0]}[t[0]],
                {"&": np.logical_and, "|": np.logical_or, "^": np.logical_xor}[t[0]](
                    t[1][1], t[2][1]
                ),
            )
        )
        return unary | binary

    return st.recursive(base, extend, max_leaves=8)


@settings(max_examples=120, deadline=None)
@given(st.data())
def test_random_formula_matches_numpy_and_its_text_parses_back(data):
    batch, signals, arrays = data.draw(leaves(4))
    formula, expected = data.draw(formulas(signals, arrays))
    got = ev(formula, batch)
    assert got.dtype == bool
    assert np.array_equal(got, expected)
    # str() uses Python's precedence, so evaluating the text rebuilds an equivalent formula.
    rebuilt = eval(str(formula), {}, dict(zip(NAMES, signals, strict=False)))  # noqa: S307
    assert np.array_equal(ev(rebuilt, batch), expected)
    mask, per_leaf = formula.evaluate_formula(batch)
    assert np.array_equal(mask, expected)
    assert set(per_leaf) <= set(NAMES)
    for name, values in per_leaf.items():
        assert np.array_equal(values, arrays[NAMES.index(name)])


@SETTINGS
@given(
    st.integers(1, 30).flatmap(
        lambda n: st.tuples(
            hnp.arrays(np.float64, n, elements=st.floats(-5, 5) | st.just(np.nan)),
            hnp.arrays(np.float64, n, elements=st.floats(-5, 5) | st.just(np.nan)),
        )
    ),
    st.floats(-5, 5),
)
def test_comparisons_match_numpy_and_nan_is_never_true(pair, threshold):
    x, y = pair
    batch = batch_of(len(x))
    s, t = leaf("s", x), leaf("t", y)
    present = ~np.isnan(x)
    both = present & ~np.isnan(y)
    with np.errstate(invalid="ignore"):
        assert np.array_equal(ev(s < threshold, batch), x < threshold)
        assert np.array_equal(ev(s <= threshold, batch), x <= threshold)
        assert np.array_equal(ev(s > threshold, batch), x > threshold)
        assert np.array_equal(ev(s >= threshold, batch), x >= threshold)
        assert np.array_equal(ev(s == threshold, batch), x == threshold)
        assert np.array_equal(ev(s != threshold, batch), present & (x != threshold))
        assert np.array_equal(ev(s < t, batch), x < y)
        assert np.array_equal(ev(s != t, batch), both & (x != y))
        # a comparison combines like any predicate
        assert np.array_equal(ev((s < threshold) & ~(t > 0), batch), (x < threshold) & ~(y > 0))


def test_shared_leaf_is_evaluated_once_per_batch():
    calls = []

    def fn(inputs, outputs, gts=None, extra_args=None):
        calls.append(1)
        return [True, False, True]

    a = Signal("a", fn)
    b = leaf("b", np.array([True, True, False]))
    formula = (a & b) | (a & ~b) | ~a
    mask, per_leaf = formula.evaluate_formula(batch_of(3))
    assert len(calls) == 1
    assert mask.all()
    assert list(per_leaf) == ["a", "b"]


def test_numbers_are_not_predicates():
    score = leaf("score", np.array([0.2, 0.7]))
    with pytest.raises(SignalError, match=r"'score' returns numbers.*\(score > 0.5\)"):
        (score & leaf("a", np.array([True, True]))).evaluate(batch_of(2))
    # 0/1 numbers are accepted as booleans
    ones = leaf("ones", np.array([1, 0]))
    assert ev(ones & True, batch_of(2)).tolist() == [True, False]


def test_misuse_is_a_clear_type_error():
    a = leaf("a", np.array([True]))
    with pytest.raises(TypeError, match="per row.*& \\| \\^ ~"):
        bool(a)
    with pytest.raises(TypeError, match="and/or/not"):
        a and a  # noqa: B018
    with pytest.raises(TypeError, match="cannot combine a signal with int"):
        a & 1
    with pytest.raises(TypeError, match="cannot compare signal 'a' with str"):
        a < "x"  # noqa: B015
