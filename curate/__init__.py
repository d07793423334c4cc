"""curate: monitor what production sends a model, curate edge cases, retrain on them.

The names below are imported on first use, so ``import curate`` is cheap and any module of
the project can be imported on its own.

>>> from curate import Framework, Signal, Monitor, MeasurableType
>>> Monitor.EDGE_CASE.value, MeasurableType.INPUT_FEATURE.value
('edge_case', 'input_feature')
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Config": "curate.config",
    "ConfigError": "curate.errors",
    "CurateError": "curate.errors",
    "Framework": "curate.compat.framework",
    "LogInputError": "curate.errors",
    "MeasurableType": "curate.enums",
    "Monitor": "curate.compat.names",
    "MonitorKind": "curate.enums",
    "Signal": "curate.signals",
    "SignalError": "curate.errors",
    "StoreError": "curate.errors",
    "StoreReader": "curate.store_reader",
    "signal": "curate.signals",
}
# UpTrain 0.2's public names, so that ``import curate as uptrain`` runs UpTrain code unchanged.
_UPTRAIN = (
    "Anomaly", "AnnotationMethod", "BiasAlgo", "ClusteringAlgorithm", "ComparisonMetric",
    "ComparisonModel", "CustomMonitor", "DataDriftAlgo", "ModelSignal", "PlotType", "Statistic",
    "UpTrainEncoder", "Visual", "binary_entropy_confidence", "cross_entropy_confidence",
    "pass_all", "pass_none",
)  # fmt: skip
_EXPORTS.update(dict.fromkeys(_UPTRAIN, "curate.compat"))

__all__ = sorted(_EXPORTS)
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'curate' has no attribute {name!r}")
    if name in ("Signal", "signal"):
        # Signal constructors that live in the monitors layer (drift_outlier) register
        # themselves on import; the facade makes them available to ``from curate import Signal``.
        # UpTrain's ModelSignal functions, for ``Signal(ModelSignal.X, is_model_signal=True)``.
        import curate.compat.signals  # noqa: F401
        import monitors.drift_signals  # noqa: F401
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
