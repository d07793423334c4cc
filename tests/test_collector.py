"""``curate serve`` and ``Framework(cfg, remote=...)``: many replicas, one store, nothing that
was acknowledged lost, and bad requests that change nothing."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from curate import Framework, Signal
from curate.collector import Collector
from curate.errors import ConfigError, CurateError
from curate.store_reader import StoreReader
from tests import real_corpora

ROOT = Path(__file__).resolve().parents[1]
CONFIG = """
from curate import Signal
config = {"checks": [{"type": "edge_case", "signal_formulae": Signal.length() > 0}],
          "flush_interval": 0.2}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def texts(n: int) -> list[str]:
    if real_corpora.available():
        base = [str(t) for t in real_corpora.reviews()["text"]]
    else:
        base = [f"synthetic review {i}" for i in range(300)]
    return [base[i % len(base)] for i in range(n)]


def start_serve(store: Path, config: Path, port: int, token: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CURATE_TOKEN": token}
    proc = subprocess.Popen(
        [sys.executable, "-m", "curate.cli", "serve", "--store", str(store), "--config",
         str(config), "--port", str(port)], env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"curate serve did not start: {proc.stderr.read()}")


def test_replicas_keep_every_row_through_a_collector_kill(tmp_path: Path, monkeypatch) -> None:
    config = tmp_path / "config.py"
    config.write_text(CONFIG)
    store, port, token = tmp_path / "store", free_port(), "s3cret"
    monkeypatch.setenv("CURATE_TOKEN", token)
    server = start_serve(store, config, port, token)
    frameworks = [Framework({"remote": f"http://127.0.0.1:{port}"}) for _ in range(4)]
    handed: list[list[int]] = [[] for _ in frameworks]
    rows = texts(400)

    def replica(k: int) -> None:
        for i in range(300):
            handed[k].extend(frameworks[k].log(inputs={"text": [rows[(i * 4 + k) % 400]]}))
            time.sleep(0.002)

    threads = [threading.Thread(target=replica, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.4)
    server.send_signal(signal.SIGKILL)  # mid-stream: answers in flight are lost
    server.wait()
    time.sleep(0.5)
    server = start_serve(store, config, port, token)
    for t in threads:
        t.join()
    for fw in frameworks:
        fw.flush(timeout=60)
        assert fw.stats()["rows_dropped"] == 0
        fw.close()
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=60) == 0
    ids = StoreReader(store).read("retraining", columns=["id"]).column("id").to_pylist()
    everything = sorted(i for h in handed for i in h)
    assert len(everything) == 1_200 == len(set(everything))
    # Every acknowledged row is stored; a retry whose first answer died with the collector
    # may be stored twice, never lost.
    assert set(ids) == set(everything)


@pytest.fixture
def collector(tmp_path: Path):
    checks = [{"type": "edge_case", "signal_formulae": Signal.contains("great")}]
    c = Collector({"checks": checks, "retraining_folder": tmp_path, "flush_interval": 0.1},
                  port=0, token="tok")  # fmt: skip
    yield c
    c.close()


def request(url: str, body: bytes, token: str | None = "tok") -> tuple[int, dict]:
    req = urllib.request.Request(url, data=body, method="POST")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_bad_bodies_and_wrong_tokens_get_4xx_and_change_nothing(collector: Collector) -> None:
    good = json.dumps({"writer": "w", "seq": 1, "calls": [
        {"first_id": 0, "n": 1, "ts": 1, "inputs": {"text": ["great"]}}]}).encode()  # fmt: skip
    bad = [
        b"not json",
        b"[]",
        b'{"writer": "w", "seq": "1", "calls": []}',
        b'{"writer": "w", "seq": 1, "calls": [{"first_id": 0, "n": 0, "ts": 1}]}',
        b'{"writer": "w", "seq": 1, "calls": [{"first_id": 0, "n": 1, "ts": 1, "x": 1}]}',
    ]
    for body in bad:
        code, answer = request(collector.url + "/log", body)
        assert code == 400 and answer["error"], body
    assert request(collector.url + "/log", good, token="wrong")[0] == 401
    assert request(collector.url + "/log", good, token=None)[0] == 401
    assert request(collector.url + "/ids", b'{"n": -1}')[0] == 400
    assert StoreReader(collector.store.root).rows_logged() == 0
    assert request(collector.url + "/log", good) == (200, {"written": True})
    assert request(collector.url + "/log", good) == (200, {"written": True})  # a retry
    assert StoreReader(collector.store.root).read("retraining").num_rows == 1


def test_a_collector_down_means_bounded_buffer_and_counted_drops(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    fw = Framework({"remote": url, "max_pending_rows": 100})
    for _ in range(150):
        assert len(fw.log(inputs={"text": ["great", "fine"]})) == 2
    # At most max_pending_rows queued, and one frame of them in flight.
    assert fw._writer.pending_rows <= 2 * 100
    dropped = fw._writer.dropped_rows
    assert dropped >= 300 - 2 * 100
    checks = [{"type": "edge_case", "signal_formulae": Signal.contains("great")}]
    c = Collector({"checks": checks, "retraining_folder": tmp_path, "flush_interval": 0.1},
                  port=port)  # fmt: skip
    try:
        fw.flush(timeout=60)
        fw.log(inputs={"text": ["great"]}, extra_args={"handle": object()})  # not JSON
        fw.flush(timeout=60)
        fw.close()
    finally:
        c.close()
    summary = StoreReader(tmp_path).summary()
    # Every id handed out is counted: written, or logged and dropped.
    assert summary["rows_logged"] == 301
    assert summary["rows_dropped"] >= dropped
    quarantine = StoreReader(tmp_path).read("quarantine").to_pandas()
    assert "cannot be sent as JSON" in quarantine["reason"].iloc[-1]


def test_remote_configs_that_cannot_work_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="http://host:port"):
        Framework({"remote": "localhost:8765"})
    with pytest.raises(ConfigError, match="configured on the collector"):
        Framework({"remote": "http://127.0.0.1:9", "retrain_after": 10})
    fw = Framework({"remote": "http://127.0.0.1:9"})
    with pytest.raises(CurateError, match="collector"):
        fw.retrain()
    fw._writer._give_up = True
    fw.close()
    with pytest.raises(ConfigError, match="CURATE_TOKEN"):
        Collector({"retraining_folder": tmp_path}, port=0, host="0.0.0.0")


def test_the_collectors_prometheus_numbers_are_the_stores(tmp_path: Path) -> None:
    checks = [{"type": "edge_case", "signal_formulae": Signal.contains("great")}]
    c = Collector({"checks": checks, "retraining_folder": tmp_path, "flush_interval": 0.1},
                  port=0, prometheus_port=0)  # fmt: skip
    try:
        fw = Framework({"remote": c.url})
        fw.log(inputs={"text": texts(40)})
        fw.log(inputs={"text": ["great", "fine"]})
        fw.close()
        page = urllib.request.urlopen(c.metrics_server.url, timeout=10).read().decode()
    finally:
        c.close()
    summary = StoreReader(tmp_path).summary()
    scraped = {line.split()[0]: float(line.split()[1]) for line in page.splitlines()
               if line and not line.startswith("#")}  # fmt: skip
    assert scraped["curate_rows_logged_total"] == summary["rows_logged"] == 42
    assert scraped["curate_edge_cases_total"] == summary["edge_cases"] >= 1
    assert scraped['curate_queue_rows{stage="queued"}'] == 0
