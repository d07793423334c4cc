"""Starting runs: one at a time per store, here or in a background worker process.

A run is claimed with :meth:`curate.runs.RunRegistry.claim`, which holds the store's training
lock and the run's own lock. A background worker inherits both as open file descriptors
(``pass_fds``): the locks live as long as the worker does, whatever happens to the process that
started it.

>>> import tempfile
>>> from curate.store import Store
>>> store = Store(tempfile.mkdtemp())
>>> run = start_run(store, {"max_steps": 1}, wait=True, progress_bar=False)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from curate.errors import CurateError
from curate.runs import Run, RunRegistry
from curate.store import Store
from trainer.config import TrainingArgs


class TrainingInProgressError(CurateError, RuntimeError):
    """Another process holds the store's training lock."""


def spawn_worker(store: Store, run: Run, pass_fds: Sequence[int] = ()) -> subprocess.Popen:
    """Start ``python -m trainer.worker`` for ``run`` in its own session.

    ``pass_fds`` are the lock descriptors the worker inherits and keeps until it exits. Its
    stdout and stderr go to ``runs/<id>/worker.log``.
    """
    env = dict(os.environ, PYTHONUNBUFFERED="1", HF_HUB_DISABLE_TELEMETRY="1")
    with open(run.path / "worker.log", "ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "trainer.worker",
                "--store",
                str(store.root),
                "--run",
                run.run_id,
            ],
            pass_fds=tuple(pass_fds),
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(Path(__file__).resolve().parent.parent),
        )


def start_run(
    store: Store,
    training_args: dict[str, Any] | TrainingArgs | None = None,
    trigger: str = "cli",
    wait: bool = True,
    *,
    progress_bar: bool | None = None,
) -> Run:
    """Snapshot the retraining set and train on it: in this process (``wait``) or a worker.

    Raises :class:`TrainingInProgressError` ("a training run is already in progress") when
    another process holds the training lock. With ``wait=True`` the finished run is returned
    (check ``run.status``); with ``wait=False`` the run is returned as soon as the worker is
    started (see :func:`wait_for_run`).
    """
    if not isinstance(training_args, TrainingArgs):
        training_args = TrainingArgs.model_validate(training_args or {})
    registry = RunRegistry(store)
    with registry.claim(
        trigger=trigger, kind="trainer", config=training_args.model_dump()
    ) as claim:
        if claim is None:
            raise TrainingInProgressError("a training run is already in progress")
        if wait:
            from trainer.runner import train_run

            return train_run(store, claim.run, progress_bar=progress_bar)
        spawn_worker(store, claim.run, pass_fds=claim.fds)
        return claim.run


def wait_for_run(run: Run, timeout: float | None = None, poll: float = 0.5) -> Run:
    """Reload ``run`` until it is no longer ``running`` (or ``timeout`` seconds pass)."""
    registry = RunRegistry(run.store)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        run = registry.get(run.run_id)
        if run.status != "running":
            return run
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"run {run.run_id} still running after {timeout}s")
        time.sleep(poll)
