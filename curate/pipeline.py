"""What happens to logged rows off the request path: normalise, monitor, buffer, write.

The :class:`Pipeline` is driven by the Framework's writer thread (or inline in strict mode). It
turns queued ``log()`` calls into one :class:`~curate.batch.Batch`, runs every monitor on it,
and buffers the rows each store table should receive; :meth:`Pipeline.write` makes them durable
as one segment per table. In production mode every failure (a malformed call, a monitor or signal
that raises, a disk error) is logged, counted in the metrics and, when rows are affected, sent to
quarantine; strict mode raises the same message instead.
"""

from __future__ import annotations

import json
import logging
import traceback
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.arrow_values import safe_repr
from curate.batch import Batch
from curate.calls import LogCall, merge_calls, mergeable_groups, to_batch
from curate.errors import CurateError, LogInputError, StoreError
from curate.schema_guard import SchemaGuard
from curate.store import Store, now_us
from curate.tables import alerts_table, metric_row, metrics_table, quarantine_table
from monitors.base import BaseMonitor, MonitorResult

log = logging.getLogger("curate")


class Pipeline:
    """Monitors batches of logged calls and writes what they produce to the store."""

    def __init__(
        self, store: Store, monitors: list[BaseMonitor], *, strict: bool, max_buffered_rows: int
    ) -> None:
        self.store = store
        self.monitors = monitors
        self.strict = strict
        self.max_buffered_rows = max_buffered_rows
        self.buffers: dict[str, list[pa.Table]] = {"retraining": [], "quarantine": []}
        self.metric_rows: list[dict[str, Any]] = []
        self.alert_rows: list[dict[str, Any]] = []
        self.last_error: str | None = None
        # Failed segment writes not yet recorded in the metrics table (recorded once one works).
        self.write_errors = 0
        self._guard: SchemaGuard | None = None

    # -- processing ------------------------------------------------------------------------
    def process(self, calls: list[LogCall]) -> None:
        """Normalise and monitor a list of queued calls (one batch when they fit together)."""
        late = [c for c in calls if c.ground_truth_only]
        if late:
            calls = [c for c in calls if not c.ground_truth_only]
            for batch in self._normalise(late):
                self._process_late_ground_truth(batch)
        batches = []
        for group in mergeable_groups(calls):
            batches.extend(self._normalise(group))
        if not batches:
            return
        try:
            merged = [Batch.concat(batches)]
        except pa.ArrowException:
            merged = batches  # calls whose columns differ in type are monitored one by one
        for batch in merged:
            self._process_contained(batch)

    def _process_late_ground_truth(self, batch: Batch) -> None:
        for monitor in self.monitors:
            if monitor.uses_late_ground_truth:
                result = self._run_monitor(monitor, batch)
                if result is not None:
                    self._collect(result)

    def _process_contained(self, batch: Batch) -> None:
        # The last line of defence: whatever goes wrong, the rows are kept in quarantine.
        try:
            self.process_batch(batch)
        except Exception as exc:
            if self.strict:
                raise
            message = f"rows {batch.ids[0]}..{batch.ids[-1]} could not be processed: {exc}"
            self._report(message, exc)
            self._quarantine_all(batch, "framework", "processing", f"{type(exc).__name__}: {exc}")

    def _normalise(self, calls: list[LogCall]) -> list[Batch]:
        if len(calls) > 1:
            merged = merge_calls(calls)
            try:
                return [to_batch(merged)]
            except (LogInputError, ValueError, TypeError):
                pass  # one call in the group is bad: redo them one by one to find it
        batches = []
        for call in calls:
            try:
                batches.append(to_batch(call))
            except Exception as exc:  # noqa: BLE001 - any malformed call is contained
                self._malformed(call, exc)
        return batches

    def process_batch(self, batch: Batch) -> None:
        """Run every monitor on ``batch`` and buffer the edge cases, quarantine and metrics."""
        n = len(batch)
        violations = np.zeros(n, dtype=bool)
        if batch.problems:
            violations |= self._cell_problems(batch)
        masks: list[tuple[str, np.ndarray, dict[str, np.ndarray]]] = []
        for monitor in self.monitors:
            result = self._run_monitor(monitor, batch)
            if result is None:
                violations[:] = True
                continue
            if result.violations is not None:
                violations |= result.violations
            if result.edge_mask is not None:
                masks.append((result.reason or monitor.name, result.edge_mask, result.leaves))
            self._collect(result)
        self.metric_rows.append(
            metric_row(monitor="framework", check="log", column="", metric="rows_logged",
                       value=n, n=n, window_start=int(batch.ts.min()), window_end=int(batch.ts.max()))
        )  # fmt: skip
        if masks:
            self._buffer_edge_cases(batch, masks, violations)

    def _run_monitor(self, monitor: BaseMonitor, batch: Batch) -> MonitorResult | None:
        try:
            return monitor.process(batch)
        except Exception as exc:
            message = (
                f"monitor {monitor.name!r} failed on rows {batch.ids[0]}..{batch.ids[-1]}: {exc}"
            )
            if self.strict:
                raise
            self._report(message, exc)
            self.metric_rows.append(
                metric_row(monitor=monitor.kind, check=monitor.name, column="",
                           metric="monitor_errors", value=1, n=len(batch))
            )  # fmt: skip
            self._quarantine_all(batch, monitor.kind, monitor.name, f"{type(exc).__name__}: {exc}")
            return None

    def _buffer_edge_cases(
        self,
        batch: Batch,
        masks: list[tuple[str, np.ndarray, dict[str, np.ndarray]]],
        violations: np.ndarray,
    ) -> None:
        selected = np.zeros(len(batch), dtype=bool)
        for _, mask, _ in masks:
            selected |= mask
        selected &= ~violations
        idx = np.flatnonzero(selected)
        if not len(idx):
            return
        table = batch.take(idx).stored_table()
        # reasons: for each selected row, the formulas that selected it (built column-wise).
        hits = np.stack([mask[idx] for _, mask, _ in masks], axis=1)
        names = np.array([reason for reason, _, _ in masks], dtype=object)
        offsets = np.concatenate([[0], np.cumsum(hits.sum(axis=1))]).astype(np.int32)
        values = pa.array(np.tile(names, len(idx))[hits.ravel()], pa.string())
        table = table.append_column("reasons", pa.ListArray.from_arrays(offsets, values))
        for _, _, leaves in masks:
            for leaf, values in leaves.items():
                name = f"signal.{leaf}"
                if name not in table.column_names:
                    table = table.append_column(name, pa.array(values[idx]))
        self.buffers["retraining"].append(self._conform(table))

    def _conform(self, table: pa.Table) -> pa.Table:
        """Cast edge-case rows to the retraining set's column types; misfits go to quarantine."""
        if self._guard is None:
            self._guard = SchemaGuard(_existing_schema(self.store, "retraining"))
        conformed, rejected = self._guard.conform(table)
        for column, mask in rejected.items():
            rows = table.filter(pa.array(mask))
            self._report(
                f"{rows.num_rows} edge cases have {column!r} of type "
                f"{table.schema.field(column).type}, but the retraining set stores "
                f"{self._guard.types[column]}: kept in quarantine"
            )
            self.buffers["quarantine"].append(
                quarantine_table(
                    rows.column("id").to_numpy(),
                    rows.column("ts").cast(pa.int64()).to_numpy(),
                    monitor="framework", check="schema", column=column,
                    values=[safe_repr(v) for v in rows.column(column).to_pylist()],
                    reasons=f"type {table.schema.field(column).type} does not fit "
                    f"{self._guard.types[column]}",
                    rows=[json.dumps(r, default=safe_repr) for r in rows.to_pylist()],
                )
            )  # fmt: skip
        return conformed

    def _collect(self, result: MonitorResult) -> None:
        for q in result.quarantine:
            self.buffers["quarantine"].append(q)
        self.metric_rows.extend(result.metrics)
        self.alert_rows.extend(result.alerts)
        for alert in result.alerts:
            log.warning("curate alert: %s", alert["message"])

    def flush_monitors(self) -> None:
        """Close every monitor's partial window (metrics and alerts go to the buffers)."""
        for monitor in self.monitors:
            try:
                self._collect(monitor.flush())
            except Exception as exc:
                if self.strict:
                    raise
                self._report(f"monitor {monitor.name!r} failed to flush: {exc}", exc)

    # -- failures ---------------------------------------------------------------------------
    def _report(self, message: str, exc: BaseException | None = None) -> None:
        self.last_error = message
        log.error("curate: %s", message)
        if exc is not None and log.isEnabledFor(logging.DEBUG):
            log.debug("".join(traceback.format_exception(exc)))

    def _malformed(self, call: LogCall, exc: Exception) -> None:
        message = f"log() call with ids {call.first_id}..{call.first_id + call.n - 1}: {exc}"
        if self.strict:
            raise exc if isinstance(exc, CurateError) else LogInputError(message) from exc
        self._report(f"malformed {message}")
        self.metric_rows.append(
            metric_row(monitor="framework", check="log", column="", metric="malformed_calls",
                       value=1, n=call.n)
        )  # fmt: skip
        ids = np.arange(call.first_id, call.first_id + call.n, dtype=np.int64)
        rows = [
            safe_repr(
                {p: _cell(getattr(call, p), i) for p in ("inputs", "outputs", "gts")}, 100_000
            )
            for i in range(call.n)
        ]
        self.buffers["quarantine"].append(
            quarantine_table(ids, np.full(call.n, call.ts, np.int64), monitor="framework",
                             check="malformed_call", column="", values=[None] * call.n,
                             reasons=str(exc), rows=rows)
        )  # fmt: skip

    def refused(self, message: str, raw: Any) -> None:
        """Record a call that could not be read at all: logged, counted, kept in quarantine."""
        self._report(f"log() call refused: {message}")
        self.metric_rows.append(
            metric_row(monitor="framework", check="log", column="", metric="malformed_calls",
                       value=1, n=0)
        )  # fmt: skip
        self.buffers["quarantine"].append(
            quarantine_table(np.array([-1]), np.array([now_us()]), monitor="framework",
                             check="malformed_call", column="", values=[None], reasons=message,
                             rows=[safe_repr({"inputs": raw}, 100_000)])
        )  # fmt: skip

    def _quarantine_all(self, batch: Batch, kind: str, check: str, reason: str) -> None:
        rows = batch.rows_json(np.arange(len(batch)))
        self.buffers["quarantine"].append(
            quarantine_table(batch.ids, batch.ts, monitor=kind, check=check, column="",
                             values=[None] * len(batch), reasons=reason, rows=rows)
        )  # fmt: skip

    def _cell_problems(self, batch: Batch) -> np.ndarray:
        bad = np.zeros(len(batch), dtype=bool)
        first = batch.problems[0]
        where = (
            f"{first.part}[{first.column!r}] row {first.row} (id {batch.ids[first.row]}): "
            f"{first.reason}: {safe_repr(first.value)}"
        )
        if self.strict:
            raise LogInputError(where)
        self._report(
            f"{len(batch.problems)} value(s) could not be stored as their column's type; the "
            f"rows are quarantined (check 'dtype'); first: {where}"
        )
        for p in batch.problems:
            bad[p.row] = True
            self.buffers["quarantine"].append(
                quarantine_table(batch.ids[[p.row]], batch.ts[[p.row]], monitor="framework",
                                 check="dtype", column=p.column, values=[safe_repr(p.value)],
                                 reasons=p.reason, rows=[batch.row_json(p.row)])
            )  # fmt: skip
        self.metric_rows.append(
            metric_row(monitor="framework", check="dtype", column="", metric="bad_cells",
                       value=len(batch.problems), n=len(batch))
        )  # fmt: skip
        return bad

    # -- writing ----------------------------------------------------------------------------
    def buffered_rows(self) -> int:
        """Rows waiting in the write buffers."""
        return sum(t.num_rows for b in self.buffers.values() for t in b)

    def write(self) -> bool:
        """Write every buffer as one segment per table; False (buffers kept) if the disk failed."""
        ok = True
        if self.write_errors:
            self.metric_rows.append(
                metric_row(monitor="framework", check="write", column="", metric="write_errors",
                           value=self.write_errors, n=0)
            )  # fmt: skip
            self.write_errors = 0
        pending = [(name, tables) for name, tables in self.buffers.items() if tables]
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
                self._report(f"writing {name} failed, rows kept in memory to retry: {exc}")
                self.write_errors += 1
                continue
            if name in self.buffers:
                self.buffers[name] = []
            elif name == "metrics":
                self.metric_rows = []
            else:
                self.alert_rows = []
        if not ok:
            self._shed_load()
        return ok

    def _shed_load(self) -> None:
        # Only while the disk keeps failing: memory must stay bounded, so the oldest buffered
        # rows go first and the loss is counted (the count itself is written once space returns).
        dropped = 0
        while self.buffered_rows() > self.max_buffered_rows:
            name = max(self.buffers, key=lambda k: sum(t.num_rows for t in self.buffers[k]))
            dropped += self.buffers[name].pop(0).num_rows
        if len(self.metric_rows) > 10_000:
            self.metric_rows = self.metric_rows[-10_000:]
        if dropped:
            self._report(f"dropped {dropped} buffered rows: the store has been unwritable too long")
            self.metric_rows.append(
                metric_row(monitor="framework", check="write", column="", metric="rows_dropped",
                           value=dropped, n=dropped)
            )  # fmt: skip


def _existing_schema(store: Store, table: str) -> pa.Schema | None:
    """The stored table's schema; the first segment's if older segments already disagree."""
    try:
        return store.schema(table)
    except (pa.ArrowException, OSError):
        files = store.files(table)
        return pq.read_schema(files[0]) if files else None


def _concat(tables: list[pa.Table]) -> pa.Table:
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables(tables, promote_options="permissive")


def _cell(obj: Any, i: int) -> Any:
    try:
        if isinstance(obj, dict):
            return {k: v[i] for k, v in obj.items()}
        return obj[i] if obj is not None else None
    except Exception:  # noqa: BLE001 - a malformed call may not even be indexable
        return None if obj is None else safe_repr(obj)
