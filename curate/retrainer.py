"""Starting training when enough edge cases have been collected: one run at a time, store-wide.

``retrain_after`` counts the retraining-set rows written since the latest run took its snapshot
(every process logging into the store contributes). When it is reached, the process that notices
first claims the run (:meth:`curate.runs.RunRegistry.claim`: the store's training lock, taken
without waiting, then the threshold checked again under it) and starts it in the background:

- with ``training_args``: a worker process ``python -m trainer.worker`` that inherits the lock
  descriptors, so the locks live exactly as long as the training process;
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
from curate.runs import Claim, Run, RunRegistry
from curate.store import Store

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
        with self.runs.claim(
            trigger=trigger,
            kind="trainer" if self.on_retrain is None else "callback",
            config=self.training_args or {},
            only_if=self.need_retraining if trigger == "auto" else None,
        ) as claim:
            if claim is None:
                return None
            self._launch(claim)
        log.info("curate: started training run %s (%s)", claim.run.run_id, trigger)
        return claim.run

    def _launch(self, claim: Claim) -> None:
        if self.on_retrain is not None:
            self._thread = threading.Thread(
                target=self._call_back,
                args=(claim.run, claim.hand_over()),
                name=f"curate-{claim.run.run_id}",
                daemon=True,
            )
            self._thread.start()
            return
        from trainer.launch import spawn_worker  # the trainer is optional for monitoring

        # The child inherits the locks; ours go when the claim closes our copies.
        self._process = spawn_worker(self.store, claim.run, pass_fds=claim.fds)

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
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise CurateError(f"training still running after {timeout} s")
        wait_for_training(self._process, self.runs.is_training, timeout, deadline, poll)
        return self.runs.latest()


def wait_for_training(
    process: subprocess.Popen | None,
    training: Callable[[], bool],
    timeout: float | None,
    deadline: float | None,
    poll: float,
) -> None:
    """Wait for ``process`` (a worker this process started), then while ``training()`` says
    another one trains; :class:`CurateError` once ``deadline`` (monotonic) has passed."""
    if process is not None:
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            raise CurateError(f"training still running after {timeout} s") from exc
    while training():
        if deadline is not None and time.monotonic() > deadline:
            raise CurateError(f"training still running after {timeout} s")
        time.sleep(poll)
