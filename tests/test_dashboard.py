"""The dashboard: every page with AppTest on empty stores and on a real pipeline's store.

The full store is made by the real log path (a Framework with an EDGE_CASE and a DATA_INTEGRITY
check on generated product reviews), plus schema-true training runs, drift metrics and a
reference profile (see ``dashboard_fixtures``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from dashboard_fixtures import PROBES, add_drift, add_run, app_on, pipeline_store
from streamlit.testing.v1 import AppTest

from curate.enums import MonitorKind
from curate.runs import RunRegistry
from curate.store import Store
from curate.tables import FRAMEWORK, Metric
from dashboard import cache, cli, data, filters, runs, ui
from dashboard.windows import WindowKey

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
PAGES = ("overview", "edge_cases", "integrity", "drift", "training")


def texts(at: AppTest) -> str:
    """Every markdown, caption, info, error and title text of the page, joined."""
    parts = []
    for kind in (
        "title",
        "markdown",
        "caption",
        "info",
        "error",
        "warning",
        "success",
        "subheader",
    ):
        parts += [str(e.value) for e in at.get(kind)]
    return "\n".join(parts)


def metric_values(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` with its size and mtime (to prove nothing was written)."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file() or p.is_dir()
    }


@pytest.fixture(scope="module")
def full_store(tmp_path_factory) -> tuple[Path, dict, str]:
    root = tmp_path_factory.mktemp("dash") / "store"
    stats = pipeline_store(root)
    good = add_run(root)
    add_run(root, finish=False)  # killed: reads as failed
    add_drift(root)
    return root, stats, good


# -- empty stores ------------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_page_on_missing_store(page, tmp_path, monkeypatch):
    missing = tmp_path / "nowhere"
    at = app_on(missing, page, monkeypatch)
    assert "No curate store at" in texts(at)
    assert not missing.exists()


EMPTY_HINTS = {
    "overview": "Nothing logged yet",
    "edge_cases": "No edge cases yet",
    "integrity": "No integrity windows yet",
    "drift": "No drift statistics yet",
    "training": "No training runs yet",
}


@pytest.mark.parametrize("page", PAGES)
def test_page_on_empty_store(page, tmp_path, monkeypatch):
    root = tmp_path / "store"
    Store(root)
    before = tree(root)
    at = app_on(root, page, monkeypatch)
    assert EMPTY_HINTS[page] in texts(at)
    assert tree(root) == before


# -- a real pipeline's store -------------------------------------------------------------------


def test_overview_numbers(full_store, monkeypatch):
    root, stats, _ = full_store
    at = app_on(root, "overview", monkeypatch)
    m = metric_values(at)
    assert m["Rows logged"] == f"{stats['rows_logged']:,}" == "20,000"
    assert m["Edge cases collected"] == f"{stats['edge_cases']:,}"
    assert m["Quarantined rows"] == f"{stats['quarantined']:,}"
    assert m["Integrity violation rate"] == f"{stats['quarantined'] / 20_000:.2%}"
    assert m["Drifted columns"] == "1 / 2"  # rating drifts, text (real drift check) does not
    assert m["Training runs"] == "2"
    page = texts(at)
    assert "failed" in page and "killed?" in page  # the latest run was killed
    assert "of 500 edge cases toward the next training run" in at.get("progress")[0].proto.text
    assert len(at.dataframe[0].value) == min(10, len(data.alerts(root)))  # recent alerts


def test_overview_progress_counts_new_edge_cases(full_store, monkeypatch, tmp_path):
    root, stats, _ = full_store
    monkeypatch.setenv("CURATE_STORE", str(root))
    monkeypatch.setenv("CURATE_RETRAIN_AFTER", "2000")
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    assert "0 of 2,000 edge cases" in at.get("progress")[0].proto.text


def test_edge_cases_page(full_store, monkeypatch):
    root, stats, _ = full_store
    at = app_on(root, "edge_cases", monkeypatch)
    n = stats["edge_cases"]
    assert metric_values(at)["Matching edge cases"] == f"{n:,} of {n:,}"
    assert len(at.get("vega_lite_chart")) == 1  # counts over time per reason
    assert len(at.dataframe[0].value) == min(n, 1000)
    at.text_input(key="ec_query").set_value("durable hoodies").run()
    assert not at.exception
    shown = at.dataframe[0].value
    assert 0 < len(shown) < n
    assert shown["score"].min() >= 80
    assert all("hood" in t.lower() or "durable" in t.lower() for t in shown["text"])
    assert len(at.get("download_button")) == 2


def test_edge_cases_reason_filter(full_store, monkeypatch):
    root, stats, _ = full_store
    at = app_on(root, "edge_cases", monkeypatch)
    reason = at.multiselect[0].options[0]
    at.multiselect[0].select(reason).run()
    assert not at.exception
    n = stats["edge_cases"]
    assert metric_values(at)["Matching edge cases"] == f"{n:,} of {n:,}"


def test_integrity_page(full_store, monkeypatch):
    root, stats, _ = full_store
    at = app_on(root, "integrity", monkeypatch)
    summary = at.dataframe[0].value
    row = summary.iloc[0]
    assert (row["check"], row["column"], row["windows"]) == ("non_null", "text", 10)
    assert row["violations"] == stats["quarantined"]
    assert len(at.get("vega_lite_chart")) == 1
    by_reason = at.dataframe[1].value
    assert by_reason["rows"].sum() == stats["quarantined"]
    assert len(at.dataframe[2].value) == 500  # newest quarantined rows
    assert f"{stats['quarantined']:,} rows" in texts(at)


def test_drift_page(full_store, monkeypatch):
    root, _, _ = full_store
    at = app_on(root, "drift", monkeypatch)
    latest = at.dataframe[0].value
    assert sorted(zip(latest["column"], latest["metric"], strict=True)) == [
        ("rating", "wasserstein"),
        ("text", "js"),
        ("text", "oov_rate"),
    ]
    assert list(latest.loc[latest["flagged"], "column"]) == ["rating"]
    assert at.selectbox[0].value == "rating"  # the drifted column first
    # rating's windows were written without their summary: said, not drawn from elsewhere
    assert "written before drift windows kept" in texts(at)
    assert len(at.get("vega_lite_chart")) == 1  # the statistic over windows
    assert "Drift in this window: `wasserstein` = 0.135" in texts(at)  # the latest drifted
    alerts = data.alerts(root)
    assert len(at.dataframe[-1].value) == (alerts["monitor"] == MonitorKind.DATA_DRIFT).sum() == 4
    at.selectbox[0].set_value("text").run()
    assert not at.exception
    windows = data.drift_windows(root, "text")
    assert len(windows) == 10 and not windows["flagged"].any()  # one log() call, 10 windows
    assert at.selectbox[1].value == windows["window"].iloc[-1]  # none drifted: the latest
    assert len(at.selectbox[1].options) == 10
    assert "No drift in this window" in texts(at)
    summary = data.window_summary(root, WindowKey("text", windows["window"].iloc[-1]))
    unseen = metric_values(at)["Unseen words (window)"]
    assert unseen == ui.fmt_pct(summary["oov"] / summary["tokens"])
    # js and oov_rate over windows, the compared words, words per text
    assert len(at.get("vega_lite_chart")) == 4
    assert (data.drift_series(root)["column"] == "text").sum() == 20
    at.selectbox[0].set_value("category").run()  # in the reference profile, never tested
    assert not at.exception
    assert "No tested window of `category` yet: the reference" in texts(at)
    assert len(at.get("vega_lite_chart")) == 1  # the reference's shares alone


def test_training_page(full_store, monkeypatch):
    root, _, good = full_store
    at = app_on(root, "training", monkeypatch)
    runs = at.dataframe[0].value
    assert list(runs["status"]) == ["failed", "succeeded"]
    assert at.selectbox[0].value == good
    m = metric_values(at)
    assert m["Eval loss before"] == "3.200" and m["Eval loss after"] == "2.100"
    assert m["Perplexity after"] == "8.166"
    table = at.table[0].value
    assert list(table.columns) == ["before", "before score", "after", "after score"]
    assert "comfortable" in set(table["after"]) and "expensive" in set(table["before"])
    assert len(table) == 6
    assert len(at.get("vega_lite_chart")) == 3  # loss, perplexity, probes
    # the playground starts from the chosen run's own probes, not from a fixed example
    assert at.text_input[0].value == PROBES[0]


def test_playground_starts_empty_on_a_store_without_probes(tmp_path, monkeypatch):
    root = tmp_path / "store"
    Store(root)
    at = app_on(root, "training", monkeypatch)
    assert at.text_input[0].value == ""
    at.form_submit_button[0].click().run()
    assert not at.exception
    assert "Type a sentence with `[MASK]`" in texts(at)


def test_training_playground_predicts_with_a_run_model(tmp_path, monkeypatch):
    from trainer_fixtures import make_tiny_mlm

    root = tmp_path / "store"
    pipeline_store(root, n=2000)
    run_id = add_run(root, model_dir=make_tiny_mlm(tmp_path / "tiny"))
    at = app_on(root, "training", monkeypatch)
    label = f"run: {run_id}"
    assert label in at.multiselect[0].options
    at.multiselect[0].set_value([label])
    at.text_input[0].set_value("nike shoes are very [MASK]")
    at.form_submit_button[0].click().run(timeout=120)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    table = at.table[-1].value
    assert list(table.columns) == [label, f"{label} score"]
    assert len(table) == 5


def temporal_fields(spec: object) -> list[dict]:
    """Every field definition of a chart spec whose type is temporal."""
    if isinstance(spec, dict):
        found = [spec] if spec.get("type") == "temporal" and "field" in spec else []
        return found + [f for v in spec.values() for f in temporal_fields(v)]
    if isinstance(spec, list):
        return [f for v in spec for f in temporal_fields(v)]
    return []


def test_times_are_utc_24_hour_in_every_chart_and_table(full_store, monkeypatch):
    root, _, _ = full_store
    axes = tooltips = tables = 0
    for page in ("overview", "edge_cases", "integrity", "drift", "training"):
        at = app_on(root, page, monkeypatch)
        for chart in at.get("vega_lite_chart"):
            for field in temporal_fields(json.loads(chart.proto.spec)):
                if "formatType" in field:  # a tooltip: 2026-01-05 18:42:07, in UTC
                    assert (field["formatType"], field["format"]) == ("utc", "%Y-%m-%d %H:%M:%S")
                    tooltips += 1
                else:  # an axis: a UTC scale, labels by utcFormat with 24-hour %H
                    assert field["scale"] == {"type": "utc"}
                    expr = field["axis"]["labelExpr"]
                    assert "%H:%M" in expr and "%I" not in expr and "%p" not in expr
                    assert "timeFormat(" not in expr.replace("utcFormat(", "")
                    axes += 1
        for frame in at.dataframe:
            config = json.loads(frame.proto.columns)
            for name, dtype in frame.value.dtypes.items():
                if pd.api.types.is_datetime64_any_dtype(dtype):
                    assert config[name]["type_config"] == {
                        "type": "datetime", "format": "YYYY-MM-DD HH:mm:ss [UTC]",
                        "timezone": "UTC"}  # fmt: skip
                    tables += 1
    # counts over time, violation ratios, drift over windows; alerts, rows, runs
    assert axes >= 5 and tooltips >= 4 and tables >= 5, (axes, tooltips, tables)


def test_edge_case_chart_names_checks_by_their_name(tmp_path, monkeypatch):
    from curate import Framework, Signal

    root = tmp_path / "store"
    formula = Signal.contains("nike") & Signal.contains(["shoes", "socks"])
    cfg = {"checks": [{"type": "edge_case", "signal_formulae": formula, "name": "Nike gear"},
                      {"type": "edge_case", "signal_formulae": Signal.contains("adidas")}],
           "retraining_folder": str(root)}  # fmt: skip
    with Framework(cfg) as fw:
        fw.log(inputs={"text": ["nike shoes", "adidas socks", "nike socks", "puma"] * 25})
    at = app_on(root, "edge_cases", monkeypatch)
    (chart,) = at.get("vega_lite_chart")
    stream = chart.proto.datasets[0].data.data
    counts = pa.ipc.open_stream(stream).read_all().to_pandas()
    assert counts.groupby("check")["count"].sum().to_dict() == {
        "Nike gear": 50,
        str(Signal.contains("adidas")): 25,
    }
    assert "Nike gear" in at.multiselect[0].options
    # leaf columns are slugs; the filter shows each leaf as written
    assert "contains(text, 'nike')" in at.multiselect[1].options


# -- the query layer ---------------------------------------------------------------------------


def test_reads_are_incremental_and_see_new_segments(tmp_path):
    root = tmp_path / "store"
    store = Store(root)
    row = {"metric": [Metric.ROWS_LOGGED], "monitor": [FRAMEWORK], "value": [5.0]}
    store.write("metrics", pa.table(row))
    assert data.rows_logged(root) == 5
    first = cache.read_table(root, "metrics", ["value"])
    store.write("metrics", pa.table(row))
    assert data.rows_logged(root) == 10
    second = cache.read_table(root, "metrics", ["value"])
    assert second.num_rows == 2 and first.num_rows == 1
    (root / "metrics" / ".tmp-part-x.parquet").write_bytes(b"partial")  # ignored
    assert data.rows_logged(root) == 10


def test_killed_run_reads_failed_and_pending_counts_new_segments(full_store):
    root, stats, _ = full_store
    found = runs.list_runs(root)
    assert [r.status for r in found] == ["succeeded", "failed"]
    assert found[-1].record["status"] == "running"  # its lock is free: killed
    assert "killed" in found[-1].error
    assert runs.runs_frame(found)["status"].tolist() == ["failed", "succeeded"]
    assert runs.pending_edge_cases(root, found[-1]) == 0
    assert runs.pending_edge_cases(root, None) == stats["edge_cases"]
    assert runs.retrain_after(root, found, {}) == 500
    assert runs.retrain_after(root, found, {"CURATE_RETRAIN_AFTER": "7"}) == 7
    assert data.overview(root, 9).retrain_after == 9  # --retrain-after wins


def test_a_running_run_shows_as_running_while_its_lock_is_held(tmp_path):
    root = tmp_path / "store"
    registry = RunRegistry(Store(root))
    with registry.claim(trigger="manual", kind="callback") as claim:
        assert [r.status for r in runs.list_runs(root)] == ["running"]
        assert data.overview(root, None).latest_run.run_id == claim.run.run_id
    (run,) = runs.list_runs(root)
    assert run.status == "failed" and "killed" in run.error
    assert data.overview(root, None).latest_run.status == "failed"


def test_queries_on_a_missing_store_create_nothing(tmp_path):
    root = tmp_path / "nothing" / "store"
    assert not data.store_exists(root)
    o = data.overview(root, None)
    assert (o.rows_logged, o.edge_cases, o.pending, o.runs, o.latest_run) == (0, 0, 0, 0, None)
    for query in (data.metrics, data.integrity_series, data.integrity_summary, data.drift_series,
                  data.drift_latest, data.alerts, data.drift_alerts, data.quarantine,
                  data.edge_cases):  # fmt: skip
        assert query(root).empty
    assert data.table_columns(root, "retraining") == ["id", "ts"]  # base columns when empty
    assert data.signal_columns(root) == data.text_columns(root) == data.reason_labels(root) == []
    assert data.profile_files(root) == data.drifted_columns(root) == runs.list_runs(root) == []
    assert len(data.edge_case_values(root, "text")) == 0
    assert runs.retrain_after(root, [], {}) is None
    assert not root.exists() and not root.parent.exists()


def test_filters_and_bins():
    ts = pd.to_datetime(["2026-01-01 00:00", "2026-01-01 01:00", "2026-01-02 00:00"], utc=True)
    df = pd.DataFrame({"ts": ts, "text": ["Nike shoes", "Nike socks", "adidas"],
                       "reasons": [["a"], ["a", "b"], ["b"]],
                       "signal.x": [True, False, True]})  # fmt: skip
    assert len(filters.filter_edge_cases(df, filters.EdgeCaseFilter(reasons=("b",)))) == 2
    assert len(filters.filter_edge_cases(df, filters.EdgeCaseFilter(leaves=("signal.x",)))) == 2
    late = filters.EdgeCaseFilter(start=pd.Timestamp("2026-01-01 00:30", tz="UTC"))
    assert len(filters.filter_edge_cases(df, late)) == 2
    found = filters.filter_edge_cases(df, filters.EdgeCaseFilter(query="nike shoe"))
    assert found["text"].iloc[0] == "Nike shoes"
    counts, freq = filters.counts_over_time(df)
    assert freq == "1h" and counts["count"].sum() == 4


def test_store_resolution_and_cli_command():
    assert ui.resolve_store(["--store", "/x/y"], {"CURATE_STORE": "/z"}) == Path("/x/y")
    assert ui.resolve_store([], {"CURATE_STORE": "/z"}) == Path("/z")
    assert ui.resolve_store(["--stor", "/q"], {}) == Path("curate_data").absolute()
    args = cli.build_parser().parse_args(["dashboard", "--store", "s"])
    cmd = cli.streamlit_command(args)
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--server.port") + 1] == "8501"
    assert cmd[-2:] == ["--store", os.path.abspath("s")]
    assert cli.url("0.0.0.0", 8501) == "http://127.0.0.1:8501"


def test_overview_follows_a_store_that_is_being_written(tmp_path, monkeypatch):
    from curate import Framework, Signal

    root = tmp_path / "store"
    cfg = {
        "checks": [{"type": "edge_case", "signal_formulae": Signal.contains("nike")}],
        "retraining_folder": str(root),
    }
    with Framework(cfg) as fw:
        fw.log(inputs={"text": ["nike shoes", "adidas"] * 50})
        fw.flush()
        at = app_on(root, "overview", monkeypatch)
        assert metric_values(at)["Rows logged"] == "100"
        assert metric_values(at)["Edge cases collected"] == "50"
        fw.log(inputs={"text": ["nike socks"] * 30})
        fw.flush()
        at.run()
        assert not at.exception
        assert metric_values(at)["Rows logged"] == "130"
        assert metric_values(at)["Edge cases collected"] == "80"


def test_dashboard_command_on_a_missing_store_says_so(tmp_path, capsys):
    missing = tmp_path / "typo"
    args = cli.build_parser().parse_args(["dashboard", "--store", str(missing)])
    assert cli.run_dashboard(args) == 2
    assert "no store at" in capsys.readouterr().err
    assert not missing.exists()
