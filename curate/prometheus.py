"""Prometheus metrics of a store, computed when Prometheus scrapes: nothing on the log path.

:class:`CurateCollector` is a ``prometheus_client`` collector over a live
:class:`~curate.framework.Framework` (the store's counts plus the rows waiting in its queue) or
over a store alone (a read-only exporter: ``curate metrics --store DIR --port P``). Each scrape
reads the store through its reader, at most once per ``ttl`` seconds, so the numbers are the
store's own: ``curate_rows_logged_total`` is ``fw.stats()["rows_logged"]``, and so on.
:func:`serve_metrics` serves one on its own registry; ``Framework(prometheus_port=P)`` does it
for the Framework's lifetime.

>>> import tempfile, urllib.request
>>> from curate import Framework
>>> fw = Framework({"retraining_folder": tempfile.mkdtemp()})
>>> _ = fw.log(inputs={"text": ["a", "b", "c"]}); fw.flush()
>>> server = serve_metrics(fw, port=0)  # 0: any free port; loopback only
>>> body = urllib.request.urlopen(server.url).read().decode()
>>> [line for line in body.splitlines() if line.startswith("curate_rows_logged_total")]
['curate_rows_logged_total 3.0']
>>> server.close(); fw.close()

In a process that already serves ``prometheus_client``'s default registry, register the
collector there instead: ``prometheus_client.REGISTRY.register(CurateCollector(fw))``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric as Family

from curate import compaction_log
from curate.delta_store import DeltaStore, store_root
from curate.enums import MonitorKind
from curate.errors import StoreError
from curate.outcomes import outcomes
from curate.runs import STATUSES
from curate.store_reader import StoreReader
from curate.tables import Metric

log = logging.getLogger("curate")

COUNTER, GAUGE = "counter", "gauge"
#: Store-wide counts: (name as scraped, key of ``fw.stats()`` or metric name, type, help).
COUNTS = (
    ("curate_rows_logged_total", "rows_logged", COUNTER, "Rows logged into the store, every writer."),
    ("curate_edge_cases_total", "edge_cases", COUNTER, "Rows in the retraining set."),
    ("curate_quarantined_rows", "quarantined", GAUGE, "Rows held in quarantine, out of the retraining set."),
    ("curate_quarantine_entries_total", "quarantine_entries", COUNTER, "Quarantine entries (a row may fail several checks)."),
    ("curate_rows_not_selected_total", "rows_not_selected", COUNTER, "Rows no check selected or held."),
    ("curate_rows_dropped_total", "rows_dropped", COUNTER, "Rows lost: the store stayed unwritable, or the monitoring process died."),
    ("curate_edge_cases_since_last_run", "edge_cases_since_last_run", GAUGE, "Edge cases since the latest training run: what retrain_after counts."),
    ("curate_write_errors_total", Metric.WRITE_ERRORS, COUNTER, "Failed segment writes (recorded once a write succeeds)."),
    ("curate_monitor_errors_total", Metric.MONITOR_ERRORS, COUNTER, "Monitor failures contained by the log path."),
    ("curate_malformed_calls_total", Metric.MALFORMED_CALLS, COUNTER, "log() calls that could not be read."),
)  # fmt: skip
#: Labelled families: name as scraped -> (type, labels, help).
LABELLED = {
    "curate_violations_total": (COUNTER, ("check", "column"), "Integrity violations per check and column."),
    "curate_drift_statistic": (GAUGE, ("column", "method", "statistic"), "Latest window's drift statistic per column, method and statistic."),
    "curate_drift_threshold": (GAUGE, ("column", "method", "statistic"), "The threshold of a method's verdict statistic in its latest window."),
    "curate_drift_flagged": (GAUGE, ("column", "method", "statistic"), "1 when a method's latest window was flagged as drifted."),
    "curate_training_runs": (GAUGE, ("status",), "Training runs recorded in the store, by status."),
    "curate_queue_rows": (GAUGE, ("stage",), "Rows not yet written: queued for the writer thread, or buffered for the store (in-process only)."),
}  # fmt: skip
STORE_UP = "curate_store_up"
#: Every name a scrape can show (counters with their ``_total``), for dashboards and tests.
METRIC_NAMES = frozenset([STORE_UP, *(c[0] for c in COUNTS), *LABELLED])

_SUMMED = (Metric.ROWS_LOGGED, Metric.ROWS_DROPPED, Metric.WRITE_ERRORS, Metric.MONITOR_ERRORS,
           Metric.MALFORMED_CALLS)  # fmt: skip
_COLUMNS = ["monitor", "check", "column", "metric", "value", "threshold", "flagged", "window_end"]
_DRIFT = MonitorKind.DATA_DRIFT.value
#: (column, method, statistic) -> (value, threshold, flagged) of a drift series' latest window.
DriftKey = tuple[str, str, str]
DriftValue = tuple[float, float | None, bool]


@dataclass
class MetricsFold:
    """What the exporter needs of the metrics table, folded in one segment's rows at a time.

    Segments never change once written, so a local store's exporter reads each one once: a
    scrape costs the segments written since the last one, not the whole table.

    >>> fold = MetricsFold()
    >>> fold.add(pa.table({"monitor": ["data_drift"] * 2, "check": ["js"] * 2,
    ...     "column": ["text"] * 2, "metric": ["js_distance"] * 2, "value": [0.1, 0.3],
    ...     "threshold": [0.2, 0.2], "flagged": [False, True], "window_end": [1, 2]}))
    >>> fold.drift[("text", "js", "js_distance")]
    (0.3, 0.2, True)
    """

    sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(_SUMMED, 0.0))
    violations: dict[tuple[str, str], float] = field(default_factory=dict)
    drift: dict[DriftKey, DriftValue] = field(default_factory=dict)
    #: Names of the segments folded in already (local stores).
    seen: set[str] = field(default_factory=set)
    _ends: dict[DriftKey, int] = field(default_factory=dict)

    def add(self, rows: pa.Table) -> None:
        """Fold in rows read after every earlier one (on equal ``window_end`` the later wins,
        as the dashboard's stable sort decides)."""
        if not rows.num_rows or "metric" not in rows.column_names:
            return
        metric = rows["metric"]
        summed = rows.filter(pc.is_in(metric, value_set=pa.array(_SUMMED)))
        for group in summed.group_by("metric").aggregate([("value", "sum")]).to_pylist():
            self.sums[group["metric"]] += group["value_sum"] or 0.0
        violations = rows.filter(pc.equal(metric, Metric.VIOLATIONS))
        keys = ["check", "column"]
        for group in violations.group_by(keys).aggregate([("value", "sum")]).to_pylist():
            key = (group["check"] or "", group["column"] or "")
            self.violations[key] = self.violations.get(key, 0.0) + (group["value_sum"] or 0.0)
        self._add_drift(rows.filter(pc.equal(rows["monitor"], _DRIFT)))

    def _add_drift(self, rows: pa.Table) -> None:
        cols = rows.select(["column", "check", "metric", "value", "threshold", "flagged"])
        # Microseconds as integers: datetimes would go through float seconds and could tie.
        ends = rows["window_end"].cast(pa.int64()).to_pylist()
        for (column, method, stat, value, threshold, flagged), end in zip(
            zip(*cols.to_pydict().values(), strict=True), ends, strict=True
        ):
            key = (column or "", method or "", stat or "")
            end = -1 if end is None else end
            if end >= self._ends.get(key, end):
                self._ends[key] = end
                self.drift[key] = (value, threshold, bool(flagged))


@dataclass(frozen=True)
class Snapshot:
    """The store's numbers at one moment, as a scrape shows them."""

    counts: dict[str, int]
    violations: dict[tuple[str, str], float]
    drift: dict[DriftKey, DriftValue]
    runs: dict[str, int]


def open_reader(root: str | os.PathLike[str]) -> StoreReader | DeltaStore:
    """A read-only view of the store at ``root``: a local folder or a Delta store URI.

    >>> import tempfile
    >>> type(open_reader(tempfile.mkdtemp())).__name__
    'StoreReader'
    """
    where = store_root(root)
    return DeltaStore(where) if isinstance(where, str) else StoreReader(where)


class CurateCollector:
    """A ``prometheus_client`` collector over a Framework, a store or a store's path or URI.

    ``collect()`` runs at scrape time; the store is read at most once per ``ttl`` seconds (a
    scrape within it reuses the numbers) and a local store's metrics segments once each. The
    queue of a Framework is read on every scrape (two counters, no I/O).
    """

    def __init__(self, source: Any, *, ttl: float = 1.0) -> None:
        if hasattr(source, "backlog") and hasattr(source, "store"):  # a Framework
            self.framework, self.store = source, source.store
        elif isinstance(source, StoreReader | DeltaStore):
            self.framework, self.store = None, source
        else:
            self.framework, self.store = None, open_reader(source)
        self.ttl = ttl
        self._lock = threading.Lock()
        self._fold = MetricsFold()
        self._cached: Snapshot | None = None
        self._read_at = 0.0

    def describe(self) -> Iterator[Family]:
        """The families, without samples: registering reads nothing."""
        yield from _families(Snapshot({}, {}, {}, {}), queue=None)

    def collect(self) -> Iterator[Family]:
        """Every family with the store's current numbers (``curate_store_up`` 0 if unreadable)."""
        try:
            snapshot: Snapshot | None = self.snapshot()
        except (OSError, StoreError, pa.ArrowException, ValueError) as exc:
            log.warning("curate: metrics: cannot read the store at %s: %s", self.store.root, exc)
            snapshot = None
        up = GaugeMetricFamily(STORE_UP, "1 when the store could be read for this scrape.")
        up.add_metric([], 0 if snapshot is None else 1)
        yield up
        queue = self.framework.backlog() if self.framework is not None else None
        if snapshot is None:
            yield from (f for f in _families(Snapshot({}, {}, {}, {}), queue) if f.samples)
        else:
            yield from _families(snapshot, queue)

    def snapshot(self) -> Snapshot:
        """The store's numbers, read again once ``ttl`` seconds have passed since the last read."""
        with self._lock:  # scrapes are served by concurrent threads: one reads, the rest wait
            if self._cached is None or time.monotonic() - self._read_at >= self.ttl:
                self._cached = self._read()
                self._read_at = time.monotonic()
            return self._cached

    def _read(self) -> Snapshot:
        fold = self._metrics()
        sums = fold.sums
        # outcomes() is what fw.stats() counts with: given the folded sums as its metrics
        # table, it reads only the ids of the retraining set and the quarantine.
        folded = pa.table({"metric": list(sums), "value": list(sums.values())})
        local = isinstance(self.store, StoreReader)
        expired = compaction_log.expired_counts(self.store) if local else None
        counts = outcomes(
            lambda t, cols: folded if t == "metrics" else self.store.read(t, cols), expired
        )
        runs = self.store.runs() if isinstance(self.store, StoreReader) else []
        since = counts["edge_cases"]
        if isinstance(self.store, StoreReader):
            since = self.store.pending_rows(runs[-1] if runs else None)
        counts.update({k: int(sums[k]) for k in sums}, edge_cases_since_last_run=since)
        statuses = Counter(run.status for run in runs)
        by_status = {status: statuses.get(status, 0) for status in STATUSES}
        return Snapshot(counts, dict(fold.violations), dict(fold.drift), by_status)

    def _metrics(self) -> MetricsFold:
        if not isinstance(self.store, StoreReader):  # a Delta version is read whole
            fold = MetricsFold()
            fold.add(self.store.read("metrics", _COLUMNS))
            return fold
        files = self.store.files("metrics")
        if not self._fold.seen <= {f.name for f in files}:  # compacted: fold the table again
            self._fold = MetricsFold()
        new = [f for f in files if f.name not in self._fold.seen]
        if new:
            self._fold.add(self.store.read("metrics", _COLUMNS, files=new))
            self._fold.seen.update(f.name for f in new)
        return self._fold


def _family(name: str, kind: str, doc: str, labels: tuple[str, ...] = ()) -> Family:
    if kind == COUNTER:  # prometheus_client adds _total back to the sample's name
        return CounterMetricFamily(name.removesuffix("_total"), doc, labels=labels)
    return GaugeMetricFamily(name, doc, labels=labels)


def _families(snapshot: Snapshot, queue: dict[str, int] | None) -> Iterator[Family]:
    for name, key, kind, doc in COUNTS:
        family = _family(name, kind, doc)
        if key in snapshot.counts:
            family.add_metric([], snapshot.counts[key])
        yield family
    labelled = {name: _family(name, kind, doc, labels) for name, (kind, labels, doc) in
                LABELLED.items()}  # fmt: skip
    for (check, column), value in sorted(snapshot.violations.items()):
        labelled["curate_violations_total"].add_metric([check, column], value)
    for key, (value, threshold, flagged) in sorted(snapshot.drift.items()):
        column, method, stat = key
        labelled["curate_drift_statistic"].add_metric([column, method, stat], value)
        if threshold is not None:  # a verdict row: the auxiliary rows decide nothing
            labelled["curate_drift_threshold"].add_metric([column, method, stat], threshold)
            labelled["curate_drift_flagged"].add_metric([column, method, stat], float(flagged))
    for status, count in snapshot.runs.items():
        labelled["curate_training_runs"].add_metric([status], count)
    for stage, rows in (queue or {}).items():
        labelled["curate_queue_rows"].add_metric([stage], rows)
    yield from labelled.values()


class MetricsServer:
    """An HTTP endpoint serving one collector on its own registry; :meth:`close` frees the port.

    ``port=0`` takes any free port (:attr:`port` says which).
    """

    def __init__(self, collector: CurateCollector, port: int, addr: str = "127.0.0.1") -> None:
        self.collector = collector
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        self._server, self._thread = start_http_server(port, addr=addr, registry=self.registry)
        self.address, self.port = self._server.server_address[:2]

    @property
    def url(self) -> str:
        """Where to scrape: ``http://ADDR:PORT/metrics``."""
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        """Stop serving and close the socket. Safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()  # ends serve_forever; the socket stays bound until server_close
        server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve_metrics(
    source: Any, port: int, addr: str = "127.0.0.1", *, ttl: float = 1.0
) -> MetricsServer:
    """Serve the metrics of ``source`` (a Framework, a store, or a store's path or URI) on
    ``addr:port`` until :meth:`MetricsServer.close`. Loopback by default: give ``addr="0.0.0.0"``
    only where the port is meant to be reached from other hosts.

    >>> import tempfile
    >>> with serve_metrics(tempfile.mkdtemp(), port=0) as server:
    ...     server.address
    '127.0.0.1'
    """
    return MetricsServer(CurateCollector(source, ttl=ttl), port, addr)


__all__ = ["METRIC_NAMES", "CurateCollector", "MetricsServer", "open_reader", "serve_metrics"]
