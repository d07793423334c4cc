"""One shared contract for every registered built-in signal (River style).

The built-ins come from ``curate.signals.core.BUILTINS`` once ``curate.signals.builtins`` and
``monitors`` (the monitors layer's built-ins, e.g. ``DriftOutlier``) are imported. Each class
declares its own constructor parameters in ``_unit_test_params()`` (a classmethod on the class
itself) for the contract batch below; every test runs with every set it yields. A built-in
without one fails :func:`test_every_builtin_declares_unit_test_params`, so a new built-in needs
no edit here.
"""

from __future__ import annotations

import copy
import re

import numpy as np
import pyarrow as pa
import pytest

import curate.signals.builtins  # noqa: F401  (registers the core built-ins)
import monitors  # noqa: F401  (registers the monitors layer's built-ins)
from curate.batch import Batch
from curate.errors import SignalError
from curate.signals.core import BUILTINS, Builtin, Signal

N = 10


def declares_params(cls: type) -> bool:
    """Whether the class itself (not a base it inherits from) declares its test parameters."""
    return "_unit_test_params" in vars(cls)


CASES = [
    pytest.param(cls, params, id=f"{cls.__name__}-{i}")
    for cls in BUILTINS.values()
    if declares_params(cls)
    for i, params in enumerate(cls._unit_test_params())
]


def contract_batch() -> Batch:
    """The contract batch (``Builtin`` documents its columns): every awkward value once."""
    rng = np.random.default_rng(7)
    embedding = [list(v) for v in rng.normal(size=(N, 4))]
    embedding[3], embedding[6] = [50.0, 50.0, 50.0, 50.0], None
    inputs = {
        "text": [
            "Nike shoes are great", "nikee sneakers", None, "", "naïve NIKE ☃",
            "ADIDAS a.b hoodies", "   ", "order 123", "the fit is good", "Ünïcödé ✓ 1",
        ],
        "number": [0.5, np.nan, -1.5, 2.0, 100.0, None, 0.0, -3.0, 1e-9, 1.0],
        "category": ["red", "green", None, "red", "purple", "", "blue", "green", "red", "ß"],
        "embedding": embedding,
    }  # fmt: skip
    return Batch.from_log(
        np.arange(N),
        np.arange(N, dtype=np.int64) * 1000,
        inputs,
        outputs=rng.dirichlet(np.ones(3), size=N),
        gts=rng.integers(0, 3, N),
        identifiers=[f"r{i}" for i in range(N)],
        extra_args={"threshold": 0.5},
    )


def build(cls: type[Builtin], params: dict) -> Builtin:
    return cls(**params)


def alternating() -> Signal:
    return Signal("alt", lambda inputs, outputs, gts=None, extra_args=None: np.arange(N) % 2 == 0)


# -- registration --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(BUILTINS))
def test_every_builtin_declares_unit_test_params(name):
    cls = BUILTINS[name]
    assert declares_params(cls), (
        f"built-in signal {name} declares no @classmethod _unit_test_params() of its own: "
        "yield at least one set of constructor keyword arguments"
    )
    params = list(cls._unit_test_params())
    assert params and all(isinstance(p, dict) for p in params), name


def test_the_builtins_of_both_layers_are_registered():
    names = {cls.__name__ for cls in BUILTINS.values()}
    expected = {"Contains", "Matches", "IsNull", "Length", "InSet", "Confidence", "Entropy"}
    assert expected | {"DriftOutlier"} <= names
    assert "_Distribution" not in names  # declared abstract
    assert all(issubclass(cls, Builtin) for cls in BUILTINS.values())


def test_a_builtin_inheriting_its_params_is_caught_and_abstract_ones_are_not_registered():
    class Copy(BUILTINS["curate.signals.builtins.Contains"]):
        __slots__ = ()

    class Base(Builtin, abstract=True):
        __slots__ = ()

    key = f"{Copy.__module__}.{Copy.__qualname__}"
    try:
        assert BUILTINS[key] is Copy
        assert hasattr(Copy, "_unit_test_params") and not declares_params(Copy)
        assert Base not in BUILTINS.values()
    finally:
        del BUILTINS[key]


# -- every built-in, with every parameter set ----------------------------------------------------


@pytest.mark.parametrize(("cls", "params"), CASES)
def test_one_value_per_row_as_bool_or_float(cls, params):
    values = build(cls, params).evaluate(contract_batch())
    assert isinstance(values, np.ndarray) and values.shape == (N,)
    assert values.dtype in (np.dtype(bool), np.dtype(np.float64)), values.dtype


@pytest.mark.parametrize(("cls", "params"), CASES)
def test_str_is_stable_and_readable(cls, params):
    leaf = build(cls, params)
    text = str(leaf)
    assert re.fullmatch(r"[a-z_]+\(.+\)", text) and "\n" not in text, text
    assert text == leaf.name == str(build(cls, params))
    assert repr(leaf) == f"Signal({text})"
    assert leaf.column in text
    leaf.evaluate(contract_batch())
    assert str(leaf) == text


@pytest.mark.parametrize(("cls", "params"), CASES)
def test_evaluating_twice_gives_the_same_values(cls, params):
    leaf, batch = build(cls, params), contract_batch()
    first = leaf.evaluate(batch)
    np.testing.assert_array_equal(leaf.evaluate(batch), first)
    np.testing.assert_array_equal(leaf.evaluate(contract_batch()), first)
    np.testing.assert_array_equal(build(cls, params).evaluate(batch), first)


@pytest.mark.parametrize(("cls", "params"), CASES)
def test_the_batch_is_not_modified(cls, params):
    batch = contract_batch()
    python = batch.python_inputs()  # the numpy view user signals get: must not change either
    before = (batch.stored_table(), copy.deepcopy(batch.raw), copy.deepcopy(batch.extra_args))
    python_before = {k: v.copy() for k, v in python.items()}
    build(cls, params).evaluate(batch)
    assert batch.stored_table().equals(before[0])
    assert batch.raw == before[1] and batch.extra_args == before[2]
    assert len(batch) == N and batch.ids.tolist() == list(range(N))
    for name, values in python_before.items():
        assert python[name].dtype == values.dtype
        assert [repr(v) for v in python[name]] == [repr(v) for v in values], name


@pytest.mark.parametrize(("cls", "params"), CASES)
def test_combines_with_operators_and_comparisons(cls, params):
    leaf, alt, batch = build(cls, params), alternating(), contract_batch()
    values = leaf.evaluate(batch)
    a = np.arange(N) % 2 == 0
    x = values.astype(np.float64)
    threshold = 0.5 if values.dtype == bool else float(np.nanmedian(x))
    with np.errstate(invalid="ignore"):
        assert np.array_equal((leaf > threshold).evaluate(batch), x > threshold)
        assert np.array_equal((leaf <= threshold).evaluate(batch), x <= threshold)
        assert np.array_equal((leaf == threshold).evaluate(batch), x == threshold)
        assert np.array_equal((leaf != threshold).evaluate(batch), ~np.isnan(x) & (x != threshold))
        formula = (leaf >= threshold) & ~alt
        assert np.array_equal(formula.evaluate(batch), (x >= threshold) & ~a)
    assert str(formula) == f"({leaf} >= {threshold!r}) & ~alt"
    if values.dtype == bool:
        assert np.array_equal((leaf & alt).evaluate(batch), values & a)
        assert np.array_equal((alt | leaf).evaluate(batch), a | values)
        assert np.array_equal((~leaf).evaluate(batch), ~values)
        assert np.array_equal((leaf ^ True).evaluate(batch), ~values)
        assert (leaf | ~leaf).evaluate(batch).all()
        assert str(~leaf | alt) == f"~{leaf} | alt"
        mask, per_leaf = (leaf & alt).evaluate_formula(batch)
        assert np.array_equal(mask, values & a)
        assert set(per_leaf) == {str(leaf), "alt"}
        assert np.array_equal(per_leaf[str(leaf)], values)
    else:
        with pytest.raises(SignalError, match="returns numbers"):
            (leaf & alt).evaluate(batch)


@pytest.mark.parametrize(("cls", "params"), CASES)
def test_the_leaf_is_immutable_and_hashed_by_identity(cls, params):
    leaf = build(cls, params)
    text = str(leaf)
    for attr in ("name", "column", "something_new"):
        with pytest.raises(AttributeError, match="immutable"):
            setattr(leaf, attr, "x")
    with pytest.raises(AttributeError, match="immutable"):
        del leaf.column
    assert str(leaf) == text
    assert not hasattr(leaf, "__dict__"), f"{cls.__name__} (or a base) declares no __slots__"
    assert copy.copy(leaf) is leaf and copy.deepcopy(leaf) is leaf
    twin = build(cls, params)
    assert {leaf: 1, twin: 2}[leaf] == 1  # equal text, different nodes
    assert isinstance(leaf == twin, Signal)


@pytest.mark.parametrize(("cls", "params"), CASES)
def test_a_batch_lacking_the_column_is_a_signal_error_naming_it(cls, params):
    leaf = build(cls, params)
    batch = Batch.from_log(np.arange(3), np.zeros(3, np.int64), {"unrelated": pa.array([1, 2, 3])})
    with pytest.raises(SignalError) as info:
        leaf.evaluate(batch)
    message = str(info.value)
    assert repr(leaf.column) in message and repr(str(leaf)) in message, message
