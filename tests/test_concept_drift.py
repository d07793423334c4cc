"""CONCEPT_DRIFT: DDM and ADWIN detectors, and the monitor that joins late ground truth.

The checks every detector shares (return type, quiet on stationary streams, detects a shift,
reset, batch = one at a time, parameter validation) are in ``tests/test_detector_contract.py``;
this file holds what is particular to each detector and to the monitor.
"""

from __future__ import annotations

import tempfile

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.batch import Batch
from curate.store import Store
from curate.tables import metrics_table
from monitors.base import MonitorContext
from monitors.concept_drift import ConceptDriftConfig, ConceptDriftMonitor
from monitors.detectors import ADWIN, DDM, Detection

CTX = MonitorContext(Store(tempfile.mkdtemp()))


def ddm_loop(x, warn=2.0, alarm=3.0, min_n=30):
    """DDM one value at a time, as written in the paper (the reference implementation)."""
    n, errors, p_min, s_min, drifts, warnings = 0, 0.0, np.inf, np.inf, [], []
    for i, v in enumerate(x):
        n += 1
        errors += v
        p = errors / n
        s = np.sqrt(p * (1 - p) / n)
        if n < min_n:
            continue
        if p + s < p_min + s_min:
            p_min, s_min = p, s
        if p + s > p_min + alarm * s_min:
            drifts.append(i)
            n, errors, p_min, s_min = 0, 0.0, np.inf, np.inf
        elif p + s > p_min + warn * s_min:
            warnings.append(i)
    return drifts, warnings


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0.01, 0.9), min_size=1, max_size=4),
    st.integers(0, 2**32 - 1),
    st.integers(1, 700),
)
def test_vectorised_ddm_equals_the_loop(rates, seed, chunk):
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.random(400) < r for r in rates]).astype(float)
    ddm = DDM()
    drifts, warnings = [], []
    for start in range(0, len(x), chunk):
        d, w = ddm.update(x[start : start + chunk])
        drifts += [start + i for i in d]
        warnings += [start + i for i in w]
    assert (drifts, warnings) == ddm_loop(x)


def test_adwin_window_statistics_are_exact_without_cuts():
    x = np.random.default_rng(0).normal(5, 2, 3000)
    adwin = ADWIN()
    assert adwin.update(x) == Detection([], [])
    assert adwin.width == 3000
    assert adwin.estimation == pytest.approx(x.mean(), rel=1e-12)
    assert adwin.variance == pytest.approx(x.var(), rel=1e-9)
    assert adwin.n_buckets <= adwin.max_buckets * (int(np.log2(3000)) + 2)


def test_adwin_drops_the_old_part_after_a_change():
    rng = np.random.default_rng(1)
    adwin = ADWIN()
    drifts, warnings = adwin.update(np.r_[rng.random(3000) < 0.2, rng.random(3000) < 0.6])
    assert warnings == []  # ADWIN signals no warnings
    assert drifts and 3000 <= drifts[0] < 3400
    assert adwin.width < 3000 + 1000
    assert abs(adwin.estimation - 0.6) < 0.05


def test_adwin_false_alarms_are_rare():
    rng = np.random.default_rng(2)
    hits = sum(bool(ADWIN().update(rng.random(5000) < 0.3).drifts) for _ in range(20))
    assert hits <= 1


# -- parameter validation (messages) ---------------------------------------------------------


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: DDM(warn_level=0), "warn_level"),
        (lambda: DDM(alarm_level=1.0), "alarm_level"),
        (lambda: DDM(min_instances=0), "min_instances"),
        (lambda: ADWIN(delta=1.5), "delta"),
        (lambda: ADWIN(clock=0), "clock"),
        (lambda: DDM().update([0.5]), "0 \\(right\\) or 1"),
    ],
)
def test_detector_parameters_are_validated(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# -- the monitor -----------------------------------------------------------------------------------


def monitor(**kw) -> ConceptDriftMonitor:
    return ConceptDriftMonitor(
        ConceptDriftConfig.model_validate({"type": "concept_drift", **kw}), CTX
    )


def predictions(ids, preds, t0=0):
    n = len(ids)
    ts = t0 + np.arange(n, dtype=np.int64)
    return Batch.from_log(
        np.arange(n), ts, {"text": ["x"] * n}, outputs=list(preds), identifiers=list(ids)
    )


def ground_truth(ids, gts, t0=0):
    """What ``Framework.log_ground_truth(identifiers, gts)`` hands the monitors."""
    n = len(ids)
    no_inputs = pa.table({"_": pa.nulls(n)}).drop(["_"])
    return Batch(
        ids=np.full(n, -1, np.int64),
        ts=t0 + np.arange(n, dtype=np.int64),
        inputs=no_inputs,
        gts=pa.table({"gts": list(gts)}),
        identifiers=pa.table({"identifiers": list(ids)}),
    )


def metric(rows, name):
    return [r["value"] for r in rows if r["metric"] == name]


def test_late_ground_truth_is_joined_by_identifier():
    rng = np.random.default_rng(6)
    ids = [f"req-{i}" for i in range(3000)]
    preds = rng.integers(0, 3, 3000)
    truth = np.where(rng.random(3000) < 0.8, preds, (preds + 1) % 3)
    mon = monitor(algorithm=["DDM", "ADWIN"], window=1000)
    assert mon.process(predictions(ids, preds)).metrics == []  # nothing labelled yet
    order = rng.permutation(3000)  # labels arrive later, in another order, in pieces
    rows = []
    for part in np.array_split(order, 7):
        rows += mon.process(ground_truth([ids[i] for i in part], truth[part], 10_000)).metrics
    expected = [float(np.mean(preds[c] == truth[c])) for c in np.array_split(order, 3)]
    assert metric(rows, "accuracy") == pytest.approx(expected)
    assert metric(rows, "pending")[-1] == 0.0
    metrics_table(rows)  # fits the store schema


def test_ground_truth_may_arrive_before_the_prediction_or_with_it():
    mon = monitor(window=4)
    assert mon.process(ground_truth(["a", "b"], [1, 0])).metrics == []
    rows = mon.process(predictions(["a", "b"], [1, 1])).metrics
    assert rows == []
    both = Batch.from_log(
        np.arange(2), np.arange(2), {"x": [0, 0]}, outputs=[[0.1, 0.9], [0.8, 0.2]], gts=[1, 1]
    )
    rows = mon.process(both).metrics
    assert metric(rows, "accuracy") == [0.5]  # a right, b wrong, argmax 1 right, argmax 0 wrong


def test_pending_predictions_are_bounded():
    mon = monitor(max_pending=100)
    mon.process(predictions(range(1000), [0] * 1000))
    assert len(mon.preds.items) == 100 and mon.preds.dropped == 900
    assert 999 in mon.preds.items and 0 not in mon.preds.items


def test_accuracy_drop_raises_a_concept_drift_alert():
    rng = np.random.default_rng(7)
    n = 6000
    truth = rng.integers(0, 2, n)
    right = rng.random(n) < np.r_[[0.9] * 3000, [0.65] * 3000]
    preds = np.where(right, truth, 1 - truth)
    mon = monitor(algorithm=["DDM", "ADWIN"], window=1000)
    res = mon.process(
        Batch.from_log(
            np.arange(n), np.arange(n), {"x": [0] * n}, outputs=list(preds), gts=list(truth)
        )
    )
    assert {a["check"] for a in res.alerts} == {"ddm", "adwin"}
    flagged = [(r["check"], r["window_start"]) for r in res.metrics if r["flagged"]]
    assert ("ddm", 3000) in flagged or ("ddm", 4000) in flagged
    assert all(start >= 3000 for _, start in flagged)


def test_regression_errors_with_adwin_and_thresholded_ddm():
    mon = monitor(algorithm=["adwin", "ddm"], metric="abs_error", error_threshold=1.0, window=500)
    rng = np.random.default_rng(8)
    truth = rng.normal(size=2000)
    preds = truth + np.r_[rng.normal(0, 0.3, 1000), rng.normal(0, 2.0, 1000)]
    res = mon.process(
        Batch.from_log(
            np.arange(2000),
            np.arange(2000),
            {"x": [0] * 2000},
            outputs=list(preds),
            gts=list(truth),
        )
    )
    assert (
        metric(res.metrics, "mean_abs_error")[0] < 0.4 < metric(res.metrics, "mean_abs_error")[-1]
    )
    assert {a["check"] for a in res.alerts} == {"adwin", "ddm"}


@pytest.mark.parametrize(
    "cfg, match",
    [
        ({"algorithm": "page_hinkley"}, "unknown algorithm"),
        ({"warn_thres": 3, "alarm_thres": 2}, "alarm_level"),
        ({"metric": "abs_error"}, "error_threshold"),
        ({"window": "soon"}, "window"),
        ({"colour": 1}, "unknown key 'colour'"),
    ],
)
def test_config_errors(cfg, match):
    with pytest.raises(ValueError, match=match):
        ConceptDriftConfig.model_validate({"type": "concept_drift", **cfg})


def test_uptrain_style_names_are_accepted():
    cfg = ConceptDriftConfig.model_validate(
        {"type": "concept_drift", "algorithm": "DDM", "warn_thres": 2.5, "alarm_thres": 4}
    )
    assert (cfg.warn_level, cfg.alarm_level, cfg.algorithm) == (2.5, 4.0, ["ddm"])


def test_metric_rows_keep_their_names_and_order():
    rng = np.random.default_rng(9)
    n = 1200
    truth = rng.integers(0, 2, n)
    preds = np.where(rng.random(n) < 0.8, truth, 1 - truth)
    mon = monitor(algorithm=["ADWIN", "DDM"], window=600)
    res = mon.process(
        Batch.from_log(
            np.arange(n), np.arange(n), {"x": [0] * n}, outputs=list(preds), gts=list(truth)
        )
    )
    window = [(r["check"], r["metric"]) for r in res.metrics[:5]]
    assert window == [
        ("concept_drift", "accuracy"),
        ("ddm", "error_rate"),
        ("adwin", "adwin_mean"),
        ("adwin", "adwin_width"),
        ("concept_drift", "pending"),
    ]
    last = {r["metric"]: r for r in res.metrics[5:]}
    ddm, adwin = mon.detectors["ddm"], mon.detectors["adwin"]
    assert (last["error_rate"]["value"], last["error_rate"]["n"]) == (ddm.error_rate, ddm.n)
    assert (last["adwin_mean"]["value"], last["adwin_mean"]["n"]) == (
        adwin.estimation,
        adwin.width,
    )
    assert (last["adwin_width"]["value"], last["adwin_width"]["n"]) == (adwin.width, adwin.width)


def test_a_new_detector_plugs_in_without_monitor_changes():
    from monitors.detectors import DETECTORS, DriftDetector

    class EveryHundred(DriftDetector):
        """Signals a drift every 100 values (a test double)."""

        name, metric = "every_hundred", "seen"

        def __init__(self) -> None:
            self.reset()

        def reset(self) -> None:
            self.n = 0

        @property
        def estimation(self) -> float:
            return float(self.n)

        def update(self, x) -> Detection:
            start, self.n = self.n, self.n + len(x)
            return Detection([i for i in range(len(x)) if (start + i + 1) % 100 == 0], [])

        @classmethod
        def from_config(cls, config) -> EveryHundred:
            return cls()

    try:
        mon = monitor(algorithm="every_hundred", window=250)
        res = mon.process(predictions(range(500), [0] * 500))
        res = mon.process(ground_truth(range(500), [1] * 500))
        assert [a["check"] for a in res.alerts] == ["every_hundred"] * 2  # one per window piece
        assert "(2x" in res.alerts[0]["message"] and "(3x" in res.alerts[1]["message"]
        rows = [(r["check"], r["metric"], r["value"], r["flagged"]) for r in res.metrics]
        assert ("every_hundred", "seen", 250.0, True) in rows
    finally:
        DETECTORS.pop("every_hundred", None)
