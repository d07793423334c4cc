"""Batch curation of a Spark DataFrame: the map step in ``mapInArrow``, the reduce on the driver.

A recipe, not another engine of ``curate batch``: Spark reads and partitions the data as it
always does, each partition's Arrow batches go through the job's
:class:`~curate.scale.curation.Curator` (what :func:`~curate.scale.curation.curate_table`
runs), and the driver combines the results with the reduce and write step of
:func:`curate.scale.job.run` (:func:`curate.scale.job.curate_into`), so the store receives
what ``curate batch`` writes for the same rows in the same order::

    from curate.scale.spark import curate_dataframe, stored_dataframe
    summary = curate_dataframe(spark.read.parquet("/data/reviews"), config)
    edges = stored_dataframe(spark, summary["store"])      # the edge cases, as a DataFrame

The source order is the DataFrame's: partitions by index, rows in partition order (what
``df.collect()`` returns). :func:`curate_dataframe` runs three steps:

1. :func:`partition_rows` counts each partition's rows (a Spark aggregate on
   ``spark_partition_id()``: no Python worker, and no column read for a file scan) and
   :func:`first_rows` turns them into each partition's first source row, so row ``r`` gets id
   ``first_id + r`` and its integrity windows, as in a local run, whichever executor has it.
2. ``df.mapInArrow(PartitionCurator(work, offsets), RESULT_SCHEMA)`` curates each Arrow batch
   and yields one row for it: partition, first row, rows, and the result (edge cases and
   quarantine as Arrow IPC, the partial metrics) pickled as ``engine="ray"`` hands it back.
3. The results are cached on the executors (the map runs in parallel, once), checked to cover
   every counted row once and in order (:func:`check_results`), then streamed to the driver a
   partition at a time and reduced in that order: ``dedupe``, integrity windows and drift
   windows span partitions exactly as they span fragments.

The DataFrame is evaluated twice (steps 1 and 2); both must see the same rows in the same
partitions, as for ``RDD.zipWithIndex``. A file scan does; for anything nondeterministic
(``sample``, a shuffle whose order varies, a UDF calling a service), ``localCheckpoint()``
or ``persist()`` it first. A mismatch is caught before anything is written.

>>> first_rows([3, 0, 2])
[0, 3, 3]
"""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from curate.config import Config
from curate.delta_store import open_store
from curate.errors import ConfigError
from curate.scale.job import _open, _Work, curate_into

#: What :class:`PartitionCurator` yields, one row per Arrow batch curated (Spark DDL).
RESULT_SCHEMA = "partition INT, first_row BIGINT, rows BIGINT, payload BINARY"
_INSTALL = "pip install 'curate[spark]' (PySpark 4; Spark needs Java 17 or later, JAVA_HOME)"


def curate_dataframe(
    df: Any, config: Config | dict[str, Any], *, store: Any = None, progress: bool = True
) -> dict[str, Any]:
    """Curate every row of a Spark DataFrame into the config's store; the job's summary.

    ``store`` is :func:`curate.scale.job.run`'s (a path, a Delta store URI or a store object,
    else ``retraining_folder``), and so is the summary; ``fragments`` counts Spark partitions.
    The config is checked before Spark runs anything: checks batch mode refuses are refused.

    >>> curate_dataframe([{"text": "a"}], {"checks": []})
    Traceback (most recent call last):
    curate.errors.ConfigError: curate_dataframe takes a pyspark.sql.DataFrame, not list
    """
    if not hasattr(df, "mapInArrow"):
        raise ConfigError(
            f"curate_dataframe takes a pyspark.sql.DataFrame, not {type(df).__name__}"
        )
    _pyspark()
    started = time.monotonic()
    cfg, out = _open(config, store)
    counts = partition_rows(df)
    offsets = first_rows(counts)

    def results(work: _Work) -> Iterator[dict[str, Any]]:
        return _ordered_results(df.mapInArrow(PartitionCurator(work, offsets), RESULT_SCHEMA),
                                counts)  # fmt: skip

    job = curate_into(cfg, out, sum(counts), results, progress)
    seconds = time.monotonic() - started
    return {
        "engine": "spark", "source": "DataFrame", "store": job["store"], "rows": job["rows"],
        "fragments": len(counts), **{k: v for k, v in job.items() if k not in ("store", "rows")},
        "seconds": round(seconds, 3),
        "rows_per_s": round(job["rows"] / seconds, 1) if seconds else None,
    }  # fmt: skip


def partition_rows(df: Any) -> list[int]:
    """Rows of each partition of ``df``, by partition index (one aggregate job).

    Partitions past the last non-empty one are left out: they start no source row.

    >>> partition_rows(None)
    Traceback (most recent call last):
    curate.errors.ConfigError: partition_rows takes a pyspark.sql.DataFrame, not NoneType
    """
    if not hasattr(df, "groupBy"):
        raise ConfigError(f"partition_rows takes a pyspark.sql.DataFrame, not {type(df).__name__}")
    functions = _pyspark().sql.functions
    pid = functions.spark_partition_id().alias("partition")
    found = {r["partition"]: r["count"] for r in df.groupBy(pid).count().collect()}
    counts = [0] * (max(found) + 1 if found else 0)
    for partition, n in found.items():
        counts[partition] = int(n)
    return counts


def first_rows(counts: list[int]) -> list[int]:
    """The first source row of each partition, from the partitions' row counts.

    >>> first_rows([2, 5])
    [0, 2]
    """
    out, first = [], 0
    for n in counts:
        out.append(first)
        first += n
    return out


class PartitionCurator:
    """The ``mapInArrow`` function: one partition's Arrow batches in, result rows out.

    Picklable (the job's config and signals travel with it). Outside a Spark task it curates
    as partition 0.

    >>> import pickle, pyarrow as pa
    >>> from curate.scale.curation import batch_config
    >>> from curate.signals import Signal
    >>> cfg = batch_config({"checks": [{"type": "edge_case",
    ...                                 "signal_formulae": Signal.contains("nike")}]})
    >>> curator = PartitionCurator(_Work(cfg, 100, 0, None), first_rows([3]))
    >>> batches = pa.table({"text": ["puma", "nike", "nike air"]}).to_batches(max_chunksize=2)
    >>> out = pa.Table.from_batches(list(curator(iter(batches))))
    >>> out.column("first_row").to_pylist(), out.column("rows").to_pylist()
    ([0, 2], [2, 1])
    >>> edges = pickle.loads(out["payload"][0].as_py())["edges"]
    >>> pa.ipc.open_stream(edges).read_all()["id"].to_pylist()
    [101]
    """

    def __init__(self, work: _Work, offsets: list[int]) -> None:
        self.work, self.offsets = work, offsets

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """Curate each batch of this task's partition in turn; one result row per batch."""
        partition = _partition_id()
        # A partition the count did not see starts past the end: check_results refuses it.
        row = self.offsets[partition] if partition < len(self.offsets) else -1
        curator = self.work.curator()
        for batch in batches:
            if not batch.num_rows:
                continue
            table = pa.Table.from_batches([batch])
            result = self.work.curate(table, row, curator)
            yield pa.RecordBatch.from_pydict(
                {
                    "partition": pa.array([partition], pa.int32()),
                    "first_row": pa.array([row], pa.int64()),
                    "rows": pa.array([batch.num_rows], pa.int64()),
                    "payload": pa.array([pickle.dumps(result, protocol=5)], pa.binary()),
                }
            )
            row += batch.num_rows


def check_results(index: list[tuple[int, int, int]], counts: list[int]) -> None:
    """Refuse results that do not cover each partition's counted rows, in partition order.

    ``index`` is ``(partition, first_row, rows)`` of each result row, as Spark returns them.

    >>> check_results([(0, 0, 2), (2, 2, 1)], [2, 0, 1])
    >>> check_results([(0, 0, 3), (1, 2, 1)], [2, 1])
    Traceback (most recent call last):
    curate.errors.ConfigError: partition 0 had 2 rows when counted but 3 when curated: the DataFrame is not deterministic; localCheckpoint() or persist() it before curate_dataframe
    """
    curated = [0] * max(len(counts), max((p for p, _, _ in index), default=-1) + 1)
    for partition, _, n in index:
        curated[partition] += n
    for partition, n in enumerate(curated):
        counted = counts[partition] if partition < len(counts) else 0
        if n != counted:
            raise ConfigError(
                f"partition {partition} had {counted} rows when counted but {n} when curated: "
                "the DataFrame is not deterministic; localCheckpoint() or persist() it before "
                "curate_dataframe"
            )
    list(_check_contiguous((first, n) for _, first, n in index))


def stored_dataframe(spark: Any, store: Any, table: str = "retraining") -> Any:
    """A table of a store (local or Delta) read by Spark: its current data files as Parquet.

    For a Delta store on object storage, Spark needs that filesystem (e.g. hadoop-aws for
    ``s3a://``). A table with no rows yet is a :class:`ConfigError`.

    >>> import tempfile
    >>> stored_dataframe(None, tempfile.mkdtemp())
    Traceback (most recent call last):
    curate.errors.ConfigError: table 'retraining' of store ... has no rows yet
    """
    out = open_store(store) if isinstance(store, str | os.PathLike) else store
    files = [str(f) for f in out.files(table)]
    if not files:
        raise ConfigError(f"table {table!r} of store {out.root} has no rows yet")
    return spark.read.parquet(*files)


def _ordered_results(mapped: Any, counts: list[int]) -> Iterator[dict[str, Any]]:
    """The mapped results in source order, the map run once, in parallel, on the executors."""
    storage = _pyspark().StorageLevel.MEMORY_AND_DISK
    mapped = mapped.persist(storage)
    try:
        # This action fills the cache (every column) and returns only the small index.
        index = [tuple(r) for r in mapped.select("partition", "first_row", "rows").collect()]
        check_results(index, counts)
        rows = mapped.select("first_row", "rows", "payload").toLocalIterator()
        for row in _check_contiguous(rows):
            yield pickle.loads(row["payload"])
    finally:
        mapped.unpersist()


def _check_contiguous(rows: Any) -> Iterator[Any]:
    """``rows`` (``(first_row, rows, ...)``) as they come, refused where one does not start
    where the one before it ended: the reduce takes results in source order only."""
    expected = 0
    for row in rows:
        if row[0] != expected:
            raise ConfigError(
                f"Spark returned source row {row[0]} where row {expected} was due: "
                "curate_dataframe reduces results in partition order only"
            )
        expected += row[1]
        yield row


def _partition_id() -> int:
    try:
        from pyspark import TaskContext
    except ImportError:  # not on a Spark executor: one partition
        return 0
    context = TaskContext.get()
    return context.partitionId() if context is not None else 0


def _pyspark() -> Any:
    try:
        import pyspark
        import pyspark.sql.functions  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"curating a Spark DataFrame needs PySpark: {_INSTALL}") from exc
    return pyspark
