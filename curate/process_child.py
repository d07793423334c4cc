"""The monitoring process of a ``mode="process"`` Framework: ``python -m curate.process_child``.

It runs what a thread-mode Framework runs in its writer thread (the monitors, the
:class:`~curate.pipeline.Pipeline` and a :class:`~curate.writer.Writer`) on the calls the
parent sends (:mod:`curate.process_channel`), and tells the parent after each successful write
which frames are now durable. It ignores Ctrl-C (the parent decides when to stop); the end of
its input, from ``close()`` or the parent's death, makes it write everything it holds and exit.

>>> Monitoring.frames_durable([(10, 1), (15, 2), (30, 3)], processed=15)
2
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing.spawn
import os
import pickle
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from curate.calls import LogCall
from curate.process_channel import decode_call
from curate.tables import Metric, framework_metric
from curate.writer import Writer

log = logging.getLogger("curate")


class _Received:
    """Rows received so far: the writer's ``pending_rows`` is this minus what it processed."""

    taken = 0


class _AcknowledgingWriter(Writer):
    """A Writer that reports each successful write to ``on_written``."""

    on_written: Callable[[], None] | None = None

    def write(self) -> bool:
        ok = super().write()
        if ok and self.on_written is not None:
            self.on_written()
        return ok


class Monitoring:
    """The child's monitors, pipeline and writer, fed by the parent's messages."""

    def __init__(self, config: Any, send: Callable[[tuple], None]) -> None:
        from curate.delta_store import open_store
        from curate.framework import build_pipeline, record_settings

        self.config, self.send = config, send
        self.store = store = open_store(config.retraining_folder)
        self.monitors, self.pipeline = build_pipeline(config, store)
        record_settings(store, config, self.monitors)
        self.received = _Received()
        self._frames: deque[tuple[int, int]] = deque()  # (rows received after it, seq)
        self._frames_lock = threading.Lock()
        self.writer = _AcknowledgingWriter(
            self.pipeline, self.received, batch_size=config.batch_size,  # type: ignore[arg-type]
            flush_interval=config.flush_interval, max_pending_rows=config.max_pending_rows,
        )  # fmt: skip
        self.writer.on_written = self._written

    @staticmethod
    def frames_durable(frames: list[tuple[int, int]], processed: int) -> int | None:
        """The last seq whose rows are all processed (frames are in order), or ``None``."""
        seq = None
        for rows_after, frame_seq in frames:
            if rows_after > processed:
                break
            seq = frame_seq
        return seq

    def _written(self) -> None:
        processed, seq = self.writer.processed_rows, None
        with self._frames_lock:
            while self._frames and self._frames[0][0] <= processed:
                seq = self._frames.popleft()[1]
        if seq is not None:
            self.send(("written", seq, self.writer.buffered_rows, self.writer.last_error))

    # -- messages ------------------------------------------------------------------------------
    def serve(self, inbox: Connection) -> None:
        """Handle messages until ``close`` or the end of the input."""
        while True:
            try:
                message = pickle.loads(inbox.recv_bytes())
            except (EOFError, OSError):
                self.close(None)
                return
            if message[0] == "calls":
                if self.handle_frame(message[1], message[2]):
                    return
            elif message[0] == "lost":
                self.record_lost(message[1], message[2], message[3])

    def handle_frame(self, seq: int, items: list[tuple]) -> bool:
        """Queue a frame's items; True after a ``close``. A marker is a frame's last item."""
        for item in items:
            kind = item[0]
            if type(kind) is int or kind in ("call", "late"):
                call = decode_call(item)
                if call.ground_truth_only:
                    self.writer.submit_late(call)
                else:
                    self.received.taken += call.n
                    self.writer.submit(call)
            elif kind == "malformed":
                self._malformed(item)
            elif kind == "refused":
                self.writer.refuse(item[1], item[2])
            elif kind in ("flush", "close"):
                break
        with self._frames_lock:  # before the marker's write, which acknowledges the frame
            self._frames.append((self.received.taken, seq))
        kind = items[-1][0] if items else None
        if kind == "flush":
            self.writer.flush_async(self._answer("flushed", items[-1][1]))
        elif kind == "close":
            self.close(items[-1][1])
            return True
        return False

    def _answer(self, kind: str, token: int) -> Callable[[BaseException | None], None]:
        def answer(error: BaseException | None) -> None:
            self.send((kind, token, None if error is None else str(error), self.writer.last_error))

        return answer

    def _malformed(self, item: tuple) -> None:
        _, first_id, n, ts, late, reason, rows = item
        call = LogCall(first_id, n, ts, None, ground_truth_only=late)
        if not late:
            self.received.taken += n
        failures = self.pipeline.failures

        def record() -> None:
            failures.report(
                f"malformed log() call with ids {first_id}..{first_id + n - 1}: {reason}"
            )
            failures.malformed_rows(call, reason, rows)

        self.writer.call_soon(record, rows=0 if late else n)

    def record_lost(self, seq: int, rows: int, reason: str) -> None:
        """Record ``rows`` lost before they reached us; frame ``seq`` is acknowledged once the
        record is written."""
        self._lost(rows, reason)
        with self._frames_lock:
            self._frames.append((self.received.taken, seq))

    def _lost(self, rows: int, reason: str) -> None:
        if not rows:
            return
        message = f"{rows} rows were lost before they were written ({reason})"

        def record() -> None:
            self.pipeline.failures.report(message)
            metrics = self.pipeline.buffers.metric_rows
            # Logged (they have ids) and dropped: rows_logged still counts every id handed out.
            metrics.append(framework_metric("process", Metric.ROWS_LOGGED, rows, rows))
            metrics.append(framework_metric("process", Metric.ROWS_DROPPED, rows, rows))

        self.writer.call_soon(record)

    def close(self, token: int | None) -> None:
        """Write everything, close the monitors, answer ``token`` (if any)."""
        error = None
        try:
            self.writer.close()
            for monitor in self.monitors:
                monitor.close()
        except Exception as exc:  # noqa: BLE001 - reported to the parent
            error = str(exc)
            log.exception("curate: closing the monitoring process failed: %s", exc)
        if token is not None:
            # The parent may be gone; everything is written anyway.
            with contextlib.suppress(OSError):
                self.send(("closed", token, error, self.writer.last_error))


def main(argv: list[str]) -> int:
    """Serve a parent on the pipe descriptors ``argv[1]`` (in) and ``argv[2]`` (out)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    inbox = Connection(int(argv[1]), writable=False)
    outbox = Connection(int(argv[2]), readable=False)
    lock = threading.Lock()

    def send(message: tuple) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        with lock:
            outbox.send_bytes(data)

    try:
        _, preparation, config_bytes = pickle.loads(inbox.recv_bytes())
        multiprocessing.spawn.prepare(preparation)
        monitoring = Monitoring(pickle.loads(config_bytes), send)
    except BaseException as exc:  # noqa: BLE001 - the parent raises it as a ConfigError
        send(("failed", f"{type(exc).__name__}: {exc}"))
        return 1
    send(("ready",))
    monitoring.serve(inbox)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=os.environ.get("CURATE_LOG_LEVEL", "WARNING"))
    sys.exit(main(sys.argv))
