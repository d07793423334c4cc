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
    # Values derived from a call rather than read from one column (UpTrain 0.2's measurables):
    # only the UpTrain-style checks of ``curate.compat`` compute them; native checks refuse them.
    FEATURE_CONCAT = "feature_concat"
    CUSTOM = "custom"
    ACCURACY = "accuracy"
    MAE = "MAE"
    MAPE = "MAPE"
    CONDITION_ON_INPUT = "condition_on_input"
    CONDITION_ON_PREDICTION = "condition_on_prediction"
    SCALAR_FROM_EMBEDDING = "scalar_from_embedding"
    DISTANCE = "distance"
    REC_HIT_RATE = "hit_rate"
    GRAMMAR_SCORE = "grammar_score"


#: The measurable types a native check reads directly from a logged column.
COLUMN_MEASURABLES = frozenset(
    {
        MeasurableType.INPUT_FEATURE,
        MeasurableType.PREDICTION,
        MeasurableType.GROUND_TRUTH,
        MeasurableType.IDENTIFIER,
    }
)
