"""UpTrain 0.2 code runs on curate: ``import curate as uptrain``.

Everything UpTrain 0.2 exported at its top level is importable from ``curate`` (through its
lazy namespace) and from here: the enums (:mod:`curate.compat.names`), ``Framework`` (curate's,
which recognises UpTrain configs: :mod:`curate.compat.framework`), ``Signal`` (curate's, which
takes UpTrain's arguments) and UpTrain's model-signal functions. UpTrain's checks run as curate
monitors with UpTrain's semantics (:mod:`curate.compat.integrity`,
:mod:`curate.compat.concept_drift`, :mod:`curate.compat.custom`); ``docs/uptrain.md`` maps
every UpTrain name to what curate does.

>>> import curate as uptrain
>>> uptrain.Monitor.ACCURACY.value, uptrain.MeasurableType.MAPE.value, uptrain.Anomaly.EDGE_CASE
('accuracy', 'MAPE', <Monitor.EDGE_CASE: 'edge_case'>)
"""

from __future__ import annotations

import importlib
from typing import Any

#: UpTrain's public names and the module of curate that provides each.
EXPORTS = {
    **dict.fromkeys(
        ("Anomaly", "AnnotationMethod", "BiasAlgo", "ClusteringAlgorithm", "ComparisonMetric",
         "ComparisonModel", "DataDriftAlgo", "MeasurableType", "ModelSignal", "Monitor",
         "PlotType", "Statistic", "Visual"),
        "curate.compat.names",
    ),
    **dict.fromkeys(
        ("binary_entropy_confidence", "cross_entropy_confidence", "pass_all", "pass_none"),
        "curate.compat.signals",
    ),
    "CustomMonitor": "curate.compat.custom",
    "Framework": "curate.compat.framework",
    "Signal": "curate.signals",
    "UpTrainEncoder": "curate.compat.views",
}  # fmt: skip

__all__ = sorted(EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in EXPORTS:
        raise AttributeError(f"module 'curate.compat' has no attribute {name!r}")
    if name == "Signal":
        importlib.import_module("curate.compat.signals")  # registers UpTrain's model signals
    value = getattr(importlib.import_module(EXPORTS[name]), name)
    globals()[name] = value
    return value
