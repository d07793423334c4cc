"""The product-review example, end to end: log → curate → retrain → before/after predictions.

Synthesises review sentences, logs them one per ``log()`` call as production code would, keeps
the Nike & product & positive-sentiment rows as edge cases, checks the text for nulls and for
drift against last month's traffic, lets the retraining trigger fine-tune the offline default
causal LM (SmolLM2-135M) in the background, and prints the top-5 predictions for the blog's
probe sentences before and after training, with the positive share, general-English checks,
target eval and retention on the traffic sample, and whether the run was promoted.

Run it with ``make demo`` or ``python -m examples.product_reviews.run --help``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from curate import Framework, MeasurableType, Monitor
from examples.product_reviews.data import generate
from examples.product_reviews.report import PROBES
from examples.product_reviews.signals import nike, positive, product

#: The example's recipe: the clm defaults (top 10 blocks, learning rate 1e-4, batch 16) for 100
#: steps (1,600 sentences: under one pass over the ~3,000 edge cases and their replay), with 128
#: held-out edge cases for the target eval.
TRAINING = {"task": "clm", "max_steps": 100, "max_eval_samples": 128}


def build_config(store: Path, retrain_after: int, train: bool, epochs: float | None) -> dict:
    """The example's Framework config, in the UpTrain-style dict form."""
    cfg = {
        "checks": [
            {"type": Monitor.EDGE_CASE, "signal_formulae": nike & product & positive},
            {
                "type": Monitor.DATA_INTEGRITY,
                "measurable_args": {"type": MeasurableType.INPUT_FEATURE, "feature_name": "text"},
                "integrity_type": "non_null",
                "window": 5_000,
                # 5% nulls is this stream's normal; alert only when it clearly rises.
                "alert_ratio": 0.08,
            },
            {
                "type": Monitor.DATA_DRIFT,
                "measurable_args": {"type": MeasurableType.INPUT_FEATURE, "feature_name": "text"},
                # Last month's traffic: another sample of the same stream.
                "reference_dataset": pd.DataFrame({"text": generate(5_000, seed=1)}),
                "window": 5_000,
                "method": "auto",
            },
        ],
        "retraining_folder": str(store),
        # The same traffic sample (retention and replay texts) on every run of the demo.
        "traffic_seed": 0,
    }
    if train:
        cfg["retrain_after"] = retrain_after
        cfg["training_args"] = {**TRAINING, "probes": PROBES}
        if epochs is not None:
            cfg["training_args"].pop("max_steps")
            cfg["training_args"]["epochs"] = epochs
    return cfg


def log_stream(cfg: dict, rows: list[str | None]) -> Framework:
    """Log every row with its own ``log()`` call, as a request handler would."""
    with Framework(cfg) as fw:
        started = time.perf_counter()
        for text in rows:
            fw.log(inputs={"text": [text]})
        caller = time.perf_counter() - started
        fw.flush()
        total = time.perf_counter() - started
    print(
        f"logged {len(rows):,} rows one per call: {caller / len(rows) * 1e6:.1f} µs per call "
        f"on the caller's side, {len(rows) / total:,.0f} rows/s until durable"
    )
    return fw


def summarise(fw: Framework) -> None:
    """Print what the store holds now."""
    stats = fw.stats()
    files = ", ".join(f"{k}: {v}" for k, v in stats["files"].items())
    print(f"rows logged:      {stats['rows_logged']:,}")
    after = stats["retrain_after"]
    trigger = f"retrain_after = {after:,}" if after is not None else "no automatic training"
    print(f"edge cases:       {stats['edge_cases']:,} ({trigger})")
    print(f"nulls found:      {stats['quarantined']:,} rows quarantined")
    print(f"files written:    {files}")
    print(f"store:            {fw.store.root}")


def report_training(fw: Framework, timeout: float) -> int:
    """Wait for the background run, then print its before/after predictions and figures."""
    from examples.product_reviews.report import training_report

    print("\nwaiting for the background training run ...", flush=True)
    started = time.perf_counter()
    run = fw.wait_for_training(timeout=timeout)
    if run is None:
        print("no training run was started (fewer edge cases than retrain_after)")
        return 1
    print(f"run {run.run_id}: {run.status} after {time.perf_counter() - started:.0f} s of waiting")
    if not run.has_model:
        print(f"error: {run.error}\nlog: {run.path / 'worker.log'}")
        return 1
    timings = run.record.get("timings") or {}
    shown = ", ".join(f"{k} {v:.0f}s" for k, v in timings.items())
    print(f"run timings: {shown}\n")
    print(training_report(run))
    return 0


def offer_dashboard(store: Path, start: bool) -> None:
    """Print the dashboard command; start it when a person is at the terminal."""
    url = "http://127.0.0.1:8501"
    script = Path(sys.executable).with_name("curate")
    exe = str(script) if script.exists() else shutil.which("curate") or "curate"
    command = [exe, "dashboard", "--store", str(store)]
    print(f"\ndashboard: {url}   (start it with: {' '.join(command)})")
    if start and sys.stdin.isatty():
        print("starting the dashboard; press Ctrl+C to stop it")
        with contextlib.suppress(KeyboardInterrupt):
            subprocess.run(command, check=False)


def main(argv: list[str] | None = None) -> int:
    """Run the example; returns a process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=25_000)
    parser.add_argument("--store", type=Path, default=Path(".demo/curate_data"))
    parser.add_argument("--retrain-after", type=int, default=3_000)
    parser.add_argument("--epochs", type=float, default=None, help="override the default recipe")
    parser.add_argument("--no-train", action="store_true", help="monitor and curate only")
    parser.add_argument("--no-dashboard", action="store_true", help="never start the dashboard")
    parser.add_argument("--keep", action="store_true", help="keep an existing demo store")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for training")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    started = time.perf_counter()
    if args.store.exists() and not args.keep:
        shutil.rmtree(args.store)  # a fresh demo each time; a user's own store is never touched
    train = not args.no_train
    if train:
        try:
            import trainer  # noqa: F401
        except ImportError:
            print("the trainer package is not installed: monitoring and curation only")
            train = False
    cfg = build_config(args.store, args.retrain_after, train, args.epochs)
    rows = generate(args.rows, seed=0)
    fw = log_stream(cfg, rows)
    summarise(fw)
    code = report_training(fw, args.timeout) if train else 0
    print(f"\ndemo finished in {time.perf_counter() - started:.0f} s")
    offer_dashboard(args.store, start=not args.no_dashboard)
    return code


if __name__ == "__main__":
    sys.exit(main())
