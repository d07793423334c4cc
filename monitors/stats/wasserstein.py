r"""Wasserstein-1 (earth mover's) distance, normed by the reference's standard deviation.

For CDFs :math:`F` (reference) and :math:`G` (window),

.. math:: W_1 = \int_{-\infty}^{\infty} \lvert F(x) - G(x) \rvert \, dx ,
          \qquad W_{normed} = W_1 / \max(\sigma_{ref}, 10^{-3}).

The normed distance reads in reference standard deviations: a mean shift of ``0.2 σ`` gives
``0.2``. The default threshold is 0.1. The sorted reference is merged with the sorted window
in :math:`O(n + m)` (``np.insert`` at ``searchsorted`` positions), never re-sorted.

>>> import numpy as np
>>> wasserstein_sorted(np.array([0.0, 1.0, 3.0]), np.array([5.0, 6.0, 8.0]))
5.0
>>> round(normed_wasserstein(np.arange(10.0), np.arange(10.0) + 1, 2.0), 6)
0.5
"""

from __future__ import annotations

import numpy as np


def wasserstein_sorted(ref_sorted: np.ndarray, win_sorted: np.ndarray) -> float:
    """Exact ``W_1`` between two sorted non-empty samples (equal weights within each)."""
    m, n = len(ref_sorted), len(win_sorted)
    if m == 0 or n == 0:
        raise ValueError("wasserstein_sorted: both samples must be non-empty")
    pos = np.searchsorted(ref_sorted, win_sorted, side="left")
    merged = np.insert(ref_sorted, pos, win_sorted)
    is_win = np.zeros(m + n, dtype=bool)
    is_win[pos + np.arange(n)] = True
    # After the first k+1 merged points, c of them from the window: F_ref - F_win equals
    # (k + 1 - c) / m - c / n = (k + 1) / m - c (1/m + 1/n).
    gap = np.arange(1, m + n, dtype=np.float64) / m
    gap -= np.cumsum(is_win[:-1]) * (1.0 / m + 1.0 / n)
    return float(np.sum(np.abs(gap, out=gap) * np.diff(merged)))


def normed_wasserstein(ref_sorted: np.ndarray, win: np.ndarray, ref_std: float) -> float:
    """``W_1`` divided by ``max(ref_std, 1e-3)``; ``win`` need not be sorted."""
    if not np.isfinite(ref_std) or ref_std < 0:
        raise ValueError(f"ref_std must be a finite non-negative number, got {ref_std!r}")
    w = wasserstein_sorted(ref_sorted, np.sort(np.asarray(win, dtype=np.float64)))
    return w / max(float(ref_std), 1e-3)


def wasserstein_counts(ref_counts: np.ndarray, win_counts: np.ndarray) -> float:
    """``W_1`` between two histograms over the same unit-spaced support ``0, 1, ..., k-1``.

    >>> wasserstein_counts(np.array([1, 0, 0]), np.array([0, 0, 1]))
    2.0
    """
    p = np.asarray(ref_counts, np.float64)
    q = np.asarray(win_counts, np.float64)
    if p.shape != q.shape or not (p.sum() > 0 and q.sum() > 0):
        raise ValueError("wasserstein_counts: same-length counts with positive totals expected")
    return float(np.abs(np.cumsum(p / p.sum()) - np.cumsum(q / q.sum()))[:-1].sum())
