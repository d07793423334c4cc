"""The Spark recipe (curate.scale.spark): a DataFrame curated through ``mapInArrow`` gives the
store exactly what ``curate batch`` (engine="local") gives for the same rows, on real review text.

One local[2] SparkSession, bound to 127.0.0.1 with no UI, serves the module (a JVM start is
the cost of about 10 s). Skipped, with the reason, without PySpark or Java.
"""

from __future__ import annotations

import os
import pickle
import re
import shutil
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import real_corpora as rc

from curate.errors import ConfigError
from curate.scale import spark as recipe
from curate.scale.curation import batch_config, curate_table
from curate.scale.job import _Work, run
from curate.signals import Signal
from curate.store_reader import StoreReader

from .test_batch_job import stored

ROWS = 20_000


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and os.path.exists(os.path.join(home, "bin", "java")):
        return os.path.join(home, "bin", "java")
    return shutil.which("java")


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip(
        "pyspark", reason="the Spark recipe needs PySpark: pip install 'curate[spark]'"
    )
    if _java() is None:
        pytest.skip("the Spark recipe needs Java 17+: set JAVA_HOME or put java on PATH")
    from pyspark.sql import SparkSession

    # Executors run this interpreter (its packages), bound to loopback like the driver.
    env = {"SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("curate-spark-recipe")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.showConsoleProgress", "false")
        # Several uneven partitions from one small file; Arrow batches cut inside them.
        .config("spark.sql.files.maxPartitionBytes", str(256 * 1024))
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "2500")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> tuple[pa.Table, str]:
    """~20k rows: real review snippets (some repeated, as real sources repeat) with a few
    missing, the film's name, a synthetic score with outliers and a model's confidence."""
    if not rc.available():
        pytest.skip(rc.SKIP_REASON)
    reviews = rc.reviews()
    rng = np.random.default_rng(7)
    pick = rng.integers(0, len(reviews), ROWS)
    text = reviews["text"].to_numpy(object)[pick].copy()
    text[rng.random(ROWS) < 0.02] = None
    score = rng.normal(0, 1, ROWS)
    score[rng.random(ROWS) < 0.02] = 9.0
    table = pa.table({
        "text": pa.array(text, pa.string()),
        "movie": pa.array(reviews["movie_name"].to_numpy(object)[pick], pa.string()),
        "score": score,
        "outputs": rng.random(ROWS),
    })  # fmt: skip
    path = tmp_path_factory.mktemp("spark-src") / "reviews.parquet"
    pq.write_table(table, path, row_group_size=1500)
    return table, str(path)


def config(store, reviews: pd.DataFrame | None = None, **extra) -> dict:
    reviews = rc.reviews() if reviews is None else reviews
    rng = np.random.default_rng(1)
    reference = pd.DataFrame({
        "score": rng.normal(0, 1, 3000),
        "movie": reviews["movie_name"].sample(3000, random_state=3).to_numpy(),
    })  # fmt: skip
    return {
        "checks": [
            {"type": "edge_case", "dedupe": "exact",
             "signal_formulae": Signal.contains("boring") & (Signal.confidence() < 0.7)},
            {"type": "edge_case", "signal_formulae": Signal.contains("masterpiece")},
            {"type": "data_integrity", "integrity_type": "non_null", "window": 7000,
             "measurable_args": {"feature_name": "text"}},
            {"type": "data_integrity", "integrity_type": "between", "lower": -5, "upper": 5,
             "window": 3000, "measurable_args": {"feature_name": "score"}},
            {"type": "data_drift", "measurable_args": {"feature_name": "score"},
             "reference_dataset": reference, "window": 5000},
            {"type": "data_drift", "measurable_args": {"feature_name": "movie"},
             "reference_dataset": reference, "window": 6000},
        ],
        "retraining_folder": str(store),
        "batch_size": 4000,
        **extra,
    }  # fmt: skip


def test_dataframe_equals_the_local_job_row_for_row(spark, source, tmp_path, monkeypatch):
    """Several uneven partitions, Arrow batches cut inside them: the four stored tables, ids
    included, equal engine="local"'s; dedupe and windows span partitions; each partition is
    curated once (the results are cached, then streamed in order)."""
    table, path = source
    calls = tmp_path / "calls"
    calls.mkdir()

    class Counting(recipe.PartitionCurator):  # local, so Spark ships it by value
        def __call__(self, batches):
            (calls / f"{recipe._partition_id()}-{os.getpid()}-{id(self)}").touch()
            yield from super().__call__(batches)

    monkeypatch.setattr(recipe, "PartitionCurator", Counting)
    df = spark.read.parquet(path)
    assert df.rdd.getNumPartitions() > 2
    counts = recipe.partition_rows(df)
    assert len(set(counts)) > 1 and sum(counts) == ROWS  # uneven, as a file scan cuts them
    # The premise: Spark's order (partition, then position) is the file's order.
    assert df.toArrow().equals(table)

    local = run(config(tmp_path / "local"), path, progress=False)
    on_spark = recipe.curate_dataframe(df, config(tmp_path / "spark"), progress=False)
    assert on_spark["engine"] == "spark" and on_spark["fragments"] == len(counts)
    for key in ("rows", "edge_cases", "quarantine_entries", "metric_rows", "alerts"):
        assert on_spark[key] == local[key], key
    a, b = stored(local), stored(on_spark)
    for name in a:
        assert a[name].num_rows > 0, name
        assert a[name].equals(b[name]), name
    # Ids by source row: the job's first id plus the row's position in the file.
    edges = StoreReader(on_spark["store"]).read("retraining")
    rows = np.asarray(edges["id"].to_pylist()) - on_spark["first_id"]
    assert edges["text"].to_pylist() == table["text"].take(pa.array(rows)).to_pylist()
    boring = [
        t
        for t, r in zip(edges["text"].to_pylist(), edges["reasons"].to_pylist(), strict=True)
        if any("'boring'" in x for x in r)
    ]
    assert len(boring) == len(set(boring)) > 20  # dedupe across partitions
    metrics = b["metrics"].to_pandas()
    windows = metrics[(metrics.metric == "violations") & (metrics.column == "score")]
    assert windows.n.tolist() == [3000] * 6 + [2000]
    assert metrics[metrics.metric == "rows_logged"].value.tolist() == [float(ROWS)]
    assert StoreReader(on_spark["store"]).outcomes() == StoreReader(local["store"]).outcomes()
    curated = sorted(int(p.name.split("-")[0]) for p in calls.iterdir())
    assert curated == list(range(len(counts)))


def test_other_partitions_and_reading_the_result_back(spark, source, tmp_path):
    """In-memory frames unioned, one of them filtered to an empty partition, give the same
    store; stored_dataframe reads the edge cases back into Spark."""
    from pyspark.sql import functions as F

    table, _ = source
    part = table.slice(0, ROWS // 2)
    # The middle frame scans two one-row files, a partition each; the filter (run in each
    # partition, not folded away as on an in-memory frame) leaves one of them empty.
    (tmp_path / "mid").mkdir()
    for row in (3333, 3334):
        pq.write_table(part.slice(row, 1), tmp_path / "mid" / f"{row}.parquet")
    middle = spark.read.parquet(str(tmp_path / "mid"))
    middle = middle.where(F.col("score") == part["score"][3333].as_py())
    df = spark.createDataFrame(part.slice(0, 3333)).union(middle)
    df = df.union(spark.createDataFrame(part.slice(3335), schema=df.schema))
    counts = recipe.partition_rows(df)
    assert 0 in counts[:-1] and sum(counts) == part.num_rows - 1
    kept = pa.concat_tables([part.slice(0, 3334), part.slice(3335)])
    pq.write_table(kept, tmp_path / "kept.parquet")
    local = run(config(tmp_path / "local"), str(tmp_path / "kept.parquet"), progress=False)
    on_spark = recipe.curate_dataframe(df, config(tmp_path / "spark"), progress=False)
    a, b = stored(local), stored(on_spark)
    for name in a:
        assert a[name].num_rows > 0 and a[name].equals(b[name]), name
    back = recipe.stored_dataframe(spark, on_spark["store"]).orderBy("id").toArrow()
    mine = StoreReader(on_spark["store"]).read("retraining")
    for column in ("id", "text", "score", "reasons"):
        assert back[column].to_pylist() == mine[column].to_pylist(), column


@pytest.mark.parametrize(
    "check",
    [
        {"type": "concept_drift", "algorithm": "DDM"},
        {"type": "data_integrity", "integrity_type": "non_null", "window": "1h",
         "measurable_args": {"feature_name": "text"}},
        {"type": "data_integrity", "integrity_type": "duplicate",
         "measurable_args": {"feature_name": "text"}},
    ],
)  # fmt: skip
def test_checks_batch_mode_refuses_are_refused_alike(spark, source, tmp_path, check):
    cfg = {"checks": [check], "retraining_folder": str(tmp_path)}
    with pytest.raises(ConfigError) as local:
        run(cfg, source[1], progress=False)
    with pytest.raises(ConfigError) as on_spark:
        recipe.curate_dataframe(spark.read.parquet(source[1]), cfg, progress=False)
    assert str(on_spark.value) == str(local.value)
    assert not StoreReader(tmp_path).files("retraining")


def test_partition_curator_is_curate_table_per_batch(source):
    """Outside Spark the map function is curate_table on each batch, ids from first_rows."""
    table = source[0].slice(0, 3000)
    cfg = batch_config(config("/unused"))
    work = _Work(cfg, 1000, 0, None)
    batches = table.to_batches(max_chunksize=700)
    out = pa.Table.from_batches(list(recipe.PartitionCurator(work, [0])(iter(batches))))
    assert out["first_row"].to_pylist() == list(range(0, 3000, 700))
    for (first, payload), batch in zip(
        zip(out["first_row"].to_pylist(), out["payload"].to_pylist(), strict=True),
        batches,
        strict=True,
    ):
        got = pa.ipc.open_stream(pickle.loads(payload)["edges"]).read_all()
        want = curate_table(pa.Table.from_batches([batch]), cfg, id_base=1000, first_row=first)[0]
        assert got.equals(want)


def test_results_that_miss_the_count_are_refused():
    recipe.check_results([(0, 0, 4), (0, 4, 2), (3, 6, 1)], [6, 0, 0, 1])
    with pytest.raises(ConfigError, match=r"partition 1 had 0 rows when counted but 2"):
        recipe.check_results([(0, 0, 6), (1, -1, 2)], [6])
    with pytest.raises(ConfigError, match=re.escape("returned source row 4 where row 0")):
        recipe.check_results([(1, 4, 1), (0, 0, 4)], [4, 1])  # counts fine, order wrong


def test_without_pyspark_the_error_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(ConfigError, match=re.escape("pip install 'curate[spark]'")):
        recipe.partition_rows(type("LooksLikeADataFrame", (), {"groupBy": None})())
