"""``retrain_after`` on a Delta store: every replica may notice, the training lease decides.

Many replicas log into one Delta store, so each one's writer checks (at most every
:data:`CHECK_EVERY` seconds, from the writer thread, never from ``log()``) whether the edge cases
since the latest run reach ``retrain_after`` while nobody holds the store's training lease. The
first to see it starts ``python -m trainer.delta_worker``, which takes the lease, checks the
threshold again under it (another replica's run may just have consumed the edge cases) and
trains on a local copy (:mod:`trainer.delta_training`). A replica whose worker loses the race
for the lease has started a process that exits at once, and trains nothing.

>>> import tempfile
>>> from curate.delta_store import DeltaStore
>>> r = DeltaRetrainer(DeltaStore(tempfile.mkdtemp()), retrain_after=10, training_args={})
>>> r.automatic, r.need_retraining()
(True, False)
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from curate.delta_mirror import TRAINING_LEASE, DeltaMirror
from curate.delta_store import DeltaStore
from curate.errors import ConfigError
from curate.leases import Lease
from curate.retrainer import Retrainer, wait_for_training
from curate.runs import Run
from curate.store_reader import StoreReader

log = logging.getLogger("curate")
#: Seconds between two checks of the threshold (each reads the store's run records and files).
CHECK_EVERY = 30.0


def retrainer_for(store: Any, config: Any) -> Retrainer | DeltaRetrainer:
    """The retrainer of a Framework on ``store``: a :class:`DeltaRetrainer` for a Delta store
    (``on_retrain`` is a ``ConfigError`` there: a callback run needs a local store), else
    :class:`curate.retrainer.Retrainer`."""
    if not isinstance(store, DeltaStore):
        return Retrainer(store, retrain_after=config.retrain_after,
                         training_args=config.training_args, on_retrain=config.on_retrain)  # fmt: skip
    if config.on_retrain is not None:
        raise ConfigError(
            f"retraining_folder {store.root!r} is a Delta store: on_retrain callbacks need a "
            "local store; give training_args, and runs train on a copy under the store's lease"
        )
    return DeltaRetrainer(store, retrain_after=config.retrain_after,
                          training_args=config.training_args)  # fmt: skip


class DeltaRetrainer:
    """Starts a training worker when ``retrain_after`` edge cases are pending and the store's
    training lease is free (the Framework's retrainer for a Delta store)."""

    def __init__(
        self, store: DeltaStore, *, retrain_after: int | None, training_args: dict | None
    ) -> None:
        self.store = store
        self.retrain_after = retrain_after
        self.training_args = training_args
        self._process: subprocess.Popen | None = None
        self._checked = float("-inf")

    @property
    def automatic(self) -> bool:
        """True when reaching ``retrain_after`` starts a run by itself."""
        return self.retrain_after is not None and self.training_args is not None

    def need_retraining(self) -> bool:
        """True when the edge cases since the latest run reach ``retrain_after``."""
        if self.retrain_after is None:
            return False
        records = self.store.run_records()
        return self.store.pending_rows(records[-1] if records else None) >= self.retrain_after

    def maybe_start(self) -> None:
        """Start a worker if it is time to check, nobody trains and the threshold is reached."""
        if not self.automatic or time.monotonic() - self._checked < CHECK_EVERY:
            return
        self._checked = time.monotonic()
        if self._process is not None and self._process.poll() is None:
            return
        if (
            Lease(self.store.root, TRAINING_LEASE).holder() is not None
            or not self.need_retraining()
        ):
            return
        self._process = spawn_delta_worker(self.store.root, self.training_args or {},
                                           self.retrain_after)  # fmt: skip
        log.info("curate: %s edge cases reached on %s; started a training worker",
                 self.retrain_after, self.store.root)  # fmt: skip

    def wait(self, timeout: float | None = None, poll: float = 1.0) -> Run | None:
        """Wait for this process's worker and for any run holding the lease; the latest run
        (read from a fresh local copy), or ``None`` when there is none."""
        deadline = None if timeout is None else time.monotonic() + timeout
        lease = Lease(self.store.root, TRAINING_LEASE)
        wait_for_training(self._process, lambda: lease.holder() is not None, timeout, deadline,
                          poll)  # fmt: skip
        mirror = DeltaMirror(self.store.root)
        mirror.pull()
        return StoreReader(mirror.root).latest_run()


def spawn_delta_worker(
    uri: str, training_args: dict[str, Any], retrain_after: int
) -> subprocess.Popen:
    """Start ``python -m trainer.delta_worker`` for the Delta store ``uri`` in its own session,
    its output in the user cache's copy of the store (``worker.log``)."""
    out = DeltaMirror(uri).root
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "worker.log", "ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "trainer.delta_worker", "--store", uri, "--retrain-after",
             str(retrain_after), "--args", json.dumps(training_args, default=str)],
            start_new_session=True, stdin=subprocess.DEVNULL, stdout=sink,
            stderr=subprocess.STDOUT, cwd=str(Path(__file__).resolve().parent.parent),
        )  # fmt: skip
