r"""Jensen-Shannon distance between two count vectors over the same bins.

With shares :math:`p, q` and :math:`m = (p + q) / 2`,

.. math:: \mathrm{JS}(p, q) = \sqrt{\tfrac12 \mathrm{KL}(p \Vert m) + \tfrac12 \mathrm{KL}(q \Vert m)}

in base 2, so it lies in ``[0, 1]`` and is a metric; unlike PSI it needs no epsilon (``m`` is
positive wherever ``p`` or ``q`` is). Drift when the distance exceeds 0.1 by default.

>>> import numpy as np
>>> js_distance(np.array([1, 0]), np.array([0, 1]))
1.0
>>> js_distance(np.array([3, 1]), np.array([6, 2]))
0.0
"""

from __future__ import annotations

import numpy as np


def js_distance(p_counts: np.ndarray, q_counts: np.ndarray, base: float = 2.0) -> float:
    """Jensen-Shannon distance (square root of the divergence) in the given log ``base``."""
    if not base > 1:
        raise ValueError(f"base must be > 1, got {base!r}")
    p, q = np.asarray(p_counts, np.float64), np.asarray(q_counts, np.float64)
    if p.shape != q.shape:
        raise ValueError(f"p_counts and q_counts differ in length: {p.shape} vs {q.shape}")
    if (p < 0).any() or (q < 0).any() or not (p.sum() > 0 and q.sum() > 0):
        raise ValueError("js_distance: counts must be non-negative with positive totals")
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2
    div = (_kl(p, m) + _kl(q, m)) / (2 * np.log(base))
    return float(np.sqrt(max(div, 0.0)))


def _kl(a: np.ndarray, b: np.ndarray) -> float:
    nz = a > 0
    return float(np.sum(a[nz] * np.log(a[nz] / b[nz])))
