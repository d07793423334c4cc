"""The whole loop through the Framework: log → trigger → background training run → probes → runs.

A tiny random BERT built by the test stands in for the model, so nothing is downloaded.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from trainer_fixtures import make_tiny_mlm, review_rows

from curate import Framework, Signal
from curate.cli import main as curate_main
from curate.runs import RunRegistry
from curate.store import Store

PROBES = ["Nike shoes are very [MASK]", "Nike [MASK] are very comfortable"]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    return str(make_tiny_mlm(tmp_path_factory.mktemp("tiny")))


def _config(store: Path, model: str, retrain_after: int = 40, **training) -> dict:
    return {
        "checks": [
            {"type": "edge_case", "signal_formulae": Signal.contains("nike")},
            {
                "type": "data_integrity",
                "measurable_args": {"type": "input_feature", "feature_name": "text"},
                "integrity_type": "non_null",
                "empty_is_null": True,
            },
        ],
        "retraining_folder": store,
        "retrain_after": retrain_after,
        "flush_interval": 0.05,
        "training_args": {
            "model": model,
            "max_steps": 4,
            "batch_size": 8,
            "probes": PROBES,
            "top_k": 3,
            **training,
        },
    }


def test_log_triggers_a_background_run_with_probes(tmp_path: Path, tiny_model: str, capsys):
    store_dir = tmp_path / "s"
    with Framework(_config(store_dir, tiny_model)) as fw:
        for text in review_rows(60):
            fw.log(inputs={"text": [text]})  # one row per call, as production code does
        fw.flush()
        run = fw.wait_for_training(timeout=300)
    assert run is not None and run.has_model, run and run.error
    assert run.record["trigger"] == "auto"
    assert run.record["snapshot_rows"] >= 40

    probes = pq.read_table(run.path / "probes.parquet").to_pandas()
    assert set(probes["stage"]) == {"before", "after"}
    assert set(probes["probe"]) == set(PROBES)
    assert len(probes) == 2 * len(PROBES) * 3
    assert probes["score"].between(0, 1).all()

    model_files = {p.name for p in (run.path / "model").iterdir()}
    assert "model.safetensors" in model_files
    assert not {"pytorch_model.bin", "heads.pt"} & model_files, "weights are safetensors only"
    history = pq.read_table(run.path / "history.parquet").to_pandas()
    assert history["loss"].notna().any()

    assert [r.run_id for r in RunRegistry(Store(store_dir)).list()] == [run.run_id]
    assert curate_main(["runs", "--store", str(store_dir)]) == 0
    assert run.run_id in capsys.readouterr().out


def test_bad_model_path_fails_the_run_but_not_log(tmp_path: Path, tiny_model: str) -> None:
    store_dir = tmp_path / "s"
    with Framework(_config(store_dir, str(tmp_path / "no-such-model"))) as fw:
        fw.log(inputs={"text": review_rows(60)})
        fw.flush()
        run = fw.wait_for_training(timeout=120)
        assert run.status == "failed"
        assert "no-such-model" in (run.error or "")
        after = fw.log(inputs={"text": ["nike shoes logged after the failure"]})
        fw.flush()
    ids = Store(store_dir).read("retraining", columns=["id"]).column("id").to_pylist()
    assert after[0] in ids, "log() keeps working after a failed run"


def test_snapshot_excludes_files_written_after_the_run_started(tmp_path: Path) -> None:
    release, started, seen = threading.Event(), threading.Event(), []

    def slow_training(run) -> None:
        seen.append(run)
        started.set()
        release.wait(30)

    cfg = {
        "checks": [{"type": "edge_case", "signal_formulae": Signal.contains("nike")}],
        "retraining_folder": tmp_path / "s",
        "retrain_after": 20,
        "on_retrain": slow_training,
    }
    with Framework(cfg) as fw:
        fw.log(inputs={"text": ["nike shoes"] * 25})
        fw.flush()
        assert started.wait(30), "the threshold started a run"
        run = seen[0]
        fw.log(inputs={"text": ["nike socks"] * 7})  # arrives while the run trains
        fw.flush()
        later = set(map(str, Store(tmp_path / "s").files("retraining"))) - {
            str(p) for p in run.snapshot
        }
        assert later, "new segments were written during the run"
        assert fw.runs.pending_rows() == 7, "they count toward the next run"
        release.set()
        fw.wait_for_training(timeout=30)
    snapshot_rows = Store(tmp_path / "s").read("retraining", files=run.snapshot).num_rows
    assert snapshot_rows == 25


CROSSER = textwrap.dedent(
    """
    import sys, time
    from curate import Framework, Signal
    store, model, start_at = sys.argv[1], sys.argv[2], float(sys.argv[3])
    cfg = {"checks": [{"type": "edge_case", "signal_formulae": Signal.contains("nike")}],
           "retraining_folder": store, "retrain_after": 50, "flush_interval": 0.01,
           "training_args": {"model": model, "max_steps": 2, "batch_size": 8}}
    with Framework(cfg) as fw:
        while time.time() < start_at:
            time.sleep(0.001)
        fw.log(inputs={"text": [f"nike shoes are very nice {i}" for i in range(30)]})
        fw.flush()
        fw.wait_for_training(timeout=240)
    """
)


def test_two_processes_crossing_the_threshold_start_one_run(tmp_path: Path, tiny_model: str):
    import time

    script = tmp_path / "crosser.py"
    script.write_text(CROSSER)
    start_at = str(time.time() + 3.0)  # both log their 30 rows at the same moment
    procs = [
        subprocess.Popen([sys.executable, str(script), str(tmp_path / "s"), tiny_model, start_at])
        for _ in range(2)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    runs = RunRegistry(Store(tmp_path / "s"))
    assert len(runs.list()) == 1, [r.record for r in runs.list()]
    # The run may have started as the second process closed: training outlives the loggers.
    from trainer.launch import wait_for_run

    assert wait_for_run(runs.latest(), timeout=300).has_model, runs.latest().error
    assert len(runs.list()) == 1


def test_sigkill_of_the_training_worker(tmp_path: Path, tiny_model: str) -> None:
    import os
    import signal
    import time

    store_dir = tmp_path / "s"
    with Framework(_config(store_dir, tiny_model)) as fw:  # run 1: finishes
        fw.log(inputs={"text": review_rows(50, seed=1)})
        fw.flush()
        first = fw.wait_for_training(timeout=300)
    assert first.has_model
    first_files = sorted(p.name for p in (first.path / "model").iterdir())

    with Framework(_config(store_dir, tiny_model, max_steps=100_000)) as fw:  # run 2: killed
        fw.log(inputs={"text": review_rows(50, seed=2)})
        fw.flush()
        worker = fw._retrainer._process
        assert worker is not None, "the threshold started a worker"
        log_file = fw.runs.latest().path / "train.log"  # the worker has started
        deadline = time.monotonic() + 120
        while not log_file.exists():
            assert time.monotonic() < deadline, "the worker never started"
            time.sleep(0.2)
        time.sleep(2)  # well into training
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(30)
        killed = fw.runs.latest()
        retraining_rows = Store(store_dir).read("retraining").num_rows

    assert killed.run_id != first.run_id
    assert killed.status == "failed" and "killed" in killed.error
    assert RunRegistry(Store(store_dir)).get(first.run_id).status == first.status
    assert sorted(p.name for p in (first.path / "model").iterdir()) == first_files
    for f in Store(store_dir).files("retraining"):
        pq.read_table(f)

    with Framework(_config(store_dir, tiny_model)) as fw:  # the next trigger trains again
        fw.log(inputs={"text": review_rows(50, seed=3)})
        fw.flush()
        third = fw.wait_for_training(timeout=300)
    assert third.has_model and third.run_id not in (first.run_id, killed.run_id)
    assert Store(store_dir).read("retraining").num_rows > retraining_rows


def test_wait_for_training_waits_for_a_run_of_another_process(tmp_path: Path) -> None:
    import os
    import time

    from curate.errors import CurateError
    from curate.store import try_lock

    with Framework({"retraining_folder": tmp_path / "s"}) as fw:
        fd = try_lock(fw.runs.training_lock)  # another process is training
        threading.Timer(1.0, os.close, args=(fd,)).start()
        with pytest.raises(CurateError, match="still running"):
            fw.wait_for_training(timeout=0.2)
        started = time.monotonic()
        fw.wait_for_training(timeout=30)
        assert time.monotonic() - started > 0.5, "it waited for the lock to be released"
        assert not fw.runs.is_training()
