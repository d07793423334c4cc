"""A bounded, uniform sample of all logged traffic, kept in the store's ``traffic`` table.

Every logged row, edge case or not, is offered to the sample. Each row draws a uniform random
key; the sample is the ``size`` rows with the smallest keys ("bottom-k" sampling). That sample
is uniform over everything logged, and it **merges**: the bottom-k of the union of several
writers' rows is the bottom-k of their bottom-k's, so many processes (and restarts) can feed one
store without coordinating.

A writer keeps only the keys of its current sample in memory (``size`` floats) and appends
each row that enters it, with its key, to the append-only ``traffic`` table; rows pushed out
later stay on disk, and readers take the ``size`` smallest keys
(:meth:`curate.store_reader.StoreReader.traffic_sample`). A row enters only when its key is
below the current threshold, so after ``N`` rows about ``size * (1 + ln(N / size))`` rows have
been written: the table grows with the logarithm of the traffic. A writer starting on an
existing store begins from the threshold the store already has.

Rows whose column types differ from the table's (a text column that arrives as numbers) are
left out of the sample rather than making the table unreadable, and so are columns Parquet
cannot store (a struct without fields).

>>> import tempfile, numpy as np
>>> from curate.batch import Batch
>>> from curate.store import Store
>>> store = Store(tempfile.mkdtemp())
>>> sample = Reservoir(store, size=100, seed=0)
>>> rows = sample.offer(Batch.from_log(np.arange(1000), np.zeros(1000, np.int64),
...                                    {"text": [f"row {i}" for i in range(1000)]}))
>>> _ = store.write(TRAFFIC_TABLE, rows)
>>> store.traffic_sample().num_rows, rows.num_rows >= 100
(100, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.schema_guard import SchemaGuard

TRAFFIC_TABLE = "traffic"
#: The column that holds each sampled row's random key (smaller keys are in the sample).
KEY_COLUMN = "_sample_key"
#: Schema metadata of every traffic segment: the sample size its writer kept.
SIZE_METADATA = b"curate.sample_size"
DEFAULT_SIZE = 20_000
#: Traffic segments to read (``None``: all of them).
Paths = Sequence[Path] | None


class Reservoir:
    """One writer's view of the store's traffic sample: which offered rows enter it."""

    def __init__(self, store: Any, size: int = DEFAULT_SIZE, seed: int | None = None) -> None:
        if size <= 0:
            raise ValueError(f"the traffic sample size must be positive, got {size}")
        self.store = store
        self.size = size
        self._rng = np.random.default_rng(seed)
        self._keys = np.empty(0, dtype=np.float64)
        self._loaded = False
        self._guard: SchemaGuard | None = None

    @property
    def threshold(self) -> float:
        """Keys below this enter the sample (1.0 until the sample is full)."""
        if len(self._keys) < self.size:
            return 1.0
        return float(self._keys.max())

    def _load(self) -> None:
        # Start from the store's own sample, so a restarted writer does not rewrite the first
        # ``size`` rows it sees; and adopt the column types the table already has.
        self._loaded = True
        existing = self.store.read(TRAFFIC_TABLE, columns=[KEY_COLUMN])
        if existing.num_rows and KEY_COLUMN in existing.column_names:
            keys = existing.column(KEY_COLUMN).to_numpy(zero_copy_only=False)
            self._keep(keys[~np.isnan(keys)])
        files = self.store.files(TRAFFIC_TABLE)
        self._guard = SchemaGuard(self.store.schema(TRAFFIC_TABLE) if files else None)

    def _keep(self, keys: np.ndarray) -> None:
        merged = np.concatenate([self._keys, keys])
        if len(merged) > self.size:
            merged = np.partition(merged, self.size - 1)[: self.size]
        self._keys = merged

    def offer(self, batch: Any) -> pa.Table | None:
        """The rows of ``batch`` (a :class:`~curate.batch.Batch`) that enter the sample, with
        their keys in :data:`KEY_COLUMN`, to append to the traffic table; ``None`` if none do."""
        if not self._loaded:
            self._load()
        keys = self._rng.random(len(batch))
        candidates = np.flatnonzero(keys < self.threshold)
        if not len(candidates):
            return None
        self._keep(keys[candidates])
        entered = candidates[keys[candidates] <= self.threshold]
        table = batch.take(entered).stored_table()
        table = table.drop_columns([f.name for f in table.schema if not _writable(f.type)])
        table = table.append_column(KEY_COLUMN, pa.array(keys[entered], pa.float64()))
        assert self._guard is not None
        conformed, rejected = self._guard.conform(table)
        self._guard.learn(conformed.schema)
        if not conformed.num_rows:
            return None
        metadata = {SIZE_METADATA: str(self.size).encode()}
        return conformed.replace_schema_metadata(metadata)


def _writable(kind: pa.DataType) -> bool:
    """False for types Parquet cannot store (a struct without fields, at any depth).

    >>> _writable(pa.struct([])), _writable(pa.list_(pa.int64()))
    (False, True)
    """
    if pa.types.is_struct(kind):
        return kind.num_fields > 0 and all(_writable(f.type) for f in kind)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _writable(kind.value_type)
    return True


def read_sample(
    reader: Any,
    n: int | None = None,
    columns: Sequence[str] | None = None,
    files: Paths = None,
) -> pa.Table:
    """The ``n`` traffic rows with the smallest keys, in key order, from a store reader.

    The first ``m`` rows are themselves a uniform sample of size ``m``, so readers that need two
    disjoint samples take two slices. ``n=None`` returns the sample size its writers kept (the
    smallest, when writers differ); ``files`` restricts it to those traffic segments (a run's
    ``traffic_snapshot``).
    """
    files = reader.files(TRAFFIC_TABLE) if files is None else list(files)
    if not files:
        return pa.table({})
    wanted = None if columns is None else [*columns, KEY_COLUMN]
    table = reader.read(TRAFFIC_TABLE, columns=wanted, files=files)
    if KEY_COLUMN not in table.column_names:
        return pa.table({})
    if n is None:
        sizes = [pq.read_schema(f).metadata or {} for f in files]
        # A copy of a Delta store (curate.delta_mirror) records the size its writers kept,
        # which Delta's data files do not carry.
        mirrored = getattr(reader, "mirror_record", dict)().get("traffic_sample_size")
        kept = table.num_rows if mirrored is None else int(mirrored)
        n = min(int(m.get(SIZE_METADATA, kept)) for m in sizes)
    return table.take(pc.sort_indices(table, [(KEY_COLUMN, "ascending")])[:n])
