"""The writer: what ``log()`` queues is monitored and written here, off the request path.

In production mode a daemon thread drains the queue in cycles: it takes only what is queued
when a cycle starts (under a steady stream the queue is never empty, and waiting for that would
keep every result in memory unwritten), hands the calls to the :class:`~curate.pipeline.Pipeline`
in batches of ``batch_size`` rows, and writes at ``batch_size`` buffered rows or every
``flush_interval`` seconds. A caller that gets more than ``max_pending_rows`` ahead waits
(backpressure), so memory stays bounded. Flush markers in the queue tell a caller of
:meth:`Writer.flush` that everything queued before them is durable. In strict mode calls are
processed at once, in the caller's thread, and errors raise.

>>> import tempfile
>>> from curate.calls import LogCall
>>> from curate.ids import IdBlocks
>>> from curate.pipeline import Pipeline
>>> from curate.store import Store
>>> store = Store(tempfile.mkdtemp())
>>> ids = IdBlocks(store)
>>> writer = Writer(Pipeline(store, [], strict=False, max_buffered_rows=100), ids)
>>> writer.submit(LogCall(ids.take(2), 2, 0, {"text": ["a", "b"]}))
>>> writer.close()
>>> store.rows_logged()
2
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from curate.calls import LogCall
from curate.errors import CurateError
from curate.ids import IdBlocks
from curate.pipeline import Pipeline

log = logging.getLogger("curate")


class _Refused:
    """A call ``log()`` could not even count rows for; recorded by the writer."""

    def __init__(self, message: str, raw: Any) -> None:
        self.message, self.raw = message, raw


class _Task:
    """A function to run in the writer thread, in queue order, for ``rows`` logged rows."""

    def __init__(self, fn: Callable[[], None], rows: int) -> None:
        self.fn, self.rows = fn, rows


class _Flush:
    """A marker in the queue: everything before it is durable once ``done`` is set."""

    def __init__(
        self, final: bool = False, on_done: Callable[[BaseException | None], None] | None = None
    ) -> None:
        self.done = threading.Event()
        self.final = final
        self.error: BaseException | None = None
        self.on_done = on_done


class Writer:
    """Queue, writer thread, backpressure and flush markers over one :class:`Pipeline`.

    ``before_write`` runs just before every write (reserving the next id block) and
    ``after_write`` after it (the retraining trigger), both off the request path; each
    contains its own failures.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        ids: IdBlocks,
        *,
        strict: bool = False,
        batch_size: int = 20_000,
        flush_interval: float = 1.0,
        max_pending_rows: int = 500_000,
        before_write: Callable[[], None] | None = None,
        after_write: Callable[[], None] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.strict = strict
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_pending_rows = max_pending_rows
        self.before_write, self.after_write = before_write, after_write
        # Rows queued = rows given ids - rows processed: the request path only appends to the
        # queue (no lock of its own), and only the writer thread adds to ``processed_rows``.
        self._ids = ids
        self.processed_rows = 0
        self._queue: deque[LogCall | _Flush | _Refused | _Task] = deque()
        self._wake = threading.Event()
        self._room = threading.Condition()
        #: True once :meth:`close` has run (a plain attribute: ``log()`` reads it every call).
        self.closed = False
        self._last_write = time.monotonic()
        self._thread: threading.Thread | None = None
        if strict:
            self.submit = self._process_now  # type: ignore[method-assign]
        else:
            self._start()

    # -- what the request path calls ----------------------------------------------------------
    @property
    def pending_rows(self) -> int:
        """Rows given ids and not yet processed."""
        return self._ids.taken - self.processed_rows

    @property
    def buffered_rows(self) -> int:
        """Rows processed and waiting for the next write."""
        return self.pipeline.buffered_rows()

    @property
    def last_error(self) -> str | None:
        """The latest failure the pipeline recorded, or ``None``."""
        return self.pipeline.last_error

    def submit(self, call: LogCall) -> None:
        """Queue a call whose ids came from ``ids`` (or, in strict mode, process it now)."""
        self._queue.append(call)
        pending = self._ids.taken - self.processed_rows
        if pending >= self.batch_size:
            self._wake.set()
            if pending > self.max_pending_rows:
                self._wait_for_room()

    def _process_now(self, call: LogCall) -> None:
        self.processed_rows += call.n
        self.pipeline.process([call])
        if self.pipeline.buffered_rows() >= self.batch_size:
            self.write()

    def submit_late(self, call: LogCall) -> None:
        """Queue ground truth that arrives after its predictions (no rows are counted)."""
        if self.strict:
            self.pipeline.process([call])
        else:
            self._queue.append(call)

    def refuse(self, message: str, raw: Any = None) -> None:
        """Record, off the request path, a call that could not be read at all."""
        self._queue.append(_Refused(message, raw))

    def _wait_for_room(self) -> None:
        # The caller waits for the writer rather than the queue growing without bound. A dead
        # writer thread is restarted instead of blocking forever.
        with self._room:
            while self.pending_rows > self.max_pending_rows and not self.closed:
                if self._thread is None or not self._thread.is_alive():
                    self._start()
                self._wake.set()
                self._room.wait(0.5)

    # -- the thread ----------------------------------------------------------------------------
    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="curate-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                if self._drain():
                    return
            except Exception as exc:  # noqa: BLE001 - the writer must survive anything
                log.exception("curate: writer thread error: %s", exc)

    def _drain(self) -> bool:
        """Process what is queued now; write; answer flush markers. True after a final one."""
        calls: list[LogCall] = []
        rows = 0
        for _ in range(len(self._queue)):
            item = self._queue.popleft()
            if isinstance(item, _Refused):
                self.pipeline.refused(item.message, item.raw)
            elif isinstance(item, _Task):
                self._process(calls)  # in queue order, so what it accounts for stays in order
                calls, rows = [], 0
                self._run_task(item)
            elif isinstance(item, _Flush):
                # A marker is always answered, even if processing what came before it failed.
                try:
                    self._process(calls)
                finally:
                    calls, rows = [], 0
                    self._answer(item)
                if item.final:
                    return True
            else:
                calls.append(item)
                rows += item.n
                if rows >= self.batch_size:
                    self._process(calls)
                    calls, rows = [], 0
                    if self.pipeline.buffered_rows() >= self.batch_size:
                        self.write()
        self._process(calls)
        due = time.monotonic() - self._last_write >= self.flush_interval
        if due or self.pipeline.buffered_rows() >= self.batch_size:
            self.write()
        if self.pending_rows >= self.batch_size:
            self._wake.set()  # a full batch arrived meanwhile: go again without waiting
        return False

    def call_soon(self, fn: Callable[[], None], rows: int = 0) -> None:
        """Run ``fn`` in the writer thread after what is queued now; it accounts for ``rows``
        logged rows (quarantined by ``fn``, say), which count as processed once it ran."""
        self._queue.append(_Task(fn, rows))
        self._wake.set()

    def _run_task(self, task: _Task) -> None:
        try:
            task.fn()
        except Exception as exc:  # noqa: BLE001 - the writer must survive anything
            log.exception("curate: writer task failed: %s", exc)
        finally:
            self.processed_rows += task.rows

    def _process(self, calls: list[LogCall]) -> None:
        if not calls:
            return
        try:
            self.pipeline.process(calls)
        finally:
            self.processed_rows += sum(c.n for c in calls if not c.ground_truth_only)
            with self._room:
                self._room.notify_all()

    def _answer(self, marker: _Flush) -> None:
        try:
            self.pipeline.flush_monitors()
            if not self.write() and not marker.final:
                marker.error = CurateError(f"flush: {self.pipeline.last_error}")
        except BaseException as exc:  # noqa: BLE001 - handed to the flushing caller
            marker.error = exc
        finally:
            marker.done.set()
            if marker.on_done is not None:
                marker.on_done(marker.error)

    def write(self) -> bool:
        """Write the pipeline's buffers; False when the store failed (rows kept to retry)."""
        self._last_write = time.monotonic()
        if self.before_write is not None:
            self.before_write()
        ok = self.pipeline.write()
        if self.after_write is not None:
            self.after_write()
        return ok

    # -- flush / close -------------------------------------------------------------------------
    def flush(self, timeout: float | None = None) -> None:
        """Return once everything queued before this call is durable (partial windows too)."""
        if self.strict:
            self.pipeline.flush_monitors()
            self.write()
            return
        if self.closed:
            return
        marker = self._send(_Flush())
        if not marker.done.wait(timeout):
            raise CurateError(f"flush did not complete within {timeout} s")
        if marker.error is not None:
            log.error("curate: %s", marker.error)

    def flush_async(self, on_done: Callable[[BaseException | None], None]) -> None:
        """Like :meth:`flush` without waiting: ``on_done(error)`` runs, in the writer thread,
        once everything queued before this call is durable (``error`` is ``None`` then)."""
        self._send(_Flush(on_done=on_done))

    def close(self) -> None:
        """Flush everything and stop the thread. Safe to call twice."""
        if self.closed:
            return
        if self.strict:
            self.flush()
        else:
            self._send(_Flush(final=True)).done.wait()
        self.closed = True

    def _send(self, marker: _Flush) -> _Flush:
        self._queue.append(marker)
        self._wake.set()
        if self._thread is None or not self._thread.is_alive():
            self._start()
        return marker
