"""Fault tests: SIGKILL while logging, a full disk, many processes and threads at once."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from curate import Framework, Signal
from curate.store import TABLES, Store

ALL_ROWS = "Signal.arrow('every row', lambda b: np.ones(len(b), dtype=bool))"

LOGGER = textwrap.dedent(
    f"""
    import random, sys
    import numpy as np
    from curate import Framework, Signal
    store, seed = sys.argv[1], int(sys.argv[2])
    rng = random.Random(seed)
    fw = Framework({{"checks": [{{"type": "edge_case", "signal_formulae": {ALL_ROWS}}}],
                    "retraining_folder": store, "flush_interval": 0.02, "batch_size": 500}})
    first = None
    while True:
        n = rng.randint(1, 40)
        ids = fw.log(inputs={{"text": [f"row {{seed}}-{{k}}" for k in range(n)]}})
        first = ids[0] if first is None else first
        if rng.random() < 0.15:
            fw.flush()
            print(first, ids[-1], flush=True)
    """
)


def _kill_trial(script: Path, store: Path, seed: int) -> tuple[int, int] | None:
    """Start a logger, SIGKILL it at a random moment of its logging; return its last ack."""
    proc = subprocess.Popen(
        [sys.executable, str(script), str(store), str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first_ack = proc.stdout.readline()  # it is logging now (imports are done)
    time.sleep(random.Random(seed).uniform(0.0, 0.4))
    proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate()
    assert "Traceback" not in err, err
    # Only whole acks count: a line the kill cut short acknowledges nothing (conservative).
    acks = [line.split() for line in (first_ack + out).splitlines()]
    acks = [ack for ack in acks if len(ack) == 2 and all(a.lstrip("-").isdigit() for a in ack)]
    return (int(acks[-1][0]), int(acks[-1][1])) if acks else None


def _assert_every_file_readable(store: Store) -> None:
    for table in TABLES:
        for f in store.files(table):
            pq.read_table(f)  # raises on a torn or partial file


@pytest.mark.slow
def test_sigkill_while_logging_loses_no_acknowledged_row(tmp_path: Path) -> None:
    script = tmp_path / "logger.py"
    script.write_text(LOGGER)
    store_dir = tmp_path / "store"
    # Two writers at a time: the kills also land while another process is writing.
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda seed: _kill_trial(script, store_dir, seed), range(50)))
    acknowledged = [r for r in results if r is not None]
    assert len(acknowledged) == 50, "every trial acknowledges at least one flush"

    store = Store(store_dir)
    _assert_every_file_readable(store)
    ids = store.read("retraining", columns=["id"]).column("id").to_pylist()
    counts = Counter(ids)
    assert not [i for i, c in counts.items() if c > 1], "a row was stored twice"
    present = set(ids)
    for first, last in acknowledged:
        missing = [i for i in range(first, last + 1) if i not in present]
        assert not missing, f"acknowledged ids {missing[:5]}... are missing"

    # The next Framework resumes: new ids never collide with stored ones.
    with Framework({"retraining_folder": store_dir, "checks": [
        {"type": "edge_case", "signal_formulae": Signal.arrow("all", lambda b: np.ones(len(b), bool))}
    ]}) as fw:  # fmt: skip
        new = fw.log(inputs={"text": ["after the crash"] * 10})
    assert not present & set(new)
    assert len(Store(store_dir).read("retraining", columns=["id"])) == len(ids) + 10


@contextlib.contextmanager
def _small_disk(path: Path, size: str = "3m"):
    path.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a size-limited tmpfs here: {result.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _fill(path: Path) -> Path:
    filler = path / "filler.bin"
    chunk = b"\0" * 65536
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(chunk)
                fh.flush()
        except OSError:
            pass
    return filler


def test_disk_full_is_reported_and_logging_resumes(tmp_path: Path, caplog) -> None:
    with _small_disk(tmp_path / "mnt") as mnt:
        cfg = {
            "retraining_folder": mnt / "store",
            "checks": [{"type": "edge_case", "signal_formulae": Signal.contains("row")}],
            "flush_interval": 0.05,
        }
        fw = Framework(cfg)
        first = fw.log(inputs={"text": [f"row {i}" for i in range(200)]})
        fw.flush()
        filler = _fill(mnt)
        caplog.clear()
        during = [fw.log(inputs={"text": [f"row x{i} " + "y" * 2000]}) for i in range(300)]
        fw.flush()  # must not raise: production code keeps running
        assert any("No space left" in r.getMessage() for r in caplog.records), caplog.text
        assert "No space left" in (fw._pipeline.last_error or "")

        filler.unlink()  # space returns
        fw.flush()
        fw.close()
        store = Store(mnt / "store")
        _assert_every_file_readable(store)
        ids = set(store.read("retraining", columns=["id"]).column("id").to_pylist())
        expected = set(first) | {i for r in during for i in r}
        assert expected <= ids
        metrics = store.read("metrics").to_pandas()
        errors = metrics.loc[metrics.metric == "write_errors", "value"].sum()
        assert errors >= 1, "the failed writes must be counted in the metrics table"


WORKER = textwrap.dedent(
    f"""
    import sys, threading
    import numpy as np
    from curate import Framework, Signal
    store, proc, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    fw = Framework({{"checks": [{{"type": "edge_case", "signal_formulae": {ALL_ROWS}}}],
                    "retraining_folder": store, "flush_interval": 0.05}})
    def work(thread):
        done = 0
        while done < rows:
            n = min(rows - done, 1 + (done * 7 + thread) % 25)
            fw.log(inputs={{"proc": [proc] * n, "thread": [thread] * n,
                            "seq": list(range(done, done + n))}})
            done += n
    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads: t.start()
    for t in threads: t.join()
    fw.close()
    """
)


@pytest.mark.slow
def test_eight_processes_four_threads_count_exactly(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    rows = 1500
    procs = [
        subprocess.Popen([sys.executable, str(script), str(tmp_path / "s"), str(p), str(rows)])
        for p in range(8)
    ]
    assert [p.wait(timeout=240) for p in procs] == [0] * 8
    table = Store(tmp_path / "s").read("retraining", columns=["id", "proc", "thread", "seq"])
    assert table.num_rows == 8 * 4 * rows
    assert len(set(table.column("id").to_pylist())) == table.num_rows, "duplicate ids"
    keys = set(zip(*(table.column(c).to_pylist() for c in ("proc", "thread", "seq")), strict=True))
    assert len(keys) == table.num_rows, "a row was stored twice or lost"
    metrics = Store(tmp_path / "s").read("metrics").to_pandas()
    assert metrics.loc[metrics.metric == "rows_logged", "value"].sum() == 8 * 4 * rows


KILLED_TRAINER = textwrap.dedent(
    f"""
    import sys, time
    import numpy as np
    from curate import Framework, Signal
    def train(run):
        print(run.run_id, flush=True)
        time.sleep(60)
    fw = Framework({{"checks": [{{"type": "edge_case", "signal_formulae": {ALL_ROWS}}}],
                    "retraining_folder": sys.argv[1], "retrain_after": 50, "on_retrain": train}})
    fw.log(inputs={{"text": [f"row {{i}}" for i in range(60)]}})
    fw.flush()
    time.sleep(60)
    """
)


def test_sigkill_during_training_marks_the_run_failed_and_retrains(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(KILLED_TRAINER)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "s")], stdout=subprocess.PIPE, text=True
    )
    run_id = proc.stdout.readline().strip()
    assert run_id.startswith("run-")
    before = Store(tmp_path / "s").read("retraining").num_rows
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    store = Store(tmp_path / "s")
    from curate.runs import RunRegistry

    runs = RunRegistry(store)
    killed = runs.get(run_id)
    assert killed.status == "failed" and "killed" in killed.error
    assert store.read("retraining").num_rows == before
    assert not runs.is_training()

    started = []
    with Framework(
        {"checks": [{"type": "edge_case", "signal_formulae": Signal.contains("row")}],
         "retraining_folder": tmp_path / "s", "retrain_after": 50, "on_retrain": started.append}
    ) as fw:  # fmt: skip
        fw.log(inputs={"text": [f"row {i}" for i in range(55)]})
        fw.flush()
        fw.wait_for_training(timeout=30)
    assert len(started) == 1, "the next trigger must train again"
    assert runs.latest().status == "succeeded"


def test_id_reservation_failure_never_reaches_the_caller(tmp_path: Path, monkeypatch) -> None:
    import errno

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    for strict in (False, True):
        fw = Framework({"retraining_folder": tmp_path / f"s{strict}"}, strict=strict)
        fw.log(inputs={"text": ["first"]})
        fw._ids.next, fw._ids.spare = fw._ids.end, None  # the block is used up, no spare
        monkeypatch.setattr(fw.store, "reserve_ids", full)
        if strict:
            with pytest.raises(OSError):
                fw.log(inputs={"text": ["second"]})
        else:
            ids = fw.log(inputs={"text": ["second", "third"]})
            assert len(ids) == 2 and ids[0] < 0, "a random block outside the reserved ids"
            more = fw.log(inputs={"text": ["fourth"]})
            assert more[0] == ids[-1] + 1
        monkeypatch.undo()
        fw.close()


def test_spare_id_block_is_reserved_off_the_request_path(tmp_path: Path, monkeypatch) -> None:
    with Framework({"retraining_folder": tmp_path / "s"}) as fw:
        fw.log(inputs={"text": ["a"]})
        fw.flush()  # the writer reserves the next block while it writes
        spare = fw._ids.spare
        assert spare is not None
        calls = []
        monkeypatch.setattr(fw.store, "reserve_ids", lambda *a, **k: calls.append(a) or 0)
        fw._ids.next = fw._ids.end
        ids = fw.log(inputs={"text": ["b"]})
        assert ids[0] == spare[0], "the next ids come from the spare block"
        assert calls == [], "log() did no I/O to get them"
