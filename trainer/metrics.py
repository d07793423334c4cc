"""Task figures computed here, not with ``evaluate`` (whose metric scripts come from a hub).

Classification: accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix
(scikit-learn). Extractive QA: exact match and F1 with the SQuAD normalisation (lower case,
punctuation and the articles a/an/the removed, whitespace collapsed), each the best over the
example's gold answers, as the official SQuAD v1.1 script scores them.

>>> squad_f1("the Eiffel Tower", "Eiffel tower in Paris")
0.6666666666666666
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from typing import Any

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD's answer normalisation.

    >>> normalize_answer("The  Cat's hat!")
    'cats hat'
    """
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def squad_exact(prediction: str, gold: str) -> float:
    """1.0 when the normalised answers are equal.

    >>> squad_exact("An apple.", "apple")
    1.0
    """
    return float(normalize_answer(prediction) == normalize_answer(gold))


def squad_f1(prediction: str, gold: str) -> float:
    """Token-overlap F1 of the normalised answers (0 when either is empty and they differ)."""
    pred, ref = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def squad_scores(predictions: Sequence[str], golds: Sequence[Sequence[str]]) -> dict[str, float]:
    """``{exact_match, f1}`` in [0, 1]: the mean over examples of the best over gold answers.

    >>> squad_scores(["Paris", "in 1889"], [["Paris"], ["1889", "in 1887"]])
    {'exact_match': 0.5, 'f1': 0.8333333333333333}
    """
    if not predictions:
        return {"exact_match": 0.0, "f1": 0.0}
    exact = f1 = 0.0
    for prediction, answers in zip(predictions, golds, strict=True):
        answers = list(answers) or [""]
        exact += max(squad_exact(prediction, a) for a in answers)
        f1 += max(squad_f1(prediction, a) for a in answers)
    return {"exact_match": exact / len(predictions), "f1": f1 / len(predictions)}


def classification_scores(
    truth: Sequence[int], predicted: Sequence[int], names: Sequence[str]
) -> tuple[dict[str, float], dict[str, Any]]:
    """``({accuracy, macro_f1}, {labels, confusion, per_class})`` for label ids into ``names``.

    Macro-F1 averages over the labels that occur in ``truth`` or ``predicted`` (a label absent
    from both has no F1 to average); the confusion matrix has a row (true) and a column
    (predicted) for every name.

    >>> figs, det = classification_scores([0, 0, 1, 1], [0, 1, 1, 1], ["neg", "pos"])
    >>> figs["accuracy"], round(figs["macro_f1"], 4), det["confusion"]
    (0.75, 0.7333, [[1, 1], [0, 2]])
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
    from sklearn.metrics import precision_recall_fscore_support as prfs

    truth, predicted = list(map(int, truth)), list(map(int, predicted))
    ids = list(range(len(names)))
    if not truth:
        return {"accuracy": None, "macro_f1": None}, {}
    figures = {
        "accuracy": float(accuracy_score(truth, predicted)),
        "macro_f1": float(f1_score(truth, predicted, average="macro", zero_division=0)),
    }
    precision, recall, f1, support = prfs(truth, predicted, labels=ids, zero_division=0)
    per_class = {
        name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for name, p, r, f, s in zip(names, precision, recall, f1, support, strict=True)
    }
    confusion = confusion_matrix(truth, predicted, labels=ids).tolist()
    return figures, {"labels": list(names), "confusion": confusion, "per_class": per_class}
