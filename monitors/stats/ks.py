r"""Two-sample Kolmogorov-Smirnov test against a sorted reference.

The statistic is the largest gap between the two empirical CDFs,

.. math:: D = \sup_x \lvert F_{ref}(x) - F_{win}(x) \rvert .

Both CDFs are step functions, and between two consecutive window values :math:`F_{win}` is
constant while :math:`F_{ref}` only grows, so the supremum is reached at a window value
:math:`w_i` (right limit) or just before one (left limit). Evaluating the reference CDF at the
window values only costs :math:`O(n \log m)` for a window of :math:`n` rows against a sorted
reference of :math:`m` values: the reference sample is never merged or re-sorted.

The p-value is Smirnov's asymptotic one, exactly as ``scipy.stats.ks_2samp(method="asymp")``
computes it: :math:`P(D_{n_e} \ge D)` under the one-sample Kolmogorov distribution ``kstwo`` with
:math:`n_e = \mathrm{round}(n m / (n + m))` (at least 1; scipy returns NaN for two single values).

When a profile stores a quantile sketch instead of the whole reference (more than
``exact_limit`` values), the reference CDF is the sketch's CDF, which is within ``1/k`` of the
true one for ``k`` sketch points; the statistic and p-value are then approximations, and the
p-value still uses the true reference size ``m``.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> ref, win = np.sort(rng.normal(size=2000)), rng.normal(0.5, 1, 500)
>>> d, p = ks_2samp(ref, win)
>>> bool(p < 1e-6), round(d, 3) == round(ks_statistic(ref, np.sort(win)), 3)
(True, True)
"""

from __future__ import annotations

import numpy as np
from scipy.stats import kstwo


def ks_statistic(ref_sorted: np.ndarray, win_sorted: np.ndarray) -> float:
    """The KS statistic ``D`` between two *sorted* non-empty samples.

    >>> round(ks_statistic(np.array([1.0, 2.0, 3.0]), np.array([2.5, 3.5])), 6)
    0.666667
    """
    n, m = len(win_sorted), len(ref_sorted)
    if n == 0 or m == 0:
        raise ValueError("ks_statistic: both samples must be non-empty")
    ref_right = np.searchsorted(ref_sorted, win_sorted, side="right") / m
    ref_left = np.searchsorted(ref_sorted, win_sorted, side="left") / m
    if n > 1 and not (np.diff(win_sorted) == 0).any():  # no ties: ranks are positions
        win_right = np.arange(1, n + 1) / n
        win_left = np.arange(n) / n
    else:
        win_right = np.searchsorted(win_sorted, win_sorted, side="right") / n
        win_left = np.searchsorted(win_sorted, win_sorted, side="left") / n
    return float(max(np.abs(ref_right - win_right).max(), np.abs(ref_left - win_left).max()))


def ks_pvalue(d: float, n: int, m: int) -> float:
    """Two-sided asymptotic p-value of ``D = d`` for samples of sizes ``n`` and ``m``.

    >>> round(ks_pvalue(0.1, 1000, 1000), 4)
    0.0001
    >>> ks_pvalue(0.0, 10, 10)
    1.0
    """
    if n <= 0 or m <= 0:
        raise ValueError(f"ks_pvalue: sample sizes must be positive, got n={n}, m={m}")
    en = max(np.round(float(n) * float(m) / (float(n) + float(m))), 1.0)
    return float(np.clip(kstwo.sf(d, en), 0.0, 1.0))


def ks_2samp(ref: np.ndarray, win: np.ndarray, m: int | None = None) -> tuple[float, float]:
    """``(D, p)`` for a sorted reference and an unsorted window.

    ``m`` is the true reference size when ``ref`` is a quantile sketch (default ``len(ref)``).
    """
    win_sorted = np.sort(np.asarray(win, dtype=np.float64))
    d = ks_statistic(np.asarray(ref, dtype=np.float64), win_sorted)
    return d, ks_pvalue(d, len(win_sorted), len(ref) if m is None else m)
