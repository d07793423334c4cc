"""Training runs recorded in the store (``runs/<run_id>/``, see ``docs/store.md``).

A :class:`Run` wraps one run's record; a run whose record says ``running`` but whose lock
nobody holds was killed, and reads as ``failed``. A trainer run that finishes is ``promoted``
(its model passed the promotion rule: it is what ``latest`` means and what the next run starts
from) or ``rejected`` (kept, with its figures, but not used); a callback run ends ``succeeded``.
A person may overrule the rule either way (:meth:`RunRegistry.decide`). :class:`RunRegistry` creates runs, and its
:meth:`RunRegistry.claim` is the one way to start one: only one run trains at a time across
every process using the store, because the process (or worker) that trains holds the store's
training lock for as long as it trains.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from curate.errors import StoreError
from curate.labels import LABELS_TABLE
from curate.locks import try_lock
from curate.reviews import REVIEWS_TABLE

if TYPE_CHECKING:
    from curate.store import Store
    from curate.store_reader import StoreReader

STATUSES = ("running", "succeeded", "promoted", "rejected", "failed")
#: Statuses of a run that finished without an error (its model, if any, is complete).
FINISHED = ("succeeded", "promoted", "rejected")
DECISIONS = ("promoted", "rejected")
KILLED = "the training process ended without recording a result (killed?)"


def new_run_id() -> str:
    """A sortable, unique run id such as ``run-20261122T040000123456-1a2b3c``."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    return f"run-{stamp}-{uuid.uuid4().hex[:6]}"


def iso_now() -> str:
    """The current UTC time in ISO 8601, as run records store it."""
    return dt.datetime.now(dt.UTC).isoformat()


@dataclass
class Run:
    """One training run: its record and its folder.

    >>> import tempfile
    >>> from curate.store import Store
    >>> runs = RunRegistry(Store(tempfile.mkdtemp()))
    >>> run = runs.create(snapshot=[], trigger="manual", kind="callback")
    >>> runs.latest().run_id == run.run_id
    True
    """

    store: StoreReader
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
    def metrics(self) -> dict[str, Any]:
        """The metrics the run recorded (``{}`` until it finished)."""
        return self.record.get("metrics") or {}

    @property
    def status(self) -> str:
        """One of :data:`STATUSES`; a killed run reads as ``failed``."""
        status = self.record.get("status", "failed")
        if status == "running" and not self.store.is_locked(self.lock_path):
            return "failed"
        return status

    @property
    def error(self) -> str | None:
        if self.record.get("status") == "running" and self.status == "failed":
            return KILLED
        return self.record.get("error")

    @property
    def labels_snapshot(self) -> list[Path]:
        """The late-label segments (``log_ground_truth``) that existed when the run was created."""
        return self.store.snapshot_files(LABELS_TABLE, self.record.get("labels_snapshot", []))

    @property
    def reviews_snapshot(self) -> list[Path]:
        """The review-decision segments that existed when the run was created (none for runs
        recorded before reviews existed)."""
        return self.store.snapshot_files(REVIEWS_TABLE, self.record.get("reviews_snapshot", []))

    @property
    def traffic_snapshot(self) -> list[Path]:
        """The traffic-sample segments that existed when the run was created (compacted ones
        as the segments they were merged into: ``StoreReader.snapshot_files``)."""
        return self.store.snapshot_files("traffic", self.record.get("traffic_snapshot", []))

    @property
    def has_model(self) -> bool:
        """True when the run finished and saved a model (promoted or not)."""
        return self.status in FINISHED and bool(self.record.get("model_path"))

    @property
    def is_promoted(self) -> bool:
        """True for a promoted run; a ``succeeded`` trainer run with a model (recorded before
        promotion existed, or by hand) counts as promoted, as it was used like one."""
        return self.has_model and self.status in ("promoted", "succeeded")

    @property
    def snapshot(self) -> list[Path]:
        """The retraining segments this run trains on (absolute paths; compacted ones as the
        segments they were merged into)."""
        return self.store.snapshot_files("retraining", self.record.get("snapshot", []))

    def update(self, **changes: Any) -> None:
        """Merge ``changes`` into the record and replace the record atomically."""
        write_json = getattr(self.store, "write_json", None)
        if write_json is None:
            raise StoreError(f"run {self.run_id} was read through a read-only StoreReader")
        self.record.update(changes)
        write_json(f"runs/{self.run_id}/run.json", self.record)

    def finish(
        self, *, error: str | None = None, status: str = "succeeded", **changes: Any
    ) -> None:
        """Record the end of the run: ``status`` (``succeeded``, ``promoted`` or ``rejected``),
        or ``failed`` with ``error``."""
        if status not in FINISHED:
            raise ValueError(f"a run finishes as one of {', '.join(FINISHED)}, not {status!r}")
        self.update(
            status="failed" if error else status,
            error=error,
            finished_at=iso_now(),
            **changes,
        )

    def dataset(self, columns: list[str] | None = None):
        """The snapshot as a ``datasets.Dataset`` (loaded from the Parquet files)."""
        from curate.datasets_io import load_parquet_dataset

        return load_parquet_dataset(self.store, "retraining", self.snapshot, columns=columns)

    def __repr__(self) -> str:
        return f"Run({self.run_id!r}, status={self.status!r})"


@dataclass
class Claim:
    """A started run and the lock descriptors that keep it the store's only one.

    The descriptors are closed when the ``claim()`` block ends, unless :meth:`hand_over` gave
    them to whoever keeps training (a thread that closes them itself); a worker process that
    inherited copies (``pass_fds``) keeps the locks whatever this process does.
    """

    run: Run
    fds: list[int]
    _handed_over: bool = False

    def hand_over(self) -> list[int]:
        """Take the descriptors: the caller now closes them when the run ends."""
        self._handed_over = True
        return list(self.fds)


class RunRegistry:
    """The runs of one store: claim, create, list, find the latest.

    >>> import tempfile
    >>> from curate.store import Store
    >>> registry = RunRegistry(Store(tempfile.mkdtemp()))
    >>> with registry.claim(trigger="manual", kind="callback") as claim:
    ...     registry.is_training(), claim.run.status
    ...     with registry.claim() as second:
    ...         second is None
    (True, 'running')
    True
    >>> registry.is_training(), [run.status for run in registry.list()]
    (False, ['failed'])
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def training_lock(self) -> Path:
        return self.store.lock_path("training")

    def is_training(self) -> bool:
        """True while some process holds the store's training lock."""
        return self.store.is_training()

    @contextlib.contextmanager
    def claim(
        self,
        *,
        trigger: str = "manual",
        kind: str = "trainer",
        config: dict[str, Any] | None = None,
        only_if: Callable[[], bool] | None = None,
        run: Run | None = None,
    ) -> Iterator[Claim | None]:
        """Become the store's one training run for the ``with`` block, or get ``None``.

        Takes the training lock without waiting; ``None`` when another process holds it or
        when ``only_if()``, checked under the lock, is false. Then records a new run on a
        snapshot of the retraining set (or, with ``run``, claims that existing run: one a
        worker was started on by hand) and takes the run's own lock, so readers can tell a
        live run from a killed one. A run whose lock is already held was claimed by the
        process that started this one, whose locks were inherited: it is yielded as is.
        """
        if run is not None and self.store.is_locked(run.lock_path):
            yield Claim(run, [])
            return
        training_fd = try_lock(self.training_lock)
        if training_fd is None:
            yield None
            return
        claim = Claim(run, [training_fd]) if run is not None else None
        try:
            if only_if is not None and not only_if():
                yield None
                return
            if claim is None:
                new = self.create(
                    snapshot=self.store.files("retraining"),
                    trigger=trigger,
                    kind=kind,
                    config=config,
                )
                claim = Claim(new, [training_fd])
            run_fd = try_lock(claim.run.lock_path)
            if run_fd is not None:
                claim.fds.append(run_fd)
            yield claim
        finally:
            if claim is None or not claim._handed_over:
                for fd in claim.fds if claim is not None else [training_fd]:
                    os.close(fd)

    def create(
        self,
        *,
        snapshot: list[Path],
        trigger: str,
        kind: str,
        config: dict[str, Any] | None = None,
    ) -> Run:
        """Record a new run in status ``running`` (the caller must hold the training lock)."""
        run_id = new_run_id()
        record = {
            "run_id": run_id,
            "status": "running",
            "created_at": iso_now(),
            "started_at": None,
            "finished_at": None,
            "error": None,
            "trigger": trigger,
            "kind": kind,
            "snapshot": [str(p.relative_to(self.store.root)) for p in snapshot],
            "snapshot_rows": self.store.num_rows(snapshot),
            # The traffic sample as it was, for the run's retention set and replay data.
            "traffic_snapshot": [
                str(p.relative_to(self.store.root)) for p in self.store.files("traffic")
            ],
            # Late labels (``log_ground_truth``) as they were, joined to the snapshot's rows.
            "labels_snapshot": [
                str(p.relative_to(self.store.root)) for p in self.store.files(LABELS_TABLE)
            ],
            # Review decisions as they were: rejected rows left out, relabels applied.
            "reviews_snapshot": [
                str(p.relative_to(self.store.root)) for p in self.store.files(REVIEWS_TABLE)
            ],
            # A copy of a Delta store: the store and the table versions the snapshot is of.
            **self.store.snapshot_info(),
            "config": config or {},
            "pid": os.getpid(),
            "host": socket.gethostname(),
        }
        run = Run(self.store, record)
        run.path.mkdir(parents=True, exist_ok=False)
        run.update()
        return run

    def __iter__(self) -> Iterator[Run]:
        """The runs, oldest first: ``for run in fw.runs``."""
        return iter(self.list())

    def __len__(self) -> int:
        return len(self.list())

    def get(self, run_id: str) -> Run:
        """The run called ``run_id``; ``"latest"`` means the newest run."""
        return self.store.run(run_id)

    def list(self) -> list[Run]:
        """Every run with a readable record, oldest first."""
        return self.store.runs()

    def latest(self, status: str | None = None) -> Run | None:
        """The newest run, or the newest with ``status`` (e.g. ``"promoted"``)."""
        return self.store.latest_run(status)

    def latest_promoted(self) -> Run | None:
        """The newest promoted run: the model ``"latest"`` names and the next run starts from."""
        return self.store.latest_promoted()

    def decide(self, run_id: str, status: str, reason: str = "") -> Run:
        """Promote or reject a finished run by hand (``curate runs promote RUN``).

        The rule's own verdict stays in the record (``promotion``); the person's goes beside it
        (``decision``). ``ValueError`` for a run that is running, failed or has no model.

        >>> import tempfile
        >>> from curate.store import Store
        >>> registry = RunRegistry(Store(tempfile.mkdtemp()))
        >>> run = registry.create(snapshot=[], trigger="cli", kind="trainer")
        >>> run.finish(status="rejected", model_path="runs/x/model")
        >>> registry.decide(run.run_id, "promoted", "checked by hand").status
        'promoted'
        """
        if status not in DECISIONS:
            raise ValueError(f"a decision is one of {', '.join(DECISIONS)}, not {status!r}")
        run = self.get(run_id)
        if not run.has_model:
            verb = "promote" if status == "promoted" else "reject"
            raise ValueError(f"run {run_id} is {run.status} and has no model to {verb}")
        decision = {"status": status, "by": "hand", "at": iso_now(), "previous": run.status}
        run.update(status=status, decision={**decision, "reason": reason})
        return run

    def pending_files(self) -> list[Path]:
        """Retraining segments written since the latest run took its snapshot."""
        return self.store.pending_files()

    def pending_rows(self) -> int:
        """Edge cases collected since the latest run started: what ``retrain_after`` counts."""
        return self.store.pending_rows()
