"""The vocabulary shared by configs, monitors and the store."""

from __future__ import annotations

from enum import StrEnum


class MonitorKind(StrEnum):
    """Kinds of check a config can ask for (``Monitor`` is the same enum, UpTrain's name).

    The values are the strings accepted in a dict config, so ``"edge_case"`` and
    ``Monitor.EDGE_CASE`` mean the same thing.

    >>> MonitorKind("data_integrity") is Monitor.DATA_INTEGRITY
    True
    """

    EDGE_CASE = "edge_case"
    DATA_INTEGRITY = "data_integrity"
    DATA_DRIFT = "data_drift"
    CONCEPT_DRIFT = "concept_drift"


#: The name configs and UpTrain code use: ``{"type": Monitor.EDGE_CASE}``.
Monitor = MonitorKind


class MeasurableType(StrEnum):
    """Where a monitored value comes from in a logged row.

    >>> MeasurableType.INPUT_FEATURE.value
    'input_feature'
    """

    INPUT_FEATURE = "input_feature"
    PREDICTION = "prediction"
    GROUND_TRUTH = "ground_truth"
    IDENTIFIER = "identifier"
