"""Durability across processes: SIGKILL after flush(), four concurrent writers, one training run.

Each test runs small scripts with ``sys.executable`` in subprocesses on one store folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.runs import RunRegistry
from curate.store import TABLES, Store

ROOT = Path(__file__).resolve().parents[1]

COMMON = """
import os, sys, time, signal
from curate import Framework, Signal
store = sys.argv[1]
cfg = {
    "checks": [
        {"type": "edge_case", "signal_formulae": Signal.contains("x")},
        {"type": "data_integrity", "integrity_type": "non_null",
         "measurable_args": {"feature_name": "text"}},
    ],
    "retraining_folder": store,
    "batch_size": 64,
    "flush_interval": 0.05,
}

def wait_for_go():
    # tell the parent we are ready (imports done), then start together with the others
    print("READY", flush=True)
    while not os.path.exists(os.path.join(os.path.dirname(store), "go")):
        time.sleep(0.001)
"""


def start_together(tmp_path: Path, procs: list[subprocess.Popen]) -> None:
    for p in procs:
        assert p.stdout.readline().strip() == "READY", p.stderr.read()
    (tmp_path / "go").touch()


def run_script(tmp_path: Path, name: str, body: str, *args: str) -> subprocess.Popen:
    script = tmp_path / f"{name}.py"
    script.write_text(COMMON + textwrap.dedent(body))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )


def assert_every_file_readable(store: Path) -> int:
    """Every segment reads completely; no temporary is listed. Returns the number of segments."""
    s = Store(store)
    count = 0
    for table in TABLES:
        for f in s.files(table):
            pq.read_table(f)
            count += 1
        assert s.read(table) is not None
    return count


def retraining_ids(store: Path) -> list[int]:
    return Store(store).read("retraining", columns=["id"]).column("id").to_pylist()


KILL_AFTER_FLUSH = """
fw = Framework(cfg)
acked = []
i = 0
for round in range(int(sys.argv[2])):
    for _ in range(37):
        acked.extend(fw.log(inputs={"text": [f"x{i}", f"x{i + 1}", None]})[:2])
        i += 2
    fw.flush()
    print("ACK", ",".join(map(str, acked)), flush=True)
    acked = []
if sys.argv[3] == "self":
    os.kill(os.getpid(), signal.SIGKILL)  # the very next thing after flush() returns
while True:  # keep logging (and writing) until the parent kills us
    fw.log(inputs={"text": [f"x{i}"]})
    i += 1
"""


@pytest.mark.parametrize("who", ["self", "parent"])
def test_sigkill_right_after_flush_loses_no_acknowledged_row(tmp_path, who):
    store = tmp_path / "store"
    proc = run_script(tmp_path, "kill", KILL_AFTER_FLUSH, str(store), "3", who)
    acked: list[int] = []
    for line in proc.stdout:
        assert line.startswith("ACK ")
        acked.extend(int(x) for x in line.split()[1].split(","))
        if len(acked) == 3 * 74:
            break
    if who == "parent":
        time.sleep(0.05)  # let it log and write a little more
        proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
    assert len(acked) == 222
    stored = retraining_ids(store)
    assert set(acked) <= set(stored)  # everything flushed is durable
    assert len(stored) == len(set(stored))
    assert assert_every_file_readable(store) >= 3
    # the store opens again and goes on from where it was
    restart = run_script(tmp_path, "restart", "with Framework(cfg) as fw:\n"
                         "    print(list(fw.log(inputs={'text': ['x after']})))\n", str(store))  # fmt: skip
    out, err = restart.communicate(timeout=60)
    assert restart.returncode == 0, err
    (new_id,) = eval(out)  # noqa: S307
    assert new_id > max(stored)
    assert new_id in retraining_ids(store)


FOUR_WRITERS = """
k, n = int(sys.argv[2]), int(sys.argv[3])
ids = []
with Framework(cfg) as fw:
    wait_for_go()
    i = 0
    sizes = [1, 7, 50, 3, 200]
    while i < n:
        m = min(sizes[i % len(sizes)], n - i)
        ids.extend(fw.log(inputs={"text": [f"x-{k}-{j}" for j in range(i, i + m)]}))
        i += m
print(",".join(map(str, ids)))
"""


def test_four_processes_logging_into_one_store_lose_nothing(tmp_path):
    store = tmp_path / "store"
    n = 1500
    procs = [run_script(tmp_path, f"w{k}", FOUR_WRITERS, str(store), str(k), str(n))
             for k in range(4)]  # fmt: skip
    start_together(tmp_path, procs)
    returned: list[int] = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        returned.extend(int(x) for x in out.strip().split(","))
    assert len(returned) == len(set(returned)) == 4 * n
    s = Store(store)
    table = s.read("retraining", columns=["id", "text"]).to_pydict()
    assert len(table["id"]) == 4 * n and set(table["id"]) == set(returned)
    assert sorted(table["text"]) == sorted(f"x-{k}-{j}" for k in range(4) for j in range(n))
    metrics = s.read("metrics").to_pandas()
    assert metrics.loc[metrics.metric == "rows_logged", "value"].sum() == 4 * n
    assert metrics["writer"].nunique() == 4
    assert assert_every_file_readable(store) > 4


TWO_TRIGGERS = """
cfg["retrain_after"] = 100
log_path = os.path.join(os.path.dirname(store), "callbacks.log")

def on_retrain(run):
    with open(log_path, "a") as f:
        f.write(f"{os.getpid()} {run.run_id}\\n")
    time.sleep(0.8)

cfg["on_retrain"] = on_retrain
k = sys.argv[2]
with Framework(cfg) as fw:
    wait_for_go()
    # 95 edge cases are already in the store: 10 more from either process cross the threshold
    fw.log(inputs={"text": [f"x-{k}-{j}" for j in range(10)]})
    fw.flush()
    fw.wait_for_training(30)
"""


def test_two_processes_crossing_the_threshold_together_start_one_run(tmp_path):
    import pyarrow as pa

    store = tmp_path / "store"
    Store(store).write("retraining", pa.table({"id": range(-95, 0), "text": ["x"] * 95}))
    procs = [run_script(tmp_path, f"t{k}", TWO_TRIGGERS, str(store), str(k)) for k in range(2)]
    start_together(tmp_path, procs)
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    runs = RunRegistry(Store(store)).list()
    assert len(runs) == 1, [r.record for r in runs]
    assert runs[0].status == "succeeded"
    assert runs[0].record["snapshot_rows"] >= 105
    callbacks = (tmp_path / "callbacks.log").read_text().splitlines()
    assert len(callbacks) == 1 and callbacks[0].endswith(runs[0].run_id)
    assert len(retraining_ids(store)) == 115
