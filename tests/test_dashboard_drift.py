"""The drift page draws the window that was tested, charts concept drift, breaks idle lines.

Stores are made by the real log path: a Framework with a DATA_DRIFT check on real review text or
on the reviews' verdicts (``dashboard_fixtures.real_drift_store``), a CONCEPT_DRIFT check, or
metrics rows in the table's fixed schema. The page's numbers are checked against the summaries
read straight from the store's metrics table, and against the statistics recomputed from them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import real_corpora as rc
from dashboard_fixtures import real_drift_store
from test_dashboard import app_on, metric_values, texts

from curate import Framework
from curate.store import Store, now_us
from curate.store_reader import StoreReader
from curate.tables import metric_row, metrics_table
from dashboard import charts, data
from monitors.stats import js_distance

real = pytest.mark.skipif(not rc.available(), reason=rc.SKIP_REASON)


def stored_windows(root: Path, column: str) -> list[tuple[dict, dict[str, float]]]:
    """``(summary, {metric: value})`` of each window, read from the metrics table directly."""
    m = StoreReader(root).read("metrics").to_pandas()
    m = m[(m["monitor"] == "data_drift") & (m["column"] == column)]
    out: list[tuple[dict, dict[str, float]]] = []
    for row in m.itertuples():
        if isinstance(row.summary, str):
            out.append((json.loads(row.summary), {}))
        out[-1][1][row.metric] = row.value
    return out


def chart_frames(at) -> dict[str, pd.DataFrame]:
    """Each chart's data as drawn, by title (the charts' data travel as Arrow streams)."""
    frames = {}
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        title = spec.get("title") or spec.get("layer", [{}])[0].get("title") or ""
        stream = chart.proto.datasets[0].data.data
        frames[str(title)] = pa.ipc.open_stream(stream).read_all().to_pandas()
    return frames


def drawn_table(at) -> pd.DataFrame:
    (table,) = [d.value for d in at.dataframe if "reference share" in d.value.columns]
    return table


def shares(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.pivot(index="label", columns="source", values="share")


@pytest.fixture(scope="module")
def verdict_store(tmp_path_factory) -> Path:
    return real_drift_store(tmp_path_factory.mktemp("verdict") / "store", "verdict", alarm=True)


@pytest.fixture(scope="module")
def text_store(tmp_path_factory) -> Path:
    return real_drift_store(tmp_path_factory.mktemp("text") / "store", "text", alarm=True)


@real
def test_categorical_page_draws_the_window_that_was_tested(verdict_store, monkeypatch):
    root = verdict_store
    stored = stored_windows(root, "verdict")
    assert [v["js"] > 0.1 for _, v in stored] == [False, False, True, True]
    windows = data.drift_windows(root, "verdict")
    at = app_on(root, "drift", monkeypatch)
    pick = at.selectbox(key="drift_window:verdict")
    assert pick.value == windows["window"].iloc[-1]  # the latest window, which drifted
    for i, drifted in ((3, True), (0, False)):
        if pick.value != windows["window"].iloc[i]:
            pick.set_value(windows["window"].iloc[i]).run()
            assert not at.exception
        summary, values = stored[i]
        table = drawn_table(at)
        assert table["reference count"].tolist() == summary["bins"]["ref"]
        assert table["window count"].tolist() == summary["bins"]["win"]
        assert js_distance(table["reference count"], table["window count"]) == values["js"]
        bars = shares(chart_frames(at)["verdict: share of each category"])
        ref, win = np.array(summary["bins"]["ref"]), np.array(summary["bins"]["win"])
        for label, r, w in zip(summary["bins"]["labels"][:-1], ref / ref.sum(), win / win.sum(),
                               strict=False):  # fmt: skip
            assert (bars.loc[label, "reference"], bars.loc[label, "window"]) == (r, w)
        gap = (bars["reference"] - bars["window"]).abs().max()
        page = texts(at)
        if drifted:
            assert f"Drift in this window: `js` = {values['js']:.4g}" in page
            assert gap > 0.3  # fresh 54% -> 19%: visibly different bars
        else:
            assert f"No drift in this window: `js` = {values['js']:.4g}" in page
            assert gap < 0.03  # the same shares, as the statistic says


@real
def test_text_page_draws_the_window_that_was_tested(text_store, monkeypatch):
    root = text_store
    stored = stored_windows(root, "text")
    windows = data.drift_windows(root, "text")
    assert windows["alarms"].tolist() == [[], [], ["js", "oov"], ["js", "oov"]]
    at = app_on(root, "drift", monkeypatch)
    pick = at.selectbox(key="drift_window:text")
    for i, drifted in ((3, True), (1, False)):
        if pick.value != windows["window"].iloc[i]:
            pick.set_value(windows["window"].iloc[i]).run()
            assert not at.exception
        summary, values = stored[i]
        table = drawn_table(at)
        assert js_distance(table["reference count"], table["window count"]) == values["js"]
        assert table["window count"].sum() == summary["tokens"]
        unseen = summary["oov"] / summary["tokens"]
        assert unseen == values["oov_rate"]
        assert metric_values(at)["Unseen words (window)"] == f"{unseen:.2%}"
        words = shares(chart_frames(at)["text: most frequent compared words"])
        assert len(words) == 20 and "the" in words.index
        gap = (words["reference"] - words["window"]).abs().max()
        if drifted:  # headlines: 'the' 5.1% -> 2.0%, 'a' 3.6% -> 0.8%
            assert gap > 0.02 and "Drift in this window" in texts(at)
            (unseen_words,) = [d.value for d in at.dataframe
                               if list(d.value.columns) == ["value", "count", "share"]]  # fmt: skip
            assert {"uk", "coronavirus"} <= set(unseen_words["value"])
        else:  # other reviews: every drawn word within half a percentage point
            assert gap < 0.005 and "No drift in this window" in texts(at)


@real
def test_window_times_are_utc_24_hour(verdict_store, monkeypatch):
    at = app_on(verdict_store, "drift", monkeypatch)
    windows = data.drift_windows(verdict_store, "verdict")
    end = windows["window_end"].iloc[-1].tz_convert("UTC")
    label = at.selectbox(key="drift_window:verdict").options[0]
    assert label.startswith(f"#4 · {end:%Y-%m-%d %H:}") and " UTC · 1,000 rows" in label
    config = json.loads(at.dataframe[0].proto.columns)["window_end"]["type_config"]
    assert config == {"type": "datetime", "format": "YYYY-MM-DD HH:mm:ss [UTC]", "timezone": "UTC"}


def _write_windows(root: Path, starts_min: list[int]) -> None:
    """One ``js`` row per one-minute time window starting at these minutes."""
    store = Store(root)
    t0 = (now_us() // 3_600_000_000 - 24) * 3_600_000_000
    rows = []
    for m in starts_min:
        ws = t0 + m * 60_000_000
        rows.append(metric_row(monitor="data_drift", check="js", column="c", metric="js",
                               value=0.05, n=500, threshold=0.1, flagged=False, window_start=ws,
                               window_end=ws + 60_000_000))  # fmt: skip
    store.write("metrics", metrics_table(rows, store.writer_id))


def test_lines_break_where_no_window_was_closed(tmp_path, monkeypatch):
    root = tmp_path / "store"
    _write_windows(root, [0, 1, 2, 3, 4, 5, 120, 121, 122, 123])  # idle for two hours
    at = app_on(root, "drift", monkeypatch)
    line = chart_frames(at)["js"]
    assert line.sort_values("window_end")["segment"].tolist() == [0] * 6 + [1] * 4
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    details = [layer["encoding"].get("detail") for layer in spec["layer"][:2]]
    assert details == [{"field": "segment", "type": "nominal"}] * 2  # threshold and value lines


def test_concept_drift_is_charted_on_the_drift_page(tmp_path, monkeypatch):
    root = tmp_path / "store"
    rng = np.random.default_rng(0)
    check = {"type": "concept_drift", "algorithm": ["DDM", "ADWIN"], "window": 500}
    with Framework({"checks": [check], "retraining_folder": str(root)}) as fw:
        for accuracy in (0.95, 0.95, 0.95, 0.6, 0.6, 0.6):
            gts = rng.integers(0, 2, 500)
            outputs = np.where(rng.random(500) < accuracy, gts, 1 - gts)
            fw.log(inputs={"x": list(range(500))}, outputs=list(outputs), gts=list(gts))
    at = app_on(root, "drift", monkeypatch)
    frames = chart_frames(at)
    assert {"accuracy", "DDM: error rate", "ADWIN: mean error", "ADWIN: window width"} <= set(
        frames
    )
    acc = frames["accuracy"].sort_values("window_end")["value"].to_numpy()
    assert len(acc) == 6 and acc[:3].min() > 0.9 and acc[3:].max() < 0.7
    assert frames["DDM: error rate"]["flagged"].any()  # the detector's drift, in red
    alerts = at.dataframe[-1].value
    assert "concept_drift" in set(alerts["monitor"])


def test_integrity_lines_break_per_series_at_idle_gaps():
    t = pd.to_datetime([0, 60, 120, 180, 0, 60, 7200, 7260], unit="s", utc=True)
    df = pd.DataFrame({"window_start": t, "window_end": t + pd.Timedelta(seconds=60),
                       "value": 0.01, "threshold": 0.05, "n": 100,
                       "series": ["a"] * 4 + ["b"] * 4})  # fmt: skip
    chart = charts.ratio_lines(df, "series")
    drawn = chart.data  # both layers draw the same frame: Altair keeps it once, on the layer
    assert drawn.groupby("series")["segment"].apply(list).to_dict() == {
        "a": [0, 0, 0, 0],
        "b": [0, 0, 1, 1],  # idle for two hours
    }
    assert chart.layer[1].to_dict()["encoding"]["detail"] == {"field": "segment", "type": "nominal"}


def test_bar_charts_label_every_bar():
    # Streamlit's chart theme hides axis labels it finds too close together (every other one
    # on a probe chart); the bar charts turn that off.
    probes = pd.DataFrame({"probe": ["p"] * 8, "stage": ["before", "after"] * 4,
                           "rank": [1, 1, 2, 2, 3, 3, 4, 4], "token": list("abcdefgh"),
                           "score": [0.4, 0.3, 0.2, 0.1] * 2})  # fmt: skip
    spec = charts.probe_chart(probes, ("before", "after")).to_dict()
    assert spec["spec"]["encoding"]["y"]["axis"]["labelOverlap"] is False
    words = pd.DataFrame({"label": [f"w{i}" for i in range(20)] * 2, "share": 0.05,
                          "source": ["reference"] * 20 + ["window"] * 20})  # fmt: skip
    spec = charts.compare_bars(words, "label", "top words").to_dict()
    assert spec["encoding"]["x"]["axis"]["labelOverlap"] is False


def test_numeric_window_and_a_reference_without_windows(tmp_path, monkeypatch):
    from monitors.profile import build_profile

    root = tmp_path / "store"
    rng = np.random.default_rng(3)
    check = {"type": "data_drift", "reference_dataset": {"price": rng.normal(10, 2, 500)},
             "measurable_args": {"type": "input_feature", "feature_name": "price"},
             "window": 400, "method": ["ks", "psi"]}  # fmt: skip
    with Framework({"checks": [check], "retraining_folder": str(root)}) as fw:
        for mean in (10, 10, 13):
            fw.log(inputs={"price": list(rng.normal(mean, 2, 400))})
            fw.flush()
    build_profile({"rating": rng.normal(4, 0.5, 300)}).save(root / "profiles" / "ratings.profile")
    at = app_on(root, "drift", monkeypatch)
    assert at.selectbox[0].value == "price"
    ((summary, values),) = stored_windows(root, "price")[-1:]
    assert values["ks_pvalue"] < 0.05 and "Drift in this window" in texts(at)
    table = drawn_table(at)
    assert table["window count"].tolist() == summary["bins"]["win"]
    frames = chart_frames(at)
    cdf = frames["price: cumulative distribution"]
    assert cdf.loc[cdf["source"] == "window", "value"].tolist() == summary["quantiles"]["win"]
    bins = frames["price: share in each reference quantile bin"]
    assert list(dict.fromkeys(bins["label"])) == summary["bins"]["labels"]  # in value order
    at.selectbox[0].set_value("rating").run()
    assert not at.exception
    assert "No tested window of `rating` yet" in texts(at)
    assert list(chart_frames(at)) == ["rating: histogram"]
