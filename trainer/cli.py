"""The ``train``, ``runs`` and ``probe`` subcommands of the ``curate`` command line.

``curate.cli`` calls :func:`add_subcommands` on its subparsers; each subcommand stores its
handler as ``func`` (``handler(args) -> int`` exit status)::

    curate train --store curate_data [--model NAME_OR_PATH] [--epochs N] [--probe "... [MASK]"]
    curate runs  --store curate_data                       # the table of runs
    curate runs  promote RUN --store curate_data [--reason "..."]   # overrule the rule by hand
    curate runs  reject RUN --store curate_data [--reason "..."]
    curate probe --store curate_data --run latest ["Nike shoes are very [MASK]" ...]

``latest`` is the latest promoted run. ``curate train`` exits 0 when the run finished (promoted
or rejected: the summary says which and why), 1 when it failed, 2 on a usage error.

``curate train`` starts from the latest trainer run's ``training_args`` (so a manual run trains
like the automatic ones), overridden by the flags; with no earlier run, the defaults.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from curate.runs import Run
from curate.store import Store
from curate.store_reader import StoreReader


def add_subcommands(subparsers: Any) -> None:
    """Register ``train``, ``runs`` and ``probe`` on an ``argparse`` subparsers object."""
    train = subparsers.add_parser("train", help="fine-tune the model on the retraining set now")
    _store_arg(train)
    train.add_argument("--model", help="hub name, local folder, run id or 'default'")
    train.add_argument("--epochs", type=float, help="training epochs")
    train.add_argument("--max-steps", type=int, help="stop after this many optimiser steps")
    train.add_argument("--learning-rate", type=float, help="peak learning rate")
    train.add_argument("--batch-size", type=int, help="per-device batch size")
    train.add_argument(
        "--probe",
        action="append",
        help="a [MASK] sentence (a prompt for clm, any sentence for classification, "
        "'question || context' for qa; repeatable)",
    )
    train.add_argument(
        "--from-base-model", action="store_true", help="start from --model, not the last run"
    )
    train.add_argument(
        "--background", action="store_true", help="train in a background worker and return"
    )
    train.add_argument(
        "--mirror", help="for a Delta store: the folder of its local copy (default: the user cache)"
    )
    train.set_defaults(func=cmd_train)

    runs = subparsers.add_parser("runs", help="list training runs, or promote/reject one")
    _store_arg(runs)
    runs.add_argument(
        "action", nargs="?", default="list", choices=["list", "promote", "reject"],
        help="list (default), or promote/reject RUN by hand",
    )  # fmt: skip
    runs.add_argument("run", nargs="?", help="the run id to promote or reject")
    runs.add_argument("--reason", default="", help="why (kept in the run record)")
    runs.set_defaults(func=cmd_runs)

    probe = subparsers.add_parser(
        "probe", help="a run's predictions for probes ([MASK] sentences, sentences, questions)"
    )
    _store_arg(probe)
    probe.add_argument(
        "--run", default="latest", help="run id or 'latest' (the latest promoted run, default)"
    )
    probe.add_argument("--top-k", type=int, default=5)
    probe.add_argument(
        "sentences",
        nargs="*",
        help="probes as the run's task takes them; none: show the run's stored probes",
    )
    probe.set_defaults(func=cmd_probe)


def _store_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", default="curate_data", help="the store folder (curate_data)")


def _is_delta(store: str) -> bool:
    from curate.delta_store import is_uri

    return is_uri(store) and not store.lower().startswith("file://")


def _reader(store: str, *, models: bool = False) -> StoreReader:
    """The store to read: a folder, or a fresh local copy of a Delta store (``models``: with
    the newest promoted model)."""
    if not _is_delta(store):
        return StoreReader(store)
    from curate.delta_mirror import DeltaMirror

    mirror = DeltaMirror(store)
    mirror.pull(models=models)
    return StoreReader(mirror.root)


def _writable(reader: StoreReader, args: argparse.Namespace) -> Store:
    # A decision on a Delta store's run is written to its copy and uploaded with it.
    if not _is_delta(args.store):
        return Store(reader.root)
    from curate.delta_mirror import DeltaMirror, MirrorStore

    return MirrorStore(DeltaMirror(args.store, reader.root))


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _base_config(store: StoreReader) -> dict[str, Any]:
    for run in reversed(store.runs()):
        if run.record.get("kind") == "trainer" and run.record.get("config"):
            return dict(run.record["config"])
    return {}


def cmd_train(args: argparse.Namespace) -> int:
    """``curate train``: snapshot the retraining set and fine-tune on it.

    On a Delta store (``--store s3://...``) the run trains on a local copy under the store's
    training lease (:mod:`trainer.delta_training`) and is uploaded when it ends.
    """
    from curate.delta_store import is_uri
    from trainer.launch import TrainingInProgressError

    if not (is_uri(args.store) and not args.store.lower().startswith("file://")):
        reader = StoreReader(args.store)
        if not reader.exists():
            return _error(f"no store at {reader.root}")
        return _train(Store(reader.root), args)
    if args.background:
        return _error("--background is not available for a Delta store: the training lease "
                      "is renewed by this process, so it trains here")  # fmt: skip
    from trainer.delta_training import delta_training

    try:
        with delta_training(args.store, cache=getattr(args, "mirror", None)) as store:
            return _train(store, args)
    except TrainingInProgressError as exc:
        return _error(str(exc))


def _train(store: Store, args: argparse.Namespace) -> int:
    from trainer.config import TrainingArgs
    from trainer.launch import TrainingInProgressError, start_run
    from trainer.report import probe_report, run_summary

    if not store.count("retraining"):
        return _error(f"nothing to train on: the retraining set in {store.root} is empty")
    try:
        training_args = TrainingArgs.model_validate(_base_config(store)).overridden(
            model=args.model,
            epochs=args.epochs,
            max_steps=args.max_steps,
            learning_rate=args.learning_rate,
            batch_size=args.batch_size,
            probes=args.probe,
            from_base_model=args.from_base_model or None,
        )
        run = start_run(store, training_args, trigger="cli", wait=not args.background)
    except (TrainingInProgressError, ValueError) as exc:
        return _error(str(exc))
    if args.background:
        print(f"started {run.run_id} in the background; see `curate runs --store {args.store}`")
        return 0
    print(run_summary(run))
    if run.has_model:
        print("\n" + probe_report(run))
    return 0 if run.has_model else 1


def cmd_runs(args: argparse.Namespace) -> int:
    """``curate runs``: a table of every run, oldest first; or promote/reject one by hand."""
    from trainer.report import runs_table

    store = _reader(args.store)
    if not store.exists():
        return _error(f"no store at {store.root}")
    if args.action != "list":
        return _decide(_writable(store, args), args)
    runs = store.runs()
    print(runs_table(runs) if runs else f"no runs in {args.store}")
    return 0


def _decide(store: Store, args: argparse.Namespace) -> int:
    from curate.runs import RunRegistry

    if not args.run:
        return _error(f"curate runs {args.action} needs a run id")
    status = "promoted" if args.action == "promote" else "rejected"
    try:
        run = RunRegistry(store).decide(args.run, status, args.reason)
    except (KeyError, ValueError) as exc:
        return _error(str(exc.args[0]))
    latest = RunRegistry(store).latest_promoted()
    print(f"{run.run_id} is now {run.status}; latest promoted: {latest.run_id if latest else None}")
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    """``curate probe``: live predictions (run model vs its base) or the run's stored probes."""
    from trainer.report import probe_report

    store = _reader(args.store, models=bool(args.sentences))
    if not store.exists():
        return _error(f"no store at {store.root}")
    if args.run == "latest":  # the latest promoted model: what the next run starts from
        run = store.latest_promoted()
        if run is None:
            return _error(f"no promoted run in {store.root}")
    else:
        try:
            run = store.run(args.run)
        except KeyError as exc:
            return _error(str(exc.args[0]))
    if not args.sentences:
        print(probe_report(run))
        return 0
    try:
        print(_live_probes(store, run, args.sentences, args.top_k))
    except (LookupError, ValueError) as exc:
        return _error(str(exc))
    return 0


def _live_probes(store: StoreReader, run: Run, sentences: list[str], top_k: int) -> str:
    """The run's model and its base side by side, through the run's own task."""
    from trainer.config import TrainingArgs
    from trainer.models import resolve_model
    from trainer.report import side_by_side
    from trainer.tasks import get_task

    if not run.has_model:
        raise LookupError(f"run {run.run_id} is {run.status}; it has no model to probe")
    config = {**(run.record.get("config") or {}), "top_k": top_k, "probes": []}
    args = TrainingArgs.model_validate(config)
    task = get_task(args.task, args)
    probes = [task.check_probe(s) for s in sentences]
    # The run's model first: it tells the task its labels, which the base's head then gets.
    model, tokenizer = task.load(resolve_model(run.run_id, store, task=args.task))
    after = task.probe_rows(model.eval(), tokenizer, probes, "after")
    rows = []
    base = run.record.get("base_model_path") or run.record.get("base_model")
    if base:
        model, tokenizer = task.load(resolve_model(base, store, task=args.task))
        rows += task.probe_rows(model.eval(), tokenizer, probes, "before")
    return side_by_side(rows + after, "before", "after")
