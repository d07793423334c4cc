"""Small stores for the compaction tests: segments with chosen ids, timestamps and metrics."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from curate.store import Store
from curate.store_reader import StoreReader
from curate.tables import METRICS_SCHEMA, TS, now_us

HOUR = 3_600_000_000
COUNTERS = ("rows_logged", "violations", "rows_dropped")


def retraining_rows(ids, ts: int | None = None, texts=None) -> pa.Table:
    ts = now_us() if ts is None else ts
    texts = [f"row {i}" for i in ids] if texts is None else texts
    return pa.table({"id": pa.array(ids, pa.int64()), "ts": pa.array([ts] * len(ids), TS),
                     "text": texts})  # fmt: skip


def metrics_rows(rows: list[tuple[int, str, str, float]]) -> pa.Table:
    """Rows of (ts, writer, metric, value), the rest of the fixed schema filled in."""
    n = len(rows)
    data = {"ts": [r[0] for r in rows], "window_start": [r[0] for r in rows],
            "window_end": [r[0] for r in rows], "writer": [r[1] for r in rows],
            "monitor": ["framework"] * n, "check": ["log"] * n, "column": [""] * n,
            "metric": [r[2] for r in rows], "value": [r[3] for r in rows],
            "threshold": [None] * n, "flagged": [False] * n, "n": [1] * n, "summary": [None] * n}  # fmt: skip
    return pa.table(data, schema=METRICS_SCHEMA)


def ids_of(reader: StoreReader, table: str = "retraining") -> list[int]:
    data = reader.read(table, ["id"])
    return data["id"].to_pylist() if "id" in data.column_names else []


def three_segments(root: Path) -> Store:
    store = Store(root)
    for i in range(3):
        store.write("retraining", retraining_rows([2 * i, 2 * i + 1]))
    return store
