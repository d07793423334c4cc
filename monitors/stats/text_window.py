"""Window state of a text column, and how each text statistic is read and calibrated.

A window counts every reference-vocabulary word and the out-of-vocabulary (OOV) tokens, keeps
the most frequent unseen words (bounded), a words-per-row histogram and null/empty counts.
On close, per method (thresholds are the configured minimum effects, raised as below):

* ``js`` / ``psi``: word frequencies over the ``k`` most frequent reference words the window
  supports (:func:`~monitors.stats.verdicts.supported_bins`) and one tail bin (all other words,
  unseen ones included). Threshold: at least the 99.99% quantile of the statistic over windows of
  the same number of texts resampled from the profile's text sample
  (:class:`~monitors.stats.calibrate.DocNull`).
* ``oov``: the window's OOV share against the share expected of new text (document-level
  Good-Turing, :attr:`~monitors.stats.column_profile.TextProfile.expected_oov_rate`); drift
  when it exceeds that by more than the larger of the configured margin (0.01) and 3.72
  standard deviations (one-sided 99.99%): the resampled windows' spread plus the estimate's own
  (:func:`~monitors.stats.doc_sample.missing_mass_variance`, times :data:`CLUSTERED`).
* ``length``: Wasserstein distance of the words-per-row histograms over the reference's
  standard deviation, raised to the 99.99% quantile of windows of as many rows drawn from the
  reference histogram (log-normal fit).
* ``empty``: the share of null or empty texts above the reference's by more than the larger of
  the configured margin and 3.72 binomial standard deviations.

A profile without a text sample (saved by an older version) compares ``js``, ``psi`` and
``oov`` with the configured thresholds only; ``calibrated`` is then ``False`` on those rows.

``summary`` keeps the compared word bins, the OOV and empty counts, the most frequent unseen
words and both words-per-text histograms (:mod:`monitors.stats.window_summary`).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from monitors.stats.calibrate import Z_UPPER, DocNull, MultinomialNull
from monitors.stats.contributors import TopCounter, describe, most_changed
from monitors.stats.doc_sample import missing_mass_variance
from monitors.stats.text import as_strings, tokenize, vocab_index, word_counts
from monitors.stats.verdicts import (
    Row,
    Summary,
    WindowStats,
    calibrated,
    collapse,
    count_rows,
    reliable_count,
    supported_bins,
    verdict,
    with_detail,
)
from monitors.stats.wasserstein import wasserstein_counts
from monitors.stats.window_summary import bins_summary, trimmed, unseen_items

# The Good-Turing variance formula treats words as independent; in real corpora texts cluster
# (reviews of one film share its cast's names) and, over 20 splits of the review corpus of
# tests/test_real_text.py, the estimate erred 1.5 times as much (sd 0.0023, formula 0.0015).
CLUSTERED = 2.25


class TextWindow(WindowStats):
    def __init__(self, prof, methods, thresholds, *, js_bins=500, seed=0):
        self.vocab, self.labels = pa.array(prof.vocab, pa.string()), list(prof.vocab)
        self.k = min(js_bins, len(prof.vocab))
        words = prof.counts.astype(np.float64)
        total = float(max(prof.total_tokens, 1))
        self.ref_shares = words / total
        self.ref_bins = np.r_[words[: self.k], total - words[: self.k].sum()]
        self.min_count = reliable_count(prof.counts)
        self.ref_len = prof.length_counts.astype(np.float64)
        support = np.arange(len(self.ref_len))
        mean = (support * self.ref_len).sum() / max(self.ref_len.sum(), 1)
        var = (self.ref_len * (support - mean) ** 2).sum() / max(self.ref_len.sum(), 1)
        self.len_scale = max(float(np.sqrt(var)), 1.0)
        self.ref_oov = prof.expected_oov_rate
        gt_var = missing_mass_variance(prof.counts, prof.doc_freq, prof.total_tokens)
        self.oov_var = CLUSTERED * gt_var
        self.ref_rows = prof.n + prof.n_null
        self.ref_empty = (prof.n_empty + prof.n_null) / max(self.ref_rows, 1)
        self.null = DocNull.from_profile(prof, self.k, seed)
        self.len_null = MultinomialNull(prof.n, seed)
        self.unseen = TopCounter()
        super().__init__(methods, thresholds)

    def reset(self) -> None:
        super().reset()
        self.words = np.zeros(len(self.labels) + 1)
        self.lengths = np.zeros(len(getattr(self, "ref_len", [])))
        self.tokens = self.oov = self.empty = 0
        self.unseen.reset()

    def update(self, arr: pa.Array) -> None:
        s = as_strings(arr)
        tokens, rows = tokenize(s)
        idx = vocab_index(tokens, self.vocab)
        oov = idx < 0
        v = len(self.labels)
        self.words += np.bincount(np.where(oov, v, idx), minlength=v + 1)
        self.tokens += len(idx)
        self.oov += int(oov.sum())
        if oov.any():
            self.unseen.add(tokens.filter(pa.array(oov)))
        valid = s.is_valid().to_numpy(zero_copy_only=False)
        words = word_counts(rows, len(s))[valid]
        top = len(self.lengths) - 1
        self.lengths += np.bincount(np.minimum(words, top), minlength=top + 1)
        self.empty += int((words == 0).sum()) + int((~valid).sum())
        self.rows += len(s)
        self.n += int(valid.sum())

    def evaluate(self) -> list[Row]:
        rows: list[Row] = []
        for m in self.methods:
            if m in ("js", "psi") and self.tokens:
                rows += self._word_rows(m)
            elif m == "oov" and self.tokens:
                rows.append(self._oov_row())
            elif m == "length" and self.n:
                w = wasserstein_counts(self.ref_len, self.lengths) / self.len_scale
                q = self.len_null.quantile("w1", self.ref_len, self.n) / self.len_scale
                thr, how = calibrated(self.thresholds[m], q)
                rows.append(verdict(m, "length_wasserstein", w, thr, self.n, **how))
            elif m == "empty" and self.rows:
                rows.append(self._empty_row())
        return with_detail(rows, self._changes)

    def _tested(self) -> tuple[int, np.ndarray, np.ndarray]:
        # The word bins js and psi compare: _word_rows() and summary() must agree.
        js = self.thresholds.get("js", 0.1)
        k = supported_bins(self.ref_bins, self.tokens, js, self.min_count)
        ref = collapse(self.ref_bins, k)
        win = np.r_[self.words[:k], self.tokens - self.words[:k].sum()]
        return k, ref, win

    def summary(self) -> Summary | None:
        if not self.rows:
            return None
        out = {"kind": "text", "n": self.n, "rows": self.rows, "tokens": self.tokens,
               "oov": self.oov, "empty": self.empty, "unseen": unseen_items(self.unseen.items()),
               "lengths": trimmed(self.ref_len, self.lengths)}  # fmt: skip
        if self.tokens:
            k, ref, win = self._tested()
            out["bins"] = bins_summary([*self.labels[:k], None], ref, win)
        return out

    def _word_rows(self, method: str) -> list[Row]:
        k, ref, win = self._tested()
        null = None
        if self.null is not None:
            null = lambda stat: self.null.quantile(stat, self.n, k)  # noqa: E731
        return count_rows((method,), self.thresholds, ref, win, self.tokens, null)

    def _oov_row(self) -> Row:
        margin = 0.0
        if self.null is not None:
            margin = self.null.oov_margin(self.n, self.oov_var)
        step = max(self.thresholds["oov"], margin)
        note = f"expected {self.ref_oov:.3g} + {step:.3g}"
        if self.null is None:
            note += "; uncalibrated: the profile keeps no text sample"
        elif margin > self.thresholds["oov"]:
            note += ", calibrated to same-size reference samples"
        rate, thr = self.oov / self.tokens, self.ref_oov + step
        return verdict("oov", "oov_rate", rate, thr, self.tokens, calibrated=self.null is not None,
                       note=note)  # fmt: skip

    def _empty_row(self) -> Row:
        p = self.ref_empty
        sd = np.sqrt(p * (1 - p) * (1 / self.rows + 1 / max(self.ref_rows, 1)))
        step = max(self.thresholds["empty"], Z_UPPER * float(sd))
        return verdict("empty", "empty_rate", self.empty / self.rows, p + step, self.rows,
                       calibrated=True, note=f"reference {p:.3g} + {step:.3g}")  # fmt: skip

    def _changes(self, method: str) -> str:
        if not self.tokens or method in ("length", "empty"):
            return ""
        unseen = [(w, c / self.tokens) for w, c in self.unseen.items()]
        if method == "oov":
            return describe(most_changed([], np.zeros(0), np.zeros(0), unseen))
        win = self.words[:-1] / self.tokens
        return describe(most_changed(self.labels, self.ref_shares, win, unseen))
