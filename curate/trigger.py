"""Starting training when enough edge cases have been collected: one run at a time, store-wide.

``retrain_after`` counts the retraining-set rows written since the latest run took its snapshot
(every process logging into the store contributes). When it is reached, the process that notices
first takes ``_locks/trigger.lock``, checks again, takes ``_locks/training.lock`` without
waiting, records the run and starts it in the background:

- with ``training_args``: a worker process ``python -m trainer.worker`` that inherits the two
  lock files' descriptors, so the locks live exactly as long as the training process;
- with ``on_retrain``: a thread of this process that calls ``on_retrain(run)``.

A run that dies without recording a result leaves its lock free, so it reads as failed and the
next trigger trains again. Edge cases written while a run trains count toward the next run.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from curate.errors import CurateError
from curate.runs import Run, RunRegistry
from curate.store import Store, file_lock, try_lock

log = logging.getLogger("curate")


class Retrainer:
    """Decides when to train and starts one run at a time.

    >>> import tempfile
    >>> from curate.store import Store
    >>> r = Retrainer(Store(tempfile.mkdtemp()), retrain_after=10)
    >>> r.need_retraining()
    False
    """

    def __init__(
        self,
        store: Store,
        *,
        retrain_after: int | None,
        training_args: dict[str, Any] | None = None,
        on_retrain: Callable[[Run], Any] | None = None,
    ) -> None:
        self.store = store
        self.runs = RunRegistry(store)
        self.retrain_after = retrain_after
        self.training_args = training_args
        self.on_retrain = on_retrain
        self._process: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None

    @property
    def automatic(self) -> bool:
        """True when reaching ``retrain_after`` starts something by itself."""
        return self.retrain_after is not None and (
            self.training_args is not None or self.on_retrain is not None
        )

    def need_retraining(self) -> bool:
        """True when the edge cases since the latest run reach ``retrain_after``."""
        return self.retrain_after is not None and self.runs.pending_rows() >= self.retrain_after

    def maybe_start(self) -> Run | None:
        """Start a run if the threshold is reached and nobody is training; else ``None``."""
        if not self.automatic or self.runs.is_training() or not self.need_retraining():
            return None
        return self.start(trigger="auto")

    def start(self, trigger: str = "manual") -> Run | None:
        """Start a run now (``auto`` re-checks the threshold under the lock).

        Returns ``None`` when another process is training or, for ``auto``, when another
        process has just consumed the pending edge cases.
        """
        with file_lock(self.store.lock_path("trigger")):
            training_fd = try_lock(self.runs.training_lock)
            if training_fd is None:
                return None
            try:
                if trigger == "auto" and not self.need_retraining():
                    os.close(training_fd)
                    return None
                run = self.runs.create(
                    snapshot=self.store.files("retraining"),
                    trigger=trigger,
                    kind="trainer" if self.on_retrain is None else "callback",
                    config=self.training_args or {},
                )
                run_fd = try_lock(run.lock_path)
                self._launch(run, training_fd, run_fd)
            except BaseException:
                os.close(training_fd)
                raise
        log.info("curate: started training run %s (%s)", run.run_id, trigger)
        return run

    def _launch(self, run: Run, training_fd: int, run_fd: int | None) -> None:
        fds = [fd for fd in (training_fd, run_fd) if fd is not None]
        if self.on_retrain is not None:
            self._thread = threading.Thread(
                target=self._call_back, args=(run, fds), name=f"curate-{run.run_id}", daemon=True
            )
            self._thread.start()
            return
        from trainer.launch import spawn_worker  # the trainer is optional for monitoring

        self._process = spawn_worker(self.store, run, pass_fds=fds)
        # The child holds the locks now; ours go when we close our copies of the descriptors.
        for fd in fds:
            os.close(fd)

    def _call_back(self, run: Run, fds: list[int]) -> None:
        try:
            run.update(started_at=run.record["created_at"])
            self.on_retrain(run)  # type: ignore[misc]
            run.finish()
        except Exception as exc:  # noqa: BLE001 - a failing callback is a failed run
            log.error("curate: on_retrain failed for %s: %s", run.run_id, exc)
            run.finish(error="".join(traceback.format_exception_only(exc)).strip())
        finally:
            for fd in fds:
                os.close(fd)

    def wait(self, timeout: float | None = None, poll: float = 0.2) -> Run | None:
        """Wait for training in this store to end; return the latest run.

        Waits for the run this process started and, as well, for a run another process is
        training (its lock is held), so every process that logs into the store can wait for it.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        if self._process is not None:
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired as exc:
                raise CurateError(f"training still running after {timeout} s") from exc
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise CurateError(f"training still running after {timeout} s")
        while self.runs.is_training():
            if deadline is not None and time.monotonic() > deadline:
                raise CurateError(f"training still running after {timeout} s")
            time.sleep(poll)
        return self.runs.latest()
