"""UpTrain 0.2's enums under their own names, as supersets of curate's where both have one.

``Monitor`` holds curate's check kinds too, with the same string values, so
``{"type": Monitor.EDGE_CASE}`` means the same to both and native configs keep working;
``MeasurableType`` is curate's own enum, which names UpTrain's derived measurables too.

>>> Monitor.EDGE_CASE == "edge_case", Anomaly is Monitor
(True, True)
>>> MeasurableType.MAE.value, DataDriftAlgo.ADWIN.value, Visual.TSNE.value
('MAE', 'ADWIN', 't-SNE')
"""

from __future__ import annotations

from enum import Enum, StrEnum

from curate.enums import COLUMN_MEASURABLES
from curate.enums import MeasurableType as _MeasurableType


class Monitor(StrEnum):
    """Check types: curate's four kinds and the ones UpTrain 0.2 adds."""

    ACCURACY = "accuracy"
    EDGE_CASE = "edge_case"
    DATA_DRIFT = "data_drift"
    FEATURE_DRIFT = "feature_drift"
    CUSTOM_MONITOR = "custom_monitor"
    CONCEPT_DRIFT = "concept_drift"
    POPULARITY_BIAS = "popularity_bias"
    DATA_INTEGRITY = "data_integrity"
    OUTPUT_COMPARISON = "output_comparison"


#: UpTrain's older name of :class:`Monitor`.
Anomaly = Monitor


#: curate's own enum: its first four members name logged columns, the rest UpTrain's derived
#: values (computed by the UpTrain-style checks).
MeasurableType = _MeasurableType

#: The measurable types curate's native checks read directly from a logged column.
NATIVE_MEASURABLES = frozenset(m.value for m in COLUMN_MEASURABLES)


class DataDriftAlgo(StrEnum):
    """Concept-drift detectors, all from ``river.drift`` (UpTrain 0.2 had the first two)."""

    DDM = "DDM"
    ADWIN = "ADWIN"
    EDDM = "EDDM"
    HDDM_A = "HDDM_A"
    HDDM_W = "HDDM_W"
    FHDDM = "FHDDM"
    KSWIN = "KSWIN"
    PAGE_HINKLEY = "PageHinkley"


class AnnotationMethod(Enum):
    """Where retraining labels come from: a master file of ``{"id", "gt"}`` records."""

    MASTER_FILE = 1


class BiasAlgo(StrEnum):
    """Model-bias algorithms."""

    POPULARITY_BIAS = "popularity_bias"


class ModelSignal(Enum):
    """Signals computed from the model's outputs, for ``Signal(ModelSignal.X, is_model_signal=True)``."""

    DEFAULT = 1
    CROSS_ENTROPY_CONFIDENCE = 2
    BINARY_ENTROPY_CONFIDENCE = 3
    PASS_ALL = 4


class PlotType(StrEnum):
    """Charts of a ``Visual.PLOT`` check."""

    BAR_CHART = "bar_chart"
    HISTOGRAM = "histogram"
    LINE_CHART = "line_chart"
    SCATTER_PLOT = "scatter_plot"


class Statistic(StrEnum):
    """UpTrain's statistic checks."""

    DISTANCE = "distance"
    DISTRIBUTION_STATS = "distribution_stats"
    CONVERGENCE_STATS = "convergence_stats"
    FINETUNE = "finetune"
    NORM_EMBEDDING = "norm_embedding"


class Visual(StrEnum):
    """Dashboard visuals."""

    UMAP = "UMAP"
    TSNE = "t-SNE"
    SHAP = "SHAP"
    PLOT = "PLOT"


class ClusteringAlgorithm(StrEnum):
    """Clustering algorithms named by UpTrain's cluster visuals."""

    DBSCAN = "DBSCAN"
    HDBSCAN = "HDBSCAN"


class ComparisonModel(StrEnum):
    """Reference models of an ``OUTPUT_COMPARISON`` check."""

    FASTER_WHISPER = "faster_whisper"


class ComparisonMetric(StrEnum):
    """Metrics of an ``OUTPUT_COMPARISON`` check."""

    ROGUE_L_F1 = "rogue-l-f"
