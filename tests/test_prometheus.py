"""The Prometheus endpoint, scraped over HTTP: its numbers are ``fw.stats()`` and the store's.

Real text goes through a Framework with an EDGE_CASE, a DATA_INTEGRITY ``non_null`` and a
DATA_DRIFT check: Rotten Tomatoes snippets (one in twenty replaced by ``None``), then Guardian
headlines, so the last drift window moved (:mod:`real_corpora`, skipped without the data).
Every server here listens on an ephemeral port of 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import psutil
import pytest
import real_corpora as rc
from prometheus_client.parser import text_string_to_metric_families

from curate import ConfigError, Framework, Signal
from curate.cli import main
from curate.prometheus import METRIC_NAMES, CurateCollector, serve_metrics
from curate.runs import STATUSES, RunRegistry
from curate.store import Store
from curate.store_reader import StoreReader
from monitors.profile import build_profile

ROOT = Path(__file__).resolve().parent.parent
GRAFANA = ROOT / "examples" / "grafana" / "curate.json"
REVIEWS, HEADLINES, WINDOW, TERM = 1500, 500, 500, "funny"
STATS_KEYS = ("rows_logged", "edge_cases", "quarantined", "rows_not_selected", "rows_dropped",
              "quarantine_entries", "edge_cases_since_last_run")  # fmt: skip
EXPORTED = {
    "rows_logged": "curate_rows_logged_total",
    "edge_cases": "curate_edge_cases_total",
    "quarantined": "curate_quarantined_rows",
    "rows_not_selected": "curate_rows_not_selected_total",
    "rows_dropped": "curate_rows_dropped_total",
    "quarantine_entries": "curate_quarantine_entries_total",
    "edge_cases_since_last_run": "curate_edge_cases_since_last_run",
}
# A proxy from the environment must never see a request meant for this machine.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

needs_text = pytest.mark.skipif(not rc.available(), reason=rc.SKIP_REASON)


def scrape(url: str) -> dict[str, list]:
    """Samples by name, as Prometheus's own text parser reads the page."""
    body = OPENER.open(url, timeout=30).read().decode()
    samples: dict[str, list] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def value(samples: dict[str, list], name: str, **labels: str) -> float:
    found = [s.value for s in samples.get(name, []) if s.labels == labels]
    assert len(found) == 1, f"{name}{labels}: {found}"
    return found[0]


def texts() -> np.ndarray:
    reviews = rc.shuffled(rc.reviews()["text"].to_numpy(object), seed=0)
    logged = reviews[3000 : 3000 + REVIEWS].copy()
    logged[::20] = None  # what non_null quarantines
    return np.concatenate([logged, rc.headlines()[:HEADLINES]])


def checks(reference) -> list[dict]:
    feature = {"type": "input_feature", "feature_name": "text"}
    return [
        {"type": "edge_case", "signal_formulae": Signal.contains(TERM)},
        {"type": "data_integrity", "integrity_type": "non_null", "measurable_args": feature},
        {"type": "data_drift", "reference_dataset": reference, "window": WINDOW,
         "measurable_args": feature},
    ]  # fmt: skip


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """A Framework serving its metrics (``prometheus_port=0``), the real text logged, flushed."""
    reviews = rc.shuffled(rc.reviews()["text"].to_numpy(object), seed=0)
    profile = build_profile({"text": reviews[:3000]}, kinds={"text": "text"})
    root = tmp_path_factory.mktemp("store")
    fw = Framework({"checks": checks(profile), "retraining_folder": root, "prometheus_port": 0})
    values = texts()
    for start in range(0, len(values), 100):
        fw.log(inputs={"text": list(values[start : start + 100])})
    stats = fw.stats()  # flushes: everything is durable, partial windows closed
    yield fw, stats, values
    fw.close()


@needs_text
def test_the_endpoints_numbers_equal_fw_stats(logged):
    fw, stats, values = logged
    samples = scrape(fw.metrics_server.url)
    assert {k: value(samples, EXPORTED[k]) for k in STATS_KEYS} == {k: stats[k] for k in STATS_KEYS}
    n_none = sum(v is None for v in values)
    assert stats["rows_logged"] == len(values) and stats["quarantined"] == n_none
    assert 0 < stats["edge_cases"] < len(values) and stats["rows_dropped"] == 0
    assert value(samples, "curate_store_up") == 1
    # flushed: nothing queued or buffered; no write or monitor failed
    assert value(samples, "curate_queue_rows", stage="queued") == 0
    assert value(samples, "curate_queue_rows", stage="buffered") == 0
    assert value(samples, "curate_write_errors_total") == 0
    assert value(samples, "curate_monitor_errors_total") == 0
    assert value(samples, "curate_violations_total", check="non_null", column="text") == n_none
    assert {value(samples, "curate_training_runs", status=s) for s in STATUSES} == {0}


@needs_text
def test_drift_statistics_are_the_metrics_tables_latest_windows(logged):
    fw, _, _ = logged
    df = StoreReader(fw.store.root).read("metrics").to_pandas()
    drift = df[df["monitor"] == "data_drift"].sort_values("window_end", kind="stable")
    latest = drift.groupby(["column", "check", "metric"]).tail(1)
    assert drift["window_end"].nunique() == (REVIEWS + HEADLINES) // WINDOW
    samples = scrape(fw.metrics_server.url)
    shown = {(s.labels["column"], s.labels["method"], s.labels["statistic"]): s.value
             for s in samples["curate_drift_statistic"]}  # fmt: skip
    assert shown == {(r.column, r.check, r.metric): r.value for r in latest.itertuples()}
    verdicts = latest[latest["threshold"].notna()]
    flagged = {(s.labels["method"], s.labels["statistic"]): s.value
               for s in samples["curate_drift_flagged"]}  # fmt: skip
    assert flagged == {(r.check, r.metric): float(r.flagged) for r in verdicts.itertuples()}
    assert flagged[("js", "js")] == flagged[("oov", "oov_rate")] == 1  # the headlines moved
    thresholds = {(s.labels["method"], s.labels["statistic"]): s.value
                  for s in samples["curate_drift_threshold"]}  # fmt: skip
    assert thresholds == {(r.check, r.metric): r.threshold for r in verdicts.itertuples()}


@needs_text
def test_the_names_a_scrape_shows_are_the_documented_ones(logged):
    samples = scrape(logged[0].metrics_server.url)
    assert set(samples) == METRIC_NAMES


def test_queue_rows_are_what_is_not_written_yet(tmp_path):
    # A long flush_interval keeps the writer thread asleep: the rows stay queued until flush().
    with Framework({"retraining_folder": tmp_path, "prometheus_port": 0, "flush_interval": 600,
                    "batch_size": 100_000}) as fw:  # fmt: skip
        fw.log(inputs={"text": [f"row {i}" for i in range(300)]})
        samples = scrape(fw.metrics_server.url)
        assert value(samples, "curate_queue_rows", stage="queued") == 300
        assert value(samples, "curate_rows_logged_total") == 0  # not durable yet
        fw.flush()
        samples = scrape(fw.metrics_server.url)
        assert value(samples, "curate_queue_rows", stage="queued") == 0
        assert value(samples, "curate_queue_rows", stage="buffered") == 0


def test_the_store_is_read_at_most_once_per_ttl(tmp_path):
    with Framework({"retraining_folder": tmp_path}) as fw:
        cached, fresh = CurateCollector(fw, ttl=3600), CurateCollector(fw, ttl=0)
        assert (
            cached.snapshot().counts["rows_logged"] == fresh.snapshot().counts["rows_logged"] == 0
        )
        fw.log(inputs={"text": ["a", "b"]})
        fw.flush()
        assert cached.snapshot().counts["rows_logged"] == 0  # within its ttl: the same numbers
        assert fresh.snapshot().counts["rows_logged"] == 2 == fw.stats()["rows_logged"]
        fw.log(inputs={"text": ["c"]})
        fw.flush()  # a new metrics segment: read alone, folded into what was read before
        assert fresh.snapshot().counts["rows_logged"] == 3


def test_runs_by_status_and_a_store_exporter(tmp_path):
    store = Store(tmp_path)
    registry = RunRegistry(store)
    registry.create(snapshot=[], trigger="manual", kind="callback").finish(status="succeeded")
    registry.create(snapshot=[], trigger="manual", kind="callback")  # running, lock not held
    with serve_metrics(tmp_path, port=0) as server:  # a path: a read-only exporter
        samples = scrape(server.url)
    runs = {s.labels["status"]: s.value for s in samples["curate_training_runs"]}
    assert runs == {**dict.fromkeys(STATUSES, 0), "succeeded": 1, "failed": 1}
    assert "curate_queue_rows" not in samples  # a store alone has no queue


def test_a_delta_store_exporter_counts_what_its_summary_counts(tmp_path):
    pytest.importorskip("deltalake")
    from curate.delta_store import DeltaStore
    from curate.scale.migrate import migrate

    feature = {"type": "input_feature", "feature_name": "text"}
    non_null = {"type": "data_integrity", "integrity_type": "non_null", "measurable_args": feature}
    cfg = {"checks": [non_null], "retraining_folder": tmp_path / "local"}
    with Framework(cfg) as fw:
        fw.log(inputs={"text": ["a", None, "c", None, "e"]})
    migrate(tmp_path / "local", str(tmp_path / "delta"))
    store = DeltaStore(str(tmp_path / "delta"))
    counts = CurateCollector(store).snapshot().counts
    summary = store.summary()
    assert {k: counts[k] for k in STATS_KEYS} == {k: summary[k] for k in STATS_KEYS}
    assert counts["rows_logged"] == 5 and counts["quarantined"] == 2


def test_an_unreadable_store_reports_store_up_zero(tmp_path, monkeypatch):
    collector = CurateCollector(StoreReader(tmp_path))

    def fail(*args, **kwargs):
        raise OSError("disk gone")

    monkeypatch.setattr(collector.store, "files", fail)
    families = {f.name: f for f in collector.collect()}
    assert families["curate_store_up"].samples[0].value == 0
    assert "curate_rows_logged" not in families  # no stale numbers passed off as current


@needs_text
def test_the_cli_exporter_serves_a_store_read_only(logged):
    fw, stats, _ = logged
    root = fw.store.root
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "curate.cli", "metrics", "--store", str(root), "--port", "0"],
        cwd=ROOT, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = proc.stderr.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/metrics", line)
        assert url, line
        samples = scrape(url.group())
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stderr.close()
    assert {k: value(samples, EXPORTED[k]) for k in STATS_KEYS} == {k: stats[k] for k in STATS_KEYS}
    assert "curate_queue_rows" not in samples
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before  # read-only


def test_the_cli_exporter_refuses_a_missing_store(tmp_path, capsys):
    missing = tmp_path / "nothing-here"
    assert main(["metrics", "--store", str(missing), "--port", "0"]) == 1
    assert "no store at" in capsys.readouterr().err and not missing.exists()


def test_the_endpoint_listens_on_loopback_only(tmp_path):
    with Framework({"retraining_folder": tmp_path, "prometheus_port": 0}) as fw:
        server = fw.metrics_server
        assert server.address == "127.0.0.1"
        listening = [c.laddr.ip for c in psutil.net_connections("tcp")
                     if c.status == psutil.CONN_LISTEN and c.laddr.port == server.port]  # fmt: skip
        assert listening == ["127.0.0.1"]


@pytest.mark.parametrize("port", [70_000, -1, "abc", True, 9.5])
def test_a_bad_prometheus_port_is_a_clear_config_error(tmp_path, port):
    with pytest.raises(ConfigError, match="prometheus_port must be a port number from 0 to 65535"):
        Framework({"retraining_folder": tmp_path, "prometheus_port": port})


def test_a_port_in_use_is_a_config_error_that_names_it(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot serve metrics on 127.0.0.1:{port}"):
            Framework({"retraining_folder": tmp_path, "prometheus_port": port})


def test_close_frees_the_port(tmp_path):
    fw = Framework({"retraining_folder": tmp_path, "prometheus_port": 0})
    url, port = fw.metrics_server.url, fw.metrics_server.port
    assert "curate_store_up" in scrape(url)
    fw.close()
    with pytest.raises(urllib.error.URLError):
        OPENER.open(url, timeout=5)
    with serve_metrics(tmp_path, port=port) as again:  # the same port binds again
        assert again.port == port and "curate_store_up" in scrape(again.url)
    fw.close()  # twice is fine


# -- the Grafana dashboard ---------------------------------------------------------------------


def panels(dashboard: dict) -> list[dict]:
    out = []
    for panel in dashboard["panels"]:
        out += [panel, *panels(panel)] if "panels" in panel else [panel]
    return out


def test_the_grafana_dashboard_queries_only_exported_metrics():
    dashboard = json.loads(GRAFANA.read_text())
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("job", "column"):  # label_values() of an exported metric
        assert set(re.findall(r"\bcurate_[a-z_]+", variables[name]["definition"])) <= METRIC_NAMES
    graphs = [p for p in panels(dashboard) if p["type"] != "row"]
    assert len(graphs) >= 7
    used = set()
    for panel in graphs:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = set(re.findall(r"\bcurate_[a-z_]+", target["expr"]))
            assert names, (panel["title"], target["expr"])
            assert names <= METRIC_NAMES, (panel["title"], names - METRIC_NAMES)
            used |= names
    # the panels the issue asks for: rows, edge cases, quarantine, drift, queue, drops, runs
    for name in ("curate_rows_logged_total", "curate_edge_cases_total", "curate_quarantined_rows",
                 "curate_drift_statistic", "curate_queue_rows", "curate_rows_dropped_total",
                 "curate_write_errors_total", "curate_training_runs"):  # fmt: skip
        assert name in used
