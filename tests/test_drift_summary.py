"""What a closed drift window keeps, and what a bad reference says.

Each closed window stores the summary its statistics were computed from (the compared bins with
reference and window counts, ``monitors.stats.window_summary``): recomputing every statistic
from the stored summary must give exactly the stored value, or the dashboard would draw
something other than what was tested. A reference that cannot be used raises ``ConfigError``
saying what is wrong and where.
"""

from __future__ import annotations

import json
import tempfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate import ConfigError, Framework
from curate.batch import Batch
from curate.store import Store
from curate.store_reader import StoreReader
from monitors.base import MonitorContext
from monitors.drift import DataDriftConfig, DataDriftMonitor
from monitors.profile import build_profile
from monitors.stats import chi2_homogeneity, js_distance, ks_statistic, psi
from monitors.stats.wasserstein import wasserstein_counts

RNG = np.random.default_rng(7)
CTX = MonitorContext(Store(tempfile.mkdtemp()))
WORDS = np.array([f"w{i}" for i in range(400)])
ZIPF = 1.0 / np.arange(1, 401)
ZIPF /= ZIPF.sum()


def texts(n: int, p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    lengths = rng.integers(3, 15, n)
    return np.array([" ".join(rng.choice(WORDS, k, p=p)) for k in lengths], object)


def monitor(reference, column, **kw) -> DataDriftMonitor:
    cfg = {"type": "data_drift", "reference_dataset": {column: reference}, "window": 2000,
           "measurable_args": {"type": "input_feature", "feature_name": column}, **kw}  # fmt: skip
    return DataDriftMonitor(DataDriftConfig.model_validate(cfg), CTX)


def windows(metrics: list[dict]) -> list[tuple[dict, list[dict]]]:
    """``(summary, rows)`` of each closed window; exactly one row of each carries a summary."""
    by_window: dict[tuple, list[dict]] = {}
    for row in metrics:
        by_window.setdefault((row["window_start"], row["window_end"]), []).append(row)
    out = []
    for rows in by_window.values():
        carried = [r["summary"] for r in rows if r.get("summary")]
        assert len(carried) == 1, rows
        out.append((json.loads(carried[0]), rows))
    return out


def values_of(rows: list[dict]) -> dict[str, float]:
    return {r["metric"]: r["value"] for r in rows}


def counts(summary: dict) -> tuple[np.ndarray, np.ndarray]:
    bins = summary["bins"]
    assert len(bins["labels"]) == len(bins["ref"]) == len(bins["win"])
    return np.array(bins["ref"]), np.array(bins["win"])


def test_categorical_summary_is_what_was_tested():
    cats = np.array(list("abcdefgh"))
    p = np.array([0.3, 0.2, 0.15, 0.1, 0.1, 0.08, 0.05, 0.02])
    mon = monitor(RNG.choice(cats, 5000, p=p), "c", method=["chi2", "js", "psi"])
    values = np.r_[RNG.choice(cats, 4000, p=p), RNG.choice(cats, 4000, p=p[::-1])].astype(object)
    values[-100:] = "new"  # unseen in the last window
    metrics = mon.process(Batch.from_log(np.arange(8000), np.arange(8000), {"c": values})).metrics
    found = windows(metrics)
    js_flags = [r["flagged"] for _, rows in found for r in rows if r["metric"] == "js"]
    assert js_flags == [False, False, True, True]
    for summary, rows in found:
        ref, win = counts(summary)
        got = values_of(rows)
        assert js_distance(ref, win) == got["js"]
        assert psi(ref, win) == got["psi"]
        stat, pvalue, _ = chi2_homogeneity(ref, win)
        assert (stat, pvalue) == (got["chi2_statistic"], got["chi2_pvalue"])
        assert win.sum() == summary["n"] == 2000
        assert summary["bins"]["labels"][-1] is None  # the tail, unseen values included
    assert found[-1][0]["unseen"] == [["new", 100]]


def test_text_summary_is_what_was_tested():
    reference = texts(3000, ZIPF, RNG)
    mon = monitor(reference, "t", method=["js", "psi", "oov", "length", "empty"], js_bins=60)
    other = np.roll(ZIPF, 150)
    values = np.r_[texts(2000, ZIPF, RNG), texts(2000, other, RNG)]
    values[-150:] = ""
    metrics = mon.process(Batch.from_log(np.arange(4000), np.arange(4000), {"t": values})).metrics
    (quiet, quiet_rows), (drift, drift_rows) = windows(metrics)
    assert not any(r["flagged"] for r in quiet_rows)
    assert {r["check"] for r in drift_rows if r["flagged"]} >= {"js", "psi", "empty"}
    for summary, rows in ((quiet, quiet_rows), (drift, drift_rows)):
        ref, win = counts(summary)
        got = values_of(rows)
        assert js_distance(ref, win) == got["js"] and psi(ref, win) == got["psi"]
        assert win.sum() == summary["tokens"]
        assert len(summary["bins"]["labels"]) <= 60 + 1  # js_bins words and the tail
        assert summary["oov"] / summary["tokens"] == got["oov_rate"]
        assert summary["empty"] / summary["rows"] == got["empty_rate"]
        lengths = summary["lengths"]
        w1 = wasserstein_counts(np.array(lengths["ref"]), np.array(lengths["win"]))
        assert w1 / mon.state.len_scale == pytest.approx(got["length_wasserstein"], rel=1e-12)
    assert drift["empty"] == 150


def test_numeric_summary_is_what_was_tested():
    reference = RNG.normal(size=20_000)
    mon = monitor(reference, "x", method=["ks", "psi", "chi2", "js"], bins=8)
    window = RNG.normal(0.5, 1, 2000)
    metrics = mon.process(Batch.from_log(np.arange(2000), np.arange(2000), {"x": window})).metrics
    ((summary, rows),) = windows(metrics)
    ref, win = counts(summary)
    got = values_of(rows)
    assert js_distance(ref, win) == got["js"] and psi(ref, win) == got["psi"]
    assert len(summary["edges"]) + 1 == len(summary["bins"]["labels"]) <= 8
    q = summary["quantiles"]
    # The window is smaller than the sample kept, so its quantiles are those of every value.
    assert q["win"] == np.quantile(np.sort(window), q["p"]).tolist()
    assert ks_statistic(np.array(q["ref"]), np.array(q["win"])) == pytest.approx(
        got["ks_statistic"], abs=0.02
    )


@pytest.mark.parametrize("js_bins", [60, 500])
def test_summary_size_is_bounded_by_the_check_not_the_window(js_bins):
    reference = texts(3000, ZIPF, RNG)
    sizes = []
    for rows in (2000, 40_000):
        mon = monitor(reference, "t", window=rows, js_bins=js_bins)
        values = texts(rows, np.roll(ZIPF, 50), RNG)
        metrics = mon.process(Batch.from_log(np.arange(rows), np.arange(rows), {"t": values}))
        ((summary, _),) = windows(metrics.metrics)
        sizes.append(len(json.dumps(summary)))
        assert len(summary["bins"]["labels"]) <= js_bins + 1 and len(summary["unseen"]) <= 20
    assert sizes[1] < 20_000, sizes
    if js_bins == 60:  # both windows compare all 60 words: the same size, 20 times the rows
        assert sizes[1] < 1.2 * sizes[0], sizes


def test_the_store_keeps_one_summary_per_window(tmp_path):
    cats = np.array(["shoes", "hoodies", "socks"])
    check = {"type": "data_drift", "reference_dataset": {"c": RNG.choice(cats, 3000)},
             "measurable_args": {"type": "input_feature", "feature_name": "c"}, "window": 500,
             "method": ["chi2", "js"]}  # fmt: skip
    with Framework({"checks": [check], "retraining_folder": str(tmp_path / "s")}) as fw:
        fw.log(inputs={"c": list(RNG.choice(cats, 1500, p=[0.8, 0.1, 0.1]))})
    m = StoreReader(tmp_path / "s").read("metrics").to_pandas()
    drift = m[m["monitor"] == "data_drift"]
    assert len(drift) == 3 * 3  # chi2 statistic, chi2 p-value, js per window
    with_summary = drift[drift["summary"].notna()]
    assert len(with_summary) == 3
    assert m.loc[m["monitor"] != "data_drift", "summary"].isna().all()
    # One log() call: every window has the same bounds; each window's rows follow its summary.
    for i, (_, row) in enumerate(with_summary.iterrows()):
        ref, win = counts(json.loads(row["summary"]))
        js = drift.loc[drift["metric"] == "js", "value"].iloc[i]
        assert js_distance(ref, win) == js


# -- a reference that cannot be used ------------------------------------------------------------


def _cfg(tmp_path, reference, column="text", **kw) -> dict:
    check = {"type": "data_drift", "reference_dataset": reference,
             "measurable_args": {"type": "input_feature", "feature_name": column}, **kw}  # fmt: skip
    return {"checks": [check], "retraining_folder": str(tmp_path / "store")}


def _garbage(tmp_path) -> str:
    path = tmp_path / "ref.parquet"
    path.write_bytes(b"this is not parquet")
    return str(path)


def _parquet_without_text(tmp_path) -> str:
    path = tmp_path / "other.parquet"
    pq.write_table(pa.table({"title": ["a b c"] * 10}), path)
    return str(path)


def _profile_without_text(tmp_path) -> str:
    return str(build_profile({"rating": [1.0, 2.0, 3.0] * 10}).save(tmp_path / "r.profile"))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda t: {"title": ["a b c"]}, r"dict: no column 'text'; it has: title"),
        (_parquet_without_text, r"other\.parquet'.*has no column 'text'; it has: title"),
        (_garbage, r"ref\.parquet'.*cannot read .* as Parquet/CSV"),
        (lambda t: str(t / "missing.parquet"), r"missing\.parquet'.*no such file"),
        (_profile_without_text, r"r\.profile'.*profile has no column 'text'; it has: rating"),
        (lambda t: {"text": pa.array([None, None], pa.string())}, r"'text' has no non-null"),
        (lambda t: {"text": [None, None]}, r"dict: cannot monitor drift of a column of type null"),
        (lambda t: [1, 2, 3], r"reference_dataset list: must be a path"),
    ],
)
def test_a_bad_reference_is_a_config_error(tmp_path, make, match):
    with pytest.raises(ConfigError, match=r"data_drift check on 'text'.*" + match):
        Framework(_cfg(tmp_path, make(tmp_path)))


def test_a_profile_of_another_kind_is_a_config_error(tmp_path):
    path = build_profile({"text": ["a", "b"] * 50}).save(tmp_path / "c.profile")
    with pytest.raises(ConfigError, match=r"c\.profile'.*kind='text' but its profile of 'text'"):
        Framework(_cfg(tmp_path, str(path), kind="text"))
    with pytest.raises(ConfigError, match="method 'mmd' does not apply to a categorical column"):
        Framework(_cfg(tmp_path, str(path), method="mmd"))
