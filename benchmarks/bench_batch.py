"""Batch curation (``curate batch``): rows/s for ``local`` and ``ray`` with 1 and 2 workers.

One synthetic Parquet source (text, a score, a class probability; 8 files) curated with an
EDGE_CASE formula and two integrity checks, into a fresh local store per run, by
``curate.scale.job.run``. The Ray runs start their own local Ray (``num_cpus`` = workers) and
the start-up is timed apart from the job. Also measured, so the figures can be read on a small
machine: Ray's fixed cost per job (a one-fragment job on the warm Ray, minus that fragment's own
work), the map step's cost per fragment (one fragment curated in this process), and the
driver's share (the local run minus its map work). From these the rows/s of ``k`` workers is
projected as ``rows / (fixed + map / k + driver)``: on a machine whose cores are shared (or on a
2-core machine, where the driver and the Ray system processes take one) the measured 2-worker
figure is below that projection, and the note says so.

    .venv/bin/python benchmarks/bench_batch.py [--rows 2000000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curate.scale import sources  # noqa: E402
from curate.scale.curation import batch_config  # noqa: E402
from curate.scale.job import _Work, run  # noqa: E402
from curate.signals import Signal  # noqa: E402

WORDS = np.array(["nike shoes are comfortable", "puma socks", "the adidas hoodie is durable",
                  "nike tshirts run small", "a plain review of nothing", None], dtype=object)  # fmt: skip


def make_source(folder: Path, rows: int, files: int = 8) -> None:
    rng = np.random.default_rng(0)
    per = -(-rows // files)
    for i in range(files):
        n = min(per, rows - i * per)
        table = pa.table({"text": rng.choice(WORDS, n), "score": rng.normal(0, 1, n),
                          "outputs": rng.random(n)})  # fmt: skip
        pq.write_table(table, folder / f"part-{i:02d}.parquet", row_group_size=50_000)


def config(store: Path) -> dict:
    return {
        "checks": [
            {"type": "edge_case",
             "signal_formulae": Signal.contains("nike") & (Signal.confidence() < 0.7)},
            {"type": "data_integrity", "integrity_type": "non_null",
             "measurable_args": {"feature_name": "text"}, "window": 100_000},
            {"type": "data_integrity", "integrity_type": "between", "lower": -4, "upper": 4,
             "measurable_args": {"feature_name": "score"}, "window": 100_000},
        ],
        "retraining_folder": str(store),
    }  # fmt: skip


def timed_run(tmp: Path, name: str, engine: str, source: Path) -> dict:
    store = tmp / name
    shutil.rmtree(store, ignore_errors=True)
    return run(config(store), str(source), engine, progress=False)


def start_ray(workers: int) -> float:
    import ray

    ray.shutdown()
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    t = time.perf_counter()
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
             _node_ip_address="127.0.0.1",
             runtime_env={"env_vars": {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}})  # fmt: skip
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    source, tiny = tmp / "source", tmp / "tiny"
    source.mkdir()
    tiny.mkdir()
    make_source(source, args.rows)
    make_source(tiny, 1000, files=1)

    fragments = sources.plan(str(source))
    fragments = sources.with_offsets(fragments, [f.rows for f in fragments])
    work = _Work(batch_config(config(tmp / "w")), 0, 0, None)
    work(fragments[0])  # the first call also compiles the formula and warms the caches
    t = time.perf_counter()
    work(fragments[0])
    map_per_row = (time.perf_counter() - t) / fragments[0].rows
    tiny_work = map_per_row * 1000

    local = timed_run(tmp, "local", "local", source)
    map_total = map_per_row * args.rows
    driver = max(local["seconds"] - map_total, 0.0)
    print(f"source: {args.rows:,} rows in {len(fragments)} fragments of ~{fragments[0].rows:,}")
    print(f"local: {local['rows_per_s']:,.0f} rows/s ({local['seconds']:.1f} s; "
          f"{local['edge_cases']:,} edge cases, {local['quarantine_entries']:,} quarantined)")  # fmt: skip
    print(f"map step: {map_per_row * 1e6:.2f} µs/row ({map_total:.1f} s of the local run); "
          f"driver (plan, reduce, write): {driver:.1f} s")  # fmt: skip

    results = {}
    for workers in (1, 2):
        startup = start_ray(workers)
        timed_run(tmp, "warm", "ray", tiny)  # the first job also starts the workers
        t = time.perf_counter()
        timed_run(tmp, "tiny", "ray", tiny)
        fixed = max(time.perf_counter() - t - tiny_work, 0.0)
        summary = timed_run(tmp, f"ray{workers}", "ray", source)
        assert summary["edge_cases"] == local["edge_cases"], "engines disagree"
        results[workers] = (summary, startup, fixed)
        print(f"ray, {workers} worker(s): {summary['rows_per_s']:,.0f} rows/s "
              f"({summary['seconds']:.1f} s); Ray start-up {startup:.1f} s (once per session), "
              f"fixed cost per job {fixed:.2f} s")  # fmt: skip
    fixed = results[1][2]
    for k in (1, 2, 4, 8):
        projected = args.rows / (fixed + map_total / k + driver)
        print(f"projected ray, {k} worker(s) with a core each: {projected:,.0f} rows/s")
    print(
        f"note: {os.cpu_count()} logical cores here, shared with the driver, Ray's own "
        "processes and other work; the measured 2-worker figure reflects that, the projection "
        "assumes one free core per worker and a driver that keeps up (its reduce and writes "
        "are serial)."
    )
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
