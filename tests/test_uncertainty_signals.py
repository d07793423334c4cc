"""margin() and label_issue(): the formulas, cleanlab's scores, and rows they cannot score.

``label_issue`` follows ``cleanlab.rank.get_label_quality_scores`` (cleanlab 2.9, Apache-2.0, a
test dependency only): the cross-checks run against it on random distributions and on the
out-of-fold probabilities of a real text classifier; the same scores are also checked against
the published formulas computed here, so the signal is tested without cleanlab too.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import real_corpora
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.batch import Batch
from curate.errors import SignalError
from curate.signals import Signal
from curate.signals.isolated import evaluate_isolated


def batch(outputs, gts=None, n=None) -> Batch:
    n = len(outputs) if n is None else n
    return Batch.from_log(np.arange(n), np.zeros(n, np.int64), {"x": list(range(n))},
                          outputs=outputs, gts=gts)  # fmt: skip


def distributions(min_k: int = 2):
    """(probabilities n×k, each row summing to 1, and labels in range)."""
    return st.integers(min_k, 6).flatmap(
        lambda k: st.lists(
            st.tuples(
                st.lists(st.floats(0, 1), min_size=k, max_size=k).filter(lambda r: sum(r) > 1e-3),
                st.integers(0, k - 1),
            ),
            min_size=1,
            max_size=15,
        )
    )


def split(rows) -> tuple[np.ndarray, np.ndarray]:
    p = np.array([r for r, _ in rows], dtype=np.float64)
    return p / p.sum(axis=1, keepdims=True), np.array([label for _, label in rows])


def self_confidence_issue(p: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The published formula: 1 - p[label]."""
    return np.array([1 - row[y] for row, y in zip(p, labels, strict=True)])


def normalized_margin_issue(p: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The published formula: 1 - (p[label] - max_{k != label} p[k] + 1) / 2."""
    out = []
    for row, y in zip(p, labels, strict=True):
        other = max((v for k, v in enumerate(row) if k != y), default=0.0)
        out.append(1 - (row[y] - other + 1) / 2)
    return np.array(out)


# -- margin --------------------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(distributions())
def test_margin_is_in_0_1_and_is_the_gap_between_the_two_top_probabilities(rows):
    p, _ = split(rows)
    got = Signal.margin().evaluate(batch(p))
    top = np.sort(p, axis=1)
    np.testing.assert_allclose(got, top[:, -1] - top[:, -2], atol=1e-12)
    assert ((got >= 0) & (got <= 1)).all()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.floats(0, 1), min_size=1, max_size=5), min_size=1, max_size=10))
def test_margin_of_ragged_rows_matches_python(rows):
    got = Signal.margin().evaluate(batch([list(r) for r in rows]))
    want = [sorted(r)[-1] - (sorted(r)[-2] if len(r) > 1 else 0.0) for r in rows]
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_margin_of_binary_probabilities_one_class_rows_and_ties():
    np.testing.assert_allclose(Signal.margin().evaluate(batch([0.9, 0.5, 0.2])), [0.8, 0.0, 0.6])
    got = Signal.margin().evaluate(batch([[1.0], [0.4, 0.4, 0.2], [0.25] * 4]))
    np.testing.assert_allclose(got, [1.0, 0.0, 0.0])


def test_rows_without_a_usable_distribution_are_nan_and_only_those():
    outputs = [[0.7, 0.3], None, [], [0.5, float("nan")], [0.6, None], [0.1, 0.9]]
    got = Signal.margin().evaluate(batch(outputs))
    np.testing.assert_allclose(got, [0.4, np.nan, np.nan, np.nan, np.nan, 0.8])
    all_missing = batch([None, None])
    assert np.isnan(Signal.margin().evaluate(all_missing)).all()
    assert np.isnan(Signal.label_issue().evaluate(batch([None, None], gts=[0, 1]))).all()


def test_outputs_that_are_not_probabilities_are_a_signal_error_naming_the_signal():
    with pytest.raises(SignalError, match=r"'margin\(outputs\)'.*expected a list of class"):
        Signal.margin().evaluate(batch(["cat", "dog"]))
    with pytest.raises(SignalError, match=r"'margin\(outputs\)'.*not probabilities"):
        Signal.margin().evaluate(batch([["a", "b"], ["c", "d"]]))


# -- label_issue against the formulas and cleanlab ------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(distributions(min_k=1))
def test_label_issue_is_the_published_formula(rows):
    p, labels = split(rows)
    b = batch(p, gts=labels)
    sc = Signal.label_issue().evaluate(b)
    nm = Signal.label_issue(method="normalized_margin").evaluate(b)
    np.testing.assert_allclose(sc, self_confidence_issue(p, labels), atol=1e-12)
    np.testing.assert_allclose(nm, normalized_margin_issue(p, labels), atol=1e-12)
    assert ((sc >= 0) & (sc <= 1) & (nm >= 0) & (nm <= 1)).all()


@settings(max_examples=80, deadline=None)
@given(distributions())
def test_label_issue_is_one_minus_cleanlabs_label_quality(rows):
    rank = pytest.importorskip("cleanlab.rank")
    p, labels = split(rows)
    b = batch(p, gts=labels)
    for method in ("self_confidence", "normalized_margin"):
        quality = rank.get_label_quality_scores(labels, p, method=method)
        got = Signal.label_issue(method=method).evaluate(b)
        np.testing.assert_allclose(got, 1 - quality, atol=1e-12)


@pytest.fixture(scope="module")
def review_model():
    """Out-of-fold probabilities of a TF-IDF + logistic regression on real review snippets."""
    if not real_corpora.available():
        pytest.skip(real_corpora.SKIP_REASON)
    pytest.importorskip("sklearn")
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    df = real_corpora.reviews().sample(2000, random_state=0).reset_index(drop=True)
    classes = sorted(df.category.unique())
    labels = df.category.map({c: i for i, c in enumerate(classes)}).to_numpy()
    features = TfidfVectorizer(min_df=2).fit_transform(df.text)
    p = cross_val_predict(LogisticRegression(max_iter=300), features, labels, cv=3,
                          method="predict_proba")  # fmt: skip
    return df, classes, labels, p


def test_label_issue_matches_cleanlab_on_a_real_classifiers_probabilities(review_model):
    rank = pytest.importorskip("cleanlab.rank")
    df, classes, labels, p = review_model
    b = batch(p, gts=labels)
    for method in ("self_confidence", "normalized_margin"):
        quality = rank.get_label_quality_scores(labels, p, method=method)
        np.testing.assert_allclose(
            Signal.label_issue(method=method).evaluate(b), 1 - quality, atol=1e-12
        )
    # Class names work the same, given the classes in the order of the probabilities.
    named = batch(p, gts=df.category.tolist())
    np.testing.assert_allclose(
        Signal.label_issue(classes=classes).evaluate(named), 1 - p[np.arange(len(p)), labels]
    )


def test_label_issue_finds_labels_the_model_disagrees_with(review_model):
    _, _, labels, p = review_model
    b = batch(p, gts=labels)
    margin = Signal.label_issue(method="normalized_margin").evaluate(b)
    disagree = p.argmax(axis=1) != labels
    # normalized_margin is above 0.5 exactly where another class beats the given label.
    np.testing.assert_array_equal(margin > 0.5, disagree)
    assert 0.1 < disagree.mean() < 0.6  # a real model: it disagrees with some labels
    issue = Signal.label_issue().evaluate(b)
    assert issue[disagree].mean() > issue[~disagree].mean() + 0.2


# -- labels it cannot use ------------------------------------------------------------------------


def test_unknown_labels_score_nan_never_raise():
    p = [[0.7, 0.2, 0.1]] * 6
    got = Signal.label_issue().evaluate(batch(p, gts=[0, None, -1, 3, 1.5, 2.0]))
    np.testing.assert_allclose(got, [0.3, np.nan, np.nan, np.nan, np.nan, 0.9])
    ragged = [[0.6, 0.4], [0.2, 0.3, 0.5]]  # label 2 is a class of the second row only
    np.testing.assert_allclose(Signal.label_issue().evaluate(batch(ragged, gts=[2, 2])),
                               [np.nan, 0.5])  # fmt: skip


def test_binary_probabilities_are_p_of_class_1_and_bool_labels_index():
    b = batch([0.9, 0.9, 0.2], gts=[1, 0, 1])
    np.testing.assert_allclose(Signal.label_issue().evaluate(b), [0.1, 0.9, 0.8])
    flags = batch([0.9, 0.2], gts=[True, False])
    np.testing.assert_allclose(Signal.label_issue().evaluate(flags), [0.1, 0.2])


def test_a_batch_logged_without_ground_truth_is_unknown_not_an_error():
    assert np.isnan(Signal.label_issue().evaluate(batch([[0.5, 0.5]] * 3))).all()


def test_a_misnamed_ground_truth_column_and_text_without_classes_are_signal_errors():
    b = batch([[0.5, 0.5]] * 2, gts={"label": [0, 1]})
    with pytest.raises(SignalError, match=r"label_issue\(outputs, truth\).*no column 'truth'"):
        Signal.label_issue(gts="truth").evaluate(b)
    np.testing.assert_allclose(Signal.label_issue(gts="label").evaluate(b), [0.5, 0.5])
    text = batch([[0.9, 0.1]] * 3, gts=["neg", "pos", "other"])
    with pytest.raises(SignalError, match="pass classes="):
        Signal.label_issue().evaluate(text)
    got = Signal.label_issue(classes=["neg", "pos"]).evaluate(text)
    np.testing.assert_allclose(got, [0.1, 0.9, np.nan])
    codes = pa.array(["pos", "neg", None]).dictionary_encode()
    dictionary = batch([[0.9, 0.1]] * 3, gts=pa.table({"gts": codes}))
    np.testing.assert_allclose(
        Signal.label_issue(classes=["neg", "pos"]).evaluate(dictionary), [0.9, 0.1, np.nan]
    )


def test_label_issue_over_0_5_is_a_formula_like_any_other():
    formula = (Signal.label_issue() > 0.5) & (Signal.margin() > 0.3)
    assert str(formula) == "(label_issue(outputs, gts) > 0.5) & (margin(outputs) > 0.3)"
    p = [[0.9, 0.1], [0.9, 0.1], [0.55, 0.45], None]
    b = batch(p, gts=[0, 1, 1, 1])
    out = evaluate_isolated(formula, b)
    # A row without probabilities is unknown to the signal, so false, not a failed leaf.
    assert out.mask.tolist() == [False, True, False, False]
    assert not out.unknown.any() and not out.errors
    np.testing.assert_allclose(out.leaves["label_issue(outputs, gts)"], [0.1, 0.9, 0.55, np.nan])


def test_names_and_arguments():
    assert str(Signal.margin("outputs.probs")) == "margin(outputs.probs)"
    assert str(Signal.label_issue(method="normalized_margin", classes=["a", "b"])) == (
        "label_issue(outputs, gts, method='normalized_margin', classes=['a', 'b'])"
    )
    with pytest.raises(ValueError, match="method must be one of self_confidence"):
        Signal.label_issue(method="entropy")
    with pytest.raises(ValueError, match="classes must be a list"):
        Signal.label_issue(classes="ab")
