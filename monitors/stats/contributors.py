"""Which words or categories moved: per-value contributions to the drift, for alert messages.

Values are ranked by their term of the Jensen-Shannon divergence between the reference and the
window shares, :math:`\\tfrac12 (p \\log_2 \\tfrac{2p}{p+q} + q \\log_2 \\tfrac{2q}{p+q})`: a value
that is common in one and rare in the other ranks high, a small relative change of a rare value
does not. Values the reference never saw are counted per window, approximately and in bounded
memory, by :class:`TopCounter`; values outside the profile's kept categories or vocabulary
(beyond ``max_categories`` / ``max_vocab``) are among them and show a reference share of 0.0%.

>>> import pyarrow as pa
>>> c = TopCounter(capacity=2)
>>> c.add(pa.array(["covid", "covid", "mask", "zoom", "covid", "mask"]))
>>> c.items()
[('covid', 3), ('mask', 2)]
>>> changes = most_changed(["film", "the"], np.array([0.021, 0.05]), np.array([0.001, 0.05]),
...                        [("covid", 0.019)])
>>> describe(changes)
"most changed: 'covid' 0.0% → 1.9%, 'film' 2.1% → 0.1%"
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

TOP = 5  # values named in an alert
MAX_LABEL = 40  # characters of a value shown


class TopCounter:
    """Counts of the most frequent values seen, at most ``2 * capacity`` of them kept.

    Each batch adds its ``capacity`` most frequent values; when more than ``2 * capacity`` are
    held, the ``capacity`` largest stay. Counts of values that were dropped and came back are
    underestimates, which only matters for values too rare to be named anyway.
    """

    def __init__(self, capacity: int = 100) -> None:
        self.capacity = capacity
        self.counts: dict[str, int] = {}

    def reset(self) -> None:
        self.counts = {}

    def add(self, values: pa.Array) -> None:
        if len(values) == 0:
            return
        vc = pc.value_counts(values.drop_null())
        counts = vc.field("counts").to_numpy(zero_copy_only=False)
        top = np.argsort(-counts, kind="stable")[: self.capacity]
        keys = vc.field("values").take(pa.array(top)).to_pylist()
        for k, c in zip(keys, counts[top].tolist(), strict=True):
            self.counts[k] = self.counts.get(k, 0) + c
        if len(self.counts) > 2 * self.capacity:
            self.counts = dict(self.items()[: self.capacity])

    def items(self) -> list[tuple[str, int]]:
        """``(value, count)`` pairs, most frequent first (the ``capacity`` largest)."""
        ranked = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return ranked[: self.capacity]


def js_terms(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Each value's term of the JS divergence (base 2) between shares ``p`` and ``q``."""
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(p > 0, p * np.log2(p / m), 0.0)
        b = np.where(q > 0, q * np.log2(q / m), 0.0)
    return (a + b) / 2


def most_changed(
    labels: Sequence[str],
    ref: np.ndarray,
    win: np.ndarray,
    unseen: Sequence[tuple[str, float]] = (),
    top: int = TOP,
) -> list[tuple[str, float, float]]:
    """The ``top`` values contributing most: ``(label, reference share, window share)``.

    ``labels``/``ref``/``win`` are the reference's values and both shares of each; ``unseen``
    gives ``(value, window share)`` of values the reference does not have.
    """
    ref, win = np.asarray(ref, np.float64), np.asarray(win, np.float64)
    extra = np.array([share for _, share in unseen], np.float64)
    terms = np.r_[js_terms(ref, win), js_terms(np.zeros(len(extra)), extra)]
    order = np.argsort(-terms, kind="stable")[:top]
    out = []
    for i in order:
        if terms[i] <= 0:
            break
        if i < len(ref):
            out.append((str(labels[i]), float(ref[i]), float(win[i])))
        else:
            out.append((str(unseen[i - len(ref)][0]), 0.0, float(extra[i - len(ref)])))
    return out


def describe(changes: list[tuple[str, float, float]]) -> str:
    """``"most changed: 'covid' 0.0% → 1.9%, ..."`` (empty without changes)."""
    if not changes:
        return ""
    parts = [f"{_label(k)} {_pct(p)} → {_pct(q)}" for k, p, q in changes]
    return "most changed: " + ", ".join(parts)


def _label(value: str) -> str:
    value = value if len(value) <= MAX_LABEL else value[: MAX_LABEL - 1] + "…"
    return f"'{value}'"


def _pct(share: float) -> str:
    if 0 < share < 0.0005:
        return f"{100 * share:.2g}%"
    return f"{100 * share:.1f}%"
