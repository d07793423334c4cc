"""RSS while logging many rows: memory must stay flat (bounded buffers, backpressure).

Logs ``--rows`` rows (default 10 million) of the product-review workload, 1,000 rows per call,
through a Framework with the built-in signals and a non-null check, and samples the process's
resident set size every ``--every`` rows. Prints the curve and the growth over the second half,
which is what "flat" means here (the first part includes imports, caches and warm-up).

    python benchmarks/bench_memory.py --rows 10000000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curate import Framework, MeasurableType, Monitor, Signal  # noqa: E402
from examples.product_reviews.data import (  # noqa: E402
    COMPANIES,
    POSITIVE_ADJECTIVES,
    PRODUCTS,
    generate,
)


def config(store: str) -> dict:
    """Three built-in signals and a non-null check, as in the example."""
    words = Signal.matches(r"(?i)\b(" + "|".join(POSITIVE_ADJECTIVES) + r")\b")
    formula = Signal.contains(COMPANIES[0]) & Signal.contains(PRODUCTS) & words
    return {
        "checks": [
            {"type": Monitor.EDGE_CASE, "signal_formulae": formula},
            {
                "type": Monitor.DATA_INTEGRITY,
                "measurable_args": {"type": MeasurableType.INPUT_FEATURE, "feature_name": "text"},
                "integrity_type": "non_null",
            },
        ],
        "retraining_folder": store,
    }


def run(rows: int, every: int, per_call: int) -> list[tuple[int, float, float]]:
    """Log ``rows`` rows; return (rows logged, seconds, RSS MB) samples."""
    proc = psutil.Process(os.getpid())
    # A pool of distinct batches, reused: generating 10M fresh strings would measure the
    # generator, not the Framework.
    pool = [generate(per_call, seed=s) for s in range(50)]
    samples = []
    with tempfile.TemporaryDirectory() as tmp, Framework(config(tmp)) as fw:
        started = time.perf_counter()
        samples.append((0, 0.0, proc.memory_info().rss / 2**20))
        for i in range(rows // per_call):
            fw.log(inputs={"text": pool[i % len(pool)]})
            done = (i + 1) * per_call
            if done % every == 0:
                samples.append(
                    (done, time.perf_counter() - started, proc.memory_info().rss / 2**20)
                )
        fw.flush()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--every", type=int, default=500_000)
    parser.add_argument("--per-call", type=int, default=1_000)
    args = parser.parse_args()
    samples = run(args.rows, args.every, args.per_call)
    print(f"RSS while logging {args.rows:,} rows ({args.per_call:,} per call):")
    print(f"{'rows':>12} {'seconds':>8} {'RSS MB':>8}")
    for done, secs, rss in samples:
        print(f"{done:>12,} {secs:>8.1f} {rss:>8.1f}")
    half = [rss for done, _, rss in samples if done >= args.rows // 2]
    peak = max(rss for _, _, rss in samples)
    growth = half[-1] - half[0] if len(half) > 1 else 0.0
    rate = samples[-1][0] / samples[-1][1] if samples[-1][1] else 0.0
    print(
        f"peak RSS {peak:.0f} MB; growth over the second half {growth:+.1f} MB; {rate:,.0f} rows/s"
    )
    print(f"[target: flat, second-half growth <= 64 MB: {'MET' if growth <= 64 else 'MISSED'}]")


if __name__ == "__main__":
    main()
