"""The engine-neutral step of batch curation: one Arrow table in, edge cases and partials out.

:func:`curate_table` runs the config's checks on a table of source rows through the same
:meth:`curate.pipeline.Pipeline.process_batch` the writer thread runs on logged batches, on a
pipeline that only buffers. What can be decided row by row (signals, integrity violations,
quarantine) is decided here; what depends on other rows is returned as a :class:`Partial` and
combined after the map step (:mod:`curate.scale.reduce`), so the result does not depend on how
the source was cut:

* counters (``rows_logged``, ``edge_cases``, ``monitor_errors``, ...) are sums;
* an integrity check's windows are rows ``[k * window, (k + 1) * window)`` of the source, in
  source order; each partial holds per-window counts, which add up;
* a drift check's partial is its measured column, in source order: the window statistics (some
  keep a seeded reservoir sample) are computed after the map, exactly as a local run does;
* ``dedupe`` runs after the map too, over the selected rows in source order.

Refused in batch mode, with a :class:`~curate.errors.ConfigError`: checks that depend on the
arrival order of rows or labels (concept-drift detectors, UpTrain's compat checks, the
``duplicate`` integrity check) and time windows (source rows have no log time).

>>> import pyarrow as pa
>>> from curate.signals import Signal
>>> cfg = {"checks": [{"type": "edge_case", "signal_formulae": Signal.contains("nike")}]}
>>> edges, quarantine, partial = curate_table(pa.table({"text": ["nike", "puma"]}), cfg)
>>> edges.column("text").to_pylist(), quarantine.num_rows, partial.rows
(['nike'], 0, 2)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from curate.batch import Batch
from curate.config import Config
from curate.errors import ConfigError
from curate.pipeline import Pipeline
from curate.tables import QUARANTINE_SCHEMA
from monitors.base import BaseMonitor, MonitorContext
from monitors.edge_case import EdgeCaseMonitor
from monitors.integrity import IntegrityMonitor
from monitors.windows import parse_window

BATCH_KINDS = ("edge_case", "data_integrity", "data_drift")
PARTS = ("outputs", "gts", "identifiers")


def batch_config(config: Config | dict[str, Any]) -> Config:
    """The validated config; :class:`ConfigError` for checks batch mode cannot run.

    >>> batch_config({"checks": [{"type": "data_integrity", "integrity_type": "duplicate",
    ...                           "measurable_args": {"feature_name": "text"}}]})
    Traceback (most recent call last):
    curate.errors.ConfigError: checks[0]: the duplicate integrity check depends on the order rows arrive in, so batch mode cannot run it; use an edge_case check's dedupe (applied in source order)
    """
    cfg = config if isinstance(config, Config) else Config.load(config)
    for i, check in enumerate(cfg.checks):
        kind = check.type
        if kind not in BATCH_KINDS:
            raise ConfigError(
                f"checks[{i}]: {kind} checks depend on the order rows and labels arrive in, so "
                f"batch mode cannot run them; it runs {', '.join(BATCH_KINDS)}"
            )
        if getattr(check, "integrity_type", None) == "duplicate":
            raise ConfigError(
                f"checks[{i}]: the duplicate integrity check depends on the order rows arrive "
                "in, so batch mode cannot run it; use an edge_case check's dedupe (applied in "
                "source order)"
            )
        if getattr(check, "budget", None) is not None:
            raise ConfigError(
                f"checks[{i}]: an edge_case budget keeps the top rows of windows that span "
                "fragments, so batch mode cannot run it yet; select with the formula alone"
            )
        window = getattr(check, "window", None)
        if window is not None and parse_window(window)[0] != "rows":
            raise ConfigError(
                f"checks[{i}]: window {window!r} is a duration, but source rows have no log "
                "time; give batch mode a row count"
            )
    return cfg


@dataclass
class Partial:
    """What one part of the source contributes to the job's metrics; :meth:`merge` adds parts.

    ``windows[check][k]`` is ``[rows, violations, first_ts, last_ts]`` of integrity window
    ``k``; ``drift[check]`` is the drift check's measured column for these rows.
    """

    first_row: int = 0
    rows: int = 0
    counters: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    windows: dict[int, dict[int, list[int]]] = field(default_factory=dict)
    drift: dict[int, list[pa.Array]] = field(default_factory=dict)

    def merge(self, later: Partial) -> Partial:
        """This part followed by ``later`` (the next rows of the source) as one part."""
        windows = {c: {k: list(v) for k, v in w.items()} for c, w in self.windows.items()}
        for check, theirs in later.windows.items():
            ours = windows.setdefault(check, {})
            for k, (n, v, first, last) in theirs.items():
                if k in ours:
                    a = ours[k]
                    ours[k] = [a[0] + n, a[1] + v, min(a[2], first), max(a[3], last)]
                else:
                    ours[k] = [n, v, first, last]
        drift = {c: list(a) for c, a in self.drift.items()}
        for check, arrays in later.drift.items():
            drift.setdefault(check, []).extend(arrays)
        return Partial(
            self.first_row, self.rows + later.rows, self.counters + later.counters,
            self.alerts + later.alerts, windows, drift,
        )  # fmt: skip


class _WindowCounts(IntegrityMonitor):
    """An integrity check that keeps its window counts as a partial instead of closing them."""

    def __init__(self, config: Any, context: MonitorContext, index: int, id_base: int) -> None:
        super().__init__(config, context)
        self.index, self.id_base = index, id_base
        self.size = parse_window(config.window)[1]
        self.partial: dict[int, list[int]] = {}

    def count_windows(self, batch: Any, mask: np.ndarray, result: Any) -> None:
        keys = (batch.ids - self.id_base) // self.size
        for k in np.unique(keys).tolist():
            rows = keys == k
            ts = batch.ts[rows]
            n, v = int(rows.sum()), int(mask[rows].sum())
            if k in self.partial:
                a = self.partial[k]
                self.partial[k] = [a[0] + n, a[1] + v, min(a[2], int(ts.min())),
                                   max(a[3], int(ts.max()))]  # fmt: skip
            else:
                self.partial[k] = [n, v, int(ts.min()), int(ts.max())]


class Curator:
    """Curates consecutive tables of one source with one set of map-step monitors.

    ``id_base`` is the first id of the job's reserved block and ``start_us`` its timestamp:
    source row ``r`` gets id ``id_base + r`` and ``ts`` ``start_us + r`` (µs), so ids, windows
    and the stored order are those of the source whichever worker curates the row.
    """

    def __init__(
        self,
        config: Config | dict[str, Any],
        *,
        id_base: int = 0,
        start_us: int = 0,
        retraining_schema: pa.Schema | None = None,
    ) -> None:
        self.config = batch_config(config)
        self.id_base, self.start_us = id_base, start_us
        context = MonitorContext(store=None, strict=self.config.strict)
        self.monitors: list[BaseMonitor] = []
        self.drift: dict[int, Any] = {}
        for i, check in enumerate(self.config.checks):
            if check.type == "edge_case":
                # Dedupe needs the rows before these, in source order: done after the map.
                # Signal analysis windows are not merged by the reduce step (it sums counters).
                off = {"dedupe": None, "signal_analysis": False}
                self.monitors.append(EdgeCaseMonitor(check.model_copy(update=off), context))
            elif check.type == "data_integrity":
                self.monitors.append(_WindowCounts(check, context, i, id_base))
            else:
                self.drift[i] = check.measurable_args
        self.pipeline = Pipeline(None, self.monitors, strict=self.config.strict,
                                 max_buffered_rows=1 << 62, traffic_sample=None,
                                 retraining_schema=retraining_schema)  # fmt: skip

    def curate(self, table: pa.Table, first_row: int = 0) -> tuple[pa.Table, pa.Table, Partial]:
        """Edge cases, quarantine and the partial of source rows ``first_row ...``."""
        n = table.num_rows
        rows = np.arange(first_row, first_row + n, dtype=np.int64)
        batch = to_batch(table, self.id_base + rows, self.start_us + rows)
        for m in self.monitors:
            if isinstance(m, _WindowCounts):
                m.partial = {}
        if n:
            self.pipeline.process_contained(batch)  # what the writer thread runs per batch
        edges, quarantine, metrics, alerts = self.pipeline.take()
        partial = Partial(first_row, n, metrics, alerts)
        for m in self.monitors:
            if isinstance(m, _WindowCounts) and m.partial:
                partial.windows[m.index] = m.partial
        for i, measurable in self.drift.items():
            try:
                partial.drift[i] = [batch.column(measurable.type, measurable.feature_name)]
            except KeyError:
                partial.drift[i] = []  # nothing to measure: as the streaming check, no window
        return _concat(edges), _concat(quarantine, QUARANTINE_SCHEMA), partial


def curate_table(
    table: pa.Table, config: Config | dict[str, Any], **options: Any
) -> tuple[pa.Table, pa.Table, Partial]:
    """Curate one table of source rows: ``(edge_cases, quarantine, partial_metrics)``.

    ``options`` are :class:`Curator`'s (``id_base``, ``start_us``, ``retraining_schema``) and
    ``first_row``. Edge cases still carry the rows a ``dedupe`` would drop: the job's reduce
    step (:class:`curate.scale.reduce.Reducer`) applies it in source order.

    >>> import pyarrow as pa
    >>> cfg = {"checks": [{"type": "data_integrity", "integrity_type": "non_null",
    ...                    "measurable_args": {"feature_name": "text"}, "window": 2}]}
    >>> _, quarantine, partial = curate_table(pa.table({"text": ["a", None, None]}), cfg)
    >>> quarantine.num_rows, partial.windows
    (2, {0: {0: [2, 1, 0, 1], 1: [1, 1, 2, 2]}})
    """
    first_row = options.pop("first_row", 0)
    return Curator(config, **options).curate(table, first_row)


def to_batch(table: pa.Table, ids: np.ndarray, ts: np.ndarray) -> Batch:
    """Source rows as a :class:`Batch`: columns ``outputs``/``gts``/``identifiers`` (or
    ``outputs.<name>``, ...) are those parts, every other column an input.

    >>> b = to_batch(pa.table({"text": ["a"], "outputs": [0.5]}), np.zeros(1), np.zeros(1))
    >>> b.inputs.column_names, b.column("prediction").to_pylist()
    (['text'], [0.5])
    """
    parts: dict[str, Any] = {"inputs": {}}
    for name in table.column_names:
        part, _, key = name.partition(".")
        if part in PARTS and not key:
            parts[part] = table.column(name).combine_chunks()
        elif part in PARTS:
            parts.setdefault(part, {})[key] = table.column(name)
        else:
            parts["inputs"][name] = table.column(name)
    tables = {p: pa.table(v) if isinstance(v, dict) else v for p, v in parts.items()}
    if not tables["inputs"].num_columns:
        tables["inputs"] = pa.table({"_": pa.nulls(table.num_rows)}).drop(["_"])
    return Batch.from_log(ids, ts, tables.pop("inputs"), **tables)


def _concat(tables: list[pa.Table], schema: pa.Schema | None = None) -> pa.Table:
    if not tables:
        return (schema or pa.schema([])).empty_table()
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables(tables, promote_options="permissive")
