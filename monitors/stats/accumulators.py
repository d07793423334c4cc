"""Window state of one monitored column: bounded sufficient statistics, evaluated on close.

Per kind, what a window keeps (``update``) and what it reports (``evaluate``):

* numeric: a reservoir of at most ``max_sample`` values (KS, Wasserstein; exact while the window
  has no more rows than that) and counts over the reference's quantile bins (PSI, chi2, JS;
  exact for every row);
* categorical: counts over the reference categories plus one bucket for everything else, and
  the most frequent unseen values (:class:`~monitors.stats.contributors.TopCounter`);
* text: counts over the reference vocabulary (at most ``max_vocab`` words) and of
  out-of-vocabulary tokens, the most frequent unseen words; a words-per-row histogram;
  null/empty counts (:mod:`monitors.stats.text_window`);
* embedding: a reservoir of at most ``max_vectors`` vectors (MMD permutation test).

Memory is bounded by these sizes, never by the number of rows in a window or in the stream.
Rows and verdicts: :mod:`monitors.stats.verdicts`. ``summary`` gives what a closed window
keeps for readers, the bins ``evaluate`` compared (:mod:`monitors.stats.window_summary`).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from monitors.stats.calibrate import MultinomialNull
from monitors.stats.column_profile import numeric_values
from monitors.stats.contributors import TopCounter, describe, most_changed
from monitors.stats.embedding import embedding_matrix
from monitors.stats.ks import ks_pvalue, ks_statistic
from monitors.stats.mmd import mmd_test
from monitors.stats.psi import bin_counts, quantile_edges
from monitors.stats.sketch import Reservoir
from monitors.stats.text import as_strings, vocab_index
from monitors.stats.text_window import TextWindow
from monitors.stats.verdicts import (
    Row,
    Summary,
    WindowStats,
    aux,
    collapse,
    count_rows,
    reliable_count,
    supported_bins,
    verdict,
    with_detail,
)
from monitors.stats.wasserstein import wasserstein_sorted
from monitors.stats.window_summary import bins_summary, edge_labels, quantiles, unseen_items

__all__ = ["CategoricalWindow", "EmbeddingWindow", "NumericWindow", "TextWindow", "make_window"]


class NumericWindow(WindowStats):
    def __init__(self, prof, methods, thresholds, *, bins=10, max_sample=50_000, rng=None, seed=0):
        self.ref, self.m, self.std = prof.values, prof.n, prof.std
        self.edges = quantile_edges(self.ref, bins)
        scale = prof.n / len(self.ref)
        self.ref_counts = bin_counts(self.ref, self.edges) * scale
        self.reservoir = Reservoir(max_sample, rng)
        self.need_sample = bool({"ks", "wasserstein"} & set(methods))
        self.null = MultinomialNull(prof.n, seed)
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
        return rows + count_rows(
            others, self.thresholds, self.ref_counts, self.counts, self.n, self.null
        )

    def summary(self) -> Summary | None:
        if not self.n:
            return None
        bins = bins_summary(edge_labels(self.edges), self.ref_counts, self.counts)
        out = {"kind": "numeric", "n": self.n, "rows": self.rows, "bins": bins,
               "edges": self.edges.tolist()}  # fmt: skip
        if self.need_sample:
            out["quantiles"] = quantiles(self.ref, np.sort(self.reservoir.sample()))
        return out


class CategoricalWindow(WindowStats):
    def __init__(self, prof, methods, thresholds, *, seed=0):
        self.keys = pa.array(prof.keys, pa.string())
        self.labels = list(prof.keys)
        self.ref_counts = np.r_[prof.counts, prof.other].astype(np.float64)
        self.null = MultinomialNull(prof.n, seed)
        self.min_count = reliable_count(prof.counts)
        self.unseen = TopCounter()
        super().__init__(methods, thresholds)

    def reset(self) -> None:
        super().reset()
        self.counts = np.zeros(len(self.keys) + 1)
        self.unseen.reset()

    def update(self, arr: pa.Array) -> None:
        s = as_strings(arr)
        self.rows += len(s)
        s = s.drop_null()
        self.n += len(s)
        idx = vocab_index(s, self.keys)
        new = idx < 0
        idx[new] = len(self.keys)
        self.counts += np.bincount(idx, minlength=len(self.keys) + 1)
        if new.any():
            self.unseen.add(s.filter(pa.array(new)))

    def _tested(self) -> tuple[int, np.ndarray, np.ndarray]:
        # The bins every count statistic compares: evaluate() and summary() must agree.
        js = self.thresholds.get("js", 0.1)
        k = supported_bins(self.ref_counts, self.n, js, self.min_count)
        return k, collapse(self.ref_counts, k), collapse(self.counts, k)

    def evaluate(self) -> list[Row]:
        if not self.n:
            return []
        _, ref, win = self._tested()
        rows = count_rows(self.methods, self.thresholds, ref, win, self.n, self.null)
        return with_detail(rows, lambda _: self._changes())

    def summary(self) -> Summary | None:
        if not self.n:
            return None
        k, ref, win = self._tested()
        return {"kind": "categorical", "n": self.n, "rows": self.rows,
                "bins": bins_summary([*self.labels[:k], None], ref, win),
                "unseen": unseen_items(self.unseen.items())}  # fmt: skip

    def _changes(self) -> str:
        unseen = [(key, c / self.n) for key, c in self.unseen.items()]
        n_ref = max(self.ref_counts.sum(), 1.0)
        return describe(most_changed(self.labels, self.ref_counts[:-1] / n_ref,
                                     self.counts[:-1] / self.n, unseen))  # fmt: skip


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
        return NumericWindow(
            prof, methods, thresholds, bins=bins, max_sample=max_sample, rng=rng, seed=seed
        )
    if prof.kind == "categorical":
        return CategoricalWindow(prof, methods, thresholds, seed=seed)
    if prof.kind == "text":
        return TextWindow(prof, methods, thresholds, js_bins=js_bins, seed=seed)
    return EmbeddingWindow(
        prof, methods, thresholds, max_vectors=max_vectors, n_perm=n_perm, rng=rng
    )
