r"""ADWIN, adaptive windowing (Bifet & Gavaldà, 2007), with its exponential histogram (ADWIN2).

ADWIN keeps a window :math:`W` of the most recent values and drops its oldest part whenever
two sub-windows :math:`W_0` (older, :math:`n_0` values, mean :math:`\hat\mu_0`) and :math:`W_1`
(newer) have means further apart than

.. math:: \varepsilon_{cut} = \sqrt{2 \, m \, \sigma^2_W \, \ln\frac{2 \ln n}{\delta}}
          + \frac{2}{3} \, m \ln\frac{2 \ln n}{\delta},
          \qquad m = \frac{1}{n_0 - \ell + 1} + \frac{1}{n_1 - \ell + 1},

with :math:`n = |W|`, :math:`\sigma^2_W` the window's variance and :math:`\ell` the minimum
sub-window length (Bifet's reference implementation). The window is stored as an exponential
histogram: at most ``max_buckets`` buckets of each size :math:`2^k`, each holding a sum and a
sum of squared deviations, so memory is :math:`O(\mathrm{max\_buckets} \cdot \log |W|)` and
cuts are checked at bucket boundaries every ``clock`` values.

>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> adwin = ADWIN()
>>> drifts, warnings = adwin.update(np.r_[rng.normal(0, 0.1, 1000), rng.normal(1, 0.1, 1000)])
>>> len(drifts) >= 1 and 1000 <= drifts[0] < 1100, round(adwin.estimation, 1), warnings
(True, 1.0, [])
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from monitors.detectors.base import Detection, DriftDetector


class ADWIN(DriftDetector):
    """Adaptive sliding window change detector for a real-valued stream.

    Parameters
    ----------
    delta
        Confidence: the probability of a false cut is bounded by ``delta`` (default 0.002).
    clock
        Check for cuts every ``clock`` values (default 32).
    max_buckets
        Buckets kept per size before two are merged (default 5).
    min_window_length
        Minimum length of each sub-window compared (default 5).
    grace_period
        Values seen before the first check (default 10).

    ADWIN signals no warnings: :meth:`update` returns ``Detection(cuts, [])``.
    """

    name = "adwin"
    metric = "adwin_mean"

    def __init__(
        self,
        delta: float = 0.002,
        clock: int = 32,
        max_buckets: int = 5,
        min_window_length: int = 5,
        grace_period: int = 10,
    ) -> None:
        if not 0 < delta < 1:
            raise ValueError(f"delta must be in (0, 1), got {delta!r}")
        for name, value in (("clock", clock), ("max_buckets", max_buckets),
                            ("min_window_length", min_window_length),
                            ("grace_period", grace_period)):  # fmt: skip
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.delta, self.clock, self.max_buckets = float(delta), clock, max_buckets
        self.min_window_length, self.grace_period = min_window_length, grace_period
        self.reset()

    @classmethod
    def from_config(cls, config: Any) -> ADWIN:
        """From a concept-drift check's ``delta``.

        >>> from types import SimpleNamespace
        >>> ADWIN.from_config(SimpleNamespace(delta=0.01)).delta
        0.01
        """
        return cls(config.delta)

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {}
        yield {"delta": 0.05, "clock": 1}
        yield {"max_buckets": 2, "min_window_length": 20, "grace_period": 200}

    def reset(self) -> None:
        """Empty the window."""
        self.levels: list[list[tuple[float, float]]] = []  # level k: [(sum, m2)] oldest first
        self.width = 0
        self.total = 0.0
        self.m2 = 0.0
        self.n_seen = 0

    @property
    def estimation(self) -> float:
        """Mean of the values in the current window."""
        return self.total / self.width if self.width else 0.0

    @property
    def n(self) -> int:
        """Values in the current window (its width)."""
        return self.width

    def extra_metrics(self) -> list[tuple[str, float, int]]:
        """The window's width, as metric ``adwin_width``.

        >>> adwin = ADWIN()
        >>> _ = adwin.update([0.0, 1.0, 1.0])
        >>> adwin.extra_metrics(), adwin.n
        ([('adwin_width', 3, 3)], 3)
        """
        return [("adwin_width", self.width, self.width)]

    @property
    def variance(self) -> float:
        """Population variance of the values in the current window."""
        return self.m2 / self.width if self.width else 0.0

    @property
    def n_buckets(self) -> int:
        """Buckets in the exponential histogram."""
        return sum(len(level) for level in self.levels)

    def update(self, values: Any) -> Detection:
        """Add values one by one; return the positions (in ``values``) where a cut happened."""
        drifts = []
        for i, x in enumerate(np.asarray(values, dtype=np.float64).ravel().tolist()):
            if self._add(x):
                drifts.append(i)
        return Detection(drifts, [])

    def _add(self, x: float) -> bool:
        self.n_seen += 1
        if self.width:
            delta = x - self.total / self.width
            self.m2 += delta * delta * self.width / (self.width + 1)
        self.width += 1
        self.total += x
        if not self.levels:
            self.levels.append([])
        self.levels[0].append((x, 0.0))
        self._compress()
        if self.n_seen % self.clock == 0 and self.width > self.grace_period:
            return self._detect()
        return False

    def _compress(self) -> None:
        k = 0
        while k < len(self.levels) and len(self.levels[k]) > self.max_buckets:
            (s1, v1), (s2, v2) = self.levels[k][0], self.levels[k][1]
            size = 2**k
            merged = (s1 + s2, v1 + v2 + size / 2 * (s1 / size - s2 / size) ** 2)
            del self.levels[k][:2]
            if k + 1 == len(self.levels):
                self.levels.append([])
            self.levels[k + 1].append(merged)  # newest of the larger buckets
            k += 1

    def _detect(self) -> bool:
        cut = False
        while self.width > 2 * self.min_window_length and self._has_cut():
            self._drop_oldest()
            cut = True
        return cut

    def _has_cut(self) -> bool:
        n = self.width
        dd = math.log(2 * math.log(n) / self.delta)
        v = self.variance
        n0, s0 = 0, 0.0
        ell = self.min_window_length
        for k in range(len(self.levels) - 1, -1, -1):  # oldest buckets first
            size = 2**k
            for s, _ in self.levels[k]:
                n0, s0 = n0 + size, s0 + s
                n1 = n - n0
                if n1 < ell:
                    return False
                if n0 < ell:
                    continue
                m = 1 / (n0 - ell + 1) + 1 / (n1 - ell + 1)
                eps = math.sqrt(2 * m * v * dd) + 2 / 3 * dd * m
                if abs(s0 / n0 - (self.total - s0) / n1) > eps:
                    return True
        return False

    def _drop_oldest(self) -> None:
        k = len(self.levels) - 1
        s, v = self.levels[k].pop(0)
        size = 2**k
        rest = self.width - size
        if rest:
            mu_b, mu_r = s / size, (self.total - s) / rest
            self.m2 -= v + size * rest / self.width * (mu_b - mu_r) ** 2
        else:
            self.m2 = 0.0
        self.m2 = max(self.m2, 0.0)
        self.width, self.total = rest, self.total - s
        while self.levels and not self.levels[-1]:
            self.levels.pop()
