"""Window state of one monitored column: bounded sufficient statistics, evaluated on close.

Per kind, what a window keeps (``update``) and what it reports (``evaluate``):

* numeric: a reservoir of at most ``max_sample`` values (KS, Wasserstein; exact while the window
  has no more rows than that) and counts over the reference's quantile bins (PSI, chi2, JS;
  exact for every row);
* categorical: counts over the reference categories plus one bucket for everything else;
* text: counts over the ``js_bins`` most frequent reference words, the rest of the vocabulary
  and out-of-vocabulary tokens; a words-per-row histogram; null/empty counts;
* embedding: a reservoir of at most ``max_vectors`` vectors (MMD permutation test).

Memory is bounded by these sizes, never by the number of rows in a window or in the stream.
``evaluate`` returns one dict per statistic: ``check`` (the method), ``metric``, ``value``,
``threshold``, ``flagged`` and ``n`` (values it was computed on). The row that carries a
method's verdict has its threshold set; auxiliary rows (a test's statistic next to its p-value)
have ``threshold=None`` and ``flagged=False``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from monitors.stats.auto import PVALUE_METHODS
from monitors.stats.chi2 import chi2_homogeneity
from monitors.stats.column_profile import numeric_values
from monitors.stats.embedding import embedding_matrix
from monitors.stats.js import js_distance
from monitors.stats.ks import ks_pvalue, ks_statistic
from monitors.stats.mmd import mmd_test
from monitors.stats.psi import bin_counts, psi, quantile_edges
from monitors.stats.sketch import Reservoir
from monitors.stats.text import as_strings, tokenize, vocab_index, word_counts
from monitors.stats.wasserstein import wasserstein_counts, wasserstein_sorted

Row = dict[str, Any]


def verdict(method: str, metric: str, value: float, threshold: float, n: int) -> Row:
    """A row carrying a method's decision (p-value below, or distance above, the threshold)."""
    flagged = value < threshold if method in PVALUE_METHODS else value > threshold
    return {"check": method, "metric": metric, "value": float(value), "threshold": threshold,
            "flagged": bool(flagged), "n": int(n)}  # fmt: skip


def aux(method: str, metric: str, value: float, n: int) -> Row:
    """A row reported beside a verdict (no threshold of its own)."""
    return {"check": method, "metric": metric, "value": float(value), "threshold": None,
            "flagged": False, "n": int(n)}  # fmt: skip


def count_rows(methods, thresholds, ref: np.ndarray, win: np.ndarray, n: int) -> list[Row]:
    """PSI, chi-square and JS rows for reference and window counts over the same bins."""
    rows: list[Row] = []
    for m in methods:
        if m == "psi":
            rows.append(verdict(m, "psi", psi(ref, win), thresholds[m], n))
        elif m == "chi2":
            stat, p, _ = chi2_homogeneity(ref, win)
            rows += [
                aux(m, "chi2_statistic", stat, n),
                verdict(m, "chi2_pvalue", p, thresholds[m], n),
            ]
        elif m == "js":
            rows.append(verdict(m, "js", js_distance(ref, win), thresholds[m], n))
    return rows


def supported_bins(ref: np.ndarray, n: int, js_threshold: float = 0.1) -> int:
    r"""How many of the leading (most frequent) bins a window of ``n`` values can support.

    Bins are kept while their expected window count is at least 5 (the usual chi-square rule)
    and while the no-drift expectation of the JS distance stays below a third of its threshold:
    for ``k`` bins, :math:`E[\mathrm{JS}^2] \approx (k - 1) / (8 \ln 2 \, n_e)` with
    :math:`n_e = (1/n + 1/m)^{-1}`. Without this, a window of 1,000 short texts compared over
    500 word bins reads JS = 0.09 from sampling noise alone.
    """
    m = ref.sum()
    n_eff = 1.0 / (1.0 / max(n, 1) + 1.0 / max(m, 1))
    k_expected = int((ref[:-1] / m * n >= 5).sum())
    k_js = int(8 * np.log(2) * (js_threshold / 3) ** 2 * n_eff) + 1
    return max(1, min(len(ref) - 1, k_expected, k_js))


def collapse(counts: np.ndarray, k: int) -> np.ndarray:
    """Keep the first ``k`` bins and the last one (unseen / OOV); sum the ones between."""
    return np.r_[counts[:k], counts[k:-1].sum(), counts[-1]]


def frequency_rows(methods, thresholds, ref: np.ndarray, win: np.ndarray, n: int) -> list[Row]:
    """:func:`count_rows` over frequency-sorted bins, collapsed to what ``n`` supports."""
    k = supported_bins(ref, n, thresholds.get("js", 0.1))
    return count_rows(methods, thresholds, collapse(ref, k), collapse(win, k), n)


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


class NumericWindow(WindowStats):
    def __init__(self, prof, methods, thresholds, *, bins=10, max_sample=50_000, rng=None):
        self.ref, self.m, self.std = prof.values, prof.n, prof.std
        self.edges = quantile_edges(self.ref, bins)
        scale = prof.n / len(self.ref)
        self.ref_counts = bin_counts(self.ref, self.edges) * scale
        self.reservoir = Reservoir(max_sample, rng)
        self.need_sample = bool({"ks", "wasserstein"} & set(methods))
        super().__init__(methods, thresholds)

    def reset(self) -> None:
        super().reset()
        self.counts = np.zeros(len(self.edges) + 1)
        self.reservoir.reset()

    def update(self, arr: pa.Array) -> None:
        x = numeric_values(arr)
        self.rows += len(arr)
        self.n += len(x)
        self.counts += bin_counts(x, self.edges)
        if self.need_sample:
            self.reservoir.add(x)

    def evaluate(self) -> list[Row]:
        rows: list[Row] = []
        sample = np.sort(self.reservoir.sample()) if self.need_sample else None
        for m in self.methods:
            if m == "ks":
                d = ks_statistic(self.ref, sample)
                p = ks_pvalue(d, len(sample), self.m)
                rows += [aux(m, "ks_statistic", d, len(sample)),
                         verdict(m, "ks_pvalue", p, self.thresholds[m], len(sample))]  # fmt: skip
            elif m == "wasserstein":
                w = wasserstein_sorted(self.ref, sample) / max(self.std, 1e-3)
                rows.append(verdict(m, "wasserstein", w, self.thresholds[m], len(sample)))
        others = [m for m in self.methods if m not in ("ks", "wasserstein")]
        return rows + count_rows(others, self.thresholds, self.ref_counts, self.counts, self.n)


class CategoricalWindow(WindowStats):
    def __init__(self, prof, methods, thresholds):
        self.keys = pa.array(prof.keys, pa.string())
        self.ref_counts = np.r_[prof.counts, prof.other].astype(np.float64)
        super().__init__(methods, thresholds)

    def reset(self) -> None:
        super().reset()
        self.counts = np.zeros(len(self.keys) + 1)

    def update(self, arr: pa.Array) -> None:
        s = as_strings(arr)
        self.rows += len(s)
        s = s.drop_null()
        self.n += len(s)
        idx = vocab_index(s, self.keys)
        idx[idx < 0] = len(self.keys)
        self.counts += np.bincount(idx, minlength=len(self.keys) + 1)

    def evaluate(self) -> list[Row]:
        return frequency_rows(self.methods, self.thresholds, self.ref_counts, self.counts, self.n)


class TextWindow(WindowStats):
    def __init__(self, prof, methods, thresholds, *, js_bins=500):
        self.vocab = pa.array(prof.vocab, pa.string())
        k = self.k = min(js_bins, len(prof.vocab))
        self.ref_bins = np.r_[prof.counts[:k], prof.counts[k:].sum(), prof.other_tokens]
        self.ref_bins = self.ref_bins.astype(np.float64)
        self.ref_len = prof.length_counts.astype(np.float64)
        support = np.arange(len(self.ref_len))
        mean = (support * self.ref_len).sum() / max(self.ref_len.sum(), 1)
        self.len_std = float(
            np.sqrt((self.ref_len * (support - mean) ** 2).sum() / max(self.ref_len.sum(), 1))
        )
        self.ref_oov = prof.expected_oov_rate
        self.ref_empty = (prof.n_empty + prof.n_null) / max(prof.n + prof.n_null, 1)
        super().__init__(methods, thresholds)

    def reset(self) -> None:
        super().reset()
        self.bins = np.zeros(self.k + 2)
        self.lengths = np.zeros(len(getattr(self, "ref_len", [])))
        self.tokens = self.oov = self.empty = 0

    def update(self, arr: pa.Array) -> None:
        s = as_strings(arr)
        tokens, rows = tokenize(s)
        idx = vocab_index(tokens, self.vocab)
        oov = idx < 0
        idx = np.where(oov, self.k + 1, np.minimum(idx, self.k))
        self.bins += np.bincount(idx, minlength=self.k + 2)
        self.tokens += len(idx)
        self.oov += int(oov.sum())
        valid = s.is_valid().to_numpy(zero_copy_only=False)
        words = word_counts(rows, len(s))[valid]
        top = len(self.lengths) - 1
        self.lengths += np.bincount(np.minimum(words, top), minlength=top + 1)
        self.empty += int((words == 0).sum()) + int((~valid).sum())
        self.rows += len(s)
        self.n += int(valid.sum())

    def evaluate(self) -> list[Row]:
        rows: list[Row] = []
        t = self.thresholds
        for m in self.methods:
            if m in ("js", "psi") and self.tokens:
                rows += frequency_rows((m,), t, self.ref_bins, self.bins, self.tokens)
            elif m == "oov" and self.tokens:
                rate = self.oov / self.tokens
                rows.append(verdict(m, "oov_rate", rate, self.ref_oov + t[m], self.tokens))
            elif m == "length" and self.n:
                w = wasserstein_counts(self.ref_len, self.lengths) / max(self.len_std, 1.0)
                rows.append(verdict(m, "length_wasserstein", w, t[m], self.n))
            elif m == "empty":
                rate = self.empty / max(self.rows, 1)
                rows.append(verdict(m, "empty_rate", rate, self.ref_empty + t[m], self.rows))
        return rows


class EmbeddingWindow(WindowStats):
    def __init__(self, prof, methods, thresholds, *, max_vectors=500, n_perm=200, rng=None):
        self.ref = prof.sample[:max_vectors]
        self.bandwidth, self.dim, self.n_perm = prof.bandwidth, prof.dim, n_perm
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.reservoir = Reservoir(max_vectors, self.rng)
        super().__init__(methods, thresholds)

    def reset(self) -> None:
        super().reset()
        self.reservoir.reset()

    def update(self, arr: pa.Array) -> None:
        mat, _ = embedding_matrix(arr)
        self.rows += len(arr)
        if mat.ndim == 2 and mat.shape[1] == self.dim:
            self.n += len(mat)
            self.reservoir.add(mat)

    def evaluate(self) -> list[Row]:
        sample = self.reservoir.sample()
        if len(sample) < 2 or len(self.ref) < 2:
            return []
        stat, p = mmd_test(self.ref, sample, self.bandwidth, self.n_perm, self.rng)
        n = len(sample)
        return [
            aux("mmd", "mmd2", stat, n),
            verdict("mmd", "mmd_pvalue", p, self.thresholds["mmd"], n),
        ]


def make_window(prof, methods, thresholds, *, bins=10, max_sample=50_000, js_bins=500,
                max_vectors=500, n_perm=200, seed=0) -> WindowStats:  # fmt: skip
    """The window state for a column profile of any kind."""
    rng = np.random.default_rng(seed)
    if prof.kind == "numeric":
        return NumericWindow(prof, methods, thresholds, bins=bins, max_sample=max_sample, rng=rng)
    if prof.kind == "categorical":
        return CategoricalWindow(prof, methods, thresholds)
    if prof.kind == "text":
        return TextWindow(prof, methods, thresholds, js_bins=js_bins)
    return EmbeddingWindow(
        prof, methods, thresholds, max_vectors=max_vectors, n_perm=n_perm, rng=rng
    )
