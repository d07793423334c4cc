"""Training on a Delta store on object storage: one run at a time across machines.

A run needs local files (``datasets``, ``save_pretrained``), so it trains on a local copy of the
store (:class:`curate.delta_mirror.DeltaMirror`: one committed version of every table, the runs
and the model the run starts from) and sends what it wrote back. The store's training lease
(:class:`curate.leases.Lease`) replaces the local training lock: taken before the copy, renewed
while the run trains, released at the end; a trainer that dies stops renewing it, so the next run
may start ``ttl`` seconds later. The run records the Delta versions it trained on
(``delta_versions``) and the store (``store_uri``).

>>> import tempfile
>>> from curate.delta_store import DeltaStore
>>> uri = DeltaStore(tempfile.mkdtemp()).root
>>> with delta_training(uri, cache=tempfile.mkdtemp()) as store:
...     store.is_training()
True
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
from collections.abc import Iterator

from curate.delta_mirror import TRAINING_LEASE, DeltaMirror, MirrorStore
from curate.errors import CurateError
from curate.leases import Lease
from curate.runs import Run
from trainer.launch import TrainingInProgressError, start_run

log = logging.getLogger("curate")
#: Seconds a training lease lasts without renewal (renewed every third of it).
LEASE_TTL = 120.0


@contextlib.contextmanager
def delta_training(
    uri: str, *, cache: str | os.PathLike[str] | None = None, ttl: float = LEASE_TTL
) -> Iterator[MirrorStore]:
    """Hold the training lease of the Delta store ``uri`` and give a local copy of it to train
    on; every run recorded in the copy is uploaded when the block ends (failed runs too).

    Raises :class:`~trainer.launch.TrainingInProgressError` naming the run that holds the lease.
    """
    mirror = DeltaMirror(uri, cache)
    lease = Lease(mirror.uri, TRAINING_LEASE, ttl=ttl)
    if not lease.acquire():
        raise TrainingInProgressError(_busy(uri, lease.holder()))
    lease.keep()
    store = None
    try:
        mirror.pull(models=True)
        store = MirrorStore(mirror, lease)
        yield store
    finally:
        try:
            for run_id in sorted(store.runs_written if store is not None else ()):
                _record_lost_lease(store, run_id, lease)
                mirror.push_run(run_id)
        finally:
            lease.release()
            mirror.forget_lease()


def _record_lost_lease(store: MirrorStore, run_id: str, lease: Lease) -> None:
    if not lease.lost:
        return
    log.warning("curate: run %s lost the training lease of %s while training", run_id, lease.uri)
    store.run(run_id).update(lease_lost=True)


def _busy(uri: str, holder: dict | None) -> str:
    if holder is None:  # taken and released between our two reads
        return f"a training run was starting on {uri}; try again"
    until = dt.datetime.fromtimestamp(holder["expires_ms"] / 1000, dt.UTC).isoformat()
    who = holder.get("run_id") or "a run being set up"
    return (
        f"a training run is already in progress on {uri}: {who} on {holder.get('host')} "
        f"(pid {holder.get('pid')}), its lease runs until {until} unless renewed"
    )


def train_delta_store(
    uri: str,
    training_args: dict | None = None,
    *,
    trigger: str = "manual",
    cache: str | os.PathLike[str] | None = None,
    progress_bar: bool | None = None,
) -> Run:
    """Train one run on the Delta store ``uri`` now, in this process, and upload it; the
    finished run (read from the local copy). What ``Framework.retrain()`` does on a Delta store.

    Raises :class:`~trainer.launch.TrainingInProgressError` when another machine holds the
    store's training lease, ``ValueError`` when the retraining set is empty.
    """
    with delta_training(uri, cache=cache) as store:
        if not store.count("retraining"):
            raise ValueError(f"nothing to train on: the retraining set of {uri} is empty")
        return start_run(store, training_args or {}, trigger=trigger, wait=True,
                         progress_bar=progress_bar)  # fmt: skip


def retrain_delta_store(uri: str, training_args: dict | None, *, wait: bool) -> Run:
    """``Framework.retrain()`` on a Delta store: :func:`train_delta_store` here, now.

    ``wait=False`` is a :class:`~curate.errors.CurateError` (the lease is renewed by the
    training process, so it trains in this one), as is another machine's run in progress.
    """
    if not wait:
        raise CurateError(
            f"{uri} is a Delta store: retrain(wait=True) trains it in this process "
            f"(or run `curate train --store {uri}` on another machine)"
        )
    try:
        return train_delta_store(uri, training_args)
    except (TrainingInProgressError, ValueError) as exc:
        raise CurateError(str(exc)) from exc
