"""Batch curation (curate.scale): the same result on every engine and partitioning, from a
local folder or S3, equal to what the Framework's writer makes of the same rows."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from curate import Framework
from curate.cli import main
from curate.errors import ConfigError
from curate.scale.job import run
from curate.signals import Signal
from curate.store_reader import StoreReader

WORDS = np.array(["nike shoes comfortable", "puma socks", "adidas hoodie durable",
                  "nike tshirts", "plain text", None], dtype=object)  # fmt: skip


def rows(n: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    # Some unique suffixes, so exact dedupe keeps more than one row per word.
    suffix = rng.integers(0, 400, n).astype(str)
    text = [
        None if w is None else f"{w} {s}" for w, s in zip(rng.choice(WORDS, n), suffix, strict=True)
    ]
    score = rng.normal(0, 1, n)
    score[rng.random(n) < 0.02] = 9.0
    return pa.table({"text": text, "score": score, "outputs": rng.random(n)})


def config(store, **extra) -> dict:
    rng = np.random.default_rng(1)
    reference = pd.DataFrame({"score": rng.normal(0, 1, 2000),
                              "text": [w for w in rng.choice(WORDS[:5], 2000)]})  # fmt: skip
    return {
        "checks": [
            {"type": "edge_case", "signal_formulae": Signal.contains("nike") & (Signal.confidence() < 0.7),
             "dedupe": "exact"},
            {"type": "edge_case", "signal_formulae": Signal.contains("durable")},
            {"type": "data_integrity", "integrity_type": "non_null", "window": 7000,
             "measurable_args": {"feature_name": "text"}},
            {"type": "data_integrity", "integrity_type": "between", "lower": -5, "upper": 5,
             "window": 3000, "measurable_args": {"feature_name": "score"}},
            {"type": "data_drift", "measurable_args": {"feature_name": "score"},
             "reference_dataset": reference, "window": 5000},
            {"type": "data_drift", "measurable_args": {"feature_name": "text"},
             "reference_dataset": reference, "window": 6000},
        ],
        "retraining_folder": str(store),
        **extra,
    }  # fmt: skip


def stored(summary: dict) -> dict[str, pa.Table]:
    """The job's four tables with timestamps relative to its start (runs start at different
    times; everything else must be equal)."""
    reader, start = StoreReader(summary["store"]), summary["start_us"]
    out = {}
    for name in ("retraining", "quarantine", "metrics", "alerts"):
        table = reader.read(name)
        if "writer" in table.column_names:
            table = table.drop(["writer"])
        for col in ("ts", "window_start", "window_end"):
            if col in table.column_names:
                us = (
                    table.column(col).cast(pa.int64())
                    if pa.types.is_timestamp(table.schema.field(col).type)
                    else table.column(col)
                )
                at = table.column_names.index(col)
                table = table.set_column(at, col, pa.compute.subtract(us, start))
        if "message" in table.column_names:
            messages = [
                re.sub(r"\(\d{4}-[^)]* to [^)]*\)", "", m)
                for m in table.column("message").to_pylist()
            ]
            table = table.set_column(
                table.column_names.index("message"), "message", pa.array(messages)
            )
        out[name] = table
    return out


def write_parts(table: pa.Table, fs: pafs.FileSystem, folder: str, parts: int) -> None:
    fs.create_dir(folder)
    step = -(-table.num_rows // parts)
    for i in range(parts):
        with fs.open_output_stream(f"{folder}/part-{i:03d}.parquet") as fh:
            pq.write_table(table.slice(i * step, step), fh, row_group_size=1500)


def test_ray_on_s3_equals_local_row_for_row(tmp_path, ray_local, bucket, s3):
    """~20k rows: Ray Data reading S3 (moto) in 3,000-row fragments gives exactly what one
    local process gives reading a local folder in 100,000-row fragments."""
    table = rows(20_000)
    write_parts(table, pafs.LocalFileSystem(), str(tmp_path / "src"), 2)
    s3fs = pafs.S3FileSystem(endpoint_override=s3["endpoint"], scheme="http", access_key="testing",
                             secret_key="testing", region="us-east-1")  # fmt: skip
    write_parts(table, s3fs, f"{bucket}/src", 5)
    local = run(config(tmp_path / "a"), str(tmp_path / "src"), progress=False)
    source = f"s3://{bucket}/src?endpoint_override={s3['endpoint']}&scheme=http"
    on_ray = run(config(tmp_path / "b"), source, "ray", progress=False, fragment_rows=3000)
    assert on_ray["rows"] == local["rows"] == 20_000
    assert on_ray["fragments"] > local["fragments"]
    a, b = stored(local), stored(on_ray)
    for name in a:
        assert a[name].num_rows > 0, name
        assert a[name].equals(b[name]), name
    # Dedupe across fragments: no text twice among the first check's rows.
    texts = [
        t
        for t, r in zip(
            a["retraining"]["text"].to_pylist(), a["retraining"]["reasons"].to_pylist(), strict=True
        )
        if any(x.startswith("contains(text, 'nike')") for x in r)
    ]
    assert len(texts) == len(set(texts)) > 100
    metrics = a["metrics"].to_pandas()
    windows = metrics[(metrics.metric == "violations") & (metrics.column == "score")]
    assert windows.n.tolist() == [3000] * 6 + [2000]  # windows by source row, whatever the cut
    assert metrics[metrics.metric == "rows_logged"].value.tolist() == [20_000.0]
    drift_windows = metrics[(metrics.monitor == "data_drift") & metrics.summary.notna()]
    assert len(drift_windows) == 4 + 4  # score: 4 of 5,000; text: 3 of 6,000 + the flushed 2,000
    outcomes = StoreReader(local["store"]).outcomes()
    assert outcomes["rows_logged"] == 20_000
    assert (
        outcomes["edge_cases"] + outcomes["quarantined"] + outcomes["rows_not_selected"] == 20_000
    )


def test_batch_selects_what_the_framework_selects(tmp_path):
    """The map step is the writer's own per-batch code: same edge cases, reasons and
    quarantine as logging the rows (dedupe off: its memory is per stream)."""
    table = rows(3000, seed=2)
    cfg = config(tmp_path / "fw")
    cfg["checks"] = [
        dict(c, dedupe=None) if c["type"] == "edge_case" else c for c in cfg["checks"][:4]
    ]
    with Framework({**cfg, "traffic_sample": 0}, strict=True) as fw:
        fw.log(inputs=table.select(["text", "score"]), outputs=table.column("outputs"))
    summary = run({**cfg, "retraining_folder": str(tmp_path / "job")}, _parquet(tmp_path, table),
                  progress=False, fragment_rows=700)  # fmt: skip
    framework, job = StoreReader(tmp_path / "fw"), StoreReader(summary["store"])
    for name, cols in (("retraining", ["text", "score", "reasons"]),
                       ("quarantine", ["check", "column", "value", "reason"])):  # fmt: skip
        # The job lists quarantine entries by row id (a batch lists them check by check).
        mine, theirs = framework.read(name), job.read(name)
        mine = mine.take(pa.compute.sort_indices(mine, [("id", "ascending")]))
        assert mine.num_rows > 10, name
        assert mine.select(cols).equals(theirs.select(cols)), name
    assert job.outcomes() == framework.outcomes()


def _parquet(tmp_path, table) -> str:
    path = tmp_path / "src.parquet"
    pq.write_table(table, path, row_group_size=500)
    return str(path)


def test_jsonl_and_csv_sources_and_the_cli(tmp_path, capsys):
    table = rows(1200, seed=3).select(["text", "score"])
    (tmp_path / "src").mkdir()
    table.slice(0, 600).to_pandas().to_json(
        tmp_path / "src" / "a.jsonl", orient="records", lines=True
    )
    table.slice(600).to_pandas().to_csv(tmp_path / "src" / "b.csv", index=False)
    (tmp_path / "cfg.py").write_text(
        "from curate import Signal\n"
        "config = {'checks': [{'type': 'edge_case', 'signal_formulae': Signal.contains('puma')}]}\n"
    )
    code = main(["batch", str(tmp_path / "src"), "--config", str(tmp_path / "cfg.py"),
                 "--store", str(tmp_path / "store"), "-q"])  # fmt: skip
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and summary["rows"] == 1200 and summary["fragments"] == 2
    kept = StoreReader(tmp_path / "store").read("retraining")
    expected = sum("puma" in (t or "") for t in table.column("text").to_pylist())
    assert kept.num_rows == summary["edge_cases"] == expected > 0
    assert kept.column("id").to_pylist() == sorted(kept.column("id").to_pylist())


@pytest.mark.parametrize(
    "check, words",
    [
        ({"type": "concept_drift", "algorithm": "DDM"}, "concept_drift checks depend on the order"),
        ({"type": "data_integrity", "integrity_type": "non_null", "window": "1h",
          "measurable_args": {"feature_name": "text"}}, "source rows have no log time"),
        ({"type": "data_integrity", "integrity_type": "duplicate",
          "measurable_args": {"feature_name": "text"}}, "use an edge_case check's dedupe"),
    ],
)  # fmt: skip
def test_order_dependent_checks_are_refused(tmp_path, check, words):
    with pytest.raises(ConfigError, match=re.escape(words)):
        run({"checks": [check], "retraining_folder": str(tmp_path)}, _parquet(tmp_path, rows(10)))


def test_unsupported_source_scheme_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="'ftp://' is not supported"):
        run({"checks": [], "retraining_folder": str(tmp_path)}, "ftp://host/data.parquet")
    with pytest.raises(ConfigError, match="no such file or folder"):
        run({"checks": [], "retraining_folder": str(tmp_path)}, str(tmp_path / "missing"))
