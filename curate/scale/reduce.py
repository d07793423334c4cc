"""After the map step of batch curation: partials combined in source order into the job's output.

The :class:`Reducer` takes each fragment's result in source order (both engines hand them over
in that order) and makes what is written: edge cases after ``dedupe`` (the first clean
occurrence in the source is kept), quarantine as it is, and the metric and alert rows of the
whole job. Every ``dedupe`` mode (``exact``, ``fuzzy``, ``minhash``) is the streaming check's
own :class:`~monitors.edge_case.Deduper`, fed the fragments' edge cases in source order and
started from what the store already holds, so a job keeps what logging the same rows would
keep. Counters become one row per check and metric for the job; integrity windows are
closed from their merged counts; drift windows are computed by the check itself, fed the
measured columns in order. Every metric row carries the job's start time as ``ts``, and windows
span the synthetic timestamps ``start_us + source row``, so the output depends on the source
and the config alone, never on how the rows were cut or which engine ran.

>>> import pyarrow as pa
>>> from curate.scale.curation import curate_table
>>> from curate.signals import Signal
>>> cfg = {"checks": [{"type": "edge_case", "signal_formulae": Signal.contains("a"),
...                    "dedupe": "exact"}]}
>>> reducer = Reducer(cfg, store=None)
>>> first = reducer.add(*curate_table(pa.table({"text": ["a", "b"]}), cfg))[0]
>>> second = reducer.add(*curate_table(pa.table({"text": ["a"]}), cfg, first_row=2))[0]
>>> first.num_rows, second.num_rows
(1, 0)
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.config import Config
from curate.scale.curation import Partial, batch_config
from curate.tables import Metric
from monitors.base import MonitorContext, MonitorResult
from monitors.collected import history
from monitors.edge_case import Deduper
from monitors.integrity import IntegrityMonitor

log = logging.getLogger("curate")
_KEY = ("monitor", "check", "column", "metric")


class _Measured:
    """The one column a drift check reads, as the check sees a batch."""

    def __init__(self, array: pa.Array, ts: np.ndarray) -> None:
        self.array, self.ts = array, ts

    def __len__(self) -> int:
        return len(self.ts)

    def column(self, measurable: Any, name: Any = None) -> pa.Array:
        return self.array


class Reducer:
    """Combines fragment results, handed over in source order, into what the store receives."""

    def __init__(self, config: Config | dict[str, Any], store: Any, *, start_us: int = 0) -> None:
        self.config = batch_config(config)
        self.start_us = start_us
        context = MonitorContext(store=store, strict=self.config.strict)
        self._dedupe: list[tuple[str, str, Any, Deduper]] = []
        self._integrity: dict[int, IntegrityMonitor] = {}
        self._drift: dict[int, Any] = {}
        for i, check in enumerate(self.config.checks):
            if check.type == "edge_case" and check.dedupe:
                reason = str(check.signal_formulae)
                # What the store already holds counts as collected, as for a Framework.
                loader = history(store, reason, check.dedupe_column, check.dedupe_memory)
                deduper = Deduper.for_check(check, loader, strict=self.config.strict)
                self._dedupe.append((reason, check.dedupe_column, check, deduper))
            elif check.type == "data_integrity":
                self._integrity[i] = IntegrityMonitor(check, context)
            elif check.type == "data_drift":
                from monitors.drift import DataDriftMonitor

                self._drift[i] = DataDriftMonitor(check, context)
        self.partial = Partial()
        self.skipped: dict[int, int] = {}
        # Per check, so the rows come out in check order whatever the fragments' sizes.
        self._drift_out = {i: MonitorResult() for i in self._drift}
        self._pending: dict[int, list[pa.Array]] = {i: [] for i in self._drift}
        self._fed = dict.fromkeys(self._drift, 0)

    def add(
        self, edges: pa.Table, quarantine: pa.Table, partial: Partial
    ) -> tuple[pa.Table, pa.Table]:
        """Take the next fragment's result; return its edge cases and quarantine to write."""
        edges = self._deduplicate(edges)
        for i, arrays in partial.drift.items():
            self._pending[i].extend(arrays)
            self._feed(i, final=False)
        # Drift columns are consumed here: keeping them would hold the whole source in memory.
        partial.drift = {}
        self.partial = self.partial.merge(partial)
        # A batch lists its entries check by check; by row id (stable) they read the same
        # however the source was cut.
        if quarantine.num_rows:
            quarantine = quarantine.take(pc.sort_indices(quarantine, [("id", "ascending")]))
        return edges, quarantine

    def _feed(self, i: int, final: bool) -> None:
        """Give drift check ``i`` its column in chunks of ``batch_size`` source rows.

        Some window statistics keep sketches whose state depends on the updates' sizes (the
        most frequent unseen values), so the chunks are cut at the same source rows however
        the fragments were: as if the source had been logged ``batch_size`` rows at a time.
        """
        step = self.config.batch_size
        pending = self._pending[i]
        total = sum(len(a) for a in pending)
        if not total or (total < step and not final):
            return
        column = pa.concat_arrays(pending) if len(pending) > 1 else pending[0]
        offset = 0
        while total - offset >= step or (final and offset < total):
            chunk = column.slice(offset, step)
            first = self._fed[i]
            ts = self.start_us + np.arange(first, first + len(chunk), dtype=np.int64)
            self._drift_out[i].extend(self._drift[i].process(_Measured(chunk, ts)))
            self._fed[i] += len(chunk)
            offset += len(chunk)
        self._pending[i] = [column.slice(offset)] if offset < total else []

    def _deduplicate(self, edges: pa.Table) -> pa.Table:
        if not self._dedupe or not edges.num_rows or "reasons" not in edges.column_names:
            return edges
        reasons = edges.column("reasons").to_pylist()
        for j, (reason, column, _, deduper) in enumerate(self._dedupe):
            if column not in edges.column_names:
                continue
            mine = np.array([any(_is(r, reason) for r in rs) for rs in reasons], dtype=bool)
            idx = np.flatnonzero(mine)
            if not len(idx):
                continue
            dup = deduper.duplicates(edges.column(column).take(pa.array(idx)).combine_chunks())
            for message in deduper.take_errors():
                log.warning("curate: dedupe of check %r on %r: %s", reason, column, message)
            for k in idx[dup].tolist():
                reasons[k] = [r for r in reasons[k] if not _is(r, reason)]
            self.skipped[j] = self.skipped.get(j, 0) + int(dup.sum())
        keep = np.array([bool(rs) for rs in reasons], dtype=bool)
        at = edges.column_names.index("reasons")
        edges = edges.set_column(at, "reasons", pa.array(reasons, edges.schema.field(at).type))
        return edges.filter(pa.array(keep))

    def finish(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The job's metric and alert rows, once every fragment has been added."""
        metrics = self._counters()
        alerts = _first_per_key(self.partial.alerts)
        for i, monitor in self._integrity.items():
            for _, (n, v, first, last) in sorted(self.partial.windows.get(i, {}).items()):
                result = monitor.window_result(n, v, first, last)
                metrics.extend(result.metrics)
                alerts.extend(result.alerts)
        for i, monitor in self._drift.items():
            self._feed(i, final=True)
            result = self._drift_out[i]
            result.extend(monitor.flush())
            metrics.extend(result.metrics)
            alerts.extend(result.alerts)
        for row in (*metrics, *alerts):
            row["ts"] = self.start_us
        for alert in alerts:
            log.warning("curate alert: %s", alert["message"])
        return metrics, alerts

    def _counters(self) -> list[dict[str, Any]]:
        sums: dict[tuple, dict[str, Any]] = {}
        for row in self.partial.counters:
            key = tuple(row[k] for k in _KEY)
            if key in sums:
                sums[key]["value"] += row["value"]
                sums[key]["n"] += row["n"]
                sums[key]["flagged"] = sums[key]["flagged"] or row["flagged"]
            else:
                sums[key] = dict(row)
        for j, (_, column, check, _) in enumerate(self._dedupe):
            skipped = self.skipped.get(j, 0)
            name = check.name or str(check.signal_formulae)
            edge_key = ("edge_case", name, "", Metric.EDGE_CASES)
            if edge_key in sums:
                sums[edge_key]["value"] -= skipped
                dup = dict(sums[edge_key], column=column, metric=Metric.DUPLICATES_SKIPPED)
                sums[("edge_case", name, column, Metric.DUPLICATES_SKIPPED)] = {
                    **dup,
                    "value": float(skipped),
                }
        end = self.start_us + max(self.partial.rows - 1, 0)
        rows = [sums[k] for k in sorted(sums)]
        for row in rows:
            row["window_start"], row["window_end"] = self.start_us, end
        return rows


def _is(entry: str, reason: str) -> bool:
    # A formula one of whose leaves failed on a batch keeps its text with "(without ...)".
    return entry == reason or entry.startswith(f"{reason} (without ")


def _first_per_key(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One alert per check and metric (each fragment raises a ``column_missing`` of its own)."""
    seen, out = set(), []
    for alert in alerts:
        key = tuple(alert.get(k) for k in _KEY)
        if key not in seen:
            seen.add(key)
            out.append(alert)
    return out
