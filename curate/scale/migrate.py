"""``curate migrate``: copy a local store into a Delta store, segment by segment, resumably.

Every segment of every table of the local store (read through
:class:`curate.store_reader.StoreReader` only: nothing in the source is written, not even a
lock) becomes one commit of the same table of the Delta store, in name order, streamed in
record batches of ``batch_rows``. Each commit's custom metadata names its source segment
(``curate.migrate.segment``), in the same atomic commit as its rows, so the target's commit
history is the exact record of what was migrated: a run interrupted at any point resumes by
skipping the segments named there, without a duplicate or a gap.

Row ids are kept as they are. Before copying any row, the migration reserves the Delta store's
id blocks that the local ids fall in (block ``v`` is ``[v * 2**40, (v + 1) * 2**40)``, numbered
by its commit to ``_ids``; a local store's ids are far below ``2**40``, so that is block 0), so
the ids the Delta store hands out later are all above the migrated ones.

Not migrated: training runs (``runs/``: their snapshots name the local store's segments, and the
Delta store's own runs start with its first ``curate train``), reference profiles
(``profiles/``) and the Framework's settings. The result lists what was left.

>>> import tempfile, pyarrow as pa
>>> from curate.store import Store
>>> local = Store(tempfile.mkdtemp())
>>> _ = local.write("retraining", pa.table({"id": [7, 8], "text": ["a", "b"]}))
>>> result = migrate(local.root, tempfile.mkdtemp())
>>> result["tables"]["retraining"]["rows"], result["ids"]["next_free"] == 1 << 40
(2, True)
>>> migrate(local.root, result["target"])["tables"]["retraining"]["already"]
1
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from curate.delta_store import DeltaStore, is_uri, open_store
from curate.errors import ConfigError, StoreError
from curate.store_reader import FORMAT_VERSION, SETTINGS, TABLES, StoreReader, local_root

#: Commit-metadata keys of a migrated segment's commit.
SEGMENT_KEY, SOURCE_KEY = "curate.migrate.segment", "curate.migrate.source"
ROWS_KEY, SCHEMA_METADATA_KEY = "curate.migrate.rows", "curate.migrate.schema_metadata"
#: Prefix of the nonce of the ``_ids`` reservations the migration makes for the ids it keeps.
NONCE_PREFIX = "curate-migrate-"
BATCH_ROWS = 65_536
BLOCK_BITS = 40  # DeltaStore.reserve_ids numbers block v as [v << 40, (v + 1) << 40)
NOT_MIGRATED_REASON = (
    "not migrated: training runs (their snapshots name this store's segments), reference "
    "profiles and the Framework's settings; keep the local store for them"
)

Progress = Callable[[str, str, int], None]


def migrate(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    tables: Sequence[str] | None = None,
    batch_rows: int = BATCH_ROWS,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Copy the local store at ``source`` into the Delta store at ``target`` (a URI or a local
    path). Returns per-table counts (``segments`` and ``rows`` copied now, ``already`` there,
    the table's ``version``), ``versions`` (the target's :meth:`~DeltaStore.snapshot` after the
    copy), the ``ids`` kept and what was ``not_migrated``.

    ``tables`` limits the copy to some of :data:`curate.store_reader.TABLES` (the id blocks are
    reserved for every table's ids all the same). ``progress(table, segment, rows)`` is called
    after each commit. Re-running resumes: segments already in the target are skipped.

    >>> import tempfile
    >>> migrate(tempfile.mkdtemp(), "ftp://host/x")
    Traceback (most recent call last):
    curate.errors.ConfigError: store 'ftp://host/x': 'ftp://' is not supported; a store is a local folder or a Delta store on s3://, s3a://, gs://, az://, abfs://, abfss://, file://
    """
    names = _tables(tables)
    if batch_rows < 1:
        raise ConfigError(f"batch_rows must be a positive row count, not {batch_rows!r}")
    out = _target(target)
    reader = _source(source, out)
    done = {t: _migrated(out, t) for t in TABLES}
    _check_one_source(reader, out, done)
    ids = _keep_ids(reader, out)
    copied = {t: _copy_table(reader, out, t, done[t], batch_rows, progress) for t in names}
    return {
        "source": str(reader.root), "target": out.root, "tables": copied, "ids": ids,
        "versions": out.snapshot(), "not_migrated": _not_migrated(reader),
    }  # fmt: skip


def _tables(tables: Sequence[str] | None) -> list[str]:
    names = list(TABLES) if tables is None else [t.strip() for t in tables if t.strip()]
    unknown = [t for t in names if t not in TABLES]
    if unknown or not names:
        raise ConfigError(
            f"unknown table(s) {', '.join(map(repr, unknown)) or 'none given'}; "
            f"valid tables: {', '.join(TABLES)}"
        )
    return names


def _target(target: str | os.PathLike[str]) -> DeltaStore:
    """The Delta store at ``target``; a local path is a Delta store too (``open_store`` would
    take it for a local folder store)."""
    text = os.fspath(target)
    # open_store gives the ConfigError of an unsupported scheme.
    local = not is_uri(text)
    store = DeltaStore(str(Path(text).expanduser().resolve())) if local else open_store(text)
    folder = _local_folder(store.root)
    if folder is not None and StoreReader(folder).metadata():
        raise ConfigError(
            f"target {text!r} is a local curate store; migrate into a new folder or a URI"
        )
    return store


def _local_folder(root: str) -> Path | None:
    """The folder of a Delta store on the local disk (``file://`` or a path), else ``None``."""
    if is_uri(root) and not root.lower().startswith("file://"):
        return None
    return local_root(root)


def _source(source: str | os.PathLike[str], out: DeltaStore) -> StoreReader:
    """A reader of the local store at ``source`` (a URI is a ``ConfigError``: it is local)."""
    reader = StoreReader(source)
    if not reader.exists():
        raise StoreError(
            f"{reader.root} is not a curate store (no store.json, no retraining/, metrics/ "
            "or runs/ folder); give the retraining_folder of a Framework"
        )
    version = reader.metadata().get("format_version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise StoreError(f"{reader.root} has store format {version}; this curate reads 1")
    folder = _local_folder(out.root)
    if folder is not None and (folder == reader.root or reader.root in folder.parents):
        # Delta tables written there would add _delta_log/ folders to the source's tables.
        raise ConfigError(f"target {out.root} is inside the source store {reader.root}")
    return reader


def _migrated(out: DeltaStore, table: str) -> set[str]:
    """The source segments the target's ``table`` already holds, from its commit history.

    The history, not a watermark such as the last segment name: a local segment is named when
    its writer starts writing it and appears at its rename, so a slow writer's segment can
    appear after a later-named one was migrated; only the exact set of names misses none.
    """
    version = out.version(table)
    if version is None:
        return set()
    entries = out.history(table)  # read after the version: it can only have grown
    if len(entries) < version + 1:
        raise StoreError(
            f"the commit log of {out.uri(table)} starts after version 0 (older entries "
            "expired), so which segments it holds cannot be told; migrate into a new target"
        )
    return {e[SEGMENT_KEY] for e in entries if SEGMENT_KEY in e}


def _check_one_source(reader: StoreReader, out: DeltaStore, done: dict[str, set[str]]) -> None:
    """Refuse a target that holds another local store's segments: both stores numbered their
    ids from 0, so the rows of the two would share ids."""

    def known(table: str) -> set[str]:  # listed now, or merged by a compaction since
        view = reader.compactions(table)
        return {o for f in reader.files(table) for o in view.origins(f.name)}

    foreign = sorted(f"{t}/{name}" for t in TABLES for name in done[t] - known(t))
    if foreign:
        raise StoreError(
            f"{out.root} holds {len(foreign)} segment(s) migrated from another store (e.g. "
            f"{foreign[0]}); a Delta store takes one local store: migrate into a new target"
        )


def _max_id(reader: StoreReader) -> int | None:
    """The largest row id of any table of the local store (``None`` when it has none)."""
    top = None
    for table in TABLES:
        if "id" not in reader.schema(table).names:
            continue
        value = pc.max(reader.read(table, ["id"]).column("id")).as_py()
        if value is not None:
            top = value if top is None else max(top, value)
    return top


def _keep_ids(reader: StoreReader, out: DeltaStore) -> dict[str, Any]:
    """Own the target's id blocks that the local ids fall in, before any row is copied, so
    that no other writer of the target can be handed one of them."""
    top = _max_id(reader)
    blocks = 0 if top is None or top < 0 else (top >> BLOCK_BITS) + 1
    for block in range(blocks):
        _own_block(out, block)
    return {"max_id": top, "blocks": blocks, "next_free": blocks << BLOCK_BITS}


def _own_block(out: DeltaStore, block: int) -> None:
    latest = out.version("_ids")
    if latest is not None and latest >= block:
        # Reserved already: by this migration's earlier run, or the ids are another writer's.
        if not _nonce_of(out, block).startswith(NONCE_PREFIX):
            raise StoreError(
                f"{out.uri('_ids')} handed out the ids [{block} * 2**40, ...) to another writer "
                "before this migration; the local ids would collide: migrate into a new target"
            )
        return
    # The whole block: the ids the local store hands out after this run stay inside it too.
    first = out.reserve_ids(1 << BLOCK_BITS, nonce=f"{NONCE_PREFIX}{uuid.uuid4().hex}")
    if first != block << BLOCK_BITS:
        raise StoreError(
            f"another writer reserved ids in {out.uri('_ids')} while the migration did; the "
            "local ids would collide with its block: migrate into a new target"
        )


def _nonce_of(out: DeltaStore, version: int) -> str:
    """The nonce of the reservation committed as ``version`` of ``_ids`` (it numbers a block)."""

    def nonces(v: int) -> set[str]:
        return set(out.read("_ids", ["nonce"], version=v).column("nonce").to_pylist())

    added = nonces(version) - (nonces(version - 1) if version else set())
    return next(iter(added), "")


def _copy_table(
    reader: StoreReader,
    out: DeltaStore,
    table: str,
    done: set[str],
    batch_rows: int,
    progress: Progress | None,
) -> dict[str, Any]:
    """Commit each segment of ``table`` not in ``done``, in name order; the counts."""
    files = reader.files(table)
    union = reader.schema(table, files)
    types = {f.name: f.type for f in out.schema(table)} if out.version(table) is not None else {}
    counts: dict[str, Any] = {"segments": 0, "rows": 0, "already": 0}
    view = reader.compactions(table)
    for segment in files:
        origins = view.origins(segment.name)  # a compacted segment: what it merged
        if segment.name in done or origins <= done:
            counts["already"] += 1
            continue
        if origins & done:
            raise StoreError(
                f"{table}/{segment.name} merges segments of which some were migrated and some "
                "not (the source was compacted during an interrupted migration); migrate the "
                "remaining rows into a fresh target"
            )
        schema = _plan(reader.schema(table, [segment]), union, types)
        rows = _copy_segment(reader, out, table, segment, schema, batch_rows)
        types.update((f.name, f.type) for f in schema if not pa.types.is_null(f.type))
        counts["segments"] += 1
        counts["rows"] += rows
        if progress is not None:
            progress(table, segment.name, rows)
    counts["version"] = out.version(table)
    return counts


def _plan(segment: pa.Schema, union: pa.Schema, target: dict[str, pa.DataType]) -> pa.Schema:
    """The types a segment is committed with: the target's where it has the column (delta-rs
    would cast to them without checking: 1.5 into an int64 column is 1), else the local table's
    union type, so that the column is created as wide as every segment needs."""
    fields = []
    for field in segment:
        kind = union.field(field.name).type if field.name in union.names else field.type
        existing = target.get(field.name)
        if existing is not None and not pa.types.is_null(existing):
            kind = existing
        fields.append(field.with_type(kind))
    return pa.schema(fields, metadata=segment.metadata)


def _copy_segment(
    reader: StoreReader,
    out: DeltaStore,
    table: str,
    segment: Path,
    schema: pa.Schema,
    batch_rows: int,
) -> int:
    """One segment as one commit with ``schema``, streamed; its rows."""
    rows = reader.num_rows([segment])
    failed: list[Exception] = []

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in reader.dataset(table, [segment]).to_batches(batch_size=batch_rows):
            try:
                yield batch.cast(schema, safe=True)  # safe: a lossy cast raises
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                failed.append(exc)
                raise

    stream = pa.RecordBatchReader.from_batches(schema, batches())
    try:
        out.write(table, stream, _commit_metadata(reader, segment, rows, schema))
    except StoreError:
        if failed:  # delta-rs wraps the cast's error in a traceback; say it plainly
            raise StoreError(
                f"{table}/{segment.name} does not fit the column types of {out.uri(table)}: "
                f"{failed[0]}"
            ) from failed[0]
        raise
    return rows


def _commit_metadata(
    reader: StoreReader, segment: Path, rows: int, schema: pa.Schema
) -> dict[str, str]:
    # A Delta table has no per-file schema metadata; a segment's (the traffic sample's
    # ``curate.sample_size``) is kept in its commit.
    kept = {
        k.decode(): v.decode()
        for k, v in (schema.metadata or {}).items()
        if k.startswith(b"curate.")
    }
    meta = {SEGMENT_KEY: segment.name, SOURCE_KEY: str(reader.root), ROWS_KEY: str(rows)}
    return {**meta, SCHEMA_METADATA_KEY: json.dumps(kept)} if kept else meta


def _not_migrated(reader: StoreReader) -> dict[str, Any]:
    """What the local store holds that the migration leaves there, named."""
    return {
        "runs": [run.run_id for run in reader.runs()],
        "profiles": [p.relative_to(reader.root).as_posix() for p in reader.profile_paths()],
        "settings": [SETTINGS] if reader.settings() else [],
        "reason": NOT_MIGRATED_REASON,
    }


def summary_text(result: dict[str, Any]) -> str:
    """``result`` of :func:`migrate` as the table ``curate migrate`` prints.

    >>> print(summary_text({"source": "/s", "target": "/t", "ids": {"max_id": None},
    ...     "tables": {"metrics": {"segments": 2, "rows": 9, "already": 1, "version": 2}},
    ...     "not_migrated": {"runs": ["run-1"], "profiles": [], "settings": [],
    ...                      "reason": "not migrated: no runs yet"}}))
    migrated /s -> /t
    table        segments       rows   already  version
    metrics             2          9         1        2
    no row ids to keep
    not migrated: no runs yet
      runs: run-1
    """
    lines = [f"migrated {result['source']} -> {result['target']}",
             f"{'table':<10} {'segments':>10} {'rows':>10} {'already':>9} {'version':>8}"]  # fmt: skip
    for table, c in result["tables"].items():
        version = "-" if c["version"] is None else c["version"]
        lines.append(
            f"{table:<10} {c['segments']:>10} {c['rows']:>10} {c['already']:>9} {version:>8}"
        )
    ids = result["ids"]
    if ids["max_id"] is None:
        lines.append("no row ids to keep")
    else:
        lines.append(f"row ids kept (up to {ids['max_id']}); the Delta store hands out new "
                     f"ids from {ids['next_free']} on")  # fmt: skip
    skipped = result["not_migrated"]
    lines.append(skipped["reason"])
    for kind in ("runs", "profiles", "settings"):
        if skipped[kind]:
            lines.append(f"  {kind}: {', '.join(skipped[kind])}")
    return "\n".join(lines)
