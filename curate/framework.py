"""The Framework: ``log()`` from the request path, monitoring and curation in a writer thread.

A facade over the pieces that do the work: :mod:`curate.ids` (row ids), :mod:`curate.writer`
(queue, thread, backpressure, flush), :mod:`curate.pipeline` (monitors and buffers) and
:mod:`curate.retrainer` (the training trigger).

>>> import tempfile
>>> from curate import Framework, Signal
>>> cfg = {"checks": [{"type": "edge_case", "signal_formulae": Signal.contains("nike")},
...                   {"type": "data_integrity", "integrity_type": "non_null",
...                    "measurable_args": {"type": "input_feature", "feature_name": "text"}}],
...        "retraining_folder": tempfile.mkdtemp()}
>>> with Framework(cfg) as fw:
...     ids = fw.log(inputs={"text": ["nike shoes", "adidas", None]})
>>> list(ids), fw.stats()["edge_cases"], fw.stats()["quarantined"]
([0, 1, 2], 1, 1)
"""

from __future__ import annotations

import atexit
import logging
import os
import weakref
from typing import TYPE_CHECKING, Any

from curate.batch import Batch
from curate.calls import LogCall
from curate.compaction import compact as compact_store
from curate.config import Config
from curate.delta_retrainer import retrainer_for
from curate.delta_store import DeltaStore, open_store
from curate.errors import ConfigError, CurateError, LogInputError, StoreError
from curate.ids import IdBlocks
from curate.pipeline import Pipeline
from curate.runs import Run, RunRegistry
from curate.sinks import AlertSink
from curate.tables import now_us
from curate.writer import Writer
from monitors.base import REGISTRY, BaseMonitor, MonitorContext

if TYPE_CHECKING:
    from curate.compaction_plan import CompactionReport
    from curate.process_mode import ProcessWriter
    from curate.prometheus import MetricsServer
    from curate.store import Store

log = logging.getLogger("curate")


class Framework:
    """Monitor logged rows, collect edge cases into a Parquet retraining set, trigger training.

    ``config`` is a dict in the UpTrain style or a :class:`~curate.config.Config`; keyword
    arguments override its keys (``Framework(cfg, strict=True)``). In the default production
    mode ``log()`` only counts the rows, assigns ids and queues the call; a writer thread does
    the rest, and every failure is logged, counted and quarantined instead of raised. With
    ``strict=True`` calls are processed synchronously and errors raise.
    """

    def __init__(self, config: Config | dict[str, Any] | None = None, **overrides: Any) -> None:
        self.config = cfg = Config.load(config, **overrides)
        self.strict = cfg.strict
        if cfg.remote is not None:
            self._init_remote(cfg)
            return
        self.store = open_store(cfg.retraining_folder)
        self.runs = RunRegistry(self.store)
        self._retrainer = retrainer_for(self.store, cfg)
        if cfg.retrain_after and not self._retrainer.automatic:
            log.warning(
                "curate: retrain_after is set but neither training_args nor on_retrain is: "
                "need_retraining() reports the threshold, nothing starts by itself"
            )
        self._ids = IdBlocks(self.store, strict=self.strict)
        self._writer = self._start_monitoring(cfg)
        # Bound once: log() is the request path, and each attribute lookup there is paid per call.
        self._take_ids, self._submit = self._ids.take, self._writer.submit
        # What log() queues: a LogCall, or the plain tuple a process-mode writer sends as it is.
        self._new_call = getattr(self._writer, "new_call", LogCall)
        # Last, so a constructor that fails above leaves no sink thread behind.
        self.alert_sinks: list[AlertSink] = [s.build(self.store) for s in cfg.alert_sinks]
        self.metrics_server = self._serve_metrics(cfg.prometheus_port, cfg.prometheus_addr)
        _LIVE.add(self)

    def _init_remote(self, cfg: Config) -> None:
        """A replica of a service logging into a collector: no store of its own."""
        from curate.remote import RemoteIds, RemoteWriter

        token = os.environ.get("CURATE_TOKEN")
        self.store = None  # type: ignore[assignment]
        self.monitors, self.alert_sinks, self.metrics_server = [], [], None
        self._ids = IdBlocks(RemoteIds(cfg.remote, token))  # type: ignore[arg-type]
        self._writer = RemoteWriter(cfg.remote, self._ids, max_pending_rows=cfg.max_pending_rows,
                                    token=token)  # fmt: skip
        self._take_ids, self._submit = self._ids.take, self._writer.submit
        self._new_call = LogCall
        _LIVE.add(self)

    def _start_monitoring(self, cfg: Config) -> Writer | ProcessWriter:
        """The monitors and the writer: a thread of this process, or a child process."""
        if cfg.mode == "process":
            from curate.process_mode import ProcessWriter

            self.monitors = []  # they run in the monitoring process
            return ProcessWriter(cfg, self._ids, max_pending_rows=cfg.max_pending_rows,
                                 on_written=self._maybe_retrain)  # fmt: skip
        self.monitors, self._pipeline = build_pipeline(cfg, self.store)
        record_settings(self.store, cfg, self.monitors)
        return Writer(
            self._pipeline,
            self._ids,
            strict=self.strict,
            batch_size=cfg.batch_size,
            flush_interval=cfg.flush_interval,
            max_pending_rows=cfg.max_pending_rows,
            before_write=None if self.strict else self._ids.reserve_spare,
            after_write=self._maybe_retrain,
        )

    def _serve_metrics(self, port: int | None, addr: str) -> MetricsServer | None:
        """The Prometheus endpoint of ``prometheus_port`` (``fw.metrics_server``), or ``None``."""
        if port is None:
            return None
        from curate.prometheus import serve_metrics  # prometheus_client only when asked for

        try:
            return serve_metrics(self, port, addr)
        except OSError as exc:  # a port in use, an address not of this host
            # This class's close(): a subclass's may need what its own __init__ sets after.
            Framework.close(self)  # the writer thread and the sinks started above
            raise ConfigError(
                f"prometheus_port {port}: cannot serve metrics on {addr}:{port}: {exc}"
            ) from exc

    # -- the request path --------------------------------------------------------------------
    def log(
        self,
        inputs: Any,
        outputs: Any = None,
        gts: Any = None,
        identifiers: Any = None,
        extra_args: dict[str, Any] | None = None,
    ) -> range:
        """Log a batch of rows (or one row) and return their ids.

        ``inputs`` is a dict of columns, a list of row dicts, a pandas DataFrame or a pyarrow
        Table; ``outputs``, ``gts`` and ``identifiers`` take the same forms or one sequence with
        a value per row. The values are read later by the writer thread: do not mutate them
        after the call. Never raises in production mode (an empty ``range`` means the call was
        unusable and was reported); raises :class:`~curate.errors.CurateError` in strict mode.

        >>> import tempfile
        >>> fw = Framework({"retraining_folder": tempfile.mkdtemp()}, strict=True)
        >>> fw.log(inputs={"text": ["a", "b"]})
        range(0, 2)
        >>> fw.close()
        """
        if self._writer.closed:
            return self._refuse("log() called after close()")
        try:
            n = Batch.count_rows(inputs)
        except LogInputError as exc:
            return self._refuse(str(exc), inputs)
        except Exception as exc:  # noqa: BLE001 - e.g. a column whose len() raises
            return self._refuse(f"inputs: cannot count rows: {exc}", inputs)
        if n == 0:
            return self._refuse("inputs: no rows (every column is empty)", inputs)
        first = self._take_ids(n)
        self._submit(self._new_call(first, n, now_us(), inputs, outputs, gts, identifiers,
                                    extra_args))  # fmt: skip
        return range(first, first + n)

    def log_ground_truth(self, identifiers: Any, gts: Any) -> None:
        """Attach labels that arrive after their predictions, joined on ``identifiers``.

        The predictions must have been logged with the same ``identifiers``; CONCEPT_DRIFT
        checks join the two (whichever arrives first waits, in bounded memory).

        >>> import tempfile
        >>> fw = Framework({"retraining_folder": tempfile.mkdtemp()})
        >>> fw.log(inputs={"x": [1]}, outputs=[1], identifiers=["req-1"])
        range(0, 1)
        >>> fw.log_ground_truth(identifiers=["req-1"], gts=[0])
        >>> fw.close()
        """
        try:
            n = len(identifiers)
            if n != len(gts):
                raise LogInputError(
                    f"log_ground_truth: {n} identifiers but {len(gts)} ground-truth values"
                )
        except TypeError as exc:
            self._refuse(f"log_ground_truth: identifiers and gts must be sequences ({exc})")
            return
        except LogInputError as exc:
            self._refuse(str(exc), {"identifiers": identifiers, "gts": gts})
            return
        if n:
            call = LogCall(-1, n, now_us(), None, None, gts, identifiers, ground_truth_only=True)
            self._writer.submit_late(call)

    def _refuse(self, message: str, raw: Any = None) -> range:
        if self.strict:
            raise LogInputError(message)
        self._writer.refuse(message, raw)  # metrics + a quarantine record of the raw call
        return range(0)

    def _maybe_retrain(self) -> None:
        try:
            self._retrainer.maybe_start()
        except Exception as exc:  # noqa: BLE001 - training problems never reach log()
            if self.strict:
                raise
            log.error("curate: could not start retraining: %s", exc)

    # -- flush / close -----------------------------------------------------------------------
    def flush(self, timeout: float | None = None) -> None:
        """Return once everything logged before this call is durable in the store.

        Partial monitor windows are closed and written too. In production mode a write
        failure is logged (the rows stay buffered and are retried); strict mode raises it.
        """
        self._writer.flush(timeout)

    def close(self) -> None:
        """Flush, stop the writer thread, close every monitor, then deliver pending alerts.

        Each alert sink gets a bounded time to deliver (``AlertSink.close``). Safe to call twice.
        """
        if self._writer.closed:
            return
        self._writer.close()
        for monitor in self.monitors:
            monitor.close()
        # After the writer's last flush, which wrote the final windows' alerts to the store.
        for sink in getattr(self, "alert_sinks", []):
            try:
                sink.close()
            except Exception as exc:  # noqa: BLE001 - a sink must not break close()
                log.error("curate: closing an alert sink failed: %s", exc)
        # Last: a scrape during close still sees the final numbers.
        if getattr(self, "metrics_server", None) is not None:
            self.metrics_server.close()

    def __enter__(self) -> Framework:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- retraining --------------------------------------------------------------------------
    def need_retraining(self) -> bool:
        """True when the edge cases since the latest run reach ``retrain_after``.

        Flushes first, so every row logged before the call counts.
        """
        self._needs_a_store("need_retraining()")
        self.flush()
        return self._retrainer.need_retraining()

    def retrain(self, wait: bool = False, timeout: float | None = None) -> Run:
        """Start a training run now on everything collected so far.

        Raises :class:`~curate.errors.CurateError` if a run is already in progress.
        """
        self._needs_a_store("retrain()")
        self.flush()
        if isinstance(self.store, DeltaStore):  # on a local copy, under the store's lease
            from trainer.delta_training import retrain_delta_store

            return retrain_delta_store(self.store.root, self.config.training_args, wait=wait)
        if not self._retrainer.automatic and self.config.training_args is None:
            self._retrainer.training_args = {}
        run = self._retrainer.start(trigger="manual")
        if run is None:
            raise CurateError("a training run is already in progress in this store")
        if wait:
            self._retrainer.wait(timeout)
            return self.runs.get(run.run_id)
        return run

    def wait_for_training(self, timeout: float | None = None) -> Run | None:
        """Wait for the run this Framework started (if any) and return the latest run."""
        self._needs_a_store("wait_for_training()")
        return self._retrainer.wait(timeout)

    def _needs_a_store(self, what: str) -> None:
        if self.config.remote is not None:
            raise CurateError(
                f"{what}: this Framework logs into the collector at {self.config.remote}; "
                "training and reading back happen on the collector's store"
            )

    # -- reading back ------------------------------------------------------------------------
    def retraining_dataset(self, columns: list[str] | None = None):
        """The retraining set as a ``datasets.Dataset`` (flushes first)."""
        self._needs_a_store("retraining_dataset()")
        from curate.datasets_io import load_parquet_dataset

        self.flush()
        if isinstance(self.store, DeltaStore):  # one committed version, read whole
            import datasets

            return datasets.Dataset(self.store.read("retraining", columns).combine_chunks())
        return load_parquet_dataset(self.store, "retraining", columns=columns)

    def backlog(self) -> dict[str, int]:
        """Rows not yet in the store: ``queued`` for the writer thread, ``buffered`` for the
        next write (edge cases, quarantine, traffic sample). No I/O and no lock: the
        Prometheus collector reads it on every scrape.

        >>> import tempfile
        >>> with Framework({"retraining_folder": tempfile.mkdtemp()}) as fw:
        ...     fw.backlog()
        {'queued': 0, 'buffered': 0}
        """
        buffered = self._writer.buffered_rows
        return {"queued": max(0, self._writer.pending_rows - buffered), "buffered": buffered}

    def compact(self, **options: Any) -> CompactionReport:
        """Compact this Framework's store with its ``retention`` (``curate compact``; options
        as :func:`curate.compaction.compact`'s). Safe while this Framework keeps logging."""
        self._needs_a_store("compact()")
        return compact_store(self.store.root, **{"retention": self.config.retention, **options})

    def stats(self) -> dict[str, Any]:
        """Store-wide counts (all writers, all restarts) and this process's last error.

        ``rows_logged`` comes from the metrics table, so it counts durable rows only.
        """
        self.flush()
        if self.config.remote is not None:  # the store is the collector's: what we sent
            w = self._writer
            return {"rows_logged": w.written_rows, "rows_dropped": w.dropped_rows,
                    "remote": self.config.remote, "last_error": w.last_error}  # fmt: skip
        return {
            **self.store.summary(),
            "retrain_after": self.config.retrain_after,
            "last_error": self._writer.last_error,
        }


def build_pipeline(cfg: Config, store: Store | DeltaStore) -> tuple[list[BaseMonitor], Pipeline]:
    """The monitors of ``cfg.checks`` and the pipeline that runs them and writes to ``store``."""
    context = MonitorContext(store=store, strict=cfg.strict)
    monitors = [REGISTRY[c.type](c, context) for c in cfg.checks]
    pipeline = Pipeline(
        store,
        monitors,
        strict=cfg.strict,
        max_buffered_rows=cfg.max_pending_rows,
        traffic_sample=cfg.traffic_sample,
        traffic_seed=cfg.traffic_seed,
    )
    return monitors, pipeline


def record_settings(store: Store | DeltaStore, cfg: Config, monitors: list[BaseMonitor]) -> None:
    """Write ``framework.json``: readers (the dashboard) show progress toward retrain_after and
    name the checks; an edge-case check's "reason" is the text its rows carry in ``reasons``."""
    checks = [
        {"type": m.kind, "name": m.name, "reason": getattr(m, "reason", None)} for m in monitors
    ]
    settings = {"retrain_after": cfg.retrain_after, "checks": checks, "writer": store.writer_id,
                "retention": cfg.retention}  # fmt: skip
    try:
        store.write_json("framework.json", settings)
    except (OSError, StoreError) as exc:
        if isinstance(store, DeltaStore):
            # The first write to the store: a bucket that cannot be reached (or written)
            # fails here, at start-up, as a local folder that cannot be created does.
            raise StoreError(f"cannot write to the store at {store.root}: {exc}") from exc
        log.error("curate: cannot record the settings in %s: %s", store.root, exc)


_LIVE: weakref.WeakSet[Framework] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    # Frameworks still open at interpreter exit are flushed, so a script that forgets close()
    # loses nothing it logged.
    for fw in list(_LIVE):
        try:
            fw.close()
        except Exception as exc:  # noqa: BLE001
            log.error("curate: closing at exit failed: %s", exc)
