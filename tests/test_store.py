"""The Parquet store: atomic segments, readable by every reader, resumable, never deleting."""

from __future__ import annotations

import os
import threading

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from curate import Framework, Signal, StoreError
from curate.config import Config
from curate.errors import ConfigError
from curate.store import Store, file_lock, is_locked


def snapshot(root) -> dict[str, int]:
    """Every file under the store (but caches) with its size."""
    out = {}
    for folder, _, files in os.walk(root):
        for f in files:
            path = os.path.join(folder, f)
            if "_cache" not in path:
                out[os.path.relpath(path, root)] = os.path.getsize(path)
    return out


def test_segments_are_renamed_into_place_and_temporaries_are_invisible(tmp_path, monkeypatch):
    store = Store(tmp_path)
    seen_during_write = []
    real_write_table = pq.write_table

    def spying_write_table(table, where, **kwargs):
        real_write_table(table, where, **kwargs)
        # the data is in the file but the rename has not happened: readers see nothing yet
        names = os.listdir(tmp_path / "retraining")
        seen_during_write.append(names)
        assert store.files("retraining") == []
        assert pads.dataset(tmp_path / "retraining", format="parquet").count_rows() == 0

    monkeypatch.setattr(pq, "write_table", spying_write_table)
    final = store.write("retraining", pa.table({"id": [1], "text": ["a"]}))
    assert len(seen_during_write) == 1 and seen_during_write[0][0].startswith(".tmp-part-")
    assert os.listdir(tmp_path / "retraining") == [final.name]
    assert final.name.startswith("part-") and store.writer_id in final.name


def test_a_failed_write_leaves_no_file_and_names_the_folder(tmp_path, monkeypatch):
    store = Store(tmp_path)

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq, "write_table", boom)
    with pytest.raises(StoreError, match="cannot write a retraining segment under .*retraining"):
        store.write("retraining", pa.table({"id": [1]}))
    assert os.listdir(tmp_path / "retraining") == []
    with pytest.raises(StoreError, match="unknown table 'training'; valid tables: retraining"):
        store.write("training", pa.table({"id": [1]}))


def test_every_reader_reads_the_folder_despite_a_leftover_temporary(tmp_path):
    import datasets

    datasets.disable_progress_bars()
    store = Store(tmp_path / "s")
    store.write("retraining", pa.table({"id": [0, 1], "text": ["a", None]}))
    store.write("retraining", pa.table({"id": [2], "text": ["ü ☃"]}))
    # a crash between write and rename leaves a temporary: no reader may see it
    (store.root / "retraining" / ".tmp-part-crashed.parquet").write_bytes(b"PAR1 half a file")
    folder = store.root / "retraining"
    expected = {"id": [0, 1, 2], "text": ["a", None, "ü ☃"]}
    assert pads.dataset(folder, format="parquet").to_table().sort_by("id").to_pydict() == expected
    frame = pd.read_parquet(folder).sort_values("id")
    assert frame["id"].tolist() == [0, 1, 2] and frame["text"].tolist()[2] == "ü ☃"
    ds = datasets.load_dataset(
        "parquet", data_dir=str(folder), split="train", cache_dir=str(tmp_path / "cache")
    )
    assert sorted(ds["id"]) == [0, 1, 2]
    assert store.read("retraining").num_rows == 3
    assert store.num_rows(store.files("retraining")) == 3


def test_columns_added_later_read_as_nulls_in_old_segments(tmp_path):
    store = Store(tmp_path)
    store.write("retraining", pa.table({"id": [0], "text": ["a"]}))
    store.write("retraining", pa.table({"id": [1], "text": ["b"], "outputs": [0.5]}))
    table = store.read("retraining").sort_by("id")
    assert table.to_pydict() == {"id": [0, 1], "text": ["a", "b"], "outputs": [None, 0.5]}
    assert store.read("retraining", columns=["id", "missing"]).column_names == ["id"]
    assert store.read("alerts").column_names[:2] == ["ts", "monitor"]  # empty, fixed schema


def test_path_refuses_to_escape_the_root(tmp_path):
    store = Store(tmp_path / "s")
    assert store.path("runs", "r1") == store.root / "runs" / "r1"
    for parts in (("..",), ("..", "etc"), ("runs", "..", "..", "x"), ("/etc/passwd",)):
        with pytest.raises(StoreError, match="escapes the store root"):
            store.path(*parts)
    os.symlink(tmp_path, store.root / "link")
    with pytest.raises(StoreError, match="escapes the store root"):
        store.path("link", "elsewhere")
    with pytest.raises(StoreError, match="escapes the store root"):
        store.write_json("../outside.json", {})
    assert not (tmp_path / "outside.json").exists()


def test_ids_are_reserved_in_unique_blocks_across_store_objects(tmp_path):
    a, b = Store(tmp_path), Store(tmp_path)
    starts = []
    threads = [
        threading.Thread(target=lambda s=s: starts.extend(s.reserve_ids(10) for _ in range(50)))
        for s in (a, b, a, b)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(starts) == list(range(0, 2000, 10))


def test_concurrent_writes_get_unique_names(tmp_path):
    store = Store(tmp_path)
    threads = [
        threading.Thread(target=lambda: [store.write("metrics", pa.table({"x": [1]})) for _ in range(20)])
        for _ in range(4)
    ]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.files("metrics")) == 80 and store.read("metrics").num_rows == 80


def test_file_lock_is_exclusive_across_open_files(tmp_path):
    lock = tmp_path / "l.lock"
    assert not is_locked(lock)
    with file_lock(lock) as got:
        assert got and is_locked(lock)
        with file_lock(lock, blocking=False) as second:
            assert second is False
    assert not is_locked(lock)


def test_restart_resumes_counts_and_ids_and_never_deletes(tmp_path):
    config = {
        "checks": [
            {"type": "edge_case", "signal_formulae": Signal.contains("nike")},
            {"type": "data_integrity", "integrity_type": "non_null",
             "measurable_args": {"feature_name": "text"}},
        ],
        "retraining_folder": tmp_path / "store",
    }  # fmt: skip
    with Framework(config, retrain_after=2, on_retrain=lambda run: None) as fw:
        first = fw.log(inputs={"text": ["nike 1", None, "nike 2"]})
        fw.flush()
        run = fw.wait_for_training(10)
        assert run.status == "succeeded"
    before = snapshot(tmp_path / "store")
    store_json = (tmp_path / "store" / "store.json").read_bytes()
    with Framework(config) as fw:
        stats = fw.stats()
        assert (stats["rows_logged"], stats["edge_cases"], stats["quarantined"]) == (3, 2, 1)
        assert [r.run_id for r in fw.runs.list()] == [run.run_id]
        assert stats["edge_cases_since_last_run"] == 0
        second = fw.log(inputs={"text": ["nike 3", None]})
        stats = fw.stats()
    assert (stats["rows_logged"], stats["edge_cases"], stats["quarantined"]) == (5, 3, 2)
    assert stats["edge_cases_since_last_run"] == 1
    assert second[0] > first[-1]  # ids never repeat across restarts
    after = snapshot(tmp_path / "store")
    assert all(
        after.get(path) == size
        for path, size in before.items()
        if path not in ("_ids", "framework.json")
    )
    assert (tmp_path / "store" / "store.json").read_bytes() == store_json
    ids = Store(tmp_path / "store").read("retraining").column("id").to_pylist()
    assert sorted(ids) == [first[0], first[2], second[0]]


def test_a_store_that_cannot_be_created_is_a_store_error(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(StoreError, match="cannot create the store at"):
        Store(tmp_path / "file" / "store")


@pytest.mark.parametrize("uri", ["s3://bucket/store", "gs://b/x", "abfs://c@acct/x"])
def test_an_object_storage_uri_is_never_a_local_folder(tmp_path, monkeypatch, uri):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"URIs are not supported"):
        Store(uri)
    # A Framework takes it for a Delta store (tests/scale); its config keeps the URI as given.
    assert Config.load({"retraining_folder": uri}).retraining_folder == uri
    with pytest.raises(ConfigError, match="'ftp://' is not supported"):
        Framework({"retraining_folder": "ftp://host/store"})
    assert not any(tmp_path.iterdir()), "nothing was created locally"


def test_an_unreachable_object_store_fails_at_start_up(tmp_path, monkeypatch):
    pytest.importorskip("deltalake")
    monkeypatch.chdir(tmp_path)
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "x",
           "AWS_SECRET_ACCESS_KEY": "x", "AWS_REGION": "us-east-1",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(StoreError, match="cannot write to the store at s3://bucket/store"):
        Framework({"retraining_folder": "s3://bucket/store"})
    assert not any(tmp_path.iterdir()), "nothing was created locally"


def test_a_file_uri_is_the_local_folder(tmp_path):
    store = Store(f"file://{tmp_path}/s")
    assert store.root == tmp_path / "s" and (tmp_path / "s" / "store.json").exists()
