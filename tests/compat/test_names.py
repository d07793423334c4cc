"""Every public name of UpTrain 0.2.0 is importable from ``curate``, with UpTrain's values."""

from __future__ import annotations

import numpy as np
import pytest

import curate as uptrain
from monitors.detectors.river_detectors import RiverDetector, river_names

# uptrain/constants.py at v0.2.0: each enum's members and values.
UPTRAIN_0_2_ENUMS = {
    "AnnotationMethod": {"MASTER_FILE": 1},
    "DataDriftAlgo": {"DDM": "DDM", "ADWIN": "ADWIN"},
    "BiasAlgo": {"POPULARITY_BIAS": "popularity_bias"},
    "MeasurableType": {
        "INPUT_FEATURE": "input_feature", "FEATURE_CONCAT": "feature_concat",
        "PREDICTION": "prediction", "CUSTOM": "custom", "ACCURACY": "accuracy", "MAE": "MAE",
        "MAPE": "MAPE", "CONDITION_ON_INPUT": "condition_on_input",
        "CONDITION_ON_PREDICTION": "condition_on_prediction",
        "SCALAR_FROM_EMBEDDING": "scalar_from_embedding", "DISTANCE": "distance",
        "REC_HIT_RATE": "hit_rate", "GRAMMAR_SCORE": "grammar_score",
    },
    "ModelSignal": {"DEFAULT": 1, "CROSS_ENTROPY_CONFIDENCE": 2, "BINARY_ENTROPY_CONFIDENCE": 3,
                    "PASS_ALL": 4},
    "Monitor": {
        "ACCURACY": "accuracy", "EDGE_CASE": "edge_case", "DATA_DRIFT": "data_drift",
        "FEATURE_DRIFT": "feature_drift", "CUSTOM_MONITOR": "custom_monitor",
        "CONCEPT_DRIFT": "concept_drift", "POPULARITY_BIAS": "popularity_bias",
        "DATA_INTEGRITY": "data_integrity", "OUTPUT_COMPARISON": "output_comparison",
    },
    "PlotType": {"BAR_CHART": "bar_chart", "HISTOGRAM": "histogram", "LINE_CHART": "line_chart",
                 "SCATTER_PLOT": "scatter_plot"},
    "Statistic": {"DISTANCE": "distance", "DISTRIBUTION_STATS": "distribution_stats",
                  "CONVERGENCE_STATS": "convergence_stats", "FINETUNE": "finetune",
                  "NORM_EMBEDDING": "norm_embedding"},
    "Visual": {"UMAP": "UMAP", "TSNE": "t-SNE", "SHAP": "SHAP", "PLOT": "PLOT"},
    "ClusteringAlgorithm": {"DBSCAN": "DBSCAN", "HDBSCAN": "HDBSCAN"},
    "ComparisonModel": {"FASTER_WHISPER": "faster_whisper"},
    "ComparisonMetric": {"ROGUE_L_F1": "rogue-l-f"},
}  # fmt: skip
UPTRAIN_0_2_OTHER = ("Framework", "Signal", "CustomMonitor", "UpTrainEncoder", "pass_all",
                     "pass_none", "cross_entropy_confidence", "binary_entropy_confidence")  # fmt: skip


@pytest.mark.parametrize("enum", sorted(UPTRAIN_0_2_ENUMS))
def test_every_uptrain_enum_member_exists_with_its_value(enum):
    ours = getattr(uptrain, enum)
    for member, value in UPTRAIN_0_2_ENUMS[enum].items():
        assert getattr(ours, member).value == value, (enum, member)


def test_the_other_names_and_the_old_alias():
    for name in UPTRAIN_0_2_OTHER:
        assert getattr(uptrain, name) is not None
    assert uptrain.Anomaly is uptrain.Monitor
    assert uptrain.Monitor.EDGE_CASE == uptrain.MonitorKind.EDGE_CASE == "edge_case"
    assert uptrain.MeasurableType is uptrain.enums.MeasurableType


def test_river_detectors_take_river_s_and_uptrain_s_argument_names():
    ddm = RiverDetector(uptrain.DataDriftAlgo.DDM, warm_start=50, warn_threshold=2.0,
                        alarm_threshold=3.0)  # fmt: skip
    assert ddm.params == {"warm_start": 50, "warning_threshold": 2.0, "drift_threshold": 3.0}
    with pytest.raises(ValueError, match="unknown argument 'clok'.*clock"):
        RiverDetector("ADWIN", clok=32)
    with pytest.raises(ValueError, match="0 \\(right\\) or 1"):
        ddm.update([0.5])
    assert set(river_names()) >= {"ADWIN", "DDM", "EDDM", "KSWIN", "PAGEHINKLEY", "HDDM_A"}


@pytest.mark.parametrize("name", ["ADWIN", "DDM", "EDDM", "HDDM_A", "HDDM_W", "PageHinkley"])
def test_each_river_detector_finds_a_clear_shift(name):
    rng = np.random.default_rng(0)
    stream = np.r_[rng.random(3000) < 0.05, rng.random(3000) < 0.6].astype(float)
    det = RiverDetector(name)
    drifts = det.update(stream).drifts
    assert any(3000 <= i < 3600 for i in drifts), drifts[:5]
    det.reset()
    assert det.n == 0
