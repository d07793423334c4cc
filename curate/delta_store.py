"""A store on object storage: each table a Delta table (delta-rs), appended by many writers.

On object storage there is no rename and no ``flock``, so the local folder layout
(``docs/store.md``) cannot be shared safely. Here every table (``retraining``, ``quarantine``,
``metrics``, ``alerts``, ``traffic``) is a Delta table under the store URI: write-once Parquet
files plus a commit log whose commits are put-if-absent, so writers in many processes and
machines append without a lock (delta-rs retries a commit that lost the race) and a reader sees
one committed version of a table, never half an append. Row ids are blocks numbered by the
commit version of a reservation in the ``_ids`` table: a version is committed by exactly one
writer, so blocks never overlap.

The Framework's ``log()`` (``retraining_folder`` a URI), batch curation (``curate batch``) and
``curate migrate`` (:mod:`curate.scale.migrate`, from a local store) write to it. A drift
check without a ``reference_dataset`` reads its traffic sample back (:meth:`traffic_sample`).
Training runs and the dashboard read a local copy of it (:mod:`curate.delta_mirror`), one run at
a time across machines under its training lease (:mod:`curate.leases`).

>>> import tempfile, pyarrow as pa
>>> store = DeltaStore(tempfile.mkdtemp())
>>> _ = store.write("metrics", pa.table({"metric": ["rows"], "value": [3.0]}))
>>> store.read("metrics").num_rows, store.version("metrics"), store.version("alerts")
(1, 0, None)
"""

from __future__ import annotations

import json
import os
import re
import socket
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs

from curate.errors import ConfigError, StoreError
from curate.outcomes import outcomes
from curate.store_reader import TABLES, empty_schema, local_root
from curate.traffic import KEY_COLUMN, SIZE_METADATA, TRAFFIC_TABLE

#: Schemes a Delta store may live on (delta-rs's object stores) besides a local path.
DELTA_SCHEMES = ("s3", "s3a", "gs", "az", "abfs", "abfss", "file")
ID_BLOCK = 1 << 16
_CREATE_RETRIES = 5
_IDS = "_ids"
SIZE_KEY = SIZE_METADATA.decode()


def is_uri(root: Any) -> bool:
    """True for ``scheme://...`` strings (a local path is not a URI).

    >>> is_uri("s3://b/x"), is_uri("/data/store")
    (True, False)
    """
    return isinstance(root, str) and re.match(r"^[A-Za-z][A-Za-z0-9+.-]+://", root) is not None


def open_store(root: str | os.PathLike[str]) -> Any:
    """The store at ``root``: a :class:`DeltaStore` for an object-storage URI, else the
    local folder store (:class:`curate.store.Store`). Other schemes are a ``ConfigError``.

    >>> open_store("ftp://host/store")
    Traceback (most recent call last):
    curate.errors.ConfigError: store 'ftp://host/store': 'ftp://' is not supported; a store is a local folder or a Delta store on s3://, s3a://, gs://, az://, abfs://, abfss://, file://
    """
    text = os.fspath(root)
    if not is_uri(text):
        from curate.store import Store

        return Store(text)
    scheme = text.split("://", 1)[0].lower()
    if scheme not in DELTA_SCHEMES:
        raise ConfigError(
            f"store {text!r}: '{scheme}://' is not supported; a store is a local folder or a "
            "Delta store on " + ", ".join(f"{s}://" for s in DELTA_SCHEMES)
        )
    return DeltaStore(text)


def store_root(root: str | os.PathLike[str]) -> Path | str:
    """What ``retraining_folder`` names: a local folder (a path or ``file://``) as a resolved
    path, an object-storage URI as given (a Delta store); other schemes are a ``ConfigError``.

    >>> store_root("s3://bucket/curate"), store_root("file:///tmp/x").as_posix()
    ('s3://bucket/curate', '/tmp/x')
    """
    text = os.fspath(root)
    if is_uri(text) and not text.lower().startswith("file://"):
        if text.split("://", 1)[0].lower() not in DELTA_SCHEMES:
            open_store(text)  # raises the ConfigError that names the supported schemes
        return text
    return local_root(text)


def _schema_metadata(data: pa.Table | pa.RecordBatchReader) -> dict[str, str]:
    # delta-rs drops Arrow schema metadata; the traffic sample's size goes into the commit.
    raw = data.schema.metadata or {}
    return {SIZE_KEY: raw[SIZE_METADATA].decode()} if SIZE_METADATA in raw else {}


def _options() -> dict[str, str]:
    # delta-rs reads AWS_* from the environment too; a plain-http endpoint (a local S3
    # server) must be allowed explicitly.
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    return {"AWS_ALLOW_HTTP": "true"} if endpoint.startswith("http://") else {}


class DeltaStore:
    """Delta tables under ``root`` (a URI or a local path); safe to append from many writers."""

    def __init__(self, root: str, storage_options: dict[str, str] | None = None) -> None:
        try:
            import deltalake
        except ImportError as exc:
            raise ConfigError(
                f"store {root!r} is a Delta store: pip install 'curate[delta]'"
            ) from exc
        self._dl = deltalake
        self.root = root.rstrip("/")
        self.storage_options = {**_options(), **(storage_options or {})}
        self.writer_id = f"{socket.gethostname()[:16]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"

    def __repr__(self) -> str:
        return f"DeltaStore({self.root!r})"

    def uri(self, table: str) -> str:
        """Where ``table`` lives."""
        return f"{self.root}/{table}"

    def _table(self, table: str, version: int | None = None) -> Any:
        try:
            return self._dl.DeltaTable(self.uri(table), version=version,
                                       storage_options=self.storage_options)  # fmt: skip
        except self._dl.exceptions.TableNotFoundError:
            return None

    # -- writing -----------------------------------------------------------------------------
    def write(
        self,
        table: str,
        data: pa.Table | pa.RecordBatchReader,
        metadata: dict[str, str] | None = None,
    ) -> int:
        """Append ``data`` to ``table`` as one commit; returns a version at or after that commit.

        Columns new to the table are added (schema merge), as later local segments may have
        more columns. The commit is atomic: a reader sees all of ``data`` or none of it. A
        ``RecordBatchReader`` is streamed (one commit, bounded memory), but it can be read once:
        a commit that lost the table-creation race is then an error rather than retried.
        """
        if table not in (*TABLES, _IDS):
            raise StoreError(f"unknown table {table!r}; valid tables: {', '.join(TABLES)}")
        metadata = {**_schema_metadata(data), **(metadata or {})}
        props = self._dl.CommitProperties(custom_metadata={"writer": self.writer_id,
                                                           **metadata})  # fmt: skip
        for attempt in range(_CREATE_RETRIES):
            try:
                self._dl.write_deltalake(self.uri(table), data, mode="append",
                                         schema_mode="merge", storage_options=self.storage_options,
                                         commit_properties=props)  # fmt: skip
                break
            except self._dl.exceptions.CommitFailedError as exc:
                # delta-rs retries appends that lose a race, but not two writers creating the
                # table at once: the loser appends to the table the winner created.
                if attempt == _CREATE_RETRIES - 1 or isinstance(data, pa.RecordBatchReader):
                    raise StoreError(f"cannot append to {self.uri(table)}: {exc}") from exc
            except (OSError, self._dl.exceptions.DeltaError) as exc:
                raise StoreError(f"cannot append to {self.uri(table)}: {exc}") from exc
        return self._table(table).version()

    def reserve_ids(self, count: int = ID_BLOCK, *, nonce: str | None = None) -> int:
        """Reserve ``count`` consecutive ids; return the first.

        The reservation is a commit to ``_ids``; its version, which no other writer can commit,
        numbers the block: ids ``[version * 2**40, version * 2**40 + count)``. ``nonce`` (unique;
        a random one by default) is the reservation's row in ``_ids``, so that a caller can
        recognise its block later (``curate migrate`` marks the block of the ids it keeps).
        """
        if count > 1 << 40:
            raise StoreError(f"cannot reserve {count} ids at once (at most 2**40)")
        nonce = nonce or uuid.uuid4().hex
        row = pa.table({"writer": [self.writer_id], "nonce": [nonce], "count": [count]})
        latest = self.write(_IDS, row, {"nonce": nonce})
        # The first version whose rows hold our nonce is our commit. Found by reading versions
        # (bisection), not from history(): delta-rs numbers history entries by position, which
        # is off while other writers' commits are landing.
        dt = self._table(_IDS)

        def committed(version: int) -> bool:
            dt.load_as_version(version)
            nonces = dt.to_pyarrow_table(columns=["nonce"]).column("nonce")
            return nonce in set(nonces.to_pylist())

        lo, hi = 0, latest
        if not committed(hi):
            raise StoreError(f"the id reservation {nonce} is not in {self.uri(_IDS)}")
        while lo < hi:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if committed(mid) else (mid + 1, hi)
        return lo << 40

    # -- reading -----------------------------------------------------------------------------
    def version(self, table: str) -> int | None:
        """The latest committed version of ``table`` (``None`` before its first write)."""
        dt = self._table(table)
        return None if dt is None else dt.version()

    def snapshot(self) -> dict[str, int | None]:
        """The version of every table now: read them with ``versions=`` to see this moment."""
        return {t: self.version(t) for t in TABLES}

    def read(
        self, table: str, columns: Sequence[str] | None = None, version: int | None = None
    ) -> pa.Table:
        """``table`` as of ``version`` (the latest when ``None``), one consistent snapshot."""
        dt = self._table(table, version)
        if dt is None:
            schema = empty_schema(table)
            if columns is not None:
                schema = pa.schema([schema.field(c) for c in columns if c in schema.names])
            return schema.empty_table()
        data = dt.to_pyarrow_table()
        if columns is not None:
            data = data.select([c for c in columns if c in data.column_names])
        return data

    def traffic_sample(
        self, n: int | None = None, columns: Sequence[str] | None = None
    ) -> pa.Table:
        """The ``n`` traffic-sample rows with the smallest keys, in key order, as for a local
        store (:func:`curate.traffic.read_sample`); ``n=None``: the size its writers kept (the
        smallest), which each traffic commit records."""
        wanted = None if columns is None else [*columns, KEY_COLUMN]
        table = self.read(TRAFFIC_TABLE, wanted)
        if KEY_COLUMN not in table.column_names or not table.num_rows:
            return pa.table({})
        n = self.sample_size() if n is None else n
        return table.take(pc.sort_indices(table, [(KEY_COLUMN, "ascending")])[:n])

    def sample_size(self) -> int | None:
        """The smallest traffic-sample size a writer of this store kept (``None``: none did)."""
        sizes = [int(c[SIZE_KEY]) for c in self.history(TRAFFIC_TABLE) if c.get(SIZE_KEY)]
        return min(sizes) if sizes else None

    def history(self, table: str) -> list[dict[str, Any]]:
        """The commit infos of ``table``, newest first, each commit's custom metadata (the
        ``metadata`` given to :meth:`write`) among their keys; ``[]`` before the first write.

        Their ``version`` is a position counted from the version loaded, off while other
        writers' commits land (see :meth:`reserve_ids`): read it for what commits say, not for
        which version they are. Entries older than the log's retention may be gone.
        """
        dt = self._table(table)
        return [] if dt is None else list(dt.history())

    def count(self, table: str, version: int | None = None) -> int:
        """Rows of ``table`` at ``version``."""
        return self.read(table, version=version).num_rows

    def files(self, table: str) -> list[str]:
        """The data files of ``table``'s latest version (what it consists of, not a listing)."""
        dt = self._table(table)
        return [] if dt is None else list(dt.file_uris())

    def schema(self, table: str) -> pa.Schema:
        """``table``'s schema (its fixed one before the first write)."""
        dt = self._table(table)
        if dt is None:
            return empty_schema(table)
        return pa.schema(dt.schema().to_arrow())

    # -- small documents and counts ------------------------------------------------------------
    def _fs(self) -> tuple[pafs.FileSystem, str]:
        if is_uri(self.root):
            return pafs.FileSystem.from_uri(self.root)
        return pafs.LocalFileSystem(), self.root

    def write_json(self, relpath: str, obj: object) -> str:
        """(Re)place a small JSON document under the store (``framework.json``); one PUT on
        object storage, so a reader sees the old document or the new one."""
        fs, base = self._fs()
        path = f"{base}/{relpath}"
        data = json.dumps(obj, indent=2, default=str).encode()
        try:
            if isinstance(fs, pafs.LocalFileSystem):  # local disk: write aside, then rename
                fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
                tmp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
                with fs.open_output_stream(tmp) as out:
                    out.write(data)
                fs.move(tmp, path)
            else:
                with fs.open_output_stream(path) as out:
                    out.write(data)
        except (OSError, pa.ArrowException) as exc:
            raise StoreError(f"cannot write {self.root}/{relpath}: {exc}") from exc
        return f"{self.root}/{relpath}"

    def outcomes(self) -> dict[str, int]:
        """Where every logged row went (:func:`curate.outcomes.outcomes`)."""
        return outcomes(lambda table, columns: self.read(table, columns))

    def summary(self) -> dict[str, Any]:
        """The counts ``Framework.stats()`` reports, as for a local store, with each table's
        data files and committed ``versions``; runs are those recorded under ``runs/``
        (training reads a local copy: :mod:`curate.delta_mirror`)."""
        counts = self.outcomes()
        records = self.run_records()
        latest = records[-1] if records else None
        return {
            **counts,
            "edge_cases_since_last_run": self.pending_rows(latest),
            "files": {t: len(self.files(t)) for t in TABLES},
            "versions": self.snapshot(),
            "runs": len(records),
            "latest_run": None
            if latest is None
            else {"id": latest["run_id"], "status": latest.get("status")},
        }

    def run_records(self) -> list[dict[str, Any]]:
        """The records of the training runs under ``runs/`` (as written), oldest first."""
        fs, base = self._fs()
        selector = pafs.FileSelector(f"{base}/runs", recursive=True, allow_not_found=True)
        records = []
        for info in sorted(fs.get_file_info(selector), key=lambda i: i.path):
            if info.type != pafs.FileType.File or not info.path.endswith("/run.json"):
                continue
            try:
                with fs.open_input_stream(info.path) as stream:
                    records.append(json.loads(stream.read()))
            except (OSError, ValueError, pa.ArrowException):
                continue  # a record being replaced, or not one of ours
        return [r for r in records if isinstance(r, dict) and "run_id" in r]

    def data_files(self, table: str) -> tuple[int | None, list[DataFile]]:
        """``table``'s latest version and its data files, each with the segment name a local
        copy gives it (:func:`segment_name`) and its row count; ``(None, [])`` before the
        first write."""
        dt = self._table(table)
        if dt is None:
            return None, []
        actions = pa.table(dt.get_add_actions(flatten=True))
        columns = (actions.column(c).to_pylist() for c in ("path", "modification_time",
                                                             "num_records"))  # fmt: skip
        files = [DataFile(segment_name(p, t), p, n or 0) for p, t, n in zip(*columns, strict=True)]
        return dt.version(), files

    def pending_rows(self, latest: dict[str, Any] | None = None) -> int:
        """Edge cases written since the latest run (``latest``'s record) took its snapshot."""
        consumed = {name.rsplit("/", 1)[-1] for name in (latest or {}).get("snapshot", [])}
        _, files = self.data_files("retraining")
        return sum(f.rows for f in files if f.name not in consumed)


class DataFile(NamedTuple):
    """One data file of a Delta table: its local segment name, its path in the table, its rows."""

    name: str
    path: str
    rows: int


def segment_name(path: str, modified_ms: int) -> str:
    """The segment name of a Delta data file in a local copy of the store: sorted by when it
    was written, and the same on every machine.

    >>> segment_name("part-00001-3f2a-c000.snappy.parquet", 1_700_000_000_000)
    'part-1700000000000000-delta-part-00001-3f2a-c000.snappy.parquet'
    """
    return f"part-{modified_ms * 1000:016d}-delta-{path.replace('/', '_')}"
