"""Benchmark: the cost of signal analysis on the log path, as a share of ``log()`` throughput.

One EDGE_CASE check with a four-predicate formula over generated product reviews logged with
class probabilities and ground truth (so precision is counted too), 1,000 rows per call:

(a) end-to-end rows/s until ``flush()`` returns, with ``signal_analysis`` on (the default,
    windows of 10,000 rows) and off, alternating in the same run, best of ``--repeat``;
(b) the analysis alone (``SignalAnalysis.update`` on the same rows and formula outcomes, in
    batches of 1,000 rows and of 20,000, the most the writer merges queued calls into), in µs
    per 1,000 rows, and as a share of the end-to-end time per row.

Target: the analysis costs at most 10% of log() throughput. Figures are printed, never
asserted in tests.

    python benchmarks/bench_signals.py                 # 300,000 rows, best of 3
    python benchmarks/bench_signals.py --rows 50000 --repeat 1   # quicker
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from curate import Framework, Signal  # noqa: E402
from curate.batch import Batch  # noqa: E402
from curate.signals.isolated import evaluate_isolated  # noqa: E402
from examples.product_reviews.data import generate  # noqa: E402
from monitors.signal_analysis import SignalAnalysis  # noqa: E402

CALL_ROWS = 1000
BATCHES = (1_000, 20_000)
FORMULA = (
    Signal.contains("nike") & Signal.contains(["shoes", "hoodies", "tshirts"])
    & (Signal.confidence() < 0.7)
    | (Signal.length() > 60)
)  # fmt: skip


def workload(rows: int, seed: int = 3) -> list[tuple[list, np.ndarray, list]]:
    """Calls of ``CALL_ROWS`` rows: texts, class probabilities, labels (some missing)."""
    rng = np.random.default_rng(seed)
    texts = generate(min(rows, 50_000), seed=seed)
    texts = (texts * (rows // len(texts) + 1))[:rows]
    p = rng.uniform(0.3, 1.0, rows)
    probs = np.stack([p, 1.0 - p], axis=1)
    labels = rng.integers(0, 2, rows).astype(object)
    labels[rng.random(rows) < 0.3] = None
    return [(texts[i : i + CALL_ROWS], probs[i : i + CALL_ROWS], list(labels[i : i + CALL_ROWS]))
            for i in range(0, rows, CALL_ROWS)]  # fmt: skip


def end_to_end(calls: list, analysis: bool) -> float:
    """Rows/s from the first ``log()`` until ``flush()`` returns."""
    with tempfile.TemporaryDirectory() as tmp:
        check = {"type": "edge_case", "signal_formulae": FORMULA, "signal_analysis": analysis}
        fw = Framework({"checks": [check], "retraining_folder": tmp})
        fw.log(inputs={"text": calls[0][0][:10]}, outputs=calls[0][1][:10], gts=calls[0][2][:10])
        fw.flush()  # start-up costs (id block, imports) outside the timing
        gc.collect()
        t0 = time.perf_counter()
        for texts, probs, labels in calls:
            fw.log(inputs={"text": texts}, outputs=probs, gts=labels)
        fw.flush()
        elapsed = time.perf_counter() - t0
        fw.close()
    return sum(len(c[0]) for c in calls) / elapsed


def analysis_alone(calls: list, batch_rows: int) -> float:
    """Seconds ``SignalAnalysis.update`` takes over the rows of ``calls`` cut in batches of
    ``batch_rows`` (formula outcomes precomputed, as the monitor has them)."""
    texts = [t for c in calls for t in c[0]]
    probs = np.concatenate([c[1] for c in calls])
    labels = [v for c in calls for v in c[2]]
    batches = []
    for first in range(0, len(texts), batch_rows):
        ids = np.arange(first, min(first + batch_rows, len(texts)))
        batch = Batch.from_log(ids, ids, {"text": texts[first : first + batch_rows]},
                               outputs=probs[ids], gts=labels[first : first + batch_rows])  # fmt: skip
        batches.append((batch, evaluate_isolated(FORMULA, batch)))
    acc = SignalAnalysis(FORMULA, 10_000, "bench")
    t0 = time.perf_counter()
    for batch, outcome in batches:
        acc.update(batch, outcome)
    acc.flush()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    calls = workload(args.rows)
    on, off = [], []
    for _ in range(args.repeat):
        off.append(end_to_end(calls, analysis=False))
        on.append(end_to_end(calls, analysis=True))
    best_on, best_off = max(on), max(off)
    cost = 1.0 - best_on / best_off
    # The writer merges queued calls into batches of up to batch_size (20,000) rows.
    alone = {n: min(analysis_alone(calls, n) for _ in range(args.repeat)) for n in BATCHES}
    ok = cost <= 0.10
    print(f"signal analysis, {args.rows:,} rows in calls of {CALL_ROWS:,}, formula of 4 "
          f"predicates (best of {args.repeat}):")  # fmt: skip
    print(f"(a) log() end to end, analysis off: {best_off:>12,.0f} rows/s")
    print(f"    log() end to end, analysis on : {best_on:>12,.0f} rows/s")
    print(f"    throughput lost to the analysis: {cost:.1%} "
          f"[target <= 10%: {'met' if ok else 'NOT met'}]")  # fmt: skip
    for n, seconds in alone.items():
        # The analysis' share of each logged row's end-to-end time.
        share = seconds / args.rows * best_on
        print(f"(b) analysis alone, batches of {n:>6,} rows: "
              f"{seconds / args.rows * 1e9:>7,.0f} µs per 1,000 rows, {share:.1%} of the "
              "end-to-end time per row")  # fmt: skip
    return {"on": best_on, "off": best_off, "cost": cost, "alone_s": alone}


if __name__ == "__main__":
    main()
