"""Embedding (vector) columns: Arrow list column to matrix, reference samples, novelty cutoff.

What an :class:`~monitors.stats.column_profile.EmbeddingProfile` keeps is a uniform sample of
reference vectors; the helpers here build that sample, merge two of them in proportion to the
rows they stand for, and compute the nearest-neighbour distance beyond which a vector is novel.
The MMD statistic itself is in :mod:`monitors.stats.mmd`.

>>> import pyarrow as pa
>>> mat, valid = embedding_matrix(pa.array([[0.0, 1.0], None, [2.0, 3.0], [1.0]]))
>>> mat.tolist(), valid.tolist()
([[0.0, 1.0], [2.0, 3.0]], [True, False, True, False])
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from monitors.stats.mmd import _sqdist


def embedding_matrix(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """``(vectors, valid)``: the rows holding a full vector of the most common length.

    >>> embedding_matrix(pa.array([[1.0, float("nan")], [1.0, 2.0]]))[1].tolist()
    [False, True]
    """
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_fixed_size_list(arr.type):
        arr = arr.cast(pa.list_(arr.type.value_type))
    if not (pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type)):
        raise ValueError(f"expected a list (vector) column for embeddings, got {arr.type}")
    lengths = pc.fill_null(pc.list_value_length(arr), 0).to_numpy(zero_copy_only=False)
    dim = int(np.bincount(lengths[lengths > 0]).argmax()) if (lengths > 0).any() else 0
    valid = (lengths == dim) & (lengths > 0)
    sub = arr.filter(pa.array(valid))
    flat = pc.list_flatten(sub).cast(pa.float64()).to_numpy(zero_copy_only=False)
    mat = flat.reshape(len(sub), dim) if dim else np.empty((0, 0))
    finite = np.isfinite(mat).all(axis=1)
    valid[np.flatnonzero(valid)[~finite]] = False
    return mat[finite], valid


def sample_rows(mat: np.ndarray, k: int, seed: int) -> np.ndarray:
    """A uniform sample of at most ``k`` rows of ``mat``, kept in their original order.

    >>> sample_rows(np.arange(10.0).reshape(5, 2), 3, seed=0).shape
    (3, 2)
    """
    rng = np.random.default_rng(seed)
    take = rng.choice(len(mat), min(len(mat), k), replace=False)
    return mat[np.sort(take)]


def merge_samples(
    a: np.ndarray, n_a: int, b: np.ndarray, n_b: int, k: int, seed: int
) -> np.ndarray:
    """About ``k`` rows drawn from samples ``a`` and ``b`` in proportion to the ``n_a``/``n_b``
    values they stand for (``a`` itself when both are empty).

    >>> a, b = np.zeros((10, 2)), np.ones((10, 2))
    >>> merge_samples(a, 300, b, 100, k=8, seed=0).sum(axis=0).tolist()
    [2.0, 2.0]
    """
    rng = np.random.default_rng(seed + n_a + n_b)
    n = n_a + n_b
    k_a = round(k * n_a / n) if n else 0
    k_b = k - k_a
    parts = [
        s[rng.choice(len(s), min(want, len(s)), replace=False)]
        for s, want in ((a, k_a), (b, k_b))
        if len(s)
    ]
    return np.vstack(parts) if parts else a


def novelty_cutoff(sample: np.ndarray) -> float:
    """The 99% quantile of the sample's nearest-neighbour distances (``inf`` below 2 rows).

    >>> novelty_cutoff(np.array([[0.0], [1.0], [2.0]]))
    1.0
    >>> novelty_cutoff(np.zeros((1, 2)))
    inf
    """
    if len(sample) < 2:
        return np.inf
    d = np.sqrt(_sqdist(sample, sample))
    np.fill_diagonal(d, np.inf)
    return float(np.quantile(d.min(axis=1), 0.99))
