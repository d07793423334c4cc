r"""Population stability index over quantile bins of the reference.

With reference bin shares :math:`p_i` and window bin shares :math:`q_i`,

.. math:: \mathrm{PSI} = \sum_i (q_i - p_i) \ln \frac{q_i}{p_i}
          = \mathrm{KL}(q \Vert p) + \mathrm{KL}(p \Vert q),

the symmetrised Kullback-Leibler divergence. Bins are the reference's quantiles (10 by default,
fewer when the reference has ties), so every reference bin holds about the same share. A share
of zero would make the index infinite: shares are floored at ``eps`` (``1e-4``) first, so the
index is always finite. The conventional reading: below 0.1 stable, 0.1-0.2 moderate shift,
above 0.2 significant; the default threshold is 0.1.

>>> import numpy as np
>>> edges = quantile_edges(np.arange(1000.0), bins=4)
>>> edges.tolist()
[249.75, 499.5, 749.25]
>>> ref = bin_counts(np.arange(1000.0), edges)
>>> round(psi(ref, bin_counts(np.arange(500.0), edges)), 3)
4.257
"""

from __future__ import annotations

import numpy as np


def quantile_edges(ref_sorted: np.ndarray, bins: int = 10) -> np.ndarray:
    """Inner bin edges at the reference's ``k / bins`` quantiles (duplicates removed)."""
    if not isinstance(bins, int | np.integer) or bins < 2:
        raise ValueError(f"bins must be an integer >= 2, got {bins!r}")
    if len(ref_sorted) == 0:
        raise ValueError("quantile_edges: the reference is empty")
    qs = np.quantile(ref_sorted, np.arange(1, bins) / bins)
    return np.unique(qs)


def bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of ``values`` in the bins ``(-inf, e0), [e0, e1), ..., [e_last, inf)``."""
    idx = np.searchsorted(edges, values, side="right")
    return np.bincount(idx, minlength=len(edges) + 1).astype(np.float64)


def psi(ref_counts: np.ndarray, win_counts: np.ndarray, eps: float = 1e-4) -> float:
    """PSI between two count (or weight) vectors over the same bins.

    >>> psi(np.array([50, 50]), np.array([50, 50]))
    0.0
    """
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps!r}")
    p = _shares(ref_counts, "ref_counts")
    q = _shares(win_counts, "win_counts")
    if p.shape != q.shape:
        raise ValueError(f"ref_counts and win_counts differ in length: {p.shape} vs {q.shape}")
    p, q = np.maximum(p, eps), np.maximum(q, eps)
    return float(np.sum((q - p) * np.log(q / p)))


def _shares(counts: np.ndarray, name: str) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if not total > 0 or (counts < 0).any():
        raise ValueError(f"{name} must be non-negative with a positive total")
    return counts / total
