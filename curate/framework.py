"""The Framework: ``log()`` from the request path, monitoring and curation in a writer thread.

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
import secrets
import threading
import time
import weakref
from collections import deque
from typing import Any

from curate.batch import Batch
from curate.calls import LogCall
from curate.config import Config
from curate.errors import CurateError, LogInputError
from curate.pipeline import Pipeline
from curate.retrainer import Retrainer
from curate.runs import Run, RunRegistry
from curate.store import ID_BLOCK, Store, now_us
from monitors.base import REGISTRY, MonitorContext

log = logging.getLogger("curate")


class _Refused:
    """A call ``log()`` could not even count rows for; recorded by the writer thread."""

    def __init__(self, message: str, raw: Any) -> None:
        self.message, self.raw = message, raw


class _Flush:
    """A marker in the queue: everything before it is durable once ``done`` is set."""

    def __init__(self, final: bool = False) -> None:
        self.done = threading.Event()
        self.final = final
        self.error: BaseException | None = None


class Framework:
    """Monitor logged rows, collect edge cases into a Parquet retraining set, trigger training.

    ``config`` is a dict in the UpTrain style or a :class:`~curate.config.Config`; keyword
    arguments override its keys (``Framework(cfg, strict=True)``). In the default production
    mode ``log()`` only counts the rows, assigns ids and queues the call; a writer thread does
    the rest, and every failure is logged, counted and quarantined instead of raised. With
    ``strict=True`` calls are processed synchronously and errors raise.
    """

    def __init__(self, config: Config | dict[str, Any] | None = None, **overrides: Any) -> None:
        self.config = Config.load(config, **overrides)
        self.strict = self.config.strict
        self.store = Store(self.config.retraining_folder)
        self.runs = RunRegistry(self.store)
        context = MonitorContext(store=self.store, strict=self.strict)
        self.monitors = [REGISTRY[c.type](c, context) for c in self.config.checks]
        self._pipeline = Pipeline(
            self.store,
            self.monitors,
            strict=self.strict,
            max_buffered_rows=self.config.max_pending_rows,
        )
        self._retrainer = Retrainer(
            self.store,
            retrain_after=self.config.retrain_after,
            training_args=self.config.training_args,
            on_retrain=self.config.on_retrain,
        )
        self._record_settings()
        if self.config.retrain_after and not self._retrainer.automatic:
            log.warning(
                "curate: retrain_after is set but neither training_args nor on_retrain is: "
                "need_retraining() reports the threshold, nothing starts by itself"
            )
        self._id_lock = threading.Lock()
        self._next_id = self._id_end = 0
        self._spare_block: tuple[int, int] | None = None
        self._queue: deque[LogCall | _Flush | _Refused] = deque()
        self._pending_rows = 0
        self._wake = threading.Event()
        self._room = threading.Condition()
        self._closed = False
        self._last_write = time.monotonic()
        self._writer: threading.Thread | None = None
        if not self.strict:
            self._start_writer()
        _register_atexit(self)

    def _record_settings(self) -> None:
        # Readers (the dashboard) show progress toward retrain_after and name the checks.
        try:
            self.store.write_json(
                "framework.json",
                {
                    "retrain_after": self.config.retrain_after,
                    "checks": [{"type": m.kind, "name": m.name} for m in self.monitors],
                    "writer": self.store.writer_id,
                },
            )
        except OSError as exc:
            log.error("curate: cannot record the settings in %s: %s", self.store.root, exc)

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
        if self._closed:
            return self._refuse("log() called after close()")
        try:
            n = Batch.count_rows(inputs)
        except LogInputError as exc:
            return self._refuse(str(exc), inputs)
        except Exception as exc:  # noqa: BLE001 - e.g. a column whose len() raises
            return self._refuse(f"inputs: cannot count rows: {exc}", inputs)
        if n == 0:
            return self._refuse("inputs: no rows (every column is empty)", inputs)
        with self._id_lock:
            if self._next_id + n > self._id_end:
                self._next_block(n)
            first = self._next_id
            self._next_id += n
            self._pending_rows += n
            pending = self._pending_rows
        call = LogCall(first, n, now_us(), inputs, outputs, gts, identifiers, extra_args)
        if self.strict:
            self._process_now(call)
        else:
            self._queue.append(call)
            if pending >= self.config.batch_size:
                self._wake.set()
                if pending > self.config.max_pending_rows:
                    self._wait_for_room()
        return range(first, first + n)

    def _next_block(self, n: int) -> None:
        """Move to a new block of ids (caller holds ``_id_lock``).

        The writer thread keeps a spare block reserved, so this is normally no I/O at all. If
        none is ready and the store cannot reserve one (a full or read-only disk), production
        mode takes a random block of negative ids, unique with overwhelming probability and
        never overlapping the reserved (non-negative) ones, rather than failing the caller.
        """
        size = max(ID_BLOCK, n)
        spare, self._spare_block = self._spare_block, None
        if spare is not None and spare[1] - spare[0] >= n:
            self._next_id, self._id_end = spare
            return
        try:
            self._next_id = self.store.reserve_ids(size)
        except OSError as exc:
            if self.strict:
                raise
            log.error(
                "curate: cannot reserve row ids in %s (%s); using a random block",
                self.store.root,
                exc,
            )
            self._next_id = -(1 << 62) + secrets.randbelow(1 << 40) * (1 << 21)
        self._id_end = self._next_id + size

    def _reserve_spare_block(self) -> None:
        # Called by the writer thread: the I/O of reserving ids stays off the request path.
        if self._spare_block is not None:
            return
        try:
            start = self.store.reserve_ids(ID_BLOCK)
        except OSError as exc:
            log.error("curate: cannot reserve row ids in %s: %s", self.store.root, exc)
            return
        with self._id_lock:
            self._spare_block = (start, start + ID_BLOCK)

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
        if n == 0:
            return
        call = LogCall(-1, n, now_us(), None, None, gts, identifiers, ground_truth_only=True)
        if self.strict:
            self._pipeline.process([call])
        else:
            self._queue.append(call)

    def _refuse(self, message: str, raw: Any = None) -> range:
        if self.strict:
            raise LogInputError(message)
        # Recorded by the writer thread (metrics + a quarantine record of the raw call).
        self._queue.append(_Refused(message, raw))
        return range(0)

    def _process_now(self, call: LogCall) -> None:
        with self._id_lock:
            self._pending_rows -= call.n
        self._pipeline.process([call])
        if self._pipeline.buffered_rows() >= self.config.batch_size:
            self._write()

    def _wait_for_room(self) -> None:
        # Backpressure: the caller waits for the writer rather than the queue growing without
        # bound. A dead writer thread is restarted instead of blocking forever.
        with self._room:
            while self._pending_rows > self.config.max_pending_rows and not self._closed:
                if self._writer is None or not self._writer.is_alive():
                    self._start_writer()
                self._wake.set()
                self._room.wait(0.5)

    # -- the writer thread -------------------------------------------------------------------
    def _start_writer(self) -> None:
        self._writer = threading.Thread(target=self._run_writer, name="curate-writer", daemon=True)
        self._writer.start()

    def _run_writer(self) -> None:
        while True:
            self._wake.wait(self.config.flush_interval)
            self._wake.clear()
            try:
                if self._drain():
                    return
            except Exception as exc:  # noqa: BLE001 - the writer must survive anything
                log.exception("curate: writer thread error: %s", exc)

    def _drain(self) -> bool:
        """Process what is queued now; write; answer flush markers. True after a final one.

        Only the items present when the cycle starts are taken: under a steady stream the queue
        is never empty, and waiting for that would keep every result in memory unwritten.
        """
        calls: list[LogCall] = []
        rows = 0
        for _ in range(len(self._queue)):
            item = self._queue.popleft()
            if isinstance(item, _Refused):
                self._pipeline.refused(item.message, item.raw)
                continue
            if isinstance(item, _Flush):
                # A marker is always answered, even if processing what came before it failed.
                try:
                    self._process_calls(calls)
                finally:
                    calls, rows = [], 0
                    self._answer_flush(item)
                if item.final:
                    return True
                continue
            calls.append(item)
            rows += item.n
            if rows >= self.config.batch_size:
                self._process_calls(calls)
                calls, rows = [], 0
                if self._pipeline.buffered_rows() >= self.config.batch_size:
                    self._write()
        self._process_calls(calls)
        due = time.monotonic() - self._last_write >= self.config.flush_interval
        if due or self._pipeline.buffered_rows() >= self.config.batch_size:
            self._write()
        if self._pending_rows >= self.config.batch_size:
            self._wake.set()  # a full batch arrived meanwhile: go again without waiting
        return False

    def _process_calls(self, calls: list[LogCall]) -> None:
        if not calls:
            return
        try:
            self._pipeline.process(calls)
        finally:
            with self._id_lock:
                self._pending_rows -= sum(c.n for c in calls)
            with self._room:
                self._room.notify_all()

    def _answer_flush(self, marker: _Flush) -> None:
        try:
            self._pipeline.flush_monitors()
            if not self._write() and not marker.final:
                marker.error = CurateError(f"flush: {self._pipeline.last_error}")
        except BaseException as exc:  # noqa: BLE001 - handed to the flushing caller
            marker.error = exc
        finally:
            marker.done.set()

    def _write(self) -> bool:
        self._last_write = time.monotonic()
        if not self.strict:
            self._reserve_spare_block()
        ok = self._pipeline.write()
        try:
            self._retrainer.maybe_start()
        except Exception as exc:  # noqa: BLE001 - training problems never reach log()
            if self.strict:
                raise
            log.error("curate: could not start retraining: %s", exc)
        return ok

    # -- flush / close -----------------------------------------------------------------------
    def flush(self, timeout: float | None = None) -> None:
        """Return once everything logged before this call is durable in the store.

        Partial monitor windows are closed and written too. In production mode a write
        failure is logged (the rows stay buffered and are retried); strict mode raises it.
        """
        if self.strict:
            self._pipeline.flush_monitors()
            self._write()
            return
        if self._closed:
            return
        marker = _Flush()
        self._queue.append(marker)
        self._wake.set()
        if self._writer is None or not self._writer.is_alive():
            self._start_writer()
        if not marker.done.wait(timeout):
            raise CurateError(f"flush did not complete within {timeout} s")
        if marker.error is not None:
            log.error("curate: %s", marker.error)

    def close(self) -> None:
        """Flush, stop the writer thread and close every monitor. Safe to call twice."""
        if self._closed:
            return
        if self.strict:
            self.flush()
        else:
            marker = _Flush(final=True)
            self._queue.append(marker)
            self._wake.set()
            if self._writer is None or not self._writer.is_alive():
                self._start_writer()
            marker.done.wait()
        self._closed = True
        for monitor in self.monitors:
            monitor.close()

    def __enter__(self) -> Framework:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- retraining --------------------------------------------------------------------------
    def need_retraining(self) -> bool:
        """True when the edge cases since the latest run reach ``retrain_after``.

        Flushes first, so every row logged before the call counts.
        """
        self.flush()
        return self._retrainer.need_retraining()

    def retrain(self, wait: bool = False, timeout: float | None = None) -> Run:
        """Start a training run now on everything collected so far.

        Raises :class:`~curate.errors.CurateError` if a run is already in progress.
        """
        self.flush()
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
        return self._retrainer.wait(timeout)

    # -- reading back ------------------------------------------------------------------------
    def retraining_dataset(self, columns: list[str] | None = None):
        """The retraining set as a ``datasets.Dataset`` (flushes first)."""
        from curate.datasets_io import load_parquet_dataset

        self.flush()
        return load_parquet_dataset(self.store, "retraining", columns=columns)

    def stats(self) -> dict[str, Any]:
        """Store-wide counts (all writers, all restarts) and this process's last error.

        ``rows_logged`` comes from the metrics table, so it counts durable rows only.
        """
        import pyarrow.compute as pc

        self.flush()
        metrics = self.store.read("metrics", columns=["monitor", "metric", "value"])
        logged = 0
        if metrics.num_rows:
            rows = metrics.filter(pc.equal(metrics["metric"], "rows_logged"))
            logged = int(pc.sum(rows["value"]).as_py() or 0)
        return {
            "rows_logged": logged,
            "edge_cases": self.store.num_rows(self.store.files("retraining")),
            "quarantined": self.store.num_rows(self.store.files("quarantine")),
            "edge_cases_since_last_run": self.runs.pending_rows(),
            "retrain_after": self.config.retrain_after,
            "files": {
                t: len(self.store.files(t))
                for t in ("retraining", "quarantine", "metrics", "alerts")
            },
            "last_error": self._pipeline.last_error,
        }


_LIVE: weakref.WeakSet[Framework] = weakref.WeakSet()


def _register_atexit(fw: Framework) -> None:
    _LIVE.add(fw)


@atexit.register
def _close_all() -> None:
    # Frameworks still open at interpreter exit are flushed, so a script that forgets close()
    # loses nothing it logged.
    for fw in list(_LIVE):
        try:
            fw.close()
        except Exception as exc:  # noqa: BLE001
            log.error("curate: closing at exit failed: %s", exc)
