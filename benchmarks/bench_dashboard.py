"""How long the dashboard's overview and drift pages take to render on a big store (AppTest).

The synthetic store is written directly with pyarrow in the store layout (see
:mod:`curate.store`): 1,000,000 logged rows in 500 writer flushes (one metrics segment each,
with rows_logged, edge_cases and integrity windows), 100,000 edge cases in 500 retraining
segments, 50,000 quarantined rows, 200 drift windows for 4 columns, a reference profile and one
training run. Each page is timed three ways: cold (caches cleared, modules already imported),
warm (a rerun, nothing new on disk) and incremental (one new segment per table since the last
render). Target: <= 2 s per page. Prints figures; asserts nothing::

    python benchmarks/bench_dashboard.py [--rows 1000000] [--edge-cases 100000] [--windows 200]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.store import ALERTS_SCHEMA, METRICS_SCHEMA, QUARANTINE_SCHEMA

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
WRITER = "bench-1-abcdef"
T0 = 1_780_000_000_000_000  # µs since the epoch
WORDS = np.array(
    [
        "nike",
        "shoes",
        "hoodies",
        "great",
        "comfortable",
        "durable",
        "socks",
        "cheap",
        "bad",
        "running",
    ]
)
DRIFT = (("text", "js"), ("text", "oov"), ("rating", "wasserstein"), ("category", "js"))


def _write(root: Path, table: str, seq: int, data: pa.Table) -> None:
    name = f"part-{T0 + seq * 1000:016d}-{WRITER}-{seq:06d}.parquet"
    pq.write_table(data, root / table / name, compression="zstd")


def _texts(rng: np.random.Generator, n: int) -> list[str]:
    picks = rng.integers(0, len(WORDS), size=(n, 6))
    return [" ".join(row) for row in WORDS[picks]]


def _metric_rows(seq: int, rows: int, edges: int, drift: bool, rng) -> dict[str, list]:
    ts = T0 + seq * 1_000_000
    out: dict[str, list] = {k: [] for k in METRICS_SCHEMA.names}

    def add(monitor, check, column, metric, value, n, threshold=None, flagged=False):
        for k, v in zip(METRICS_SCHEMA.names, (ts, ts - 1_000_000, ts, WRITER, monitor, check,
                        column, metric, float(value), threshold, flagged, n, None),
                        strict=True):  # fmt: skip
            out[k].append(v)

    add("framework", "log", "", "rows_logged", rows, rows)
    add("edge_case", "nike & product & positive", "", "edge_cases", edges, rows)
    violations = int(rng.binomial(rows, 0.05))
    add("data_integrity", "non_null", "text", "violations", violations, rows)
    add("data_integrity", "non_null", "text", "violation_ratio", violations / rows, rows, 0.05,
        violations / rows > 0.05)  # fmt: skip
    if drift:
        for column, method in DRIFT:
            value = abs(rng.normal(0.05 + 0.1 * (seq > 400), 0.02))
            add("data_drift", method, column, method, value, rows, 0.1, value > 0.1)
    return out


def build_store(root: Path, rows: int, edge_cases: int, windows: int, segments: int = 500) -> None:
    """Write the synthetic store under ``root``."""
    rng = np.random.default_rng(0)
    for t in ("retraining", "quarantine", "metrics", "alerts", "runs", "profiles"):
        (root / t).mkdir(parents=True, exist_ok=True)
    (root / "store.json").write_text(json.dumps({"format_version": 1}))
    per_rows, per_edge = rows // segments, edge_cases // segments
    drift_every = max(segments // windows, 1)
    next_id = 0
    for seq in range(segments):
        drift = seq % drift_every == 0 and seq // drift_every < windows
        metrics = _metric_rows(seq, per_rows, per_edge, drift, rng)
        _write(root, "metrics", seq, pa.Table.from_pydict(metrics, METRICS_SCHEMA))
        _write(root, "retraining", seq, _edge_segment(rng, seq, next_id, per_edge))
        _write(root, "quarantine", seq, _quarantine_segment(seq, next_id, per_rows // 20))
        next_id += per_rows
    _write(root, "alerts", segments, _alerts(windows))
    _profile(root, rng)
    _run(root)


def _edge_segment(rng, seq: int, first_id: int, n: int) -> pa.Table:
    ts = pa.array(T0 + seq * 1_000_000 + np.arange(n), pa.int64()).cast(pa.timestamp("us", "UTC"))
    reason = "nike & product & positive"
    return pa.table(
        {
            "id": pa.array(first_id + np.arange(n), pa.int64()),
            "ts": ts,
            "text": _texts(rng, n),
            "rating": rng.normal(4.0, 0.6, n),
            "category": rng.choice(["shoes", "hoodies", "socks"], n),
            "reasons": pa.array([[reason]] * n, pa.list_(pa.string())),
            "signal.is_nike": np.ones(n, bool),
            "signal.is_product": np.ones(n, bool),
            "signal.is_positive": rng.random(n) < 0.9,
        }
    )


def _quarantine_segment(seq: int, first_id: int, n: int) -> pa.Table:
    ts = T0 + seq * 1_000_000
    return pa.Table.from_pydict(
        {"id": list(range(first_id, first_id + n)), "ts": [ts] * n,
         "monitor": ["data_integrity"] * n, "check": ["non_null"] * n, "column": ["text"] * n,
         "value": [None] * n, "reason": ["value is missing"] * n,
         "row": [f'{{"id": {i}, "text": null}}' for i in range(first_id, first_id + n)]},
        QUARANTINE_SCHEMA,
    )  # fmt: skip


def _alerts(n: int) -> pa.Table:
    return pa.Table.from_pydict(
        {"ts": [T0 + i * 1_000_000 for i in range(n)], "monitor": ["data_drift"] * n,
         "check": ["js"] * n, "column": ["text"] * n, "metric": ["js"] * n,
         "value": [0.2] * n, "threshold": [0.1] * n, "message": ["text: js 0.2 > 0.1"] * n},
        ALERTS_SCHEMA,
    )  # fmt: skip


def _profile(root: Path, rng) -> None:
    from monitors.profile import build_profile

    n = 20_000
    ref = pa.table({"text": _texts(rng, n), "rating": rng.normal(4.0, 0.5, n),
                    "category": rng.choice(["shoes", "hoodies", "socks"], n)})  # fmt: skip
    build_profile(ref).save(root / "profiles" / "reference.profile")


def _run(root: Path) -> None:
    folder = root / "runs" / "run-20260101T000000000000-abcdef"
    folder.mkdir(parents=True)
    record = {"run_id": folder.name, "status": "succeeded", "created_at": "2026-01-01T00:00:00",
              "finished_at": "2026-01-01T00:05:00", "trigger": "auto", "kind": "trainer",
              "snapshot": [], "snapshot_rows": 1000, "config": {"retrain_after": 1000},
              "metrics": {"perplexity_before": 20.0, "perplexity_after": 9.0}}  # fmt: skip
    (folder / "run.json").write_text(json.dumps(record))


def _timed(at, page: str | None = None) -> float:
    """Seconds for one script run of ``at`` (switching to ``page`` first when given)."""
    if page is not None:
        at.switch_page(f"app_pages/{page}.py")
    start = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - start
    if at.exception:
        raise RuntimeError(f"{page}: {[e.value for e in at.exception]}")
    return elapsed


def _add_segment(root: Path, seq: int) -> None:
    rng = np.random.default_rng(seq)
    _write(root, "metrics", seq, pa.Table.from_pydict(_metric_rows(seq, 2000, 200, True, rng),
                                                      METRICS_SCHEMA))  # fmt: skip
    _write(root, "retraining", seq, _edge_segment(rng, seq, 10**9 + seq * 1000, 200))


def bench(root: Path) -> None:
    """Print cold, warm and incremental render times of the overview and drift pages."""
    from streamlit.testing.v1 import AppTest

    from dashboard.cache import clear_caches

    os.environ["CURATE_STORE"] = str(root)
    at = AppTest.from_file(str(APP), default_timeout=120)
    first = _timed(at)
    print(f"first run of a fresh session (imports Streamlit, pandas, altair...): {first:.2f} s")
    extra = 10_000
    for page in ("overview", "drift"):
        clear_caches()
        cold = _timed(at, page)
        warm = _timed(at)
        extra += 1
        _add_segment(root, extra)
        incremental = _timed(at)
        print(f"{page:9s} cold {cold:5.2f} s   warm {warm:5.2f} s   "
              f"after new segments {incremental:5.2f} s   (target <= 2 s)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--edge-cases", type=int, default=100_000)
    parser.add_argument("--windows", type=int, default=200)
    parser.add_argument("--store", help="build the store here (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="curate-bench-dash-") as tmp:
        root = Path(args.store or tmp) / "store"
        start = time.perf_counter()
        build_store(root, args.rows, args.edge_cases, args.windows)
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        print(f"store: {args.rows:,} rows logged, {args.edge_cases:,} edge cases, "
              f"{args.windows} drift windows x {len(DRIFT)} series, 500 segments per table, "
              f"{size / 1e6:.1f} MB, built in {time.perf_counter() - start:.1f} s")  # fmt: skip
        bench(root)


if __name__ == "__main__":
    main()
