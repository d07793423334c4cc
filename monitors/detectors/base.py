"""The interface every concept-drift detector shares, and the registry of detectors by name.

A detector watches a stream of per-row errors and keeps one running estimate of it
(:attr:`DriftDetector.estimation`, reported under :attr:`DriftDetector.metric`). Every
:meth:`DriftDetector.update` returns a :class:`Detection`: the positions, in the values just
given, where a drift was signalled and where a warning was. Adding a detector is one module::

    class MyDetector(DriftDetector):
        name = "my_detector"            # registry key, the ``algorithm`` name, the check name
        metric = "my_estimate"          # metric name of ``estimation`` in the metrics table
        def update(self, x) -> Detection: ...
        def reset(self) -> None: ...
        @classmethod
        def from_config(cls, config): return cls(config.delta)
        @classmethod
        def _unit_test_params(cls):     # parameter sets the detector contract test runs
            yield {}

Subclasses that set ``name`` register themselves in :data:`DETECTORS`, in import order.

>>> from monitors.detectors import DETECTORS
>>> list(DETECTORS)
['ddm', 'adwin']
>>> Detection(drifts=[3], warnings=[1, 2]).drifts
[3]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar, NamedTuple


class Detection(NamedTuple):
    """What one :meth:`DriftDetector.update` found: sorted positions in the values given.

    >>> drifts, warnings = Detection([5], [])
    >>> drifts, warnings
    ([5], [])
    """

    drifts: list[int]
    warnings: list[int]


#: Every detector class by its ``name`` (the ``algorithm`` of a concept-drift check, lower case).
DETECTORS: dict[str, type[DriftDetector]] = {}


class DriftDetector:
    """Base of the concept-drift detectors over a stream of per-row errors.

    Subclasses set ``name`` and ``metric``, set ``binary_input`` when they need errors coded
    0/1, keep ``n`` (the number of values the estimate covers) and implement :meth:`update`,
    :meth:`reset`, :attr:`estimation`, :meth:`from_config` and ``_unit_test_params()``.
    """

    #: Registry key, ``algorithm`` name and the ``check`` of its metric rows and alerts.
    name: ClassVar[str]
    #: Metric name of :attr:`estimation` in the metrics table and in alerts.
    metric: ClassVar[str]
    #: True when :meth:`update` accepts only 0 (right) / 1 (wrong).
    binary_input: ClassVar[bool] = False
    #: Values the current estimate covers (since the last drift, or the window's width).
    n: int

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in vars(cls):
            DETECTORS[cls.name] = cls

    def update(self, x: Any) -> Detection:  # pragma: no cover - interface
        """Add values in order; return where drifts and warnings were signalled."""
        raise NotImplementedError

    def reset(self) -> None:  # pragma: no cover - interface
        """Return to the state of a freshly built detector."""
        raise NotImplementedError

    @property
    def estimation(self) -> float:  # pragma: no cover - interface
        """The running estimate the detector watches (an error rate, a window mean)."""
        raise NotImplementedError

    def extra_metrics(self) -> list[tuple[str, float, int]]:
        """Further ``(metric, value, n)`` rows a report window writes (none by default)."""
        return []

    @classmethod
    def from_config(cls, config: Any) -> DriftDetector:  # pragma: no cover - interface
        """The detector a concept-drift check config asks for (it validates the parameters)."""
        raise NotImplementedError

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        """Constructor keyword sets for the detector contract test; every detector has its own."""
        raise NotImplementedError(f"detector {cls.name!r} declares no _unit_test_params()")
