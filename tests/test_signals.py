"""Built-in signals, user signals' error messages, and how formulas print."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from curate.batch import Batch
from curate.errors import SignalError
from curate.signals import Signal, signal

TEXTS = ["Nike shoes are great", "nikee sneakers", "ADIDAS hoodies", None, "", "naïve NIKE ☃"]


def batch(inputs, outputs=None) -> Batch:
    n = len(next(iter(inputs.values())))
    return Batch.from_log(np.arange(n), np.zeros(n, np.int64), inputs, outputs)


def values(sig: Signal, inputs, outputs=None) -> list:
    return sig.evaluate(batch(inputs, outputs)).tolist()


# -- contains / matches ------------------------------------------------------------------------


def test_contains_is_case_insensitive_by_default_and_null_is_false():
    assert values(Signal.contains("nike"), {"text": TEXTS}) == [
        True, True, False, False, False, True,
    ]  # fmt: skip
    assert values(Signal.contains("Nike", case=True), {"text": TEXTS}) == [
        True, False, False, False, False, False,
    ]  # fmt: skip


def test_contains_several_terms_matches_any_and_agrees_with_python():
    terms = ["shoes", "hoodies", "a.b", "(x"]  # regex metacharacters are literal
    texts = [*TEXTS, "a.b here", "axb", "(x) y", "x)"]
    expected = [t is not None and any(w in t.lower() for w in terms) for t in texts]
    assert values(Signal.contains(terms), {"text": texts}) == expected
    assert values(Signal.contains(["SHOES", "(X"], case=True), {"text": ["SHOES", "(x"]}) == [
        True,
        False,
    ]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.none() | st.text(alphabet="abcAB .*(é", max_size=12), min_size=1, max_size=20),
    st.lists(st.text(alphabet="abc .*(", min_size=1, max_size=3), min_size=1, max_size=4),
)
def test_contains_property_against_python(texts, terms):
    expected = [t is not None and any(w in t for w in terms) for t in texts]
    assert values(Signal.contains(terms, case=True), {"text": texts}) == expected


def test_contains_fuzzy_accepts_misspellings():
    texts = ["Nikee shoes", "nike", "Adidas", None, "Nkie"]
    exact = values(Signal.contains("nikee"), {"text": texts})
    fuzzy = values(Signal.contains("nike", fuzzy=80), {"text": texts})
    assert exact == [True, False, False, False, False]
    assert fuzzy[:4] == [True, True, False, False]
    assert values(Signal.contains("nike", fuzzy=100), {"text": texts})[:2] == [True, True]


def test_contains_rejects_bad_arguments():
    with pytest.raises(ValueError, match="non-empty string"):
        Signal.contains("")
    with pytest.raises(ValueError, match=r"fuzzy must be a score cutoff in \(0, 100\]"):
        Signal.contains("x", fuzzy=150)


def test_contains_on_non_text_column_casts_and_on_missing_column_names_it():
    assert values(Signal.contains("1", column="n"), {"n": [1, 21, 3]}) == [True, True, False]
    with pytest.raises(SignalError, match=r"no column 'body'.*logged columns: text"):
        Signal.contains("x", column="body").evaluate(batch({"text": ["a"]}))


def test_matches_uses_re2_and_falls_back_to_python_re():
    texts = ["order 123", "no digits", None, "x99y"]
    assert values(Signal.matches(r"\d+"), {"text": texts}) == [True, False, False, True]
    # look-ahead: RE2 cannot run it, Python's re can
    assert values(Signal.matches(r"\d(?=y)"), {"text": texts}) == [False, False, False, True]
    with pytest.raises(ValueError, match="invalid regular expression"):
        Signal.matches("(")


# -- is_null / length / in_set -------------------------------------------------------------------


def test_is_null_covers_none_nan_and_optionally_blank_text():
    assert values(Signal.is_null(), {"text": ["a", None, "", "  "]}) == [False, True, False, False]
    assert values(Signal.is_null(empty=True), {"text": ["a", None, "", " \t"]}) == [
        False, True, True, True,
    ]  # fmt: skip
    assert values(Signal.is_null("x"), {"x": [1.0, float("nan"), None]}) == [False, True, True]
    assert values(Signal.is_null("x"), {"x": [None, None]}) == [True, True]


def test_length_of_text_and_lists_nan_where_missing():
    got = values(Signal.length(), {"text": ["abc", "", None, "☃é"]})
    assert got[:2] == [3.0, 0.0] and np.isnan(got[2]) and got[3] == 2.0
    assert values(Signal.length("l"), {"l": [[1, 2], [], [3]]}) == [2.0, 0.0, 1.0]
    assert values(Signal.length("e"), {"e": np.zeros((2, 5))}) == [5.0, 5.0]
    with pytest.raises(SignalError, match=r"'length\(n\)'.*not text"):
        Signal.length("n").evaluate(batch({"n": [1, 2]}))
    assert values(Signal.length() > 2, {"text": ["abc", "ab", None]}) == [True, False, False]


def test_in_set_with_matching_and_mismatched_types():
    assert values(Signal.in_set("c", ["a", "b"]), {"c": ["a", "c", None]}) == [True, False, False]
    assert values(Signal.in_set("n", [1, 3]), {"n": [1, 2, 3]}) == [True, False, True]
    assert values(Signal.in_set("n", ["1"]), {"n": [1, 2]}) == [True, False]
    with pytest.raises(ValueError, match="non-empty collection"):
        Signal.in_set("c", [])


# -- confidence / entropy against scipy ------------------------------------------------------------

probabilities = st.integers(2, 6).flatmap(
    lambda k: st.lists(
        st.lists(st.floats(0, 1), min_size=k, max_size=k).filter(lambda r: sum(r) > 1e-3),
        min_size=1,
        max_size=12,
    )
)


@settings(max_examples=60, deadline=None)
@given(probabilities)
def test_confidence_and_entropy_match_scipy(rows):
    p = np.array(rows)
    p = p / p.sum(axis=1, keepdims=True)
    b = batch({"x": list(range(len(p)))}, outputs=p)
    conf = Signal.confidence().evaluate(b)
    ent = Signal.entropy().evaluate(b)
    norm = Signal.entropy(normalize=True).evaluate(b)
    np.testing.assert_allclose(conf, p.max(axis=1))
    np.testing.assert_allclose(ent, stats.entropy(p, axis=1), atol=1e-12)
    np.testing.assert_allclose(norm, stats.entropy(p, axis=1) / np.log(p.shape[1]), atol=1e-12)


def test_entropy_of_ragged_lists_and_of_binary_probabilities():
    rows = [[0.5, 0.5], [0.2, 0.3, 0.5], [1.0]]
    got = values(Signal.entropy("outputs.probs"), {"x": [1, 2, 3]}, outputs={"probs": rows})
    np.testing.assert_allclose(got, [stats.entropy(r) for r in rows])
    normalized = values(
        Signal.entropy("outputs.probs", normalize=True), {"x": [1, 2, 3]}, {"probs": rows}
    )
    np.testing.assert_allclose(normalized, [1.0, stats.entropy(rows[1]) / np.log(3), 0.0])
    # one probability per row means a binary model: [p, 1 - p]
    got = values(Signal.entropy(), {"x": [1, 2]}, outputs=[0.9, 0.5])
    np.testing.assert_allclose(got, [stats.entropy([0.9, 0.1]), np.log(2)])
    assert values(Signal.confidence(), {"x": [1, 2]}, outputs=[0.9, 0.3]) == [0.9, 0.7]


def test_distribution_signal_errors_name_the_signal():
    with pytest.raises(SignalError, match=r"'confidence\(outputs\)'.*expected a list of class"):
        Signal.confidence().evaluate(batch({"x": [1]}, outputs=["cat"]))
    with pytest.raises(SignalError, match=r"'entropy\(outputs\)'.*1 rows have no probabilities"):
        Signal.entropy().evaluate(batch({"x": [1, 2]}, outputs=[[0.5, 0.5], None]))
    with pytest.raises(SignalError, match="empty probability list"):
        Signal.entropy().evaluate(batch({"x": [1, 2]}, outputs=[[1.0], []]))


def test_low_confidence_formula():
    b = batch({"x": [1, 2, 3]}, outputs=np.array([[0.9, 0.1], [0.55, 0.45], [0.3, 0.7]]))
    assert (Signal.confidence() < 0.6).evaluate(b).tolist() == [False, True, False]


# -- user signals: what they get and the errors they cause ----------------------------------------


def test_user_signal_gets_numpy_inputs_with_none_for_missing():
    seen = {}

    def fn(inputs, outputs, gts=None, extra_args=None):
        seen.update(inputs=inputs, outputs=outputs, gts=gts, extra_args=extra_args)
        return [True] * len(inputs["text"])

    b = Batch.from_log(
        np.arange(2), np.zeros(2, np.int64), {"text": ["a", None], "n": [1.5, None]},
        outputs=[0.1, 0.2], gts=[1, 0], extra_args={"k": 1},
    )  # fmt: skip
    Signal("s", fn).evaluate(b)
    assert seen["inputs"]["text"].tolist() == ["a", None]
    assert isinstance(seen["inputs"]["text"], np.ndarray)
    assert seen["inputs"]["n"][0] == 1.5 and np.isnan(seen["inputs"]["n"][1])
    assert seen["outputs"].tolist() == [0.1, 0.2] and seen["gts"].tolist() == [1, 0]
    assert seen["extra_args"] == {"k": 1}


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        ([True], r"signal 'bad' returned 1 values for a batch of 3 rows"),
        (np.ones((3, 2)), r"signal 'bad' returned shape \(3, 2\) for a batch of 3 rows"),
        (None, r"signal 'bad' returned None"),
        (["x", "y", "z"], r"signal 'bad' returned values of dtype <U1"),
        (
            [True, "x", False],
            r"signal 'bad' returned values of dtype <U5; expected bools or numbers",
        ),
        ([True, {}, False], r"signal 'bad' returned dict {} at row 1"),
        ([True, None, False], r"signal 'bad' returned NoneType None at row 1"),
        (5, r"signal 'bad' returned shape \(\)"),
    ],
)
def test_wrong_length_or_type_names_the_signal(returned, message):
    bad = Signal("bad", lambda inputs, outputs, gts=None, extra_args=None: returned)
    with pytest.raises(SignalError, match=message):
        (Signal.contains("a") & bad).evaluate(batch({"text": ["a", "b", "c"]}))


def test_a_raising_signal_is_reported_with_its_name_and_cause():
    def boom(inputs, outputs, gts=None, extra_args=None):
        raise KeyError("body")

    with pytest.raises(SignalError, match=r"signal 'boom' raised KeyError: 'body'") as info:
        Signal("boom", boom).evaluate(batch({"text": ["a"]}))
    assert isinstance(info.value.__cause__, KeyError)
    with pytest.raises(SignalError, match=r"signal 'arr' raised ZeroDivisionError"):
        Signal.arrow("arr", lambda b: 1 / 0).evaluate(batch({"text": ["a"]}))


def test_signal_returning_pandas_pyarrow_and_ints_is_accepted():
    import pandas as pd

    b = batch({"text": ["a", "b"]})
    for ret in (pd.Series([True, False]), pa.array([True, False]), [1, 0], np.array([1, 0])):
        s = Signal("s", lambda inputs, outputs, gts=None, extra_args=None, r=ret: r)
        assert s.evaluate(b).astype(bool).tolist() == [True, False]


def test_constructor_and_decorator():
    with pytest.raises(TypeError, match="non-empty string"):
        Signal("", lambda *a, **k: [])
    with pytest.raises(TypeError, match="fn must be callable"):
        Signal("x", 3)

    @signal
    def plain(inputs, outputs, gts=None, extra_args=None):
        return [True] * len(inputs["text"])

    @signal("Has text?")
    def named(inputs, outputs, gts=None, extra_args=None):
        return [t is not None for t in inputs["text"]]

    assert plain.name == "plain" and named.name == "Has text?"
    assert values(plain & named, {"text": ["a", None]}) == [True, False]


# -- printing -----------------------------------------------------------------------------------


def test_str_and_repr_of_nested_formulas():
    a = Signal("a", lambda *x, **k: [])
    b = Signal("b", lambda *x, **k: [])
    spaced = Signal("Is 'Nike' present?", lambda *x, **k: [])
    assert str(a & b | ~a) == "a & b | ~a"
    assert str(a & (b | ~a)) == "a & (b | ~a)"
    assert str(~(a & b)) == "~(a & b)"
    assert str((a ^ b) & a) == "(a ^ b) & a"
    assert str(a & b & a) == "a & b & a"
    assert str(a & (b & a)) == "a & b & a"
    assert str((Signal.confidence() < 0.6) & a) == "(confidence(outputs) < 0.6) & a"
    assert str(~(Signal.entropy(normalize=True) >= 0.5)) == (
        "~(entropy(outputs, normalize=True) >= 0.5)"
    )
    assert str(spaced & a) == "\"Is 'Nike' present?\" & a"
    assert repr(a & ~b) == "Signal(a & ~b)"
    assert str(Signal.contains(["x", "y"], fuzzy=90)) == "contains(text, ['x', 'y'], fuzzy=90)"
    assert str(Signal.in_set("c", [1, 2]) | Signal.is_null("c", empty=True)) == (
        "in_set(c, [1, 2]) | is_null(c, empty=True)"
    )


# -- the node classes: one immutable base, the function leaf built by Signal(name, fn) ----------


def test_signal_of_a_function_is_the_function_leaf_and_every_node_is_a_signal():
    from curate.signals.core import BoolOp, Compare, Const, FunctionSignal, Not

    fn = lambda inputs, outputs, gts=None, extra_args=None: [True]  # noqa: E731
    leaf = Signal("Is Nike?", fn)
    assert type(leaf) is FunctionSignal and leaf.fn is fn and leaf.name == "Is Nike?"
    assert type(signal(fn)) is FunctionSignal and type(FunctionSignal("x", fn)) is FunctionSignal
    formula = (leaf & True) | ~leaf | (Signal.confidence() < 0.5)
    nodes = [formula, formula.left, formula.left.left.right, formula.left.right, formula.right]
    assert [type(n) for n in nodes] == [BoolOp, BoolOp, Const, Not, Compare]
    assert all(isinstance(n, Signal) for n in [*nodes, Signal.arrow("a", lambda b: b.ids)])


def test_public_names_stay_importable():
    import curate.signals.builtins as builtins
    import curate.signals.core as core
    from curate import Signal as FacadeSignal

    assert FacadeSignal is Signal is core.Signal
    core_names = (
        "ArrowSignal", "BoolOp", "Not", "Compare", "Const", "check_values", "as_bool", "Cache",
        "register_constructor", "constructor", "signal", "Builtin", "BUILTINS", "FunctionSignal",
    )  # fmt: skip
    builtin_names = (
        "Builtin", "Contains", "Matches", "IsNull", "Length", "InSet", "Confidence", "Entropy",
    )  # fmt: skip
    constructors = (
        "arrow", "contains", "matches", "is_null", "length", "in_set", "confidence", "entropy",
    )  # fmt: skip
    for name in core_names:
        assert getattr(core, name) is not None, name
    for name in builtin_names:
        assert issubclass(getattr(builtins, name), core.Builtin), name
    for name in constructors:
        assert callable(getattr(Signal, name)), name
    drift = Signal.drift_outlier({"x": [1.0, 2.0, 3.0]}, "x", tail=0)
    assert type(drift).__name__ == "DriftOutlier" and str(drift) == "drift_outlier(x)"
    assert values(drift, {"x": [2.0, 9.0, None]}) == [False, True, False]


def test_every_node_is_immutable_has_slots_and_hashes_by_identity():
    import copy

    a = Signal("a", lambda inputs, outputs, gts=None, extra_args=None: [True, False])
    formula = (a & ~a) | (Signal.length() > 2) | True
    nodes = [a, formula, formula.left, formula.left.left, formula.left.right, formula.right]
    for node in nodes:
        text = str(node)
        with pytest.raises(AttributeError, match=r"cannot set 'name' on \w+ signal: .*immutable"):
            node.name = "b"
        with pytest.raises(AttributeError, match="immutable"):
            node.extra = 1
        with pytest.raises(AttributeError, match=r"cannot delete 'name'"):
            del node.name
        assert str(node) == text and not hasattr(node, "__dict__")
        assert copy.deepcopy(node) is node
        assert hash(node) == object.__hash__(node)
    twin = Signal("a", a.fn)
    assert len({a: 1, twin: 2}) == 2 and isinstance(a == twin, Signal)
    assert str(formula) == "a & ~a | (length(text) > 2) | True"


def test_length_of_a_batch_whose_texts_are_all_missing_is_nan_not_an_error():
    b = Batch.from_log(np.arange(2), np.zeros(2, np.int64), {"text": [None, None]})
    assert np.isnan(Signal.length().evaluate(b)).all()
    assert (Signal.length() > 8).evaluate(b).tolist() == [False, False]
