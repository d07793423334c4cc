r"""Chi-square test of homogeneity between reference and window category counts.

For the 2 x k table of counts :math:`O_{ij}` (row 0 the reference, row 1 the window) with
expected counts :math:`E_{ij} = R_i C_j / N`,

.. math:: \chi^2 = \sum_{ij} \frac{(O_{ij} - E_{ij})^2}{E_{ij}}, \qquad \mathrm{dof} = k - 1,

over the categories seen in either sample (as ``scipy.stats.chi2_contingency`` with
``correction=False``: no Yates correction). Categories unseen in the reference count as their
own column, so new values raise the statistic. Drift when ``p < 0.05`` by default.

>>> import numpy as np
>>> stat, p, dof = chi2_homogeneity(np.array([50, 50]), np.array([50, 50]))
>>> stat, p, dof
(0.0, 1.0, 1)
"""

from __future__ import annotations

import numpy as np
from scipy.stats import chi2


def chi2_homogeneity(ref_counts: np.ndarray, win_counts: np.ndarray) -> tuple[float, float, int]:
    """``(statistic, p-value, dof)`` for two count vectors over the same categories."""
    obs = np.vstack(
        [np.asarray(ref_counts, dtype=np.float64), np.asarray(win_counts, dtype=np.float64)]
    )
    if (obs < 0).any():
        raise ValueError("chi2_homogeneity: counts must be non-negative")
    obs = obs[:, obs.sum(axis=0) > 0]
    rows = obs.sum(axis=1)
    if obs.shape[1] < 2 or (rows == 0).any():
        return 0.0, 1.0, max(obs.shape[1] - 1, 0)
    expected = np.outer(rows, obs.sum(axis=0)) / obs.sum()
    stat = float(np.sum((obs - expected) ** 2 / expected))
    dof = obs.shape[1] - 1
    return stat, float(chi2.sf(stat, dof)), dof
