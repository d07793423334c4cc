r"""DDM, the Drift Detection Method (Gama, Medas, Castillo & Rodrigues, 2004).

The stream is the model's errors :math:`x_i \in \{0, 1\}` (1 = wrong). After :math:`i` rows the
error rate is :math:`p_i` with binomial standard deviation :math:`s_i = \sqrt{p_i (1 - p_i) / i}`.
Once ``min_instances`` rows are seen, the detector remembers the point where :math:`p_i + s_i`
was lowest (:math:`p_{min}, s_{min}`) and signals

* a **warning** when :math:`p_i + s_i > p_{min} + \mathrm{warn\_level} \cdot s_{min}`,
* a **drift** when :math:`p_i + s_i > p_{min} + \mathrm{alarm\_level} \cdot s_{min}`,

after which it starts afresh. (As in the paper, a model that made no error at all until then
has :math:`s_{min} = 0`, so its first errors signal a drift.)

:meth:`DDM.update` takes a whole batch: running rates come from cumulative sums and the running
minimum from ``np.minimum.accumulate``; the batch is split only where a drift resets the state.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> stream = np.r_[rng.random(2000) < 0.1, rng.random(2000) < 0.4]
>>> ddm = DDM()
>>> found = ddm.update(stream)
>>> len(found.drifts) >= 1 and 2000 <= found.drifts[0] < 2300
True
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from monitors.detectors.base import Detection, DriftDetector


class DDM(DriftDetector):
    """Drift Detection Method over a 0/1 error stream.

    Parameters
    ----------
    warn_level
        Standard deviations above the best point that raise a warning (default 2).
    alarm_level
        Standard deviations above the best point that signal a drift (default 3).
    min_instances
        Rows seen before any warning or drift (default 30).
    """

    name = "ddm"
    metric = "error_rate"
    binary_input = True

    def __init__(
        self, warn_level: float = 2.0, alarm_level: float = 3.0, min_instances: int = 30
    ) -> None:
        if not warn_level > 0:
            raise ValueError(f"warn_level must be positive, got {warn_level!r}")
        if not alarm_level > warn_level:
            raise ValueError(
                f"alarm_level must be greater than warn_level ({warn_level}), got {alarm_level!r}"
            )
        if (
            isinstance(min_instances, bool)
            or not isinstance(min_instances, int)
            or min_instances < 1
        ):
            raise ValueError(f"min_instances must be a positive integer, got {min_instances!r}")
        self.warn_level, self.alarm_level = float(warn_level), float(alarm_level)
        self.min_instances = min_instances
        self.reset()

    @classmethod
    def from_config(cls, config: Any) -> DDM:
        """From a concept-drift check's ``warn_level``, ``alarm_level`` and ``min_instances``.

        >>> from types import SimpleNamespace
        >>> config = SimpleNamespace(warn_level=2, alarm_level=4, min_instances=50)
        >>> DDM.from_config(config).alarm_level
        4.0
        """
        return cls(config.warn_level, config.alarm_level, config.min_instances)

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {}
        yield {"warn_level": 2.5, "alarm_level": 4.0, "min_instances": 100}

    def reset(self) -> None:
        """Forget everything (done automatically after a drift)."""
        self.n = 0
        self.errors = 0.0
        self.p_min = np.inf
        self.s_min = np.inf
        self.warning = False

    @property
    def error_rate(self) -> float:
        """Error rate since the last reset."""
        return self.errors / self.n if self.n else 0.0

    @property
    def estimation(self) -> float:
        """The watched estimate: the error rate since the last reset."""
        return self.error_rate

    def threshold(self, level: float | None = None) -> float:
        """The current drift threshold on :math:`p + s` (``inf`` before ``min_instances``)."""
        return self.p_min + (self.alarm_level if level is None else level) * self.s_min

    def update(self, x: Any) -> Detection:
        """Add errors (0/1); return the positions (in ``x``) of drifts and of warnings."""
        x = np.asarray(x, dtype=np.float64).ravel()
        if ((x != 0) & (x != 1)).any():
            raise ValueError("DDM.update expects errors coded 0 (right) or 1 (wrong)")
        drifts: list[int] = []
        warnings: list[int] = []
        offset = 0
        while len(x):
            first = self._scan(x, offset, warnings)
            if first is None:
                break
            drifts.append(offset + first)
            self.reset()
            x, offset = x[first + 1 :], offset + first + 1
        return Detection(drifts, warnings)

    def _scan(self, x: np.ndarray, offset: int, warnings: list[int]) -> int | None:
        """Process ``x`` up to its first drift (returned) or to its end (``None``)."""
        n = self.n + np.arange(1, len(x) + 1)
        p = (self.errors + np.cumsum(x)) / n
        s = np.sqrt(p * (1 - p) / n)
        ps = np.where(n >= self.min_instances, p + s, np.inf)
        before = np.minimum.accumulate(np.r_[self.p_min + self.s_min, ps[:-1]])
        new_min = ps < before
        last = np.maximum.accumulate(np.where(new_min, np.arange(len(x)), -1))
        p_min = np.where(last >= 0, p[np.maximum(last, 0)], self.p_min)
        s_min = np.where(last >= 0, s[np.maximum(last, 0)], self.s_min)
        finite = np.isfinite(ps)
        drift = finite & (ps > p_min + self.alarm_level * s_min)
        warn = finite & ~drift & (ps > p_min + self.warn_level * s_min)
        stop = int(np.argmax(drift)) if drift.any() else len(x)
        warnings.extend((offset + np.flatnonzero(warn[:stop])).tolist())
        if stop < len(x):
            return stop
        self.n = int(n[-1])
        self.errors = float(self.errors + x.sum())
        self.p_min, self.s_min = float(p_min[-1]), float(s_min[-1])
        self.warning = bool(warn[-1])
        return None
