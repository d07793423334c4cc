"""``curate migrate``: a local store, made by the real log path, copied into a Delta store.

The source is logged by a real Framework (Rotten Tomatoes snippets: an EDGE_CASE check, a
DATA_INTEGRITY check that some null texts fail, late labels, a column that appears only in the
later segments) and migrated to a local Delta path and to S3 (moto). Every table must come back
with the same rows, ids and column types; an interrupted migration must resume without a
duplicate or a gap; the Delta store's later ids must not collide with the migrated ones.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import real_corpora

from curate import Framework, Monitor, Signal
from curate.cli import main
from curate.delta_store import DeltaStore
from curate.errors import ConfigError, StoreError
from curate.runs import RunRegistry
from curate.scale.migrate import SEGMENT_KEY, migrate
from curate.store import Store
from curate.store_reader import TABLES, StoreReader

pytest.importorskip("deltalake")
pytestmark = pytest.mark.skipif(not real_corpora.available(), reason=real_corpora.SKIP_REASON)

CALLS, ROWS = 6, 120


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A local store with several segments in every table, a run record and a profile."""
    root = tmp_path_factory.mktemp("migrate") / "local"
    reviews = real_corpora.reviews().iloc[: CALLS * ROWS]
    texts = [None if i % 23 == 0 else t for i, t in enumerate(reviews["text"])]
    checks = [
        {"type": Monitor.EDGE_CASE, "signal_formulae": Signal.contains(["great", "worst"])},
        {"type": Monitor.DATA_INTEGRITY, "integrity_type": "non_null", "window": 60,
         "alert_ratio": 0.01, "measurable_args": {"feature_name": "text"}},
    ]  # fmt: skip
    cfg = {"checks": checks, "retraining_folder": str(root), "traffic_sample": 150}
    with Framework(cfg) as fw:
        for call in range(CALLS):
            part = slice(call * ROWS, (call + 1) * ROWS)
            inputs = {"text": texts[part], "movie": list(reviews["movie_name"][part])}
            if call >= CALLS // 2:  # later segments have a column the earlier ones lack
                inputs["rating"] = list(np.linspace(0, 5, ROWS))
            fw.log(inputs=inputs, identifiers=[f"r{i}" for i in range(part.start, part.stop)])
            fw.flush()
        fw.log_ground_truth(identifiers=[f"r{i}" for i in range(0, 200, 2)],
                            gts=list(reviews["category"][:200:2]))  # fmt: skip
    store = Store(root)
    RunRegistry(store).create(snapshot=store.files("retraining"), trigger="manual", kind="callback")
    store.path("profiles", "text.profile").write_bytes(b"a profile")
    reader = StoreReader(root)
    assert all(len(reader.files(t)) >= 1 for t in TABLES), reader.summary()
    assert len(reader.files("retraining")) == CALLS and reader.count("quarantine") > 0
    return root


def fingerprint(root: Path) -> dict[str, str]:
    """Every file of a folder and a hash of its bytes: to tell that nothing was touched."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def rows_of(table: pa.Table) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True, default=str) for r in table.to_pylist())


def assert_same_store(local: Path, delta: DeltaStore) -> None:
    """Every table: the same columns and types, the same rows (by id where there is one)."""
    reader = StoreReader(local)
    for table in TABLES:
        mine, theirs = reader.read(table), delta.read(table)
        assert sorted(theirs.column_names) == sorted(mine.column_names), table
        theirs = theirs.select(mine.column_names)
        assert [f.type for f in theirs.schema] == [f.type for f in mine.schema], table
        if "id" in mine.column_names:
            ids = mine["id"].to_pylist()
            assert sorted(theirs["id"].to_pylist()) == sorted(ids), table
            if len(set(ids)) == len(ids):  # quarantine repeats a row's id per failed check
                assert theirs.sort_by("id").equals(mine.sort_by("id")), table
        assert rows_of(theirs) == rows_of(mine), table  # as multisets, every table


def max_id(local: Path) -> int:
    """The largest row id of any table of the local store."""
    reader = StoreReader(local)
    tables = [reader.read(t, ["id"]) for t in TABLES]
    return max(pc.max(t["id"]).as_py() for t in tables if "id" in t.column_names and t.num_rows)


def test_migrate_to_a_local_path_keeps_every_row_id_and_column(source, tmp_path):
    before = fingerprint(source)
    result = migrate(source, tmp_path / "delta", batch_rows=16)
    delta = DeltaStore(str(tmp_path / "delta"))
    assert_same_store(source, delta)
    reader = StoreReader(source)
    for table in TABLES:
        counts = result["tables"][table]
        assert counts["segments"] == len(reader.files(table)) and counts["already"] == 0
        assert counts["rows"] == reader.count(table)
        assert counts["version"] == delta.version(table) == counts["segments"] - 1
    assert result["versions"] == delta.snapshot()
    skipped = result["not_migrated"]
    assert len(skipped["runs"]) == 1 and skipped["profiles"] == ["profiles/text.profile"]
    assert skipped["settings"] == ["framework.json"] and "training runs" in skipped["reason"]
    assert fingerprint(source) == before  # the source is never modified
    assert delta.reserve_ids(10) > max_id(source) == result["ids"]["max_id"]


def test_segments_with_more_columns_are_merged(source, tmp_path):
    migrate(source, tmp_path / "delta", tables=["retraining"])
    delta = DeltaStore(str(tmp_path / "delta"))
    local = StoreReader(source).read("retraining")
    moved = delta.read("retraining").sort_by("id")
    assert moved["rating"].null_count == pc.sum(pc.is_null(local["rating"])).as_py() > 0
    assert delta.version("metrics") is None  # only the tables asked for
    first = [e for e in delta.history("retraining") if e.get("version") == 0][0]
    assert first[SEGMENT_KEY] == StoreReader(source).files("retraining")[0].name


def test_migrate_to_s3_keeps_every_row_and_later_ids_are_above(source, s3_uri):
    result = migrate(source, s3_uri)
    delta = DeltaStore(s3_uri)
    assert_same_store(source, delta)
    assert result["target"] == s3_uri and result["ids"]["next_free"] == 1 << 40
    assert delta.reserve_ids(100) > max_id(source)
    again = migrate(source, s3_uri)  # nothing left to do
    assert all(c["segments"] == 0 for c in again["tables"].values())
    assert_same_store(source, delta)


class Interrupt(OSError):
    pass


def interrupt_after(monkeypatch, commits: int) -> list[str]:
    """Make ``DeltaStore.write`` die in the middle of the commit after ``commits`` data commits
    (having read part of the segment, as a killed process would); the tables it committed."""
    real, done = DeltaStore.write, []

    def write(self, table, data, metadata=None):
        if table != "_ids" and len(done) == commits:
            if isinstance(data, pa.RecordBatchReader):
                data.read_next_batch()
            raise Interrupt("killed")
        version = real(self, table, data, metadata)
        if table != "_ids":
            done.append(table)
        return version

    monkeypatch.setattr(DeltaStore, "write", write)
    return done


def test_an_interrupted_migration_resumes_without_duplicates_or_gaps(source, tmp_path):
    target = tmp_path / "delta"
    with pytest.MonkeyPatch.context() as mp:
        interrupt_after(mp, 3)
        with pytest.raises(Interrupt):
            migrate(source, target, batch_rows=8)
    with pytest.MonkeyPatch.context() as mp:
        interrupt_after(mp, 7)
        with pytest.raises(Interrupt):
            migrate(source, target, batch_rows=8)
    result = migrate(source, target)
    reader, delta = StoreReader(source), DeltaStore(str(target))
    segments = sum(len(reader.files(t)) for t in TABLES)
    assert sum(c["already"] for c in result["tables"].values()) == 3 + 7
    assert sum(c["segments"] for c in result["tables"].values()) == segments - 10
    assert_same_store(source, delta)
    assert delta.version("_ids") == 0  # block 0 was reserved once, by the first run
    assert delta.reserve_ids() == 1 << 40


def test_a_target_whose_ids_were_handed_out_is_refused(source, tmp_path):
    target = DeltaStore(str(tmp_path / "delta"))
    target.reserve_ids(10)  # e.g. a `curate batch` job wrote rows with ids 0..9 first
    with pytest.raises(StoreError, match="handed out the ids"):
        migrate(source, target.root)
    assert target.version("retraining") is None  # refused before any row was copied


def test_a_target_with_another_stores_segments_is_refused(source, tmp_path):
    other = Store(tmp_path / "other")
    other.write("metrics", pa.table({"metric": ["rows"], "value": [1.0]}))
    migrate(other.root, tmp_path / "delta")
    with pytest.raises(StoreError, match="migrated from another store"):
        migrate(source, tmp_path / "delta")


def test_a_value_that_does_not_fit_the_targets_column_is_refused(tmp_path):
    local = Store(tmp_path / "local")
    local.write("retraining", pa.table({"id": [1], "score": [1]}))
    migrate(local.root, tmp_path / "delta")
    # Without the check delta-rs would store 1.5 in the int64 column as 1.
    local.write("retraining", pa.table({"id": [2], "score": [1.5]}))
    with pytest.raises(StoreError, match="does not fit the column types"):
        migrate(local.root, tmp_path / "delta")
    assert DeltaStore(str(tmp_path / "delta")).read("retraining")["score"].to_pylist() == [1]


def test_sources_and_targets_that_are_not_stores(tmp_path):
    with pytest.raises(StoreError, match="is not a curate store"):
        migrate(tmp_path / "missing", tmp_path / "delta")
    local = Store(tmp_path / "local")
    with pytest.raises(ConfigError, match="inside the source store"):
        migrate(local.root, local.root / "delta")
    with pytest.raises(ConfigError, match="is a local curate store"):
        migrate(local.root, Store(tmp_path / "second").root)
    with pytest.raises(ConfigError, match="unknown table"):
        migrate(local.root, tmp_path / "delta", tables=["retraining", "runs"])
    assert not (tmp_path / "missing").exists() and not (tmp_path / "delta").exists()


def test_cli_migrate_prints_a_summary_and_what_stayed(source, tmp_path, capsys):
    target = tmp_path / "delta"
    assert main(["migrate", str(source), str(target), "--tables", "metrics,alerts"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[1].split() == ["table", "segments", "rows", "already", "version"]
    metrics = next(line.split() for line in out.splitlines() if line.startswith("metrics"))
    assert metrics[1:3] == [str(len(StoreReader(source).files("metrics"))),
                            str(StoreReader(source).count("metrics"))]  # fmt: skip
    assert "not migrated" in out and "runs: run-" in out and "profiles/text.profile" in out
    assert "metrics/part-" in err  # a line per segment
    assert DeltaStore(str(target)).version("retraining") is None
    assert main(["migrate", str(source), str(target), "--json", "-q"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["tables"]["metrics"]["already"] == result["tables"]["metrics"]["version"] + 1
    assert main(["migrate", str(source), "ftp://host/store"]) == 1
    assert "'ftp://' is not supported" in capsys.readouterr().err
    assert main(["migrate", str(tmp_path / "nothing"), str(target)]) == 1
    assert "is not a curate store" in capsys.readouterr().err


def test_a_migration_resumed_after_the_source_was_compacted_copies_nothing_twice(source, tmp_path):
    import shutil

    from curate.compaction import compact

    copy = tmp_path / "source"
    shutil.copytree(source, copy)
    first = migrate(copy, tmp_path / "delta")
    compact(copy, tables="metrics,quarantine,alerts", min_age=0, grace=0)
    assert len(StoreReader(copy).files("metrics")) < first["tables"]["metrics"]["segments"]
    again = migrate(copy, tmp_path / "delta")
    assert all(again["tables"][t]["rows"] == 0 for t in TABLES)
    assert_same_store(copy, DeltaStore(str(tmp_path / "delta")))
