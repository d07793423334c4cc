"""The runs side of :class:`curate.store_reader.StoreReader`: run records, the training lock
and what is pending for the next run (the layout is in ``docs/store.md``, "Runs").

Kept apart from the segments side, which it uses through ``files()``, ``num_rows()``, ``path()``
and ``lock_path()``. In a local copy of a Delta store (``curate.delta_mirror``) the training lock
is the store's lease as of the copy, read from ``_mirror.json``.

>>> import tempfile
>>> from curate.store_reader import StoreReader
>>> reader = StoreReader(tempfile.mkdtemp())
>>> reader.runs(), reader.is_training(), reader.snapshot_info()
([], False, {})
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from curate.locks import is_locked
from curate.runs import Run

RUN_RECORD = "run.json"
#: In a local copy of a Delta store (``curate.delta_mirror``): the store, the versions copied
#: and who held its training lease when it was copied.
MIRROR = "_mirror.json"


class RunsReader:
    """Runs, locks and pending edge cases of a store (mixed into ``StoreReader``)."""

    root: Path

    def run_record_path(self, run_id: str) -> Path:
        """Where the record of run ``run_id`` lives."""
        return self.path("runs", run_id, RUN_RECORD)

    def runs(self) -> list[Run]:
        """Every run with a readable record, oldest first."""
        folder = self.root / "runs"
        try:
            names = sorted(os.listdir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return []
        runs = []
        for name in names:
            try:
                record = json.loads((folder / name / RUN_RECORD).read_text())
            except (OSError, ValueError):
                continue
            if isinstance(record, dict) and record.get("run_id") == name:
                runs.append(Run(self, record))
        return runs

    def run(self, run_id: str) -> Run:
        """The run called ``run_id``; ``"latest"`` means the newest run. ``KeyError`` if none."""
        if run_id == "latest":
            run = self.latest_run()
            if run is None:
                raise KeyError(f"no runs in {self.root / 'runs'}")
            return run
        path = self.run_record_path(run_id)
        try:
            return Run(self, json.loads(path.read_text()))
        except (OSError, ValueError):
            raise KeyError(f"no run {run_id!r} in {self.root / 'runs'}") from None

    def latest_run(self, status: str | None = None) -> Run | None:
        """The newest run, or the newest with ``status`` (e.g. ``"promoted"``)."""
        for run in reversed(self.runs()):
            if status is None or run.status == status:
                return run
        return None

    def latest_promoted(self) -> Run | None:
        """The newest promoted run (what ``"latest"`` names as a model), or ``None``."""
        for run in reversed(self.runs()):
            if run.is_promoted:
                return run
        return None

    def is_locked(self, path: Path) -> bool:
        """True while some process holds the ``flock`` on ``path`` (a lock file of the store).

        In a copy of a Delta store, a run's lock and the training lock also count as held while
        the store's training lease (held on another machine, as of the copy) is live.
        """
        if is_locked(path):
            return True
        lease = self._live_lease()
        if lease is None:
            return False
        if path == self.lock_path("training"):
            return True
        return lease.get("run_id") is not None and path == self.path(
            "runs", lease["run_id"], ".lock"
        )

    def is_training(self) -> bool:
        """True while some process holds the store's training lock (or, in a copy of a Delta
        store, its training lease)."""
        return self.is_locked(self.lock_path("training"))

    def mirror_record(self) -> dict[str, Any]:
        """When this folder is a local copy of a Delta store: ``uri``, ``versions`` (each
        table's Delta version copied), ``pulled_at_ms`` and ``lease``; else ``{}``."""
        return self._json(MIRROR)

    def snapshot_info(self) -> dict[str, Any]:
        """What a run records about where its snapshot came from: for a copy of a Delta store,
        the store's URI and every table's Delta version (``{}`` for a local store)."""
        record = self.mirror_record()
        if not record:
            return {}
        return {"store_uri": record.get("uri"), "delta_versions": record.get("versions", {})}

    def _live_lease(self) -> dict[str, Any] | None:
        lease = self.mirror_record().get("lease")
        if not isinstance(lease, dict) or lease.get("expires_ms", 0) <= time.time() * 1000:
            return None
        return lease

    def pending_files(self, latest: Run | None = None) -> list[Path]:
        """Retraining segments written since the latest run (or ``latest``) took its snapshot."""
        latest = self.latest_run() if latest is None else latest
        consumed = set(latest.snapshot) if latest else set()
        return [f for f in self.files("retraining") if f not in consumed]

    def pending_rows(self, latest: Run | None = None) -> int:
        """Edge cases collected since the latest run started: what ``retrain_after`` counts."""
        return self.num_rows(self.pending_files(latest))
