"""Read-only access to a store: segments, schemas, counts, runs, settings. Creates nothing.

This is the one place that knows the on-disk layout (``docs/store.md``). The dashboard, the
trainer, the CLI and notebooks read a store only through a :class:`StoreReader`;
:class:`curate.store.Store` extends it with writing. A reader of a folder that does not exist
(yet) sees an empty store, and no method creates a file, a folder or a lock.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp()) / "nothing-here"
>>> reader = StoreReader(root)
>>> reader.exists(), reader.read("metrics").num_rows, reader.runs(), root.exists()
(False, 0, [], False)
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from curate import compaction_log
from curate.errors import ConfigError, StoreError
from curate.lru import LRU
from curate.outcomes import metric_sums, outcomes
from curate.store_runs import RunsReader
from curate.tables import FIXED_SCHEMAS, Metric
from curate.traffic import Paths, read_sample

FORMAT_VERSION = 1
TABLES = ("retraining", "quarantine", "metrics", "alerts", "traffic", "labels")
#: Tables people write beside the logged ones: review decisions (``curate.reviews``). Kept
#: out of TABLES, which the summary, the migration to Delta stores and the checks walk.
SIDE_TABLES = ("reviews",)
SEGMENT_PREFIX, SEGMENT_SUFFIX = "part-", ".parquet"
SETTINGS = "framework.json"
METADATA = "store.json"

# Segments never change once they have their final name, so what is read from one file's
# footer is valid for as long as the process lives; bounded so a long-lived dashboard stays small.
_ROWS = LRU(200_000)
_SCHEMAS = LRU(200_000)


class Segment(NamedTuple):
    """One complete segment as listed: its file name, size and modification time."""

    name: str
    size: int
    mtime_ns: int


def is_segment_name(name: str) -> bool:
    """True for a complete segment's file name (temporaries start with ``.tmp-``)."""
    return name.startswith(SEGMENT_PREFIX) and name.endswith(SEGMENT_SUFFIX)


def local_root(root: str | os.PathLike[str]) -> Path:
    """The folder of a store given as a path or a ``file://`` URI.

    Any other URI is a :class:`ConfigError`: ``Path("s3://bucket/x")`` would silently be a local
    folder ``./s3:/bucket/x``, and rows logged there would never reach the bucket.

    >>> local_root("file:///tmp/store").as_posix()
    '/tmp/store'
    >>> local_root("s3://bucket/store")
    Traceback (most recent call last):
    curate.errors.ConfigError: store 's3://bucket/store': 's3://' URIs are not supported; a store is a local folder path (or a file:// URI)
    """
    text = os.fspath(root)
    if isinstance(text, str) and "\x00" in text:  # the OS would refuse it later, less clearly
        raise ConfigError(f"store {text!r}: a path cannot contain a NUL character")
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]+)://", text) if isinstance(text, str) else None
    if scheme and scheme.group(1).lower() == "file":
        text = text[len("file://") :]
    elif scheme:
        raise ConfigError(
            f"store {text!r}: '{scheme.group(1)}://' URIs are not supported; a store is a local "
            "folder path (or a file:// URI)"
        )
    return Path(text).expanduser().resolve()


class StoreReader(RunsReader):
    """A read-only view of the store at ``root`` (see ``docs/store.md`` for the layout).

    >>> import tempfile, pyarrow as pa
    >>> from curate.store import Store
    >>> store = Store(tempfile.mkdtemp())
    >>> _ = store.write("retraining", pa.table({"id": [1, 2], "text": ["a", "b"]}))
    >>> reader = StoreReader(store.root)
    >>> reader.num_rows(reader.files("retraining")), reader.pending_rows()
    (2, 2)
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = local_root(root)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.root)!r})"

    # -- paths -------------------------------------------------------------------------------
    def path(self, *parts: str) -> Path:
        """A path inside the store; refuses anything that would escape the store root.

        >>> import tempfile
        >>> StoreReader(tempfile.mkdtemp()).path("..", "etc")
        Traceback (most recent call last):
        ...
        curate.errors.StoreError: path '../etc' escapes the store root
        """
        candidate = self.root.joinpath(*parts).resolve()
        if candidate != self.root and self.root not in candidate.parents:
            raise StoreError(f"path {'/'.join(parts)!r} escapes the store root")
        return candidate

    def lock_path(self, name: str) -> Path:
        """The lock file called ``name`` under ``_locks/``."""
        return self.path("_locks", f"{name}.lock")

    def exists(self) -> bool:
        """True when ``root`` holds a store (``store.json`` or one of its folders)."""
        return (self.root / METADATA).exists() or any(
            (self.root / t).is_dir() for t in ("retraining", "metrics", "runs")
        )

    # -- segments ----------------------------------------------------------------------------
    def files(self, table: str) -> list[Path]:
        """Complete segments of ``table``, oldest first (names sort by creation time; the
        sources of a compaction hidden once its merged segment is there)."""
        return [self.root / table / n for n in self.compactions(table).visible]

    def compactions(self, table: str) -> compaction_log.View:
        """``table``'s segments as listed now, with its compaction records read after."""
        return compaction_log.scan(self.root, table)

    def snapshot_files(self, table: str, names: Sequence[str]) -> list[Path]:
        """The segments that hold the rows of segments once listed as ``names`` (a run's
        snapshot): a compacted one as its merged segment, each once, in order.

        >>> StoreReader("/no/store").snapshot_files("labels", ["labels/part-1-w-1.parquet"])[0].name
        'part-1-w-1.parquet'
        """
        return [self.root / table / n for n in self.compactions(table).resolve(names)]

    def segments(self, table: str) -> tuple[Segment, ...]:
        """Complete segments of ``table`` with their size and mtime, sorted by name.

        Readers that cache what they read key their caches on this listing.
        """
        keys = []
        try:
            with os.scandir(self.root / table) as it:
                for entry in it:
                    if not is_segment_name(entry.name):
                        continue
                    try:
                        st = entry.stat()
                    except FileNotFoundError:
                        continue
                    keys.append(Segment(entry.name, st.st_size, st.st_mtime_ns))
        except (FileNotFoundError, NotADirectoryError):
            return ()
        hidden = compaction_log.view(self.root, table, [k.name for k in keys]).forward
        return tuple(sorted(k for k in keys if k.name not in hidden))

    def num_rows(self, files: Sequence[Path]) -> int:
        """Row count of segments from their Parquet footers (cached: segments never change)."""
        total = 0
        for f in files:
            key = str(f)
            n = _ROWS.get(key)
            if n is None:
                n = pq.ParquetFile(f).metadata.num_rows
                _ROWS.put(key, n)
            total += n
        return total

    def count(self, table: str) -> int:
        """Rows in every complete segment of ``table``."""
        return self.num_rows(self.files(table))

    def schema(self, table: str, files: Sequence[Path] | None = None) -> pa.Schema:
        """The union of the segments' schemas (columns added later are nullable in old files)."""
        files = self.files(table) if files is None else list(files)
        if not files:
            return empty_schema(table)
        if table in FIXED_SCHEMAS:  # every segment has (a subset of) this schema
            return FIXED_SCHEMAS[table]
        schemas = []
        for f in files:
            key = str(f)
            schema = _SCHEMAS.get(key)
            if schema is None:
                schema = pq.read_schema(f)
                _SCHEMAS.put(key, schema)
            schemas.append(schema)
        return pa.unify_schemas(schemas, promote_options="permissive")

    def dataset(self, table: str, files: Sequence[Path] | None = None) -> pads.Dataset:
        """A ``pyarrow.dataset`` over complete segments with the unified schema."""
        files = self.files(table) if files is None else list(files)
        return pads.dataset(
            [str(f) for f in files], schema=self.schema(table, files), format="parquet"
        )

    def read(
        self,
        table: str,
        columns: Sequence[str] | None = None,
        files: Sequence[Path] | None = None,
    ) -> pa.Table:
        """Read a table (or the given segments of it) into one Arrow table.

        Columns missing from every segment are left out; columns missing from some segments
        are null there.
        """
        files = self.files(table) if files is None else list(files)
        if not files:
            schema = empty_schema(table)
            if columns is not None:
                schema = pa.schema([schema.field(c) for c in columns if c in schema.names])
            return schema.empty_table()
        dataset = self.dataset(table, files)
        if columns is not None:
            columns = [c for c in columns if c in dataset.schema.names]
        return dataset.to_table(columns=columns)

    def traffic_sample(
        self, n: int | None = None, columns: Sequence[str] | None = None, files: Paths = None
    ) -> pa.Table:
        """The uniform sample of all logged rows, in key order (:func:`curate.traffic.read_sample`)."""
        return read_sample(self, n, columns, files)

    def rows_logged(self) -> int:
        """Rows logged into the store by every writer (the durable ``rows_logged`` metrics)."""
        return self._metric_sums(Metric.ROWS_LOGGED)[Metric.ROWS_LOGGED]

    def _metric_sums(self, *names: str) -> dict[str, int]:
        return metric_sums(self._read_columns, *names)

    def _read_columns(self, table: str, columns: list[str]) -> pa.Table:
        if not self.files(table):
            return pa.table({})
        return self.read(table, columns)

    def outcomes(self) -> dict[str, int]:
        """Where every logged row went. Each is in exactly one of three outcomes, so
        ``rows_logged == edge_cases + quarantined + rows_not_selected``:

        * ``edge_cases``: rows in the retraining set;
        * ``quarantined``: rows held in quarantine and kept out of the retraining set;
        * ``rows_not_selected``: rows no check selected or held.

        ``quarantine_entries`` counts quarantine entries (one row can fail several checks, and a
        row that one check could not decide may still be another's edge case);
        ``rows_dropped`` counts edge-case and quarantine rows lost because the store stayed
        unwritable longer than the buffers could hold; they are left out of the three outcomes.

        >>> import tempfile
        >>> StoreReader(tempfile.mkdtemp()).outcomes()["rows_not_selected"]
        0
        """
        return outcomes(self._read_columns, compaction_log.expired_counts(self))

    def summary(self) -> dict[str, Any]:
        """Store-wide counts, as ``Framework.stats()`` and ``curate stats`` report them: the
        row :meth:`outcomes`, the segment files per table and the runs.

        >>> import tempfile
        >>> sorted(StoreReader(tempfile.mkdtemp()).summary())  # doctest: +NORMALIZE_WHITESPACE
        ['edge_cases', 'edge_cases_since_last_run', 'files', 'latest_run', 'quarantine_entries',
         'quarantined', 'rows_dropped', 'rows_logged', 'rows_not_selected', 'runs']
        """
        runs = self.runs()
        latest = runs[-1] if runs else None
        return {
            **self.outcomes(),
            "edge_cases_since_last_run": self.pending_rows(latest),
            "files": {t: len(self.files(t)) for t in TABLES},
            "runs": len(runs),
            "latest_run": None
            if latest is None
            else {"id": latest.run_id, "status": latest.status},
        }

    # -- settings and profiles ---------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        """What the last Framework recorded (``retrain_after``, checks, writer), or ``{}``."""
        return self._json(SETTINGS)

    def metadata(self) -> dict[str, Any]:
        """The store's own record (``format_version``), or ``{}`` before it exists."""
        return self._json(METADATA)

    def _json(self, name: str) -> dict[str, Any]:
        try:
            value = json.loads((self.root / name).read_text())
        except (OSError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}

    def profile_paths(self) -> list[Path]:
        """Files under ``profiles/`` (any depth, no hidden or ``_`` names), newest last."""
        folder = self.root / "profiles"
        if not folder.is_dir():
            return []
        files = [p for p in folder.rglob("*") if p.is_file() and not p.name.startswith((".", "_"))]
        return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))


def empty_schema(table: str) -> pa.Schema:
    """The schema of a table with no segments yet (none for the retraining set: its columns
    are the logged ones)."""
    return FIXED_SCHEMAS.get(table, pa.schema([]))


def clear_caches() -> None:
    """Forget the cached footers and schemas (benchmarks use it to time cold reads)."""
    _ROWS.clear()
    _SCHEMAS.clear()
