"""A local working copy of a Delta store, so the trainer and the dashboard read it as they read
any store.

The trainer needs local files (``datasets``, ``save_pretrained``) and the dashboard reads a store
folder through :class:`~curate.store_reader.StoreReader`. :class:`DeltaMirror` copies one
committed version of every table of a Delta store (:mod:`curate.delta_store`) into a local folder
laid out as a local store (``docs/store.md``): each Delta data file becomes one segment. Delta
data files are written once and never change, so a pull downloads only the files it does not
have, and a segment's name is the same on every machine that mirrors the store
(``part-<commit time, µs>-delta-<the data file's name>.parquet``): a run recorded on one machine
lists segments every other machine's mirror has. Files that a later version removed (a Delta
``optimize``) are removed here too.

Run records and their small files (history, probes, logs) come along; model folders only for
the newest promoted run (``models=True``: what a new run starts from). What a run writes goes back
with :meth:`DeltaMirror.push_run`. ``_mirror.json`` records the store, the versions pulled and who
held the store's training lease, which readers of the mirror use for ``is_training()`` and to
tell a run training on another machine from a killed one.

>>> import tempfile, pyarrow as pa
>>> from curate.delta_store import DeltaStore, segment_name
>>> delta = DeltaStore(tempfile.mkdtemp())
>>> _ = delta.write("retraining", pa.table({"id": [1, 2], "text": ["a", "b"]}))
>>> mirror = DeltaMirror(delta.root, tempfile.mkdtemp())
>>> mirror.pull()["retraining"]
0
>>> from curate.store_reader import StoreReader
>>> StoreReader(mirror.root).read("retraining").column("text").to_pylist()
['a', 'b']
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs

from curate.delta_store import DeltaStore
from curate.errors import StoreError
from curate.leases import Lease
from curate.locks import file_lock
from curate.store import Store
from curate.store_reader import SETTINGS, TABLES, StoreReader
from curate.store_runs import MIRROR, RUN_RECORD

#: The lease that lets one training run at a time use a Delta store.
TRAINING_LEASE = "training"


def default_cache(uri: str) -> Path:
    """Where a Delta store is mirrored unless told: ``$XDG_CACHE_HOME/curate/mirrors/...``.

    >>> default_cache("s3://bucket/curate").name.startswith("s3-bucket-curate-")
    True
    """
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    slug = re.sub(r"[^A-Za-z0-9]+", "-", uri).strip("-")[:60]
    return base / "curate" / "mirrors" / f"{slug}-{hashlib.sha256(uri.encode()).hexdigest()[:8]}"


class DeltaMirror:
    """The local copy at ``cache`` (default :func:`default_cache`) of the Delta store ``uri``."""

    def __init__(self, uri: str, cache: str | os.PathLike[str] | None = None) -> None:
        self.delta = DeltaStore(uri)
        self.uri = self.delta.root
        self.root = Path(cache).expanduser().resolve() if cache else default_cache(self.uri)
        self.fs, self.base = self.delta._fs()

    def __repr__(self) -> str:
        return f"DeltaMirror({self.uri!r}, {str(self.root)!r})"

    # -- pulling -----------------------------------------------------------------------------
    def pull(self, *, models: bool = False) -> dict[str, int | None]:
        """Copy the latest committed version of every table, the settings and the runs; return
        the versions copied. ``models``: also the newest promoted run's model folder."""
        self.root.mkdir(parents=True, exist_ok=True)
        with file_lock(self.root / "_locks" / "mirror.lock"):
            versions = {table: self._pull_table(table) for table in TABLES}
            self._pull_file(SETTINGS)
            self._pull_runs(models)
            holder = Lease(self.uri, TRAINING_LEASE).holder()
            record = {"uri": self.uri, "versions": versions, "pulled_at_ms": _now_ms(),
                      "lease": holder, "traffic_sample_size": self.delta.sample_size()}  # fmt: skip
            _write_json(self.root / MIRROR, record)
        return versions

    def _pull_table(self, table: str) -> int | None:
        version, files = self.delta.data_files(table)
        if version is None:
            return None
        folder = self.root / table
        folder.mkdir(parents=True, exist_ok=True)
        for f in sorted(files):
            if not (folder / f.name).exists():
                self._download(f"{self.base}/{table}/{f.path}", folder / f.name)
        wanted = {f.name for f in files}
        for stale in folder.glob("part-*-delta-*"):
            if stale.name not in wanted:  # removed from the table by a later version
                stale.unlink(missing_ok=True)
        return version

    def _pull_file(self, relpath: str) -> None:
        info = self.fs.get_file_info(f"{self.base}/{relpath}")
        if info.type == pafs.FileType.File:
            self._download(info.path, self.root / relpath)

    def _pull_runs(self, models: bool) -> None:
        selector = pafs.FileSelector(f"{self.base}/runs", recursive=True, allow_not_found=True)
        files = [i for i in self.fs.get_file_info(selector) if i.type == pafs.FileType.File]
        records = [i for i in files if i.path.endswith(f"/{RUN_RECORD}")]
        wanted_model = self._model_to_pull(records) if models else None
        prefix = f"{self.base}/runs/"
        for info in files:
            rel = info.path[len(prefix) :]
            run_id, _, inside = rel.partition("/")
            if inside.startswith("model/") and run_id != wanted_model:
                continue
            local = self.root / "runs" / rel
            fresh = local.exists() and local.stat().st_size == info.size
            if inside == RUN_RECORD or not fresh:
                self._download(info.path, local)

    def _model_to_pull(self, records: list[pafs.FileInfo]) -> str | None:
        newest = None
        for info in sorted(records, key=lambda i: i.path):
            with self.fs.open_input_stream(info.path) as stream:
                record = json.loads(stream.read())
            promoted = record.get("status") in ("promoted", "succeeded")
            if promoted and record.get("model_path"):
                newest = record["run_id"]
        return newest

    def _download(self, source: str, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{target.name}")
        try:
            with self.fs.open_input_stream(source) as src, open(tmp, "wb") as out:
                while chunk := src.read(1 << 22):
                    out.write(chunk)
            os.replace(tmp, target)
        except (OSError, pa.ArrowException) as exc:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"cannot copy {source} into the mirror {self.root}: {exc}") from exc

    def forget_lease(self) -> None:
        """Record in the copy that the training lease is no longer held (after a release)."""
        record = StoreReader(self.root).mirror_record()
        if record:
            _write_json(self.root / MIRROR, {**record, "lease": None})

    # -- pushing -----------------------------------------------------------------------------
    def push_file(self, relpath: str) -> None:
        """Upload one file of the mirror (a run's) to the same place in the Delta store."""
        local = self.root / relpath
        target = f"{self.base}/{relpath}"
        try:
            with open(local, "rb") as src, self.fs.open_output_stream(target) as out:
                while chunk := src.read(1 << 22):
                    out.write(chunk)
        except (OSError, pa.ArrowException) as exc:
            raise StoreError(f"cannot upload {local} to {self.uri}/{relpath}: {exc}") from exc

    def push_run(self, run_id: str) -> None:
        """Upload everything run ``run_id`` wrote (model, history, probes, logs), its record last,
        so a reader that sees it finished finds its files."""
        folder = self.root / "runs" / run_id
        files = sorted(p for p in folder.rglob("*") if p.is_file() and not _private(p, folder))
        for path in sorted(files, key=lambda p: p.name == RUN_RECORD):
            self.push_file(str(path.relative_to(self.root)))


class MirrorStore(Store):
    """The mirror as the store a training run writes: its run records go to the Delta store as
    they change, and nothing else may be written here (rows are logged into the Delta store).

    ``lease`` is the store's training lease held for the run; it is renewed with the run's id
    from the first record on, so readers elsewhere see which run holds it.
    """

    def __init__(self, mirror: DeltaMirror, lease: Lease | None = None) -> None:
        super().__init__(mirror.root)
        self.mirror = mirror
        self.lease = lease
        #: Runs whose records were written here: :meth:`DeltaMirror.push_run` sends them back.
        self.runs_written: set[str] = set()

    def write(self, table: str, data: Any, *args: Any, **kwargs: Any) -> Any:
        raise StoreError(
            f"{self.root} mirrors {self.mirror.uri}: write rows into the Delta store, not here"
        )

    def write_json(self, relpath: str, obj: object) -> Path:
        path = super().write_json(relpath, obj)
        if relpath.startswith("runs/") and relpath.endswith(f"/{RUN_RECORD}"):
            run_id = relpath.split("/")[1]
            self.runs_written.add(run_id)
            if self.lease is not None and self.lease.run_id != run_id:
                self.lease.run_id = run_id
                self.lease.renew(run_id)
            self.mirror.push_file(relpath)
        return path


def _private(path: Path, folder: Path) -> bool:
    parts = path.relative_to(folder).parts
    return any(p.startswith(".") for p in parts)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _write_json(path: Path, obj: object) -> None:
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{path.name}")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    os.replace(tmp, path)
