"""Training runs on a tiny random BERT: the worker, failures, snapshots, locks, continual runs."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from trainer_fixtures import make_tiny_mlm, review_rows

from curate.locks import try_lock
from curate.runs import RunRegistry
from curate.store import Store
from trainer.launch import TrainingInProgressError, spawn_worker, start_run, wait_for_run
from trainer.probes import load_model, predict_masks
from trainer.runner import train_run

REPO = Path(__file__).resolve().parent.parent
PROBES = ["Nike shoes are very [MASK]", "Nike [MASK] shoes are very comfortable"]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    return str(make_tiny_mlm(tmp_path_factory.mktemp("tiny")))


@pytest.fixture
def store(tmp_path) -> Store:
    store = Store(tmp_path / "store")
    store.write("retraining", pa.table({"id": list(range(80)), "text": review_rows(80)}))
    return store


def _args(model: str, **extra) -> dict:
    return {"model": model, "max_steps": 4, "batch_size": 8, "probes": PROBES, **extra}


def test_worker_trains_a_run_created_by_another_process(store, tiny_model):
    registry = RunRegistry(store)
    with registry.claim(trigger="auto", kind="trainer", config=_args(tiny_model)) as claim:
        run = claim.run
        proc = spawn_worker(store, run, pass_fds=claim.fds)
    assert registry.is_training()  # the worker holds the inherited lock
    assert proc.wait(timeout=120) == 0, (run.path / "worker.log").read_text()
    run = registry.get(run.run_id)
    assert run.status in ("promoted", "rejected") and not registry.is_training()
    assert run.record["promotion"]["status"] == run.status
    record = json.loads((run.path / "run.json").read_text())
    assert record["model_path"] == f"runs/{run.run_id}/model"
    assert record["metrics"]["perplexity_before"] > 0 and record["timings"]["train"] > 0
    history = pq.read_table(run.path / "history.parquet").to_pylist()
    assert history[0]["step"] == 0 and history[-1]["step"] == 4
    assert any(h["loss"] is not None for h in history)
    assert all(h["perplexity"] is not None for h in history if h["eval_loss"] is not None)
    probes = pq.read_table(run.path / "probes.parquet").to_pylist()
    assert {(p["stage"], p["rank"]) for p in probes} == {
        (s, k) for s in ("before", "after") for k in range(1, 6)
    }
    assert len(probes) == 2 * 2 * 5
    assert (run.path / "model" / "model.safetensors").is_file()
    assert not list((run.path / "model").glob("*.bin"))
    assert (run.path / "train.log").read_text().count("step") >= 4
    model, tokenizer = load_model("latest", store)
    after = [p for p in probes if p["stage"] == "after" and p["probe"] == PROBES[0]]
    (live,) = predict_masks(model, tokenizer, PROBES[:1], top_k=5)
    assert [t for t, _ in live] == [p["token"] for p in sorted(after, key=lambda p: p["rank"])]


def test_bad_model_path_is_recorded_as_failed_and_keeps_earlier_runs(store, tiny_model):
    good = start_run(store, _args(tiny_model), progress_bar=False)
    assert good.has_model
    before = sorted(p.name for p in good.path.iterdir())
    bad = start_run(store, _args("/no/such/model/folder"), progress_bar=False)
    assert bad.status == "failed"
    assert "does not exist" in bad.error and "Traceback" in bad.error
    registry = RunRegistry(store)
    assert [r.status for r in registry.list()] == [good.status, "failed"]
    assert sorted(p.name for p in good.path.iterdir()) == before
    assert registry.latest(good.status).run_id == good.run_id


def test_snapshot_excludes_segments_written_after_the_run_started(store, tiny_model):
    registry = RunRegistry(store)
    run = registry.create(
        snapshot=store.files("retraining"), trigger="cli", kind="trainer", config=_args(tiny_model)
    )
    store.write("retraining", pa.table({"id": [1000] * 50, "text": ["late row"] * 50}))
    run = train_run(store, run, progress_bar=False)
    assert run.has_model
    metrics = run.record["metrics"]
    assert metrics["train_rows"] == 80 and run.record["snapshot_rows"] == 80
    assert registry.pending_rows() == 50


def test_null_and_blank_rows_never_reach_training(store, tiny_model):
    run = start_run(store, _args(tiny_model), progress_bar=False)
    metrics = run.record["metrics"]
    blanks = sum(1 for t in review_rows(80) if t is None or not t.strip())
    assert metrics["rows_dropped_null_or_empty"] == blanks > 0
    # Every row of a held-out text is left out of training: no sentence is on both sides.
    assert metrics["new_edge_cases"] + metrics["held_out_rows"] == 80 - blanks
    assert metrics["train_samples"] == metrics["new_edge_cases"]
    assert metrics["eval_samples"] <= len({t for t in review_rows(80) if t and t.strip()})


def test_only_null_rows_fail_with_a_clear_error(tmp_path, tiny_model):
    store = Store(tmp_path / "s")
    store.write("retraining", pa.table({"text": pa.array([None, ""], pa.string())}))
    run = start_run(store, _args(tiny_model), progress_bar=False)
    assert run.status == "failed" and "0 distinct usable text(s)" in run.error


def test_runs_continue_from_the_latest_promoted_model(store, tiny_model):
    first = start_run(store, _args(tiny_model), progress_bar=False)
    RunRegistry(store).decide(first.run_id, "promoted", "the test needs a promoted run")
    store.write("retraining", pa.table({"id": list(range(80, 120)), "text": review_rows(40, 1)}))
    second = start_run(store, _args(tiny_model), progress_bar=False)
    assert second.record["base_model"] == first.run_id
    assert second.record["starts_from"] == first.run_id
    # Only the rows new since the promoted run are trained on (no traffic sample to replay).
    assert second.record["metrics"]["train_rows"] == 40
    fresh = start_run(store, _args(tiny_model, from_base_model=True), progress_bar=False)
    assert fresh.record["base_model"] == tiny_model


def test_one_training_run_at_a_time(store, tiny_model):
    held = try_lock(RunRegistry(store).training_lock)
    try:
        with pytest.raises(TrainingInProgressError, match="already in progress"):
            start_run(store, _args(tiny_model))
    finally:
        os.close(held)
    assert RunRegistry(store).list() == []


def test_background_run_terminated_is_recorded_as_failed(store, tiny_model):
    # Bounded max_steps: even if this test failed half-way, the worker would end on its own.
    run = start_run(store, _args(tiny_model, max_steps=5_000), wait=False)
    registry = RunRegistry(store)
    pid = None
    try:
        deadline = time.monotonic() + 120
        while not registry.get(run.run_id).record.get("started_at"):
            assert time.monotonic() < deadline, (run.path / "worker.log").read_text()
            time.sleep(0.1)
        pid = registry.get(run.run_id).record["pid"]
        os.kill(pid, signal.SIGTERM)
        run = wait_for_run(run, timeout=120)
    finally:
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert run.status == "failed" and "terminated by signal" in run.error
    assert not (run.path / "model").exists()


def test_worker_command_line_rejects_unknown_run(store):
    result = subprocess.run(
        [sys.executable, "-m", "trainer.worker", "--store", str(store.root), "--run", "run-x"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "no run 'run-x'" in result.stderr
