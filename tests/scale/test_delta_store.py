"""The Delta store on object storage (moto S3): many writers append, readers see versions."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from curate.delta_store import DeltaStore, open_store
from curate.errors import ConfigError
from curate.scale.job import run
from curate.signals import Signal
from curate.store_reader import StoreReader

pytest.importorskip("deltalake")

APPENDER = textwrap.dedent("""
    import json, sys
    import pyarrow as pa
    from curate.delta_store import DeltaStore
    uri, proc, appends = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    store = DeltaStore(uri)
    ids = []
    for i in range(appends):
        ids.append(store.reserve_ids(50))
        keys = [f"{proc}-{i}-{j}" for j in range(50)]
        store.write("retraining", pa.table({"id": [ids[-1] + j for j in range(50)], "key": keys}))
    print(json.dumps(ids))
""")


def test_four_processes_append_to_one_store_on_s3(s3_uri, tmp_path):
    """4 fresh interpreters (no fork: delta-rs must not be forked) x 5 appends, concurrently:
    every row is there exactly once and every id block is distinct."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", APPENDER, s3_uri, str(p), "5"], stdout=subprocess.PIPE, text=True
        )  # fmt: skip
        for p in range(4)
    ]
    blocks = []
    for proc in procs:
        out, _ = proc.communicate(timeout=240)
        assert proc.returncode == 0
        blocks.extend(json.loads(out))
    store = DeltaStore(s3_uri)
    table = store.read("retraining")
    keys = table.column("key").to_pylist()
    assert len(keys) == len(set(keys)) == 4 * 5 * 50
    assert len(set(blocks)) == 20 and store.version("retraining") == 19
    assert pc.count_distinct(table.column("id")).as_py() == 1000


def test_batch_job_into_a_delta_store_and_snapshot_reads(s3_uri, tmp_path):
    src = tmp_path / "src.parquet"
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": ["nike shoes", "puma", None, "nike socks"] * 500}), src)
    cfg = {"checks": [{"type": "edge_case", "signal_formulae": Signal.contains("nike")},
                      {"type": "data_integrity", "integrity_type": "non_null", "window": 500,
                       "measurable_args": {"feature_name": "text"}}],
           "retraining_folder": s3_uri}  # fmt: skip
    first = run(cfg, str(src), progress=False)
    local = run({**cfg, "retraining_folder": str(tmp_path / "local")}, str(src), progress=False)
    store = DeltaStore(s3_uri)
    on_s3, on_disk = store.read("retraining"), StoreReader(local["store"]).read("retraining")
    assert on_s3.num_rows == first["edge_cases"] == 1000
    assert on_s3.select(["text", "reasons"]).equals(on_disk.select(["text", "reasons"]))
    assert store.read("quarantine").num_rows == 500
    assert store.read("metrics").num_rows == first["metric_rows"] > 0
    assert store.read("alerts").num_rows == first["alerts"] == 4
    before = store.snapshot()
    run(cfg, str(src), progress=False)  # a second job appends
    assert store.count("retraining") == 2000
    assert store.count("retraining", version=before["retraining"]) == 1000
    ids = store.read("retraining", ["id"]).column("id")
    assert pc.count_distinct(ids).as_py() == 2000  # the jobs' id blocks do not overlap


def test_unsupported_store_schemes_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="'ftp://' is not supported"):
        open_store("ftp://host/store")
    with pytest.raises(ConfigError, match="'ftp://' is not supported"):
        run({"checks": [], "retraining_folder": "ftp://host/store"}, str(tmp_path))
    assert type(open_store(str(tmp_path / "s"))).__name__ == "Store"


KILLED = textwrap.dedent("""
    import sys
    import pyarrow as pa
    from curate.delta_store import DeltaStore
    store = DeltaStore(sys.argv[1])
    i = 0
    while True:
        store.write("metrics", pa.table({"metric": ["m"] * 100, "value": [float(i)] * 100}))
        print(i, flush=True)
        i += 1
""")


def test_a_killed_writer_loses_no_committed_row(s3_uri):
    """SIGKILL in the middle of appends: every append it reported is there, whole, and the
    table stays readable (an unfinished append is simply not committed)."""
    proc = subprocess.Popen([sys.executable, "-c", KILLED, s3_uri], stdout=subprocess.PIPE,
                            text=True)  # fmt: skip
    reported = [int(proc.stdout.readline()) for _ in range(4)]
    proc.kill()
    proc.wait(30)
    table = DeltaStore(s3_uri).read("metrics")
    counts = pc.value_counts(table.column("value")).to_pylist()
    assert {c["values"] for c in counts} >= {float(i) for i in reported}
    assert all(c["counts"] == 100 for c in counts)  # no partial append
