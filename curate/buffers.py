"""What the pipeline has produced and not yet written: rows per store table, metrics, alerts.

:meth:`WriteBuffers.write` makes everything durable as one segment per table. A table whose
write fails keeps its rows to retry; while the store stays unwritable, memory is bounded by
dropping the oldest buffered rows, and the loss is counted (the count itself is written once
the store takes writes again).

>>> import tempfile, pyarrow as pa
>>> from curate.store import Store
>>> buffers = WriteBuffers(Store(tempfile.mkdtemp()), strict=True, max_rows=1000)
>>> buffers.add("retraining", pa.table({"id": [1], "text": ["a"]}))
>>> buffers.buffered_rows(), buffers.write(), buffers.buffered_rows()
(1, True, 0)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from curate.errors import StoreError
from curate.labels import LABELS_TABLE
from curate.store import Store
from curate.tables import Metric, alerts_table, framework_metric, metrics_table
from curate.traffic import DEFAULT_SIZE, TRAFFIC_TABLE, Reservoir

log = logging.getLogger("curate")

#: Metric rows kept at most while the store cannot be written.
MAX_METRIC_ROWS = 10_000


class WriteBuffers:
    """Buffered rows for ``retraining`` and ``quarantine``, plus metric and alert rows."""

    def __init__(
        self,
        store: Store,
        *,
        strict: bool,
        max_rows: int,
        report: Callable[[str], None] | None = None,
        traffic_sample: int | None = DEFAULT_SIZE,
        traffic_seed: int | None = None,
    ) -> None:
        self.store = store
        self.strict = strict
        self.max_rows = max_rows
        self.report = report or (lambda message: log.error("curate: %s", message))
        self.tables: dict[str, list[pa.Table]] = {
            "retraining": [],
            "quarantine": [],
            TRAFFIC_TABLE: [],
            LABELS_TABLE: [],
        }
        #: The traffic sample (``curate.traffic``); ``None`` when ``traffic_sample`` is 0/None.
        self.traffic = Reservoir(store, traffic_sample, traffic_seed) if traffic_sample else None
        self.metric_rows: list[dict[str, Any]] = []
        self.alert_rows: list[dict[str, Any]] = []
        # Failed segment writes not yet recorded in the metrics table (recorded once one works).
        self.write_errors = 0

    def add(self, table: str, rows: pa.Table) -> None:
        """Buffer rows for ``table`` (``retraining`` or ``quarantine``)."""
        self.tables[table].append(rows)

    def add_traffic(self, batch: Any) -> None:
        """Offer every row of a logged batch to the traffic sample; never raises."""
        if self.traffic is None:
            return
        try:
            rows = self.traffic.offer(batch)
        except Exception as exc:  # noqa: BLE001 - the sample must never cost the caller rows
            self.report(f"the traffic sample skipped {len(batch)} rows: {exc}")
            return
        if rows is not None:
            self.tables[TRAFFIC_TABLE].append(rows)

    def buffered_rows(self) -> int:
        """Rows waiting in the table buffers."""
        return sum(t.num_rows for b in self.tables.values() for t in b)

    def write(self) -> bool:
        """Write every buffer as one segment per table; False (buffers kept) if the disk failed."""
        ok = True
        if self.write_errors:
            self.metric_rows.append(
                framework_metric("write", Metric.WRITE_ERRORS, self.write_errors, 0)
            )
            self.write_errors = 0
        pending = [(name, tables) for name, tables in self.tables.items() if tables]
        if self.metric_rows:
            pending.append(("metrics", [metrics_table(self.metric_rows, self.store.writer_id)]))
        if self.alert_rows:
            pending.append(("alerts", [alerts_table(self.alert_rows)]))
        for name, tables in pending:
            try:
                self.store.write(name, _concat(tables))
            except (StoreError, OSError, pa.ArrowException) as exc:
                if self.strict:
                    raise
                ok = False
                self.report(f"writing {name} failed, rows kept in memory to retry: {exc}")
                self.write_errors += 1
                continue
            if name in self.tables:
                self.tables[name] = []
            elif name == "metrics":
                self.metric_rows = []
            else:
                self.alert_rows = []
        if not ok:
            self._shed_load()
        return ok

    def _shed_load(self) -> None:
        # Only while the disk keeps failing: memory must stay bounded, so the oldest buffered
        # rows go first and the loss is counted.
        dropped = 0
        while self.buffered_rows() > self.max_rows:
            name = max(self.tables, key=lambda k: sum(t.num_rows for t in self.tables[k]))
            dropped += self.tables[name].pop(0).num_rows
        if len(self.metric_rows) > MAX_METRIC_ROWS:
            self.metric_rows = self.metric_rows[-MAX_METRIC_ROWS:]
        if dropped:
            self.report(f"dropped {dropped} buffered rows: the store has been unwritable too long")
            self.metric_rows.append(
                framework_metric("write", Metric.ROWS_DROPPED, dropped, dropped)
            )


def _concat(tables: list[pa.Table]) -> pa.Table:
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables(tables, promote_options="permissive")
