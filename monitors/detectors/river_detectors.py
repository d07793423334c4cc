"""River's concept-drift detectors (``river.drift``) behind curate's :class:`Detection` interface.

:class:`RiverDetector` builds any of river's detectors by UpTrain's algorithm name with river's
own argument names (``delta``, ``clock``, ``max_buckets``, ``min_window_length``,
``grace_period`` for ADWIN; ``warm_start``, ``warning_threshold``, ``drift_threshold`` for DDM,
which UpTrain spelt ``warn_threshold`` and ``alarm_threshold``) and feeds it row by row, as river
detectors are fed. Unknown arguments are errors that list the detector's own.

>>> import numpy as np
>>> det = RiverDetector("ADWIN", delta=0.002)
>>> found = det.update(np.r_[np.zeros(500), np.ones(500)])
>>> bool(found.drifts) and 500 <= found.drifts[0] < 600, det.n > 0
(True, True)
>>> RiverDetector("DDM", warm_start=30, warn_threshold=2.0, alarm_threshold=3.0).name
'DDM'
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from monitors.detectors.base import Detection


def _classes() -> dict[str, type]:
    from river import drift
    from river.drift import binary

    return {
        "ADWIN": drift.ADWIN, "KSWIN": drift.KSWIN, "PAGEHINKLEY": drift.PageHinkley,
        "DDM": binary.DDM, "EDDM": binary.EDDM, "FHDDM": binary.FHDDM,
        "HDDM_A": binary.HDDMA, "HDDM_W": binary.HDDMW,
    }  # fmt: skip


#: UpTrain's and older river's argument names, as the current river spells them.
_RENAMED = {"warn_threshold": "warning_threshold", "alarm_threshold": "drift_threshold"}
#: Detectors that expect 0 (right) / 1 (wrong) rather than any number.
BINARY = frozenset({"DDM", "EDDM", "FHDDM", "HDDM_A", "HDDM_W"})


def river_names() -> list[str]:
    """The algorithm names :class:`RiverDetector` accepts."""
    return list(_classes())


class RiverDetector:
    """One ``river.drift`` detector fed a stream of per-row values.

    ``name`` is the algorithm (``"DDM"``, ``"ADWIN"``, ``"KSWIN"``, ``"PageHinkley"``,
    ``"EDDM"``, ``"FHDDM"``, ``"HDDM_A"``, ``"HDDM_W"``, any case); ``params`` are river's.
    """

    def __init__(self, name: str, **params: Any) -> None:
        classes = _classes()
        key = str(getattr(name, "value", name)).upper().replace("-", "_")
        if key not in classes:
            raise ValueError(f"unknown river detector {name!r}; choose {', '.join(classes)}")
        cls = classes[key]
        params = {_RENAMED.get(k, k): v for k, v in params.items()}
        valid = [p for p in inspect.signature(cls).parameters if p != "self"]
        unknown = sorted(set(params) - set(valid))
        if unknown:
            raise ValueError(
                f"{key}: unknown argument {unknown[0]!r}; river's are {', '.join(valid)}"
            )
        self.name, self.params = key, params
        self.binary = key in BINARY
        self._detector = cls(**params)
        self.n = 0

    def update(self, values: Any) -> Detection:
        """Feed values in order; positions (in ``values``) where a drift or warning was signalled."""
        drifts, warnings = [], []
        for i, x in enumerate(np.asarray(values, dtype=float).ravel()):
            if self.binary and x not in (0.0, 1.0):
                raise ValueError(f"{self.name} takes 0 (right) or 1 (wrong), got {x!r}")
            self._detector.update(int(x) if self.binary else float(x))
            self.n += 1
            if self._detector.drift_detected:
                drifts.append(i)
            if getattr(self._detector, "warning_detected", False):
                warnings.append(i)
        return Detection(drifts, warnings)

    def reset(self) -> None:
        """Start afresh with the same arguments."""
        self._detector = self._detector.clone()
        self.n = 0

    @property
    def estimation(self) -> float:
        """The detector's running estimate (ADWIN's window mean, DDM's error rate), or NaN."""
        det = self._detector
        value = getattr(det, "estimation", None)
        if value is None and hasattr(det, "_p"):
            value = det._p.get()
        try:
            return float(value)
        except (TypeError, ValueError):
            return float("nan")
