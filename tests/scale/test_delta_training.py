"""Training runs, the training lease and the dashboard on a Delta store on object storage (moto S3).

Real review snippets (tests/real_corpora.py) are logged into the Delta store by a Framework; a
run trains on a local copy of it under the store's lease, records the Delta versions it read and
is uploaded; another machine (a fresh copy) sees the run, its model and what is pending; a second
run starts from the first's model and trains on exactly the new edge cases; the dashboard shows
it all.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import time

import pyarrow.fs as pafs
import pytest
import real_corpora
from dashboard_fixtures import app_on
from trainer_fixtures import make_tiny_mlm

from curate import Framework, Signal
from curate.delta_mirror import TRAINING_LEASE, DeltaMirror
from curate.delta_store import DeltaStore
from curate.leases import Lease
from curate.store_reader import StoreReader
from trainer.cli import add_subcommands

pytest.importorskip("deltalake")
pytestmark = pytest.mark.skipif(not real_corpora.available(), reason=real_corpora.SKIP_REASON)


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="curate")
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def _log(uri: str, texts: list[str]) -> None:
    config = {"checks": [{"type": "edge_case", "signal_formulae": Signal.contains(["good", "bad"])}],
              "retraining_folder": uri, "traffic_sample": 200, "traffic_seed": 0}  # fmt: skip
    with Framework(config) as fw:
        for at in range(0, len(texts), 50):
            fw.log(inputs={"text": texts[at : at + 50]})


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    return str(make_tiny_mlm(tmp_path_factory.mktemp("tiny")))


def test_a_run_trains_on_a_delta_store_and_every_machine_sees_it(
    s3_uri, tmp_path, tiny_model, monkeypatch, capsys
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    texts = real_corpora.reviews()["text"].tolist()
    _log(s3_uri, texts[:1_500])
    delta = DeltaStore(s3_uri)
    versions, edge_cases = delta.snapshot(), delta.count("retraining")
    assert edge_cases > 100
    train = ("train", "--store", s3_uri, "--model", tiny_model, "--max-steps", "2",
             "--batch-size", "8")  # fmt: skip
    assert _cli(*train, "--mirror", str(tmp_path / "machine-a")) == 0
    assert "target eval perplexity" in capsys.readouterr().out

    # Another machine: a fresh copy sees the run, finished, with what it read and its files.
    other = DeltaMirror(s3_uri, tmp_path / "machine-b")
    other.pull()
    reader = StoreReader(other.root)
    (run,) = reader.runs()
    assert run.status in ("promoted", "rejected") and not reader.is_training()
    assert run.record["store_uri"] == s3_uri
    assert run.record["delta_versions"]["retraining"] == versions["retraining"]
    assert run.record["snapshot_rows"] == edge_cases == reader.count("retraining")
    assert reader.pending_rows() == 0
    summary = delta.summary()  # what fw.stats() reports on the Delta store itself
    assert summary["runs"] == 1 and summary["latest_run"]["id"] == run.run_id
    assert summary["edge_cases_since_last_run"] == 0
    fs, base = pafs.FileSystem.from_uri(s3_uri)
    listed = fs.get_file_info(pafs.FileSelector(f"{base}/runs/{run.run_id}", recursive=True))
    names = {info.path.rsplit("/", 1)[-1] for info in listed}
    assert {"run.json", "history.parquet", "training_args.json", "model.safetensors"} <= names
    assert not any(name.startswith(".") for name in names)

    # New edge cases are pending everywhere; the next run trains on exactly those.
    _log(s3_uri, texts[1_500:2_500])
    added = delta.count("retraining") - edge_cases
    assert added > 0
    assert _cli("runs", "--store", s3_uri) == 0
    assert run.run_id in capsys.readouterr().out
    other.pull()
    assert StoreReader(other.root).pending_rows() == added
    assert delta.summary()["edge_cases_since_last_run"] == added
    assert _cli(*train, "--mirror", str(tmp_path / "machine-c")) == 0
    other.pull(models=True)
    first, second = StoreReader(other.root).runs()
    assert first.run_id == run.run_id
    assert set(second.record["snapshot"]) > set(first.record["snapshot"])
    assert second.metrics.get("new_rows", added) == added
    if first.is_promoted:  # the second run starts from the first's model, pulled from the store
        assert second.record["starts_from"] == first.run_id
        assert (tmp_path / "machine-c" / first.record["model_path"] / "config.json").exists()
    newest = second if second.is_promoted else first  # only the newest promoted model is copied
    assert (other.root / newest.record["model_path"] / "config.json").exists()
    assert newest is first or not (other.root / first.record["model_path"]).exists()


def test_framework_retrain_on_a_delta_store(s3_uri, tmp_path, tiny_model, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    config = {"checks": [{"type": "edge_case", "signal_formulae": Signal.contains("good")}],
              "retraining_folder": s3_uri,
              "training_args": {"model": tiny_model, "max_steps": 1, "batch_size": 8}}  # fmt: skip
    with Framework(config) as fw:
        fw.log(inputs={"text": real_corpora.reviews()["text"].tolist()[:600]})
        run = fw.retrain(wait=True)
    assert run.status in ("promoted", "rejected") and run.record["trigger"] == "manual"
    assert run.record["snapshot_rows"] == DeltaStore(s3_uri).count("retraining") > 0
    copy = DeltaMirror(s3_uri, tmp_path / "elsewhere")
    copy.pull()
    assert [r.run_id for r in StoreReader(copy.root).runs()] == [run.run_id]


def test_retrain_after_on_a_delta_store_starts_one_run_for_many_replicas(
    s3_uri, tmp_path, tiny_model, monkeypatch
):
    import curate.delta_retrainer

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(curate.delta_retrainer, "CHECK_EVERY", 0.0)
    config = {"checks": [{"type": "edge_case", "signal_formulae": Signal.contains("good")}],
              "retraining_folder": s3_uri, "retrain_after": 40,
              "training_args": {"model": tiny_model, "max_steps": 1, "batch_size": 8}}  # fmt: skip
    texts = real_corpora.reviews()["text"].tolist()[:1_200]
    replicas = [Framework(config), Framework(config)]
    for at in range(0, len(texts), 100):
        replicas[at // 100 % 2].log(inputs={"text": texts[at : at + 100]})
    for fw in replicas:
        fw.flush()
    deadline = time.monotonic() + 300  # a writer notices after a write; its worker then starts
    while not DeltaStore(s3_uri).run_records() and time.monotonic() < deadline:
        time.sleep(0.5)
    runs = [fw.wait_for_training(timeout=300) for fw in replicas]
    for fw in replicas:
        fw.close()
    copy = DeltaMirror(s3_uri, tmp_path / "viewer")
    copy.pull()
    recorded = StoreReader(copy.root).runs()
    assert len(recorded) >= 1 and {r.record["trigger"] for r in recorded} == {"auto"}
    assert all(r.status in ("promoted", "rejected") for r in recorded)
    assert runs[0].run_id == runs[1].run_id == recorded[-1].run_id
    snapshots = [set(r.record["snapshot"]) for r in recorded]
    assert all(a < b for a, b in zip(snapshots, snapshots[1:], strict=False))  # no set twice
    assert recorded[0].record["snapshot_rows"] >= 40


def test_one_training_run_at_a_time_across_machines(s3_uri, tmp_path, tiny_model, capsys):
    _log(s3_uri, real_corpora.reviews()["text"].tolist()[:600])
    elsewhere = Lease(s3_uri, TRAINING_LEASE, ttl=60)
    assert elsewhere.acquire(run_id="run-on-another-machine")
    train = ("train", "--store", s3_uri, "--model", tiny_model, "--max-steps", "1",
             "--mirror", str(tmp_path / "m"))  # fmt: skip
    assert _cli(*train) == 2
    err = capsys.readouterr().err
    assert "already in progress" in err and "run-on-another-machine" in err
    # A copy made now says so too: the dashboard shows the run as training, not failed.
    mirror = DeltaMirror(s3_uri, tmp_path / "viewer")
    mirror.pull()
    assert StoreReader(mirror.root).is_training()
    elsewhere.release()
    mirror.pull()
    assert not StoreReader(mirror.root).is_training()
    assert _cli(*train) == 0


def _contend(uri: str, barrier, results) -> None:
    lease = Lease(uri, TRAINING_LEASE, ttl=30)
    barrier.wait()
    results.put((lease.holder_id, lease.acquire()))


def test_the_lease_has_one_holder_when_processes_race_for_it(s3_uri, s3):
    ctx = mp.get_context("spawn")  # delta-rs must not be forked
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_contend, args=(s3_uri, barrier, results)) for _ in range(4)]
    for p in procs:
        p.start()
    got = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
    winners = [holder for holder, won in got if won]
    assert len(winners) == 1
    assert Lease(s3_uri, TRAINING_LEASE).holder()["holder"] == winners[0]


def test_an_expired_lease_can_be_taken_and_its_late_renewal_fails(tmp_path):
    root = str(tmp_path / "store")
    dead = Lease(root, TRAINING_LEASE, ttl=0.3)
    assert dead.acquire(run_id="killed")
    taker = Lease(root, TRAINING_LEASE, ttl=30)
    assert not taker.acquire()
    time.sleep(0.4)
    assert taker.acquire(run_id="next")
    assert not dead.renew() and dead.lost
    assert Lease(root, TRAINING_LEASE).holder()["run_id"] == "next"


def test_the_dashboard_reads_a_delta_store(s3_uri, tmp_path, tiny_model, monkeypatch):
    _log(s3_uri, real_corpora.reviews()["text"].tolist()[:800])
    assert _cli("train", "--store", s3_uri, "--model", tiny_model, "--max-steps", "1",
                "--mirror", str(tmp_path / "trainer")) == 0  # fmt: skip
    monkeypatch.setenv("CURATE_MIRROR", str(tmp_path / "dashboard-copy"))
    delta = DeltaStore(s3_uri)
    at = app_on(s3_uri, "overview", monkeypatch)
    shown = json.dumps([m.value for m in at.metric])
    assert f"{delta.count('retraining'):,}" in shown
    assert any(s3_uri in c.value for c in at.sidebar.caption)
    at = app_on(s3_uri, "training", monkeypatch)
    run_id = StoreReader(tmp_path / "dashboard-copy").runs()[0].run_id
    shown = [str(e.value) for kind in ("markdown", "caption", "dataframe", "table", "selectbox",
                                       "multiselect") for e in getattr(at, kind)]  # fmt: skip
    assert any(run_id in text for text in shown)


def test_a_drift_check_without_reference_reads_the_delta_traffic_sample(s3_uri, tmp_path):
    reviews = real_corpora.reviews()["text"].tolist()[:5_000]
    random.Random(0).shuffle(reviews)  # the corpus is ordered by film: a resample is shuffled
    headlines = [str(h) for h in real_corpora.headlines()]
    text = {"type": "input_feature", "feature_name": "text"}
    drift = {"type": "data_drift", "measurable_args": text, "window": 300}
    metrics = {}
    for name, root in (("local", str(tmp_path / "local")), ("delta", s3_uri)):
        _log(root, reviews[:1_200])  # last period's traffic: its sample is the reference
        with Framework({"checks": [drift], "retraining_folder": root, "traffic_sample": 200,
                        "traffic_seed": 0}) as fw:  # fmt: skip
            fw.log(inputs={"text": reviews[1_200:1_500]})  # the same kind of text
            fw.log(inputs={"text": headlines[:300]})  # another kind
            fw.flush()
            table = fw.store.read("metrics").to_pandas()
        table = table[table["monitor"] == "data_drift"]
        metrics[name] = table.sort_values(["window_end", "metric"])[["metric", "value", "flagged"]]
    assert DeltaStore(s3_uri).sample_size() == 200
    local, delta = (metrics[k].reset_index(drop=True) for k in ("local", "delta"))
    assert len(delta) and delta.equals(local)
    flags = delta.groupby(delta.index // (len(delta) // 2))["flagged"].any().tolist()
    assert flags == [False, True]  # reviews like the sample do not alarm; headlines do
