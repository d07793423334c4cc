"""Rows of a closed window: verdicts, calibrated thresholds and the bins counts are compared on.

``evaluate`` returns one dict per statistic: ``check`` (the method), ``metric``, ``value``,
``threshold``, ``flagged`` and ``n`` (values it was computed on). The row that carries a
method's verdict has its threshold set; auxiliary rows (a test's statistic next to its p-value)
have ``threshold=None`` and ``flagged=False``. Verdict rows of distances also say whether their
threshold was ``calibrated`` (compared with the 99.99% quantile of what same-size samples of
the reference score, :mod:`monitors.stats.calibrate`) and how, in a ``note``; flagged rows may
carry a ``detail``: the values that moved most (:mod:`monitors.stats.contributors`). Neither
is stored in the metrics table; the alert message carries both.

Counts over categories or words are compared over the bins a window can support
(:func:`supported_bins`): the most frequent reference values one by one, everything else, the
values the reference never saw included, pooled in one *tail* bin. Pooling is what makes the
distance unbiased: a new sample contains values the reference lacks (6-9% of the words of a
fresh sample of real text) where a resample of the reference contains none, but both have, in
expectation, the reference's tail share (Good-Turing moves mass between the reference's rare
values and unseen ones, not into or out of the tail).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from monitors.stats.auto import PVALUE_METHODS
from monitors.stats.calibrate import MultinomialNull
from monitors.stats.chi2 import chi2_homogeneity
from monitors.stats.js import js_distance
from monitors.stats.psi import psi

Row = dict[str, Any]
#: What a closed window keeps for readers (:mod:`monitors.stats.window_summary`).
Summary = dict[str, Any]


def verdict(method: str, metric: str, value: float, threshold: float, n: int, **extra) -> Row:
    """A row carrying a method's decision (p-value below, or distance above, the threshold)."""
    flagged = value < threshold if method in PVALUE_METHODS else value > threshold
    return {"check": method, "metric": metric, "value": float(value), "threshold": threshold,
            "flagged": bool(flagged), "n": int(n), **extra}  # fmt: skip


def aux(method: str, metric: str, value: float, n: int) -> Row:
    """A row reported beside a verdict (no threshold of its own)."""
    return {"check": method, "metric": metric, "value": float(value), "threshold": None,
            "flagged": False, "n": int(n)}  # fmt: skip


def calibrated(configured: float, null_quantile: float | None) -> tuple[float, dict]:
    """The configured minimum effect raised to the null quantile, and the row keys saying so.

    >>> calibrated(0.1, 0.045)
    (0.1, {'calibrated': True, 'note': 'minimum effect; same-size reference samples score below 0.045'})
    >>> calibrated(0.1, 0.12)[0], calibrated(0.1, None)[1]["note"]
    (0.12, 'uncalibrated: the profile keeps no sample to calibrate with')
    """
    if null_quantile is None or not np.isfinite(null_quantile):
        note = "uncalibrated: the profile keeps no sample to calibrate with"
        return float(configured), {"calibrated": False, "note": note}
    q = float(null_quantile)
    if q <= configured:
        note = f"minimum effect; same-size reference samples score below {q:.3g}"
        return float(configured), {"calibrated": True, "note": note}
    note = f"calibrated to same-size reference samples; minimum effect {configured:.3g}"
    return q, {"calibrated": True, "note": note}


def count_rows(methods, thresholds, ref, win, n, null=None) -> list[Row]:
    """PSI, chi-square and JS rows for reference and window counts over the same bins.

    ``null`` (a :class:`~monitors.stats.calibrate.MultinomialNull` or a function of the
    statistic's name) gives the null quantile the distances' thresholds are raised to.
    """
    rows: list[Row] = []
    for m in methods:
        if m == "chi2":
            stat, p, _ = chi2_homogeneity(ref, win)
            rows += [aux(m, "chi2_statistic", stat, n),
                     verdict(m, "chi2_pvalue", p, thresholds[m], n)]  # fmt: skip
        elif m in ("psi", "js"):
            value = psi(ref, win) if m == "psi" else js_distance(ref, win)
            q = None if null is None else _null_quantile(null, m, ref, n)
            thr, how = calibrated(thresholds[m], q)
            rows.append(verdict(m, m, value, thr, n, **how))
    return rows


def with_detail(rows: list[Row], detail: Callable[[str], str]) -> list[Row]:
    """Give every flagged row a ``detail`` (``detail(method)``, computed only when flagged)."""
    for row in rows:
        if row["flagged"]:
            text = detail(row["check"])
            if text:
                row["detail"] = text
    return rows


def _null_quantile(null, stat: str, ref: np.ndarray, n: int) -> float:
    if isinstance(null, MultinomialNull):
        return null.quantile(stat, ref, n)
    return null(stat)


def supported_bins(ref: np.ndarray, n: int, js_threshold: float = 0.1, min_count: float = 1) -> int:
    r"""How many of the leading (most frequent) bins a window of ``n`` values can support.

    Bins are kept while their expected window count is at least 5 (the usual chi-square rule),
    while the no-drift expectation of the JS distance stays below a third of its threshold
    (for ``k`` bins, :math:`E[\mathrm{JS}^2] \approx (k - 1) / (8 \ln 2 \, n_e)` with
    :math:`n_e = (1/n + 1/m)^{-1}`; without this, a window of 1,000 short texts compared over
    500 word bins reads JS = 0.09 from sampling noise alone), and while their reference count is
    at least ``min_count`` (:func:`reliable_count`). ``ref``'s last entry is the tail (values
    outside the leading bins); the other bins follow it into the tail (:func:`collapse`). Zero
    bins (everything in the tail) is a possible answer: then nothing can be compared.
    """
    m = ref.sum()
    n_eff = 1.0 / (1.0 / max(n, 1) + 1.0 / max(m, 1))
    k_expected = int((ref[:-1] / m * n >= 5).sum())
    k_reliable = int((ref[:-1] >= min_count).sum())
    k_js = int(8 * np.log(2) * (js_threshold / 3) ** 2 * n_eff) + 1
    return max(0, min(len(ref) - 1, k_expected, k_js, k_reliable))


def reliable_count(counts: np.ndarray, tolerance: float = 0.1) -> float:
    r"""The smallest reference count from which values are not just lucky (Good-Turing).

    Ranking values by their reference count favours the lucky ones: among a thousand films
    reviewed once or twice each, the one a 1,000-row sample happens to hold seven times is not
    a popular film, and every later window would show it "dropping". Good-Turing gives the mass
    new data puts on the values seen ``r`` times, :math:`(r + 1) N_{r+1} / N` (:math:`N_r`:
    values seen ``r`` times); summed over an octave ``[a, 2a)`` of counts, the octave loses
    :math:`(a N_a - 2a N_{2a}) / N` of its reference mass, with :math:`b N_b` smoothed to
    :math:`\sqrt2` times the number of values counted within a factor :math:`\sqrt2` of ``b``.
    Counts from the lowest octave that, like every octave above it, loses at most
    ``tolerance`` (10%) are reliable. Steep (Zipf-like) frequencies give 8 to 32; flat ones
    (every film about as frequent) give more than the largest count: no value gets a bin.

    >>> reliable_count(np.array([30, 17, 16, 16, 8, 7, 5, 1]))
    2.0
    >>> reliable_count(np.array([7, 6, 6, 6, 5, 5, 5, 5, 4, 4, 4, 3, 3, 2, 1]))
    8.0
    """
    counts = np.sort(np.asarray(counts, np.float64)[np.asarray(counts) > 0])
    if len(counts) == 0:
        return 1.0

    def near(b: float) -> float:  # b * N_b, smoothed
        lo, hi = np.searchsorted(counts, [b / np.sqrt(2), b * np.sqrt(2)])
        return np.sqrt(2) * (hi - lo)

    top = int(np.log2(counts[-1]))
    reliable = 2.0 ** (top + 1)
    for j in range(top, -1, -1):
        lo, hi = 2.0**j, 2.0 ** (j + 1)
        inside = counts[(counts >= lo) & (counts < hi)]
        if len(inside) and (near(lo) - near(hi)) / inside.sum() > tolerance:
            break
        reliable = lo
    return reliable


def collapse(counts: np.ndarray, k: int) -> np.ndarray:
    """Keep the first ``k`` bins; pool the others (the tail, unseen values included) in one."""
    return np.r_[counts[:k], counts[k:].sum()]


class WindowStats:
    """Base: ``n`` non-null values and ``rows`` rows seen in the open window."""

    def __init__(self, methods: tuple[str, ...], thresholds: dict[str, float]) -> None:
        self.methods, self.thresholds = methods, thresholds
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.rows = 0

    def update(self, arr: pa.Array) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def evaluate(self) -> list[Row]:  # pragma: no cover - interface
        raise NotImplementedError

    def summary(self) -> Summary | None:
        """The bins ``evaluate`` compared, for readers; ``None`` when there is nothing to draw
        (an empty window; embeddings, whose test reads the vectors themselves)."""
        return None
