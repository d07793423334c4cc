"""The Framework's log() into a Delta store on object storage (moto S3): the same rows, checks and
counts as a local store; many processes log into one store; training is refused clearly."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pyarrow.compute as pc
import pytest
import real_corpora

from curate import Framework, MeasurableType, Monitor, Signal
from curate.delta_store import DeltaStore
from curate.errors import ConfigError, CurateError
from curate.store import Store

pytest.importorskip("deltalake")
needs_corpora = pytest.mark.skipif(not real_corpora.available(), reason=real_corpora.SKIP_REASON)


def _config(root, texts_for_reference: list[str]) -> dict:
    import pandas as pd

    text = {"type": MeasurableType.INPUT_FEATURE, "feature_name": "text"}
    return {
        "checks": [
            {"type": Monitor.EDGE_CASE, "signal_formulae": Signal.contains("good")},
            {"type": Monitor.DATA_INTEGRITY, "measurable_args": text, "integrity_type": "non_null"},
            {"type": Monitor.DATA_DRIFT, "measurable_args": text, "window": 200,
             "reference_dataset": pd.DataFrame({"text": texts_for_reference})},
        ],
        "retraining_folder": root,
        "traffic_sample": 100,
        "traffic_seed": 0,
    }  # fmt: skip


@needs_corpora
def test_a_delta_store_gets_what_a_local_store_gets(s3_uri, tmp_path):
    reviews = real_corpora.reviews()["text"].tolist()[:1_200]
    rows = [None if i % 50 == 7 else t for i, t in enumerate(reviews[:800])]
    stats = {}
    for name, root in (("local", tmp_path / "local"), ("delta", s3_uri)):
        with Framework(_config(root, reviews[800:])) as fw:
            for at in range(0, len(rows), 40):
                fw.log(inputs={"text": rows[at : at + 40]}, identifiers=list(range(at, at + 40)))
            fw.log_ground_truth(identifiers=[1, 2], gts=["pos", "neg"])
            stats[name] = fw.stats()
            dataset = fw.retraining_dataset(["id", "text"])
        assert dataset.num_rows == stats[name]["edge_cases"]
    local, delta = Store(tmp_path / "local"), DeltaStore(s3_uri)
    keys = ("rows_logged", "edge_cases", "quarantined", "rows_not_selected", "quarantine_entries")
    assert {k: stats["delta"][k] for k in keys} == {k: stats["local"][k] for k in keys}
    assert stats["delta"]["rows_logged"] == 800 and stats["delta"]["quarantined"] == 16
    for table in ("retraining", "quarantine"):
        got = delta.read(table, ["id", "text"] if table == "retraining" else ["id", "reason"])
        want = local.read(table, got.column_names)
        assert got.sort_by("id").column(1).to_pylist() == want.sort_by("id").column(1).to_pylist()
    drift = ("metric", "value")
    got = delta.read("metrics", list(drift)).filter(pc.equal(pc.field("metric"), "js"))
    want = local.read("metrics", list(drift)).filter(pc.equal(pc.field("metric"), "js"))
    assert got.column("value").to_pylist() == pytest.approx(want.column("value").to_pylist())
    assert delta.read("labels").num_rows == 2
    sample = delta.read("traffic", ["text", "_sample_key"]).sort_by("_sample_key")
    assert sample.num_rows >= 100 and sample.slice(0, 100).column("text").to_pylist() == (
        local.traffic_sample().column("text").to_pylist()
    )
    settings = json.loads(_read_object(s3_uri, "framework.json"))
    assert [c["type"] for c in settings["checks"]] == ["edge_case", "data_integrity", "data_drift"]


def _read_object(uri: str, name: str) -> str:
    import pyarrow.fs as pafs

    fs, path = pafs.FileSystem.from_uri(uri)
    with fs.open_input_stream(f"{path}/{name}") as f:
        return f.read().decode()


LOGGER = textwrap.dedent("""
    import sys
    from curate import Framework, Signal
    uri, proc = sys.argv[1], int(sys.argv[2])
    cfg = {"checks": [{"type": "edge_case", "signal_formulae": Signal.contains("keep")}],
           "retraining_folder": uri, "batch_size": 100, "flush_interval": 0.05}
    with Framework(cfg) as fw:
        for i in range(300):
            fw.log(inputs={"text": [f"keep {proc}-{i}" if i % 3 == 0 else f"drop {proc}-{i}"]})
""")


def test_four_processes_log_into_one_delta_store(s3_uri):
    """4 fresh interpreters log 300 rows each, one per call, concurrently: every edge case is
    stored once, ids are unique across writers and the counts add up store-wide."""
    procs = [subprocess.Popen([sys.executable, "-c", LOGGER, s3_uri, str(p)]) for p in range(4)]
    for proc in procs:
        assert proc.wait(timeout=300) == 0
    store = DeltaStore(s3_uri)
    kept = store.read("retraining", ["id", "text"])
    texts = kept.column("text").to_pylist()
    assert sorted(texts) == sorted(f"keep {p}-{i}" for p in range(4) for i in range(0, 300, 3))
    assert pc.count_distinct(kept.column("id")).as_py() == 400
    summary = store.summary()
    assert summary["rows_logged"] == 1200 and summary["edge_cases"] == 400
    assert summary["rows_not_selected"] == 800


def test_what_cannot_train_on_a_delta_store_is_refused_clearly(s3_uri):
    with pytest.raises(ConfigError, match="on_retrain callbacks need a local store"):
        Framework({"retraining_folder": s3_uri, "retrain_after": 10, "on_retrain": print})
    with Framework({"retraining_folder": s3_uri}) as fw:
        with pytest.raises(CurateError, match="nothing to train on"):
            fw.retrain(wait=True)
        with pytest.raises(CurateError, match="retrain\\(wait=True\\) trains it in this process"):
            fw.retrain()
    with pytest.raises(ConfigError, match="'ftp://' is not supported"):
        Framework({"retraining_folder": "ftp://host/store"})
