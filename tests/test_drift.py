"""DATA_DRIFT monitor: calibration under no drift, power under drift, windows, config, memory.

Statistical checks use fixed seeds, so they are deterministic. The false-alarm tolerance is
``ALPHA + 0.03``: three binomial standard deviations for 500 windows at 5% (sd ~ 0.0097).
"""

from __future__ import annotations

import tempfile
import tracemalloc

import numpy as np
import pyarrow as pa
import pytest

from curate import Framework
from curate.batch import Batch
from curate.errors import ConfigError
from curate.store import Store
from curate.store_reader import StoreReader
from curate.tables import alerts_table, metrics_table
from monitors.base import MonitorContext
from monitors.drift import DataDriftConfig, DataDriftMonitor
from monitors.profile import build_profile
from monitors.stats import mmd_test
from monitors.stats.mmd import median_bandwidth

ALPHA, TOL = 0.05, 0.03
WINDOW = 5000
RNG = np.random.default_rng(20240601)
CTX = MonitorContext(Store(tempfile.mkdtemp()))


def monitor(reference, column="x", window=WINDOW, **kw) -> DataDriftMonitor:
    cfg = {
        "type": "data_drift",
        "measurable_args": {"type": "input_feature", "feature_name": column},
        "reference_dataset": reference,
        "window": window,
        **kw,
    }
    return DataDriftMonitor(DataDriftConfig.model_validate(cfg), CTX)


def run(mon: DataDriftMonitor, values, column="x", ts=None) -> list[dict]:
    n = len(values)
    ts = np.arange(n, dtype=np.int64) * 1000 if ts is None else ts
    batch = Batch.from_log(np.arange(n), ts, {column: values})
    return mon.process(batch).metrics


def flag_rate(metrics: list[dict], metric: str) -> tuple[float, int]:
    rows = [r for r in metrics if r["metric"] == metric]
    return float(np.mean([r["flagged"] for r in rows])), len(rows)


# -- numeric and categorical: calibration and power ----------------------------------------------

NUMERIC_REF = RNG.normal(size=50_000)
CATS = np.array(list("abcdefgh"))
CAT_P = np.array([0.3, 0.2, 0.15, 0.1, 0.1, 0.08, 0.05, 0.02])
CAT_REF = RNG.choice(CATS, 50_000, p=CAT_P)

NUMERIC_METRICS = {
    "ks": "ks_pvalue",
    "wasserstein": "wasserstein",
    "psi": "psi",
    "chi2": "chi2_pvalue",
    "js": "js",
}


@pytest.mark.parametrize("method", sorted(NUMERIC_METRICS))
def test_numeric_false_alarms_within_alpha(method):
    mon = monitor({"x": NUMERIC_REF}, method=method)
    metrics = run(mon, RNG.normal(size=500 * WINDOW))
    rate, windows = flag_rate(metrics, NUMERIC_METRICS[method])
    assert windows == 500
    assert rate <= ALPHA + TOL, (method, rate)


@pytest.mark.parametrize("method", ["chi2", "js", "psi"])
def test_categorical_false_alarms_within_alpha(method):
    mon = monitor({"c": CAT_REF}, column="c", method=method)
    metrics = run(mon, RNG.choice(CATS, 500 * WINDOW, p=CAT_P), column="c")
    rate, windows = flag_rate(metrics, {"chi2": "chi2_pvalue"}.get(method, method))
    assert windows == 500 and rate <= ALPHA + TOL, (method, rate)


@pytest.mark.parametrize(
    "ref_size, method, metric",
    [
        (50_000, "auto", "wasserstein"),  # auto, large reference
        (1_000, "auto", "ks_pvalue"),  # auto, small reference
        (50_000, "ks", "ks_pvalue"),
        (500_000, "ks", "ks_pvalue"),  # reference kept as a quantile sketch
        (50_000, "chi2", "chi2_pvalue"),
    ],
)
def test_small_mean_shift_is_detected(ref_size, method, metric):
    ref = np.random.default_rng(ref_size).normal(size=ref_size)
    mon = monitor({"x": ref}, method=method)
    metrics = run(mon, RNG.normal(0.2, 1.0, size=200 * WINDOW))
    rate, windows = flag_rate(metrics, metric)
    assert windows == 200 and rate >= 0.95, (method, rate)
    assert mon.profile.exact == (ref_size <= 100_000)


def test_auto_false_alarms_with_small_reference():
    """A test is calibrated over draws of both samples: a fresh 1,000-row reference per window.

    (With one fixed small reference, its own sampling error is shared by every window, so a
    given reference may alarm more or less often than alpha; see the README.)
    """
    flags = []
    for seed in range(500):
        mon = monitor({"x": np.random.default_rng(seed).normal(size=1000)})
        assert mon.methods == ("ks",)
        flags += [
            r["flagged"] for r in run(mon, RNG.normal(size=WINDOW)) if r["metric"] == "ks_pvalue"
        ]
    assert len(flags) == 500 and np.mean(flags) <= ALPHA + TOL


def test_new_category_is_detected():
    mon = monitor({"c": CAT_REF}, column="c", method=["chi2", "js"])
    vals = RNG.choice(CATS, 20 * WINDOW, p=CAT_P)
    vals[RNG.random(len(vals)) < 0.15] = "new_brand"
    metrics = run(mon, vals, column="c")
    assert flag_rate(metrics, "chi2_pvalue")[0] == 1.0
    assert flag_rate(metrics, "js")[0] == 1.0


# -- text ------------------------------------------------------------------------------------------

VOCAB = np.array([f"w{i}" for i in range(3000)])
ZIPF = 1.0 / np.arange(1, 3001) ** 1.1
ZIPF /= ZIPF.sum()
NEW_PRODUCTS = np.array(["zoomx", "pegasus", "vaporfly", "alphafly", "invincible"])


def reviews(n, rng, new_share=0.0):
    lengths = rng.integers(4, 20, n)
    words = rng.choice(VOCAB, lengths.sum(), p=ZIPF)
    texts = np.split(words, np.cumsum(lengths)[:-1])
    out = [" ".join(t) for t in texts]
    if new_share:
        for i in np.flatnonzero(rng.random(n) < new_share):
            out[i] = f"{out[i]} {rng.choice(NEW_PRODUCTS)}"
    return np.array(out, dtype=object)


TEXT_REF = reviews(20_000, np.random.default_rng(11))


def test_text_vocabulary_shift_detected_resampled_reference_not():
    window = 2000
    mon = monitor({"t": TEXT_REF}, column="t", window=window)
    assert mon.methods == ("js", "oov")
    resampled = TEXT_REF[RNG.integers(0, len(TEXT_REF), 100 * window)]
    quiet = run(mon, resampled, column="t")
    assert flag_rate(quiet, "js") == (0.0, 100)
    assert flag_rate(quiet, "oov_rate") == (0.0, 100)
    shifted = run(mon, reviews(20 * window, RNG, new_share=0.4), column="t")
    assert flag_rate(shifted, "oov_rate") == (1.0, 20)


@pytest.mark.parametrize("method, metric", [("js", "js"), ("oov", "oov_rate"), ("psi", "psi"),
                                            ("length", "length_wasserstein"),
                                            ("empty", "empty_rate")])  # fmt: skip
def test_text_false_alarms_within_alpha(method, metric):
    mon = monitor({"t": TEXT_REF}, column="t", window=1000, method=method)
    metrics = run(mon, reviews(200 * 1000, RNG), column="t")
    rate, windows = flag_rate(metrics, metric)
    assert windows == 200 and rate <= ALPHA + TOL, (method, rate)


def test_text_length_and_empty_shift_detected():
    mon = monitor({"t": TEXT_REF}, column="t", window=1000, method=["length", "empty"])
    vals = reviews(5000, RNG)
    vals[::5] = ""
    vals = np.array([v + " " + v if v else v for v in vals], dtype=object)
    metrics = run(mon, vals, column="t")
    assert flag_rate(metrics, "length_wasserstein")[0] == 1.0
    assert flag_rate(metrics, "empty_rate")[0] == 1.0


def test_text_alerts_name_the_new_words_and_the_calibration():
    mon = monitor({"t": TEXT_REF}, column="t", window=2000)
    shifted = reviews(2000, RNG, new_share=0.4)
    res = mon.process(Batch.from_log(np.arange(2000), np.arange(2000), {"t": shifted}))
    oov = next(a for a in res.alerts if a["check"] == "oov")["message"]
    named = oov.split("most changed: ")[1]
    assert all(f"'{w}' 0.0% → " in named for w in NEW_PRODUCTS), named
    assert "(expected 5.21e-05 + 0.01)" in oov  # a Zipf reference of 20,000 texts: ~no new words
    js = next(r for r in res.metrics if r["metric"] == "js")
    assert js["threshold"] == 0.1 and not js["flagged"]  # new names are 4% of the words


def test_profiles_without_a_text_sample_fall_back_to_the_configured_thresholds():
    from dataclasses import replace

    from monitors.profile import Profile

    prof = build_profile({"t": TEXT_REF[:5000]})
    old = Profile({"t": replace(prof["t"], doc_freq=None, sample_ids=None, sample_offsets=None)})
    mon = monitor(old, column="t", window=1000, method=["js", "oov", "psi"])
    shifted = reviews(2000, RNG, new_share=0.4)
    res = mon.process(Batch.from_log(np.arange(2000), np.arange(2000), {"t": shifted}))
    rows = {r["metric"]: r for r in res.metrics}
    assert rows["js"]["threshold"] == 0.1 and rows["psi"]["threshold"] == 0.1
    assert all(r["flagged"] for r in res.metrics if r["metric"] == "oov_rate")
    assert "uncalibrated" in next(a["message"] for a in res.alerts if a["check"] == "oov")


# -- embeddings ------------------------------------------------------------------------------------


def test_mmd_false_alarms_within_alpha():
    rng = np.random.default_rng(3)
    pvalues = []
    for _ in range(300):
        x, y = rng.normal(size=(60, 8)), rng.normal(size=(60, 8))
        pvalues.append(mmd_test(x, y, median_bandwidth(x), n_perm=99, rng=rng)[1])
    assert np.mean(np.array(pvalues) < ALPHA) <= ALPHA + TOL


def test_embedding_drift_detected_through_the_monitor():
    ref = RNG.normal(size=(3000, 16))
    mon = monitor({"e": list(ref)}, column="e", window=400, max_vectors=200, n_permutations=99)
    assert mon.methods == ("mmd",)
    same = run(mon, list(RNG.normal(size=(4000, 16))), column="e")
    shifted = run(mon, list(RNG.normal(0.25, 1.0, size=(4000, 16))), column="e")
    assert flag_rate(same, "mmd_pvalue")[0] <= 0.2
    assert flag_rate(shifted, "mmd_pvalue") == (1.0, 10)


# -- windows, rows, flush, config ------------------------------------------------------------------


def test_metric_rows_fit_the_store_schema_and_alerts_are_written():
    mon = monitor({"x": NUMERIC_REF}, window=1000, method=["ks", "psi"])
    res = mon.process(
        Batch.from_log(np.arange(2500), np.arange(2500) * 10, {"x": 3 + RNG.normal(size=2500)})
    )
    table = metrics_table(res.metrics, writer="w")
    assert table.num_rows == 6  # 2 windows x (ks_statistic, ks_pvalue, psi)
    row = res.metrics[0]
    assert row["monitor"] == "data_drift" and row["column"] == "x" and row["n"] == 1000
    assert (row["window_start"], row["window_end"]) == (0, 9990)
    assert alerts_table(res.alerts).num_rows == 4
    assert "data drift in 'x'" in res.alerts[0]["message"]
    flushed = mon.flush()  # 500 rows left: closes early (>= min_rows)
    assert {r["n"] for r in flushed.metrics} == {500}
    assert mon.flush().metrics == []


def test_time_windows_have_aligned_bounds():
    hour = 3_600_000_000
    mon = monitor({"x": NUMERIC_REF}, window="1h", min_rows=10)
    ts = np.sort(RNG.integers(0, 3 * hour, 3000))
    metrics = run(mon, RNG.normal(size=3000), ts=ts)
    assert [(r["window_start"], r["window_end"]) for r in metrics] == [(0, hour), (hour, 2 * hour)]
    last = mon.flush().metrics
    assert (last[0]["window_start"], last[0]["window_end"]) == (2 * hour, 3 * hour)


def test_small_windows_and_foreign_batches_report_nothing():
    mon = monitor({"x": NUMERIC_REF}, window=50)
    assert run(mon, RNG.normal(size=120)) == []  # 50-row windows < min_rows=100
    no_inputs = Batch(np.arange(3), np.zeros(3, np.int64), pa.table({"y": [1, 2, 3]}))
    assert mon.process(no_inputs).metrics == []


def test_saved_profile_is_a_reference(tmp_path):
    path = build_profile({"x": NUMERIC_REF, "c": CAT_REF}).save(tmp_path / "ref.profile")
    mon = monitor(str(path), column="c", window=1000)
    assert mon.methods == ("js",)
    with pytest.raises(ValueError, match="kind='text'"):
        monitor(str(path), column="c", kind="text")


@pytest.mark.parametrize(
    "change, match",
    [
        ({"method": "bogus"}, "unknown method 'bogus'"),
        ({"window": "5 parsecs"}, "window"),
        ({"threshold": {"nope": 1}}, "threshold has unknown method"),
        ({"bins": 1}, "bins must be >= 2"),
        ({"colour": "red"}, "unknown key 'colour'"),
    ],
)
def test_config_errors_name_the_key(change, match):
    cfg = {
        "type": "data_drift",
        "measurable_args": {"type": "input_feature", "feature_name": "x"},
        "reference_dataset": {"x": NUMERIC_REF},
        **change,
    }
    with pytest.raises(ValueError, match=match):
        DataDriftConfig.model_validate(cfg)


def test_method_not_for_kind_and_thresholds_override():
    with pytest.raises(ValueError, match="does not apply to a numeric column"):
        monitor({"x": NUMERIC_REF}, method="mmd")
    mon = monitor({"x": NUMERIC_REF}, method=["ks", "psi"], threshold={"psi": 0.5})
    assert mon.thresholds == {"ks": 0.05, "psi": 0.5}
    assert monitor({"x": NUMERIC_REF}, method="psi", threshold=0.3).thresholds == {"psi": 0.3}


def test_memory_stays_flat_over_two_million_rows():
    """Row windows and one huge time window: the window state stays bounded."""
    mons = [
        monitor({"x": NUMERIC_REF}, method=["ks", "psi", "wasserstein"], window=10_000),
        monitor({"x": NUMERIC_REF}, method=["ks", "psi"], window="1d", max_window_sample=20_000),
        monitor({"c": CAT_REF}, column="c", method=["chi2", "js"], window=10_000),
    ]
    chunk = 50_000
    x = RNG.normal(size=chunk)
    c = RNG.choice(CATS, chunk, p=CAT_P)
    batch = Batch.from_log(np.arange(chunk), np.zeros(chunk, np.int64), {"x": x, "c": c})
    tracemalloc.start()
    try:
        peaks = []
        for i in range(40):  # 40 x 50,000 = 2,000,000 rows
            batch.ts = np.full(chunk, i * 1000, np.int64)
            for mon in mons:
                mon.process(batch)
            if i in (3, 39):
                peaks.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    assert mons[1].state.reservoir.seen == 2_000_000
    assert peaks[1] - peaks[0] < 2_000_000, peaks  # < 2 MB growth after warm-up


def test_framework_writes_drift_metrics_and_alerts(tmp_path):
    from curate import Framework
    from curate.enums import MeasurableType, Monitor

    path = build_profile({"x": NUMERIC_REF}).save(tmp_path / "ref.profile")
    cfg = {
        "checks": [
            {"type": Monitor.DATA_DRIFT, "reference_dataset": str(path), "window": 5000,
             "measurable_args": {"type": MeasurableType.INPUT_FEATURE, "feature_name": "x"}},
            {"type": Monitor.CONCEPT_DRIFT, "algorithm": "DDM", "window": 5000},
        ],
        "retraining_folder": str(tmp_path / "store"),
    }  # fmt: skip
    with Framework(cfg) as fw:
        fw.log(inputs={"x": RNG.normal(size=5000)}, outputs=[1] * 5000, gts=[1] * 5000)
        fw.log(inputs={"x": RNG.normal(1.0, 1, 5000)}, outputs=[1] * 5000, gts=[0] * 5000)
        fw.flush()
    store = Store(tmp_path / "store")
    m = store.read("metrics").to_pandas()
    drift = m[m.monitor == "data_drift"]
    assert drift.metric.tolist() == ["wasserstein", "wasserstein"]
    assert drift.flagged.tolist() == [False, True]
    assert (m[m.monitor == "concept_drift"].metric == "accuracy").sum() == 2
    alerts = store.read("alerts").to_pandas()
    assert set(alerts.monitor) == {"data_drift", "concept_drift"}


def test_without_a_reference_the_traffic_sample_is_the_reference(tmp_path):
    rng = np.random.default_rng(3)
    with Framework({"retraining_folder": tmp_path / "s"}) as fw:
        fw.log(inputs={"score": rng.normal(0, 1, 4000).tolist()})  # last period's traffic
    cfg = {"retraining_folder": tmp_path / "s", "checks": [
        {"type": "data_drift", "measurable_args": {"feature_name": "score"}, "window": 1000}]}  # fmt: skip
    with Framework(cfg) as fw:
        fw.log(inputs={"score": rng.normal(0, 1, 2000).tolist()})  # same distribution
        fw.flush()
        fw.log(inputs={"score": (rng.normal(0, 1, 2000) + 2).tolist()})  # shifted
    m = StoreReader(tmp_path / "s").read("metrics").to_pandas()
    flags = m[m.monitor == "data_drift"]["flagged"].tolist()
    assert flags == [False, False, True, True]


def test_without_a_reference_or_traffic_the_check_says_so(tmp_path):
    cfg = {"retraining_folder": tmp_path / "s", "checks": [
        {"type": "data_drift", "measurable_args": {"feature_name": "score"}}]}  # fmt: skip
    with pytest.raises(ConfigError, match="no reference_dataset, and the store has no traffic"):
        Framework(cfg)
