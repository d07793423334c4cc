r"""What a drift statistic reads when nothing drifted: null distributions and thresholds.

A distance between a reference and a finite window is never 0 without drift: both are samples,
and a window of ``n`` rows scores, on average, what ``n`` rows drawn from the reference itself
would score. Each count-based statistic is therefore compared against its *null distribution*:
the values of :data:`NULL_DRAWS` pairs ``(reference*, window*)`` drawn the way the real pair is
(a reference of ``m`` rows and a window of ``n`` rows, from the same distribution), computed
over the same bins as the real statistic. The verdict's threshold is the larger of the
configured minimum effect and the ``1 - FALSE_ALARM`` (99.99%) quantile of that null, read from
a scaled chi-square :math:`a \chi^2_\nu` matched to the null's mean and variance (JS² and PSI
are quadratic in the sampling error; 64 draws fix two moments well, the tail not at all).
Measured on the review corpus of ``tests/test_real_text.py``: for windows of 100 to 1,000 texts,
the fitted 99.9% quantile of JS is within 5% of the empirical one of 2,000 real windows. The
null is drawn once per window size (:func:`size_class`) and cached: about 9 ms for the first
window of a size, 0.2 ms after.

How the pairs are drawn:

* rows that are one value each (categorical columns, numeric bins): multinomial counts from
  the reference's own bin shares (:class:`MultinomialNull`); rows are independent;
* text (:class:`DocNull`): whole texts of the profile's text sample, Poisson-weighted (the
  Poisson bootstrap: every text counts ``Poisson(n / S)`` times in a window of ``n`` rows drawn
  from a sample of ``S`` texts). Words come in bursts (a film's name is repeated in its review),
  so word counts vary between windows far more than a multinomial of words predicts; resampling
  texts keeps that. Words found in a single reference text play the part of unseen words
  (leave-one-text-out), which calibrates the out-of-vocabulary check too.

Words-per-text histograms are heavy-tailed: their Wasserstein null (multinomial over the
histogram) is read from a log-normal fit instead (:func:`lognormal_quantile`).

The resampling treats rows (texts) as independent. Real corpora are clustered (reviews of one
film share its cast's names), which widens the real null a little (the Good-Turing estimate of
the unseen share errs about 1.5 times more than its formula says): the per-window target is
therefore 1e-4 (:data:`FALSE_ALARM`). Over 20 splits of the review corpus (3,000 texts of
reference, the other 10,891 in windows), ``js`` and ``psi`` flagged none of 2,780 same-corpus
windows of 100, 500 or 1,000 texts (at most 0.65 of their threshold), ``oov`` and ``length``
1 or 2 of the 2,160 windows of 100 texts and none of the larger ones.

>>> import numpy as np
>>> ref = np.array([[30.0, 50, 20]]); win = np.array([[10.0, 20, 70]])
>>> np.round(js_rows(ref, win), 4).tolist(), np.round(psi_rows(ref, win), 4).tolist()
([0.4379], [1.121])
>>> x = np.random.default_rng(0).chisquare(4, 10_000) / 100  # a scaled chi-square: a=0.01, nu=4
>>> round(upper_quantile(x, 0.999), 3)  # 0.01 * chi2.ppf(0.999, 4) = 0.185
0.185
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.stats import chi2, norm

NULL_DRAWS = 64  # pairs drawn per window size
FALSE_ALARM = 1e-4  # per-window, per-method false-alarm rate the thresholds aim at
Z_UPPER = float(norm.ppf(1 - FALSE_ALARM))  # 3.72: the matching one-sided normal quantile
MIN_DOCS = 10  # a text sample with fewer texts is not used


def js_rows(ref: np.ndarray, win: np.ndarray) -> np.ndarray:
    """Jensen-Shannon distance (base 2) of every row pair of two ``(draws, bins)`` arrays."""
    p = ref / ref.sum(axis=1, keepdims=True)
    q = win / win.sum(axis=1, keepdims=True)
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p / m), 0.0) + np.where(q > 0, q * np.log(q / m), 0.0)
    return np.sqrt(np.maximum(terms.sum(axis=1) / (2 * np.log(2)), 0.0))


def psi_rows(ref: np.ndarray, win: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    """PSI (shares floored at ``eps``, as :func:`monitors.stats.psi.psi`) of every row pair."""
    p = np.maximum(ref / ref.sum(axis=1, keepdims=True), eps)
    q = np.maximum(win / win.sum(axis=1, keepdims=True), eps)
    return ((q - p) * np.log(q / p)).sum(axis=1)


def w1_rows(ref: np.ndarray, win: np.ndarray) -> np.ndarray:
    """Wasserstein-1 distance of every row pair of histograms over 0, 1, 2, ... (unit steps)."""
    p = np.cumsum(ref / ref.sum(axis=1, keepdims=True), axis=1)
    q = np.cumsum(win / win.sum(axis=1, keepdims=True), axis=1)
    return np.abs(p - q)[:, :-1].sum(axis=1)


def upper_quantile(values: np.ndarray, q: float = 1 - FALSE_ALARM) -> float:
    """The ``q`` quantile of the scaled chi-square with the mean and variance of ``values``."""
    values = np.asarray(values, np.float64)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return float("nan")
    mu, var = float(values.mean()), float(values.var(ddof=1))
    if not (mu > 0 and var > 0):
        return max(mu, 0.0)
    scale, dof = var / (2 * mu), 2 * mu * mu / var
    return float(scale * chi2.ppf(q, dof))


def poisson_weights(rng: np.random.Generator, lam: float, draws: int, size: int) -> np.ndarray:
    """``(draws, size)`` Poisson(``lam``) weights; normal-approximated when ``lam > 4``."""
    if lam <= 4:  # a Poisson process over all cells: cost ~ lam * draws * size
        hits = rng.integers(0, draws * size, rng.poisson(lam * draws * size))
        return np.bincount(hits, minlength=draws * size).reshape(draws, size).astype(np.float64)
    return np.maximum(lam + np.sqrt(lam) * rng.standard_normal((draws, size)), 0.0)


def size_class(n: int) -> int:
    """``n`` rounded down to two significant digits: the window size a null is drawn for.

    Windows by time differ in size a little; rounding lets them share one null (a smaller
    window has the wider null, so rounding down errs on the quiet side).

    >>> size_class(87), size_class(1_234), size_class(10_137)
    (87, 1200, 10000)
    """
    n = max(int(n), 1)
    step = 10 ** max(len(str(n)) - 2, 0)
    return n // step * step


def _bounded(cache: dict, limit: int = 256) -> dict:
    """The cache, emptied first when full (windows by time have many sizes)."""
    if len(cache) >= limit:
        cache.clear()
    return cache


def _valid(*arrays: np.ndarray) -> np.ndarray:
    ok = np.ones(len(arrays[0]), bool)
    for a in arrays:
        ok &= a.sum(axis=1) > 0
    return ok


class MultinomialNull:
    """Pairs of counts drawn from the reference's bin shares: ``m`` and ``n`` independent rows."""

    def __init__(self, m: float, seed: int = 0, draws: int = NULL_DRAWS) -> None:
        self.m, self.seed, self.draws = max(int(round(m)), 1), seed, draws
        self._cache: dict[tuple, float] = {}

    def quantile(self, stat: str, ref_bins: np.ndarray, n: int) -> float:
        """Null quantile of ``stat`` (``js``, ``psi``; ``w1`` over histogram bins) for ``n`` rows."""
        n = size_class(n)
        key = (stat, n, len(ref_bins))
        if key not in _bounded(self._cache):
            rng = np.random.default_rng([self.seed, n, len(ref_bins)])
            p = np.asarray(ref_bins, np.float64) / np.sum(ref_bins)
            ref = rng.multinomial(self.m, p, self.draws).astype(np.float64)
            win = rng.multinomial(max(n, 1), p, self.draws).astype(np.float64)
            ok = _valid(ref, win)
            self._cache[key] = null_threshold(stat, ref[ok], win[ok])
        return self._cache[key]


def null_threshold(stat: str, ref: np.ndarray, win: np.ndarray) -> float:
    """The calibrated quantile of ``stat`` over null pairs of counts (``nan`` without pairs)."""
    if len(ref) < 2:
        return float("nan")
    if stat == "js":
        return float(np.sqrt(upper_quantile(js_rows(ref, win) ** 2)))
    if stat == "psi":
        return upper_quantile(psi_rows(ref, win))
    return lognormal_quantile(w1_rows(ref, win))


def lognormal_quantile(values: np.ndarray, q: float = 1 - FALSE_ALARM) -> float:
    """The ``q`` quantile of the log-normal with the mean and variance of ``log(values)``.

    Used for Wasserstein distances of heavy-tailed histograms (words per text), whose tail a
    chi-square fitted to two moments underestimates.
    """
    logs = np.log(values[values > 0])
    if len(logs) < 2:
        return float("nan")
    return float(np.exp(logs.mean() + norm.ppf(q) * logs.std(ddof=1)))


class DocNull:
    """Pairs of windows of whole reference texts, from a text profile's text sample."""

    def __init__(self, prof, n_bins: int, seed: int = 0, draws: int = NULL_DRAWS) -> None:
        ids, offsets = prof.sample_ids.astype(np.int64), prof.sample_offsets
        self.size = s = len(offsets) - 1
        self.m, self.seed, self.draws = prof.n, seed, draws
        lens = np.diff(offsets)
        doc = np.repeat(np.arange(s), lens)
        top = (ids >= 0) & (ids < n_bins)
        self.words = sp.csc_matrix(
            (np.ones(int(top.sum())), (doc[top], ids[top])), shape=(s, n_bins)
        )
        self.tokens = lens.astype(np.float64)
        known = ids >= 0
        once = prof.doc_freq if prof.doc_freq is not None else prof.counts
        unseen = ~known | (once[np.where(known, ids, 0)] == 1)
        self.unseen = np.bincount(doc, weights=unseen, minlength=s)
        self._weights: tuple[int, np.ndarray, np.ndarray] | None = None
        self._cache: dict[tuple, float] = {}

    @classmethod
    def from_profile(cls, prof, n_bins: int, seed: int = 0) -> DocNull | None:
        """The null of a text profile; ``None`` without a usable text sample (older profiles)."""
        offsets = getattr(prof, "sample_offsets", None)
        if offsets is None or len(offsets) - 1 < MIN_DOCS or offsets[-1] == 0:
            return None
        return cls(prof, n_bins, seed)

    def weights(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Poisson weights of the sample's texts: reference pairs (``m`` rows), windows (``n``)."""
        if self._weights is None or self._weights[0] != n:
            rng = np.random.default_rng([self.seed, n])
            ref = poisson_weights(rng, self.m / self.size, self.draws, self.size)
            win = poisson_weights(rng, n / self.size, self.draws, self.size)
            self._weights = (n, ref.astype(np.float32), win.astype(np.float32))  # 2 x 0.5 MB
        return self._weights[1], self._weights[2]

    def _word_bins(self, w: np.ndarray, k: int) -> np.ndarray:
        top = np.asarray((self.words[:, :k].T @ w.T).T)
        return np.column_stack([top, w @ self.tokens - top.sum(axis=1)])

    def quantile(self, stat: str, n: int, k: int) -> float:
        """Null quantile of ``stat`` (``js``/``psi`` over ``k`` words and the rest) for ``n`` texts."""
        n = size_class(n)
        key = (stat, n, k)
        if key not in _bounded(self._cache):
            ref_w, win_w = self.weights(n)
            ref, win = self._word_bins(ref_w, k), self._word_bins(win_w, k)
            ok = _valid(ref, win)
            self._cache[key] = null_threshold(stat, ref[ok], win[ok])
        return self._cache[key]

    def oov_margin(self, n: int, estimate_var: float = 0.0) -> float:
        """How far above its expectation a window's unseen-word share may read without drift.

        ``Z_UPPER`` standard deviations of the share over resampled windows of ``n`` texts
        (each text's words found in no other reference text count as unseen), with
        ``estimate_var``, the variance of the expectation itself, added.
        """
        n = size_class(n)
        key = ("oov", n, estimate_var)
        if key not in _bounded(self._cache):
            _, win_w = self.weights(n)
            tokens = win_w @ self.tokens
            ok = tokens > 0
            rates = (win_w @ self.unseen)[ok] / tokens[ok]
            var = float(rates.var(ddof=1)) if len(rates) > 1 else 0.0
            self._cache[key] = Z_UPPER * float(np.sqrt(var + estimate_var))
        return self._cache[key]
