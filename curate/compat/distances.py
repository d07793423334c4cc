"""UpTrain's row-wise distances between a batch of vectors and a reference batch.

>>> import numpy as np
>>> a, b = np.array([[1.0, 0.0], [0.0, 2.0]]), np.array([[1.0, 0.0], [2.0, 0.0]])
>>> {k: v.round(3).tolist() for k, v in distances(["cosine_distance", "l2_distance"], a, b).items()}
{'cosine_distance': [0.0, 1.0], 'l2_distance': [0.0, 8.0]}
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from curate.errors import ConfigError


def _norm(v: np.ndarray) -> np.ndarray:
    return np.linalg.norm(v, axis=1) if v.ndim > 1 else np.abs(v)


def cosine_distance(base: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``1 - cos(base_i, ref_i)`` per row."""
    return 1 - np.sum(base * ref, axis=-1) / (_norm(base) * _norm(ref))


def l2_distance(base: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Squared L2 distance per row (UpTrain's ``l2_distance`` does not take the root)."""
    return np.sum((base - ref) ** 2, axis=tuple(range(1, base.ndim)))


def norm_ratio(base: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``|base_i| / max(|ref_i|, 1e-6)`` per row."""
    return _norm(base) / np.maximum(_norm(ref), 1e-6)


DISTANCES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "cosine_distance": cosine_distance,
    "l2_distance": l2_distance,
    "norm_ratio": norm_ratio,
}


def distances(kinds: list[str], base: np.ndarray, ref: np.ndarray) -> dict[str, np.ndarray]:
    """Each named distance between ``base`` and ``ref`` (same shapes), row by row."""
    if base.shape != ref.shape:
        raise ValueError(f"distance: shapes differ ({base.shape} vs {ref.shape})")
    out = {}
    for kind in kinds:
        if kind not in DISTANCES:
            raise ConfigError(f"distance_type {kind!r} is not one of {', '.join(DISTANCES)}")
        out[kind] = DISTANCES[kind](base, ref)
    return out
