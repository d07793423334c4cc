"""Training runs recorded in the store: ``runs/<run_id>/``.

A run folder holds ``run.json`` (the record below, replaced atomically on every status change)
and whatever the training task writes beside it (model, tokenizer, history, probes). A run whose
record says ``running`` but whose lock file nobody holds was killed: :attr:`Run.status` reports it
as ``failed``. Only one run trains at a time across every process logging into the store: the
process that trains holds ``_locks/training.lock``.

``run.json``::

    {"run_id": "run-20261122T040000123456-1a2b3c", "status": "running|succeeded|failed",
     "created_at": "...", "started_at": "...", "finished_at": null, "error": null,
     "trigger": "auto|manual|cli", "kind": "trainer|callback",
     "snapshot": ["retraining/part-....parquet", ...], "snapshot_rows": 1234,
     "config": {...}, "pid": 123, "host": "...", "metrics": {...}, "timings": {...}}
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curate.store import Store, is_locked

STATUSES = ("running", "succeeded", "failed")


def new_run_id() -> str:
    """A sortable, unique run id such as ``run-20261122T040000123456-1a2b3c``."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    return f"run-{stamp}-{uuid.uuid4().hex[:6]}"


def _iso_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


@dataclass
class Run:
    """One training run: its record and its folder.

    >>> import tempfile
    >>> runs = RunRegistry(Store(tempfile.mkdtemp()))
    >>> run = runs.create(snapshot=[], trigger="manual", kind="callback")
    >>> runs.latest().run_id == run.run_id
    True
    """

    store: Store
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return self.record["run_id"]

    @property
    def path(self) -> Path:
        return self.store.path("runs", self.run_id)

    @property
    def lock_path(self) -> Path:
        return self.path / ".lock"

    @property
    def status(self) -> str:
        """``running``, ``succeeded`` or ``failed``; a killed run reads as ``failed``."""
        status = self.record.get("status", "failed")
        if status == "running" and not is_locked(self.lock_path):
            return "failed"
        return status

    @property
    def error(self) -> str | None:
        if self.record.get("status") == "running" and self.status == "failed":
            return "the training process ended without recording a result (killed?)"
        return self.record.get("error")

    @property
    def snapshot(self) -> list[Path]:
        """The retraining segments this run trains on (absolute paths)."""
        return [self.store.path(p) for p in self.record.get("snapshot", [])]

    def update(self, **changes: Any) -> None:
        """Merge ``changes`` into the record and replace ``run.json`` atomically."""
        self.record.update(changes)
        self.store.write_json(f"runs/{self.run_id}/run.json", self.record)

    def finish(self, *, error: str | None = None, **changes: Any) -> None:
        """Record the end of the run: ``succeeded``, or ``failed`` with ``error``."""
        self.update(
            status="failed" if error else "succeeded",
            error=error,
            finished_at=_iso_now(),
            **changes,
        )

    def dataset(self, columns: list[str] | None = None):
        """The snapshot as a ``datasets.Dataset`` (loaded from the Parquet files)."""
        from curate.datasets_io import load_parquet_dataset

        return load_parquet_dataset(self.store, "retraining", self.snapshot, columns=columns)

    def __repr__(self) -> str:
        return f"Run({self.run_id!r}, status={self.status!r})"


class RunRegistry:
    """The runs of one store: create, list, find the latest.

    >>> import tempfile
    >>> RunRegistry(Store(tempfile.mkdtemp())).list()
    []
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def training_lock(self) -> Path:
        return self.store.lock_path("training")

    def is_training(self) -> bool:
        """True while some process holds the store's training lock."""
        return is_locked(self.training_lock)

    def create(
        self,
        *,
        snapshot: list[Path],
        trigger: str,
        kind: str,
        config: dict[str, Any] | None = None,
    ) -> Run:
        """Record a new run in status ``running`` (the caller must hold its lock)."""
        run_id = new_run_id()
        record = {
            "run_id": run_id,
            "status": "running",
            "created_at": _iso_now(),
            "started_at": None,
            "finished_at": None,
            "error": None,
            "trigger": trigger,
            "kind": kind,
            "snapshot": [str(p.relative_to(self.store.root)) for p in snapshot],
            "snapshot_rows": self.store.num_rows(snapshot),
            "config": config or {},
            "pid": os.getpid(),
            "host": socket.gethostname(),
        }
        run = Run(self.store, record)
        run.path.mkdir(parents=True, exist_ok=False)
        run.update()
        return run

    def get(self, run_id: str) -> Run:
        """The run called ``run_id``; ``"latest"`` means the newest run."""
        if run_id == "latest":
            run = self.latest()
            if run is None:
                raise KeyError(f"no runs in {self.store.root / 'runs'}")
            return run
        path = self.store.path("runs", run_id, "run.json")
        if not path.exists():
            raise KeyError(f"no run {run_id!r} in {self.store.root / 'runs'}")
        return Run(self.store, json.loads(path.read_text()))

    def list(self) -> list[Run]:
        """Every run with a readable record, oldest first."""
        runs = []
        folder = self.store.root / "runs"
        for name in sorted(os.listdir(folder)) if folder.exists() else []:
            path = folder / name / "run.json"
            try:
                runs.append(Run(self.store, json.loads(path.read_text())))
            except (OSError, ValueError):
                continue
        return runs

    def latest(self, status: str | None = None) -> Run | None:
        """The newest run, or the newest with ``status`` (e.g. ``"succeeded"``)."""
        for run in reversed(self.list()):
            if status is None or run.status == status:
                return run
        return None

    def consumed_files(self) -> set[str]:
        """Retraining segments already handed to a run (the latest run's snapshot)."""
        latest = self.latest()
        return set(latest.record.get("snapshot", [])) if latest else set()

    def pending_files(self) -> list[Path]:
        """Retraining segments written since the latest run took its snapshot."""
        consumed = self.consumed_files()
        return [
            f
            for f in self.store.files("retraining")
            if str(f.relative_to(self.store.root)) not in consumed
        ]

    def pending_rows(self) -> int:
        """Edge cases collected since the latest run started: what ``retrain_after`` counts."""
        return self.store.num_rows(self.pending_files())
