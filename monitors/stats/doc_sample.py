"""What a text profile keeps of its documents: document frequencies and a bounded sample.

* ``doc_freq``: for every kept vocabulary word, the number of reference texts containing it.
  Words found in exactly one text give the document-level Good-Turing estimate of how much of a
  *new* text is unseen vocabulary (real text is bursty: a name repeated in one review is seen
  several times, yet it is as new to the next review as a word seen once).
* a sample of at most ``doc_sample`` texts (and ``doc_sample_tokens`` tokens), each as the
  vocabulary ids of its words (``-1`` for words outside the kept vocabulary), flattened, with
  offsets. Drift statistics are calibrated by resampling these texts
  (:mod:`monitors.stats.calibrate`), which keeps the burstiness a word-level model would miss.

Samples are uniform over texts; two samples merge in proportion to the texts they stand for.

>>> import pyarrow as pa
>>> ids, rows = np.array([0, 1, 0, 0, 2]), np.array([0, 0, 1, 1, 2])
>>> doc_frequencies(ids, rows, 3).tolist()
[2, 1, 1]
>>> s_ids, offsets = sample_docs(ids, rows, np.arange(3), 2, 100, seed=0)
>>> len(offsets) - 1, int(offsets[-1]) <= 5
(2, True)
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from monitors.stats.text import vocab_index


def doc_frequencies(ids: np.ndarray, rows: np.ndarray, n_vocab: int) -> np.ndarray:
    """Texts containing each vocabulary id (tokens with id ``-1`` ignored)."""
    keep = ids >= 0
    if not keep.any():
        return np.zeros(n_vocab, np.int64)
    span = int(rows.max()) + 1
    pairs = np.sort(ids[keep].astype(np.int64) * span + rows[keep])  # sorting beats hashing
    distinct = pairs[np.r_[True, pairs[1:] != pairs[:-1]]]
    return np.bincount(distinct // span, minlength=n_vocab).astype(np.int64)


def sample_docs(ids, rows, candidates, max_docs: int, max_tokens: int, seed: int):
    """``(ids, offsets)`` of a uniform sample of the texts (rows) listed in ``candidates``.

    Texts are taken in a random order while the sample has at most ``max_docs`` texts and
    ``max_tokens`` tokens (the first text always).
    """
    candidates = np.asarray(candidates, np.int64)
    if max_docs <= 0 or len(candidates) == 0:
        return np.zeros(0, np.int32), np.zeros(1, np.int64)
    chosen = np.random.default_rng(seed).permutation(candidates)[:max_docs]
    n_rows = max(int(candidates.max()), int(rows.max()) if len(rows) else 0) + 1
    lengths = np.bincount(rows, minlength=n_rows)[chosen]
    keep = max(1, int(np.searchsorted(np.cumsum(lengths), max_tokens, side="right")))
    chosen, lengths = chosen[:keep], lengths[:keep]
    pos = np.full(n_rows, -1, np.int64)
    pos[chosen] = np.arange(keep)
    where = pos[rows]
    mine = where >= 0
    order = np.argsort(where[mine], kind="stable")
    return ids[mine][order].astype(np.int32), np.r_[0, np.cumsum(lengths)].astype(np.int64)


def merge_doc_samples(a, b, vocab: list[str], max_docs: int, max_tokens: int):
    """Merge two samples, each ``(ids, offsets, its vocabulary, texts it stands for)``.

    Each side gives texts in proportion to the texts it stands for; ids are remapped to
    ``vocab`` (``-1`` where a word fell out of it).
    """
    n_a, n_b = a[3], b[3]
    rng = np.random.default_rng([n_a, n_b, len(a[1]), len(b[1])])
    k_a = round(max_docs * n_a / (n_a + n_b)) if n_a + n_b else 0
    merged = pa.array(vocab, pa.string())
    parts: list[np.ndarray] = []
    for (ids, offsets, old_vocab, _), want in ((a, k_a), (b, max_docs - k_a)):
        docs = len(offsets) - 1
        if docs <= 0 or want <= 0:
            continue
        mapping = vocab_index(pa.array(old_vocab, pa.string()), merged)
        new_ids = np.where(ids >= 0, mapping[np.maximum(ids, 0)], -1) if len(ids) else ids
        pick = np.sort(rng.choice(docs, min(docs, want), replace=False))
        parts += [new_ids[offsets[d] : offsets[d + 1]] for d in pick]
    if not parts:
        return np.zeros(0, np.int32), np.zeros(1, np.int64)
    order = rng.permutation(len(parts))
    lengths = np.array([len(parts[i]) for i in order], np.int64)
    keep = max(1, int(np.searchsorted(np.cumsum(lengths), max_tokens, side="right")))
    offsets = np.r_[0, np.cumsum(lengths[:keep])].astype(np.int64)
    ids = np.concatenate([parts[i] for i in order[:keep]]).astype(np.int32)
    return ids, offsets


def missing_mass_variance(counts: np.ndarray, doc_freq: np.ndarray | None, total: int) -> float:
    r"""Variance of the Good-Turing estimate of the unseen share of new text.

    With token shares :math:`c_w = \mathrm{count}_w / N` and document frequencies ``df``,
    :math:`\sum_{df_w = 1} c_w^2 + \tfrac12 \sum_{df_w = 2} c_w^2`: Esty's
    :math:`(N_1 + 2 N_2) / N^2` when every word occurs once per text (``doc_freq=None``: the
    word counts stand in for document frequencies).

    >>> round(missing_mass_variance(np.array([5, 2, 1, 1]), None, 10), 6)  # (2 + 2 * 1) / 10**2
    0.04
    """
    if total <= 0:
        return 0.0
    df = counts if doc_freq is None else doc_freq
    c = np.asarray(counts, np.float64) / total
    return float((c[df == 1] ** 2).sum() + 0.5 * (c[df == 2] ** 2).sum())
