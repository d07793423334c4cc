"""What happens to logged rows off the request path: normalise, monitor, buffer, write.

The :class:`Pipeline` is driven by the Framework's writer thread (or inline in strict mode). It
turns queued ``log()`` calls into one :class:`~curate.batch.Batch`, runs every monitor on it,
and buffers the rows each store table should receive (:mod:`curate.buffers`);
:meth:`Pipeline.write` makes them durable as one segment per table. Every failure (a malformed
call, a monitor or signal that raises, a disk error) is recorded by :mod:`curate.failures`:
logged, counted in the metrics and, when rows are affected, sent to quarantine; strict mode
raises the same message instead.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.batch import Batch
from curate.buffers import WriteBuffers
from curate.calls import LogCall, merge_calls, mergeable_groups, to_batch
from curate.errors import LogInputError
from curate.failures import Failures
from curate.labels import LABELS_TABLE, label_rows
from curate.schema_guard import SchemaGuard
from curate.store import Store
from curate.tables import DISPLAY_NAME, FRAMEWORK, Metric, framework_metric, signal_column
from curate.traffic import DEFAULT_SIZE
from monitors.base import BaseMonitor, MonitorResult

log = logging.getLogger("curate")


class Pipeline:
    """Monitors batches of logged calls and writes what they produce to the store."""

    def __init__(
        self,
        store: Store | None,
        monitors: list[BaseMonitor],
        *,
        strict: bool,
        max_buffered_rows: int,
        traffic_sample: int | None = DEFAULT_SIZE,
        traffic_seed: int | None = None,
        retraining_schema: pa.Schema | None = None,
    ) -> None:
        # ``store=None``: a pipeline that only buffers (batch curation's map step, which hands
        # its buffers back with :meth:`take`); ``retraining_schema`` then stands for the store's.
        self.store = store
        self.retraining_schema = retraining_schema
        self.monitors = monitors
        self.strict = strict
        self.buffers = WriteBuffers(
            store,
            strict=strict,
            max_rows=max_buffered_rows,
            traffic_sample=traffic_sample,
            traffic_seed=traffic_seed,
        )
        self.failures = Failures(self.buffers, strict=strict)
        self.buffers.report = self.failures.report
        self._guard: SchemaGuard | None = None

    @property
    def last_error(self) -> str | None:
        """The latest failure this pipeline recorded, or ``None``."""
        return self.failures.last_error

    def buffered_rows(self) -> int:
        """Rows waiting in the write buffers."""
        return self.buffers.buffered_rows()

    def write(self) -> bool:
        """Write every buffer as one segment per table; False (buffers kept) if the disk failed."""
        return self.buffers.write()

    def take(self) -> tuple[list[pa.Table], list[pa.Table], list[dict], list[dict]]:
        """Hand over and clear the buffered edge cases, quarantine, metric and alert rows."""
        b = self.buffers
        out = (b.tables["retraining"], b.tables["quarantine"], b.metric_rows, b.alert_rows)
        b.tables["retraining"], b.tables["quarantine"] = [], []
        b.metric_rows, b.alert_rows = [], []
        return out

    def refused(self, message: str, raw: Any) -> None:
        """Record a call that could not be read at all: logged, counted, kept in quarantine."""
        self.failures.refused(message, raw)

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
            self.process_contained(batch)

    def _process_late_ground_truth(self, batch: Batch) -> None:
        # Kept as given, so the trainer can join late labels to the edge cases they belong to.
        self.buffers.add(LABELS_TABLE, label_rows(batch.stored_table()))
        for monitor in self.monitors:
            if monitor.uses_late_ground_truth:
                result = self._run_monitor(monitor, batch)
                if result is not None:
                    self._collect(result)

    def process_contained(self, batch: Batch) -> None:
        """:meth:`process_batch`, with any failure recorded and the rows kept in quarantine."""
        # The last line of defence: whatever goes wrong, the rows are kept in quarantine.
        try:
            self.process_batch(batch)
        except Exception as exc:
            if self.strict:
                raise
            message = f"rows {batch.ids[0]}..{batch.ids[-1]} could not be processed: {exc}"
            self.failures.report(message, exc)
            self.failures.quarantine_all(batch, FRAMEWORK, "processing", exc)

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
                self.failures.malformed(call, exc)
        return batches

    def process_batch(self, batch: Batch) -> None:
        """Run every monitor on ``batch`` and buffer the edge cases, quarantine and metrics."""
        n = len(batch)
        # Counted first: a batch whose processing fails is logged too (its rows go to quarantine).
        self.buffers.metric_rows.append(
            framework_metric("log", Metric.ROWS_LOGGED, n, n,
                             window_start=int(batch.ts.min()), window_end=int(batch.ts.max()))
        )  # fmt: skip
        self.buffers.add_traffic(batch)  # every logged row, edge case or not
        violations = np.zeros(n, dtype=bool)
        if batch.problems:
            violations |= self.failures.cell_problems(batch)
        masks: list[tuple[str, np.ndarray, dict[str, np.ndarray]]] = []
        deferred: list[tuple[BaseMonitor, MonitorResult]] = []
        for monitor in self.monitors:
            result = self._run_monitor(monitor, batch)
            if result is None:
                if monitor.guards_rows:
                    violations[:] = True
                continue
            for message in result.errors:
                self.failures.check_error(monitor.kind, monitor.name, message, len(batch))
            if result.violations is not None:
                violations |= result.violations
            if result.deferred:
                deferred.append((monitor, result))
            elif result.edge_mask is not None:
                masks.append((result.reason or monitor.name, result.edge_mask, result.leaves))
            self._collect(result)
        selected = self._buffer_edge_cases(batch, masks, violations)
        if deferred:
            self._settle(batch, deferred, ~violations & ~selected)

    def _settle(
        self,
        batch: Batch,
        deferred: list[tuple[BaseMonitor, MonitorResult]],
        allowed: np.ndarray,
    ) -> None:
        """Checks that hold their edge cases (a budget) choose among the rows still free.

        Once violations are known: a held row is then one the retraining set may take. A row
        goes to the first such check (in config order) that keeps it, so no row is written
        twice; the rows other checks collected in this batch are edge cases already.
        """
        for monitor, result in deferred:
            try:
                settled, held = monitor.settle(batch, result, allowed)
            except Exception as exc:
                self.failures.monitor_failed(monitor.kind, monitor.name, batch, exc)
                continue
            allowed = allowed & ~held
            self._collect(settled)

    def _run_monitor(self, monitor: BaseMonitor, batch: Batch) -> MonitorResult | None:
        try:
            return monitor.process(batch)
        except Exception as exc:
            self.failures.monitor_failed(monitor.kind, monitor.name, batch, exc)
            return None

    def _buffer_edge_cases(
        self,
        batch: Batch,
        masks: list[tuple[str, np.ndarray, dict[str, np.ndarray]]],
        violations: np.ndarray,
    ) -> np.ndarray:
        """Buffer the rows some mask selects and no violation holds back; their mask."""
        selected = np.zeros(len(batch), dtype=bool)
        for _, mask, _ in masks:
            selected |= mask
        selected &= ~violations
        idx = np.flatnonzero(selected)
        if not len(idx):
            return selected
        table = batch.take(idx).stored_table()
        # reasons: for each selected row, the formulas that selected it (built column-wise).
        hits = np.stack([mask[idx] for _, mask, _ in masks], axis=1)
        names = np.array([reason for reason, _, _ in masks], dtype=object)
        offsets = np.concatenate([[0], np.cumsum(hits.sum(axis=1))]).astype(np.int32)
        values = pa.array(np.tile(names, len(idx))[hits.ravel()], pa.string())
        table = table.append_column("reasons", pa.ListArray.from_arrays(offsets, values))
        columns = _signal_columns([leaf for _, _, leaves in masks for leaf in leaves])
        for _, _, leaves in masks:
            for leaf, values in leaves.items():
                name = columns[leaf]
                if name not in table.column_names:
                    array = pa.array(values[idx])
                    field = pa.field(name, array.type, metadata={DISPLAY_NAME: leaf})
                    table = table.append_column(field, array)
        self.buffers.add("retraining", self._conform(table))
        return selected

    def _conform(self, table: pa.Table) -> pa.Table:
        """Cast edge-case rows to the retraining set's column types; misfits go to quarantine."""
        if self._guard is None:
            known = self.retraining_schema
            if self.store is not None:
                known = _existing_schema(self.store, "retraining")
            self._guard = SchemaGuard(known)
        conformed, rejected = self._guard.conform(table)
        for column, mask in rejected.items():
            self.failures.schema_misfits(
                table.filter(pa.array(mask)), column, self._guard.types[column]
            )
        return conformed

    def _collect(self, result: MonitorResult) -> None:
        for rows in result.released:
            # Held by a check until now (a budget window closed): vetted when they were held.
            n = len(rows.batch)
            chosen = [(rows.reason, np.ones(n, dtype=bool), rows.leaves)]
            self._buffer_edge_cases(rows.batch, chosen, np.zeros(n, dtype=bool))
        for q in result.quarantine:
            self.buffers.add("quarantine", q)
        self.buffers.metric_rows.extend(result.metrics)
        self.buffers.alert_rows.extend(result.alerts)
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
                self.failures.report(f"monitor {monitor.name!r} failed to flush: {exc}", exc)


def _signal_columns(leaves: list[str]) -> dict[str, str]:
    """Column names of the leaves; leaves whose slugs collide get their text's hash appended."""
    slugs: dict[str, set[str]] = {}
    for leaf in leaves:
        slugs.setdefault(signal_column(leaf), set()).add(leaf)
    out = {}
    for slug, names in slugs.items():
        for leaf in names:
            digest = hashlib.sha1(leaf.encode()).hexdigest()[:8]
            out[leaf] = slug if len(names) == 1 else f"{slug}_{digest}"
    return out


def _existing_schema(store: Store, table: str) -> pa.Schema | None:
    """The stored table's schema; the first segment's if older segments already disagree."""
    try:
        return store.schema(table)
    except (pa.ArrowException, OSError):
        files = store.files(table)
        return pq.read_schema(files[0]) if files else None
