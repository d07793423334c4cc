"""Clusters of edge cases: groups of similar retraining rows, each named by its own words.

The pipeline, one pure function per step:

1. :func:`embed_texts` (from :mod:`dashboard.text_embeddings`): all-MiniLM-L6-v2 sentence
   embeddings, else TF-IDF + TruncatedSVD. Exact duplicate texts are embedded and clustered
   once and counted in full.
2. :func:`reduce`: PCA to 50 dimensions, then UMAP to 5 (``umap-learn``; PCA to 10 without
   it). HDBSCAN's densities mean little in 384 dimensions: on real text, clusters found in
   the raw or PCA-reduced embeddings were mostly noise (``benchmarks/bench_clusters.py``).
3. :func:`find_clusters`: HDBSCAN (:func:`dashboard.projections.cluster`), ids renumbered by
   size (0 is the largest), ``-1`` the rows that fit no cluster (noise, its own group).
4. :func:`label_terms`: class-based TF-IDF (c-TF-IDF, as BERTopic names topics): a term
   scores by its share of the cluster's words times ``log(1 + A / f)``, ``A`` the mean
   words per group and ``f`` the term's count in the whole set; English stop words and terms
   in fewer than two of the cluster's rows are left out.
5. :func:`central_examples`: the rows nearest the cluster's mean embedding (cosine).
6. A 2-D map by :func:`dashboard.projections.project` (UMAP of the reduced vectors), of at most
   :data:`MAP_ROWS` rows.

:func:`cluster_edge_cases` runs them all on a frame of edge cases, the :data:`MAX_ROWS` most
recent rows at most.

>>> terms = label_terms(["nike shoes hurt", "nike shoes tight", "late refund", "refund late"],
...                     np.array([0, 0, 1, 1]), top=2)
>>> terms[0], terms[1]
(['nike', 'shoes'], ['late', 'refund'])
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dashboard import projections
from dashboard.text_embeddings import Embedding, embed, embed_texts

__all__ = ["ClusterResult", "Embedding", "central_examples", "cluster_edge_cases", "embed",
           "embed_texts", "find_clusters", "label_terms", "reduce"]  # fmt: skip

#: Rows clustered at most: the most recent ones (embedding costs ~3 ms a row on two cores).
MAX_ROWS = 20_000
#: Rows drawn on the 2-D map at most (a seeded sample).
MAP_ROWS = projections.MAX_ROWS
#: Texts needed to cluster at all.
MIN_ROWS = 10
NOISE = -1
NOISE_LABEL = "noise (fits no cluster)"
_TOKENS = r"(?u)\b[^\W\d_]{2,}\b"  # words of two letters or more, no digits
# What the token pattern leaves of English contractions ("I'll", "doesn't"): never a topic.
_CONTRACTIONS = frozenset({"ll", "ve", "re", "don", "doesn", "didn", "isn", "wasn", "aren",
                           "weren", "couldn", "wouldn", "shouldn", "won", "hasn", "haven",
                           "hadn", "ain"})  # fmt: skip


class ClusterInputError(ValueError):
    """The rows cannot be clustered (no such column, too few texts)."""


@dataclass(frozen=True)
class ClusterResult:
    """Clusters of a frame's rows.

    ``ids``: the cluster of every row of the frame (``Int64``, indexed like it; ``-1`` noise,
    ``<NA>`` rows not clustered: no text, or older than the :data:`MAX_ROWS` most recent).
    ``summary``: one row per cluster (noise last): ``cluster``, ``label``, ``terms``, ``rows``,
    ``share`` (of the clustered rows) and ``examples``. ``points``: the 2-D map (``x``, ``y``,
    ``cluster``, ``label``, ``text``), indexed like the frame. ``method``: how texts were
    embedded, ``reduction`` how they were reduced, ``note`` why the fallback was used.
    """

    ids: pd.Series
    summary: pd.DataFrame
    points: pd.DataFrame
    method: str
    reduction: str
    note: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def clustered(self) -> int:
        """Rows given a cluster (noise included)."""
        return int(self.ids.notna().sum())

    def label(self, cluster: int) -> str:
        """``"3 · battery, charger, drains"``: the id and top terms of a cluster."""
        hit = self.summary.loc[self.summary["cluster"] == cluster, "label"]
        return str(hit.iloc[0]) if len(hit) else str(cluster)


def reduce(x: np.ndarray, dim: int = 5, seed: int = 0) -> tuple[np.ndarray, str]:
    """``x`` reduced for density clustering, and how: PCA to 50 dimensions, then UMAP to
    ``dim`` (PCA to 10 when ``umap-learn`` is missing).

    >>> z, how = reduce(np.random.default_rng(0).normal(size=(30, 8)), dim=2)
    >>> z.shape, how
    ((30, 2), 'UMAP to 2-d')
    """
    x = np.asarray(x, dtype=float)
    if x.shape[1] > 50:
        x = projections.project(x, "PCA", 50, seed)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # UMAP warns that a seed makes it single-threaded
            z = projections.project(x, "UMAP", dim, seed, n_neighbors=15, min_dist=0.0)
        return z, f"UMAP to {dim}-d"
    except projections.MissingExtra:
        z = projections.project(x, "PCA", 10, seed)
        return z, f"PCA to {z.shape[1]}-d (umap-learn is not installed)"


def default_min_cluster_size(n: int) -> int:
    """HDBSCAN's smallest cluster: 2% of the rows (as on the Visuals page), at least 10.

    >>> default_min_cluster_size(300), default_min_cluster_size(20_000)
    (10, 400)
    """
    return max(10, n // 50)


def find_clusters(z: np.ndarray, min_cluster_size: int | None = None) -> np.ndarray:
    """HDBSCAN cluster ids of reduced vectors, 0 the largest cluster, ``-1`` noise.

    Clusters are HDBSCAN's default selection (excess of mass) unless one of them holds more
    than half the rows, which names no problem; then they are the leaves of its tree. On real
    text the excess of mass often kept such a cluster (``benchmarks/bench_clusters.py``).

    >>> rng = np.random.default_rng(0)
    >>> z = np.vstack([rng.normal(0, 0.1, (30, 2)), rng.normal(5, 0.1, (12, 2))])
    >>> np.bincount(find_clusters(z, 10)).tolist()
    [30, 12]
    """
    n = len(z)
    size = min(min_cluster_size or default_min_cluster_size(n), max(2, n // 2))
    raw = projections.cluster(z, "HDBSCAN", min_cluster_size=size)
    if (raw >= 0).any() and np.bincount(raw[raw >= 0]).max() > n / 2:
        raw = projections.cluster(z, "HDBSCAN", min_cluster_size=size, selection="leaf")
    ids, counts = np.unique(raw[raw >= 0], return_counts=True)
    by_size = ids[np.lexsort((ids, -counts))]  # ties broken by HDBSCAN's own order
    remap = {int(old): new for new, old in enumerate(by_size)}
    return np.array([remap.get(int(c), NOISE) for c in raw], dtype=int)


def label_terms(
    texts: Sequence[str],
    labels: np.ndarray,
    top: int = 5,
    weights: np.ndarray | None = None,
) -> dict[int, list[str]]:
    """The ``top`` c-TF-IDF terms of each group of ``labels`` (``weights``: rows per text).

    >>> label_terms(["the cat sat", "the cat ran", "the dog ran"], np.array([0, 0, 1]), top=1)
    {0: ['cat'], 1: ['dog']}
    """
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    groups, group_of = np.unique(np.asarray(labels), return_inverse=True)
    n = len(group_of)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    stop = sorted(ENGLISH_STOP_WORDS | _CONTRACTIONS)
    vectorizer = CountVectorizer(stop_words=stop, token_pattern=_TOKENS)
    try:
        counts = vectorizer.fit_transform([str(t) for t in texts])
    except ValueError:  # no words at all once stop words are out
        return {int(g): [] for g in groups}
    member = sp.csr_matrix((w, (group_of, np.arange(n))), shape=(len(groups), n))
    tf = (member @ counts).toarray()  # group x term: the term's count among the group's rows
    rows_with = (member @ (counts > 0).astype(float)).toarray()
    idf = np.log1p(tf.sum(1).mean() / np.maximum(tf.sum(0), 1e-12))
    scores = tf / np.maximum(tf.sum(1, keepdims=True), 1e-12) * idf
    # A label says what the group shares: a term in one row of a larger group is no label.
    scores[rows_with < np.minimum(2, np.bincount(group_of, weights=w))[:, None]] = 0
    vocab = vectorizer.get_feature_names_out()
    out = {}
    for i, g in enumerate(groups):
        order = np.lexsort((vocab, -scores[i]))[:top]  # ties: alphabetical
        out[int(g)] = [str(vocab[j]) for j in order if scores[i, j] > 0]
    return out


def central_examples(
    x: np.ndarray, labels: np.ndarray, texts: Sequence[str], k: int = 3
) -> dict[int, list[str]]:
    """The ``k`` texts of each group nearest its mean vector (cosine), most central first.

    >>> x = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    >>> central_examples(x, np.array([0, 0, 0]), ["a", "b", "c"], k=2)
    {0: ['b', 'a']}
    """
    x = np.asarray(x, dtype=float)
    unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    out = {}
    for g in np.unique(labels):
        rows = np.flatnonzero(labels == g)
        centre = unit[rows].mean(0)
        near = rows[np.argsort(-(unit[rows] @ centre), kind="stable")[:k]]
        out[int(g)] = [str(texts[i]) for i in near]
    return out


def _texts(frame: pd.DataFrame, column: str, max_rows: int) -> pd.Series:
    if column not in frame.columns:
        raise ClusterInputError(
            f"no column {column!r} to cluster; the rows have: {', '.join(map(str, frame.columns))}"
        )
    values = frame[column]
    if "ts" in frame.columns:
        values = values.loc[frame["ts"].sort_values(ascending=False, kind="stable").index]
    else:
        values = values.iloc[::-1]
    texts = values.dropna().astype(str).str.strip()
    texts = texts[texts != ""].head(max_rows)
    if texts.nunique() < MIN_ROWS:
        raise ClusterInputError(
            f"clustering needs at least {MIN_ROWS} different texts in column {column!r}; "
            f"found {texts.nunique()}"
        )
    return texts


def cluster_edge_cases(
    frame: pd.DataFrame,
    column: str = "text",
    *,
    encoder: str | None = None,
    max_rows: int = MAX_ROWS,
    min_cluster_size: int | None = None,
    seed: int = 0,
) -> ClusterResult:
    """Cluster the text of ``frame[column]``: the ``max_rows`` most recent rows (by ``ts``).

    Same rows, same clusters: every step is seeded. Raises :class:`ClusterInputError` when
    the column is missing or holds fewer than :data:`MIN_ROWS` different texts.

    >>> words = ["battery drains charger", "refund late support", "screen cracked glass"]
    >>> rows = pd.DataFrame({"text": [f"{w} {i}" for w in words for i in range(12)]})
    >>> result = cluster_edge_cases(rows, encoder="/no/local/encoder")
    >>> result.method, sorted(result.summary["rows"].tolist())
    ('TF-IDF + TruncatedSVD', [12, 12, 12])
    """
    texts = _texts(frame, column, max_rows)
    codes, unique = pd.factorize(texts, sort=True)  # sorted: same set, same order
    weights = np.bincount(codes).astype(float)
    clock = {"start": time.perf_counter()}
    embedding = embed_texts(list(unique), encoder, seed)
    clock["embed"] = time.perf_counter()
    z, reduction = reduce(embedding.vectors, seed=seed)
    clock["reduce"] = time.perf_counter()
    labels = find_clusters(z, min_cluster_size)
    clock["hdbscan"] = time.perf_counter()
    summary = _summary(unique, labels, weights, embedding.vectors)
    clock["labels"] = time.perf_counter()
    ids = pd.Series(pd.NA, index=frame.index, dtype="Int64", name="cluster")
    ids.loc[texts.index] = labels[codes]
    points = _map(z, labels, unique, codes, texts.index, summary, seed)
    clock["map"] = time.perf_counter()
    steps = list(clock)
    seconds = {b: clock[b] - clock[a] for a, b in zip(steps, steps[1:], strict=False)}
    return ClusterResult(ids, summary, points, embedding.method, reduction, embedding.note,
                         seconds)  # fmt: skip


def _summary(
    unique: Sequence[str], labels: np.ndarray, weights: np.ndarray, vectors: np.ndarray
) -> pd.DataFrame:
    terms = label_terms(unique, labels, weights=weights)
    examples = central_examples(vectors, labels, unique)
    rows = pd.Series(weights).groupby(labels).sum()
    order = [g for g in rows.index if g != NOISE] + [g for g in rows.index if g == NOISE]
    out = pd.DataFrame({"cluster": np.array(order, dtype=int)})
    out["terms"] = [", ".join(terms[g]) for g in order]
    out["label"] = [
        NOISE_LABEL if g == NOISE else f"{g} · {', '.join(terms[g][:3]) or 'no distinctive words'}"
        for g in order
    ]
    out["rows"] = [int(rows[g]) for g in order]
    out["share"] = out["rows"] / max(1, int(weights.sum()))
    out["examples"] = [" | ".join(examples[g]) for g in order]
    return out[["cluster", "label", "terms", "rows", "share", "examples"]]


def _map(
    z: np.ndarray,
    labels: np.ndarray,
    unique: Sequence[str],
    codes: np.ndarray,
    index: pd.Index,
    summary: pd.DataFrame,
    seed: int,
) -> pd.DataFrame:
    # One point per row, on a seeded sample of rows: duplicates show as the crowd they are.
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(codes), size=min(MAP_ROWS, len(codes)), replace=False))
    drawn = np.unique(codes[pick])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            xy = projections.project(z[drawn], "UMAP", 2, seed) if len(drawn) > 3 else z[drawn]
        except projections.MissingExtra:
            xy = projections.project(z[drawn], "PCA", 2, seed)
    at = {int(u): i for i, u in enumerate(drawn)}
    names = dict(zip(summary["cluster"], summary["label"], strict=True))
    rows = [at[int(c)] for c in codes[pick]]
    jitter = rng.normal(0, 0.02, (len(pick), 2))  # duplicates would hide behind one dot
    xy2 = np.asarray(xy, dtype=float)[:, :2]
    if xy2.shape[1] == 1:
        xy2 = np.column_stack([xy2, np.zeros(len(xy2))])
    points = pd.DataFrame(xy2[rows] + jitter, columns=["x", "y"], index=index[pick])
    points["cluster"] = labels[codes[pick]]
    points["label"] = points["cluster"].map(names)
    points["text"] = [str(unique[c])[:160] for c in codes[pick]]
    return points
