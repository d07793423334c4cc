"""``mode="process"``: monitoring in a child process, so a service's request threads keep the GIL.

``log()`` still only counts rows, takes ids and appends the call to a queue, as the plain
tuple of its arguments (:func:`~curate.process_channel.call_fields`), which is also how it
travels; it wakes the sender thread only when that sleeps for want of calls. The sender
pickles what is queued in frames (one pickle and one pipe write for up to ``FRAME_CALLS``
calls, so it never holds the GIL for long) and writes them to a pipe; the child
(``python -m curate.process_child``) runs the same :class:`~curate.writer.Writer` and
:class:`~curate.pipeline.Pipeline` a thread-mode Framework runs, and acknowledges each write.
What ``log()`` promises stays true:

- **never raises**: a call that cannot be pickled is quarantined as a malformed call;
- **bounded memory**: a caller more than ``max_pending_rows`` rows ahead of the child's
  acknowledged writes waits, as in thread mode;
- **durable flush**: ``flush()`` returns once the child has written everything before it;
- **normal exit**: ``close()`` (or the interpreter's exit) sends everything and waits for the
  child's final flush; a parent that dies closes the pipe, and the child writes what it holds;
- **the child's death** is detected (a broken pipe or end of file), the child restarted, and
  the rows sent but not yet acknowledged are counted as lost: ``rows_logged`` and
  ``rows_dropped`` metrics written by the new child, so ``rows_logged`` still counts every id
  handed out. A write that completes in the instant before its acknowledgement is counted as
  lost although it is stored (the count is an upper bound by that margin).

The child is started the way ``multiprocessing``'s *spawn* starts one (never *fork*, which
would copy the parent's threads and locks): it imports the parent's main module as
``__mp_main__``, so signal functions defined in a script work, behind the usual
``if __name__ == "__main__":`` guard.

>>> import tempfile
>>> from curate import Framework, Signal
>>> cfg = {"checks": [{"type": "edge_case", "signal_formulae": Signal.contains("nike")}],
...        "retraining_folder": tempfile.mkdtemp(), "mode": "process"}
>>> with Framework(cfg) as fw:
...     ids = fw.log(inputs={"text": ["nike shoes", "adidas"]})
...     fw.stats()["edge_cases"]
1
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from curate.calls import LogCall
from curate.errors import ConfigError, CurateError
from curate.ids import IdBlocks
from curate.process_channel import (
    Child,
    ChildDied,
    call_fields,
    encode_call,
    picklable,
    pickled_config,
    safe_raw,
)

log = logging.getLogger("curate")

#: Calls per frame: pickling 256 one-row calls (plain tuples) holds the GIL for about 50 µs.
FRAME_CALLS = 256
#: After waking, the sender waits this long for more calls, so frames are not one row each.
LINGER = 0.001
#: How long an idle sender sleeps before looking at the queue anyway (log() wakes it sooner).
IDLE_WAIT = 1.0
#: Restarts tried, with back-off, before calls are dropped (counted) until one succeeds.
RESTART_DELAYS = (0.0, 0.5, 2.0, 5.0)
#: The row count of a call_fields tuple.
_ROWS = itemgetter(1)


class _Marker:
    """A flush (or the final close) in the queue; ``done`` once the child has answered it."""

    def __init__(self, op: str) -> None:
        self.op, self.token = op, id(self)
        self.done = threading.Event()
        self.error: str | None = None


class ProcessWriter:
    """The :class:`~curate.writer.Writer` interface, with the monitoring in a child process.

    ``on_written`` runs (in a thread of this process) after each write the child acknowledges:
    the Framework's training trigger.
    """

    #: What ``Framework.log()`` queues in this mode: the call's arguments as a plain tuple.
    new_call = staticmethod(call_fields)

    def __init__(
        self,
        config: Any,
        ids: IdBlocks,
        *,
        max_pending_rows: int,
        on_written: Callable[[], None] | None = None,
    ) -> None:
        self._config_bytes = pickled_config(config)
        self._ids, self.max_pending_rows, self.on_written = ids, max_pending_rows, on_written
        self._queue: deque[Any] = deque()
        # (seq, rows, lost rows it records) of each frame sent and not yet written.
        self._frames: deque[tuple[int, int, int]] = deque()
        self._markers: dict[int, _Marker] = {}
        self._lock = threading.Lock()  # frames, markers, the child and its incarnation
        self._room = threading.Condition()
        self._wake = threading.Event()
        # True while the sender waits for calls: only then does log() pay for waking it.
        self._idle = False
        self._queued_markers = 0  # markers queued and not yet taken into a frame (self._lock)
        self._seq = 0
        self.written_rows = self.lost_rows = self.restarts = self._lost_unrecorded = 0
        self.child_buffered, self.child_error = 0, None
        #: True once :meth:`close` has run (a plain attribute: ``log()`` reads it every call).
        self.closed = False
        self._closing = False
        self._child = Child.start(self._config_bytes)  # raises ConfigError if it cannot start
        self._incarnation = 0
        self._start_receiver()
        self._sender = threading.Thread(target=self._send_loop, name="curate-sender", daemon=True)
        self._sender.start()

    # -- what the request path calls ----------------------------------------------------------
    @property
    def pending_rows(self) -> int:
        """Rows given ids and not yet written by the child (nor counted as lost)."""
        return self._ids.taken - self.written_rows - self.lost_rows

    @property
    def buffered_rows(self) -> int:
        """Rows the child holds for its next write (as of its latest acknowledgement)."""
        return self.child_buffered

    @property
    def last_error(self) -> str | None:
        """The latest failure the child reported, or ``None``."""
        return self.child_error

    def submit(self, call: tuple | LogCall) -> None:
        """Queue a call (:attr:`new_call`'s tuple, or a :class:`LogCall`) whose ids came from
        ``ids``; wait while too far ahead of the child."""
        self._queue.append(call)
        if self._idle:
            self._idle = False
            self._wake.set()
        if self._ids.taken - self.written_rows - self.lost_rows > self.max_pending_rows:
            self._wait_for_room()

    def submit_late(self, call: LogCall) -> None:
        """Queue ground truth that arrives after its predictions."""
        self._queue.append(call)
        self._wake.set()

    def refuse(self, message: str, raw: Any = None) -> None:
        """Record, in the child, a call that could not be read at all."""
        self._queue.append(("refused", message, safe_raw(raw)))
        self._wake.set()

    def _wait_for_room(self) -> None:
        with self._room:
            while self.pending_rows > self.max_pending_rows and not self.closed:
                self._wake.set()
                self._room.wait(0.5)

    # -- flush / close -------------------------------------------------------------------------
    def flush(self, timeout: float | None = None) -> None:
        """Return once everything queued before this call is written by the child."""
        if self.closed:
            return
        marker = self._enqueue(_Marker("flush"))
        if not marker.done.wait(timeout):
            raise CurateError(f"flush did not complete within {timeout} s")
        if marker.error is not None:
            log.error("curate: %s", marker.error)

    def close(self, timeout: float = 120.0) -> None:
        """Send everything, let the child write it and exit; safe to call twice."""
        if self.closed:
            return
        marker = self._enqueue(_Marker("close"))
        if not marker.done.wait(timeout):
            log.error("curate: the monitoring process did not close within %s s", timeout)
        self._closing = self.closed = True
        self._wake.set()
        self._sender.join(timeout=10)
        self._child.stop()
        with self._room:
            self._room.notify_all()

    def _enqueue(self, marker: _Marker) -> _Marker:
        with self._lock:
            self._markers[marker.token] = marker
            # Counted before it is queued: a sender that sees none counted has none to take.
            self._queued_markers += 1
        self._queue.append(marker)
        self._wake.set()
        return marker

    # -- the sender thread ---------------------------------------------------------------------
    def _send_loop(self) -> None:
        while not self._closing:
            if not self._queue:
                self._idle = True
                # A call queued before _idle was set is seen here; one queued after sets _wake.
                if not self._queue:
                    self._wake.wait(IDLE_WAIT)
                self._idle = False
                self._wake.clear()
            if len(self._queue) < FRAME_CALLS:
                time.sleep(LINGER)
            while self._queue and not self._closing:
                try:
                    self._send_frame(self._take_frame())
                except Exception as exc:  # noqa: BLE001 - the sender must survive anything
                    log.exception("curate: sending to the monitoring process failed: %s", exc)
            # Off the request path: log() then moves to a new id block without any I/O.
            self._ids.reserve_spare()

    def _take_frame(self) -> list[Any]:
        queue = self._queue
        count = min(len(queue), FRAME_CALLS)
        if not self._queued_markers:  # read after the length: no marker among those `count`
            return [queue.popleft() for _ in range(count)]
        items = []
        while queue and len(items) < FRAME_CALLS:
            item = queue.popleft()
            items.append(item)
            if isinstance(item, _Marker):
                with self._lock:
                    self._queued_markers -= 1
                break  # a marker ends its frame: whatever follows it is answered after it
        return items

    def _send_frame(self, items: list[Any]) -> None:
        wire, rows = _encode(items)
        with self._lock:
            self._seq += 1
            seq, child, incarnation = self._seq, self._child, self._incarnation
            self._frames.append((seq, rows, 0))
        try:
            try:
                child.send(("calls", seq, wire))
            except ChildDied:
                raise
            except Exception:  # noqa: BLE001 - a value pickle refuses: find the calls at fault
                child.send(("calls", seq, [picklable(w) for w in wire]))
        except ChildDied as exc:
            self._restart(incarnation, str(exc))

    # -- the receiver thread (one per child) ---------------------------------------------------
    def _start_receiver(self) -> None:
        child, incarnation = self._child, self._incarnation
        threading.Thread(
            target=self._receive_loop, args=(child, incarnation), name="curate-receiver",
            daemon=True,
        ).start()  # fmt: skip

    def _receive_loop(self, child: Child, incarnation: int) -> None:
        while True:
            try:
                message = child.recv()
            except ChildDied as exc:
                if not self._closing:
                    self._restart(incarnation, str(exc))
                return
            try:
                self._on_message(message)
            except Exception as exc:  # noqa: BLE001
                log.exception("curate: bad message from the monitoring process: %s", exc)

    def _on_message(self, message: tuple) -> None:
        kind = message[0]
        if kind == "written":
            _, seq, self.child_buffered, self.child_error = message
            self._acknowledge(seq)
            if self.on_written is not None:
                self.on_written()
        elif kind in ("flushed", "closed"):
            _, token, error, self.child_error = message
            with self._lock:
                marker = self._markers.pop(token, None)
            if marker is not None:
                marker.error = error
                marker.done.set()

    def _acknowledge(self, seq: int) -> None:
        written = 0
        with self._lock:
            while self._frames and self._frames[0][0] <= seq:
                written += self._frames.popleft()[1]
        self.written_rows += written
        with self._room:
            self._room.notify_all()

    # -- restarts ------------------------------------------------------------------------------
    def _restart(self, incarnation: int, reason: str) -> None:
        with self._lock:
            if incarnation != self._incarnation or self._closing:
                return  # the other thread restarted it already, or we are closing
            lost = sum(rows for _, rows, _ in self._frames)
            # A record of an earlier loss that died with this child is sent again.
            self._lost_unrecorded += lost + sum(recorded for _, _, recorded in self._frames)
            self._frames.clear()
            self.lost_rows += lost
            self._child.stop()
            log.error("curate: the monitoring process died (%s): %d rows lost; restarting",
                      reason, lost)  # fmt: skip
            self._incarnation += 1
            try:
                self._child = self._start_again()
            except CurateError as exc:  # the next send retries; waiting callers hear why
                log.error("curate: %s", exc)
                self._answer_all(str(exc))
                return
            self.restarts += 1
            try:
                if self._lost_unrecorded:
                    self._seq += 1
                    self._frames.append((self._seq, 0, self._lost_unrecorded))
                    self._child.send(
                        (
                            "lost",
                            self._seq,
                            self._lost_unrecorded,
                            f"the monitoring process died: {reason}",
                        )
                    )
                    self._lost_unrecorded = 0
                # Everything queued before these was sent, and is written or counted as lost.
                for marker in self._markers.values():
                    self._seq += 1
                    self._child.send(("calls", self._seq, [(marker.op, marker.token)]))
            except ChildDied:
                pass  # dead again already: the receiver started below notices
        self._start_receiver()
        with self._room:
            self._room.notify_all()

    def _answer_all(self, error: str) -> None:
        for marker in self._markers.values():
            marker.error = error
            marker.done.set()
        self._markers.clear()

    def _start_again(self) -> Child:
        error: Exception | None = None
        for delay in RESTART_DELAYS:
            time.sleep(delay)
            try:
                return Child.start(self._config_bytes)
            except (ConfigError, OSError) as exc:
                error = exc
        raise CurateError(f"cannot restart the monitoring process: {error}")


def _encode(items: list[Any]) -> tuple[list[Any], int]:
    """A frame's items as they travel, and the logged rows they carry."""
    try:
        # The usual frame: only log()'s call_fields tuples, sent as they are, their rows
        # summed in C. Every other item (a marker, a LogCall, a refused call's
        # ("refused", message, raw)) makes the sum raise TypeError.
        return items, sum(map(_ROWS, items))
    except TypeError:
        pass
    wire = [_wire(item) for item in items]
    rows = 0
    for item in wire:
        if type(item[0]) is int:
            rows += item[1]
        elif item[0] == "call" and not item[10]:
            rows += item[2]
    return wire, rows


def _wire(item: Any) -> Any:
    if isinstance(item, LogCall):
        return encode_call(item)
    if isinstance(item, _Marker):
        return (item.op, item.token)
    return item
