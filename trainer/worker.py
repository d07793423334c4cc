"""Background training worker: ``python -m trainer.worker --store ROOT --run RUN_ID``.

Started by the process that created the run (see :func:`trainer.launch.spawn_worker`), which
passes the training lock and the run lock as inherited file descriptors; the worker keeps them
open until it exits. Started by hand on a run nobody holds, it takes both locks itself.

The worker logs to stderr and ``runs/<id>/train.log``. ``SIGTERM`` is recorded as a failed run
before the process exits. Exit status: 0 finished (promoted or rejected), 1 failed, 2 could not
start.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence

from curate.runs import Run, RunRegistry
from curate.store import Store


class WorkerTerminatedError(BaseException):
    """Raised in the worker on ``SIGTERM`` so the run is recorded as failed."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise WorkerTerminatedError(f"training worker terminated by signal {signum}")


def _setup_logging(run: Run) -> None:
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for handler in (logging.StreamHandler(sys.stderr), logging.FileHandler(run.path / "train.log")):
        handler.setFormatter(fmt)
        root.addHandler(handler)


def _hub_offline_when_local(run: Run) -> None:
    """Forbid hub access unless the run's configured model is a hub name."""
    from trainer.models import DEFAULT_ALIASES, ModelNotFoundError, resolve_model

    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    config = run.record.get("config") or {}
    try:
        # An offline default is local by definition: no need to locate (or convert) it here.
        spec = config.get("model")
        local = spec in DEFAULT_ALIASES or resolve_model(spec, run.store).is_local
    except ModelNotFoundError:
        local = True  # the run will fail on loading and record why
    if local:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainer.worker", description=__doc__)
    parser.add_argument("--store", required=True, help="the store's root folder")
    parser.add_argument("--run", required=True, help="the run id to train")
    parser.add_argument("--progress-bar", action="store_true", help="show the tqdm bar")
    opts = parser.parse_args(argv)
    store = Store(opts.store)
    registry = RunRegistry(store)
    try:
        run = registry.get(opts.run)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    _setup_logging(run)
    # Inherited locks when started by the process that created the run; taken here when the
    # worker is started by hand on a run nobody holds.
    with registry.claim(run=run) as claim:
        if claim is None:
            run.finish(error="another training run is in progress (training lock held)")
            return 2
        return _train(store, registry, run, opts.progress_bar)


def _train(store: Store, registry: RunRegistry, run: Run, progress_bar: bool) -> int:
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        _hub_offline_when_local(run)
        from trainer.runner import train_run

        run = train_run(store, run, progress_bar=progress_bar)
    except WorkerTerminatedError as exc:
        if registry.get(run.run_id).record.get("status") == "running":
            run.finish(error=str(exc))
        return 1
    return 0 if run.has_model else 1


if __name__ == "__main__":
    sys.exit(main())
