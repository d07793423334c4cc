"""``Framework(cfg, remote="http://host:port")``: log into a collector (``curate serve``).

``log()`` is unchanged: it counts rows, takes ids (blocks reserved from the collector, off the
request path, as a local Framework reserves them from its store) and queues the call. A
sender thread posts the queue as JSON frames (:mod:`curate.collector`) and counts a frame as
written only when the collector answers that it is durable. While the collector is down it
retries with capped, jittered back-off; the queue stays bounded by ``max_pending_rows``: past
it the oldest calls are dropped and counted, and the count is recorded in the store (as
logged and dropped rows) once the collector is back. ``log()`` never waits for the network.
Set ``CURATE_TOKEN`` to the collector's shared secret.

Values travel as JSON: dicts of lists, lists of row dicts, numpy arrays, pandas and pyarrow
tables are converted; a call with a value JSON cannot carry is quarantined on the collector
as a ``malformed_call`` (its ids are kept).

>>> RemoteIds("http://127.0.0.1:9", token=None).root
'http://127.0.0.1:9'
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from typing import Any

from curate.calls import LogCall
from curate.errors import CurateError
from curate.failures import call_rows

log = logging.getLogger("curate")

#: Calls per POST.
FRAME_CALLS = 512
#: Back-off between failed posts: doubles from the first to the last, with jitter.
BACKOFF = (0.1, 5.0)
TIMEOUT = 30.0


class RemoteIds:
    """``reserve_ids`` through the collector, for :class:`~curate.ids.IdBlocks`."""

    def __init__(self, url: str, token: str | None) -> None:
        self.root, self.token = url.rstrip("/"), token

    def reserve_ids(self, count: int) -> int:
        """The first of ``count`` ids the collector reserved; ``OSError`` when it cannot."""
        return post(self.root + "/ids", {"n": count}, self.token, timeout=5.0)["first"]


def post(url: str, payload: dict[str, Any], token: str | None, timeout: float) -> dict:
    """POST ``payload`` as JSON; the JSON answer, or ``OSError`` (any failure, 4xx too)."""
    data = json.dumps(payload, default=_jsonable).encode()
    request = urllib.request.Request(url, data=data, method="POST")
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        raise OSError(f"{url}: HTTP {exc.code}: {exc.read()[:300]!r}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise OSError(f"{url}: {exc}") from None


class RemoteWriter:
    """The :class:`~curate.writer.Writer` interface over HTTP to a collector."""

    def __init__(self, url: str, ids: Any, *, max_pending_rows: int,
                 token: str | None = None) -> None:  # fmt: skip
        self.url, self.token = url.rstrip("/"), token or os.environ.get("CURATE_TOKEN")
        self._ids, self.max_pending_rows = ids, max_pending_rows
        self._queue: deque[LogCall] = deque()
        self._queued_rows = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Condition()
        self._writer_id, self._seq = f"{os.getpid()}-{uuid.uuid4().hex[:8]}", 0
        self.written_rows = self.dropped_rows = self._unreported = 0
        self.last_error: str | None = None
        self.buffered_rows = 0
        self.closed = self._closing = False
        self._sender = threading.Thread(target=self._run, name="curate-remote", daemon=True)
        self._sender.start()

    @property
    def pending_rows(self) -> int:
        """Rows given ids, not yet written by the collector nor dropped."""
        return self._ids.taken - self.written_rows - self.dropped_rows

    def submit(self, call: LogCall) -> None:
        """Queue a call; drop the oldest queued calls (counted) past ``max_pending_rows``."""
        self._queue.append(call)
        self._queued_rows += call.n
        if self._queued_rows > self.max_pending_rows:
            self._drop_oldest()
        if not self._wake.is_set():
            self._wake.set()

    submit_late = submit

    def refuse(self, message: str, raw: Any = None) -> None:
        """A call that could not be read at all: reported here (it has no rows to send)."""
        self.last_error = f"log() call refused: {message}"
        log.error("curate: %s", self.last_error)

    def _drop_oldest(self) -> None:
        with self._lock:
            while self._queued_rows > self.max_pending_rows and self._queue:
                call = self._queue.popleft()
                self._queued_rows -= call.n
                if not call.ground_truth_only:
                    self.dropped_rows += call.n
                    self._unreported += call.n

    # -- the sender ----------------------------------------------------------------------------
    def _run(self) -> None:
        delay = BACKOFF[0]
        while True:
            self._wake.wait(0.5)
            self._wake.clear()
            while self._queue or self._unreported:
                with self._lock:
                    frame = [
                        self._queue.popleft() for _ in range(min(FRAME_CALLS, len(self._queue)))
                    ]
                    self._queued_rows -= sum(c.n for c in frame)
                    lost, self._unreported = self._unreported, 0
                    self._seq += 1
                    body = _body(self._writer_id, self._seq, frame, lost)
                delay = self._post_until_written(body, frame, lost, delay)
            with self._idle:
                self._idle.notify_all()
            if self._closing:
                return

    def _post_until_written(self, body: dict, frame: list[LogCall], lost: int,
                            delay: float) -> float:  # fmt: skip
        rows = sum(c.n for c in frame if not c.ground_truth_only)
        while True:
            try:
                post(self.url + "/log", body, self.token, TIMEOUT)
                self.written_rows += rows
                if self._down:
                    self._down = False
                    log.warning("curate: the collector at %s is back", self.url)
                return BACKOFF[0]
            except OSError as exc:
                self.last_error = f"cannot reach the collector: {exc}"
                if not self._down:  # once per outage, not once per retry
                    self._down = True
                    log.error("curate: %s; retrying with back-off, keeping up to %d rows",
                              self.last_error, self.max_pending_rows)  # fmt: skip
            if self._queued_rows + rows > self.max_pending_rows or (self._closing and
                                                                    self._give_up):  # fmt: skip
                with self._lock:  # this frame is the oldest: it goes first
                    self.dropped_rows += rows
                    self._unreported += lost + rows
                return delay
            time.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, BACKOFF[1])

    # -- flush / close -------------------------------------------------------------------------
    _give_up = _down = False

    def flush(self, timeout: float | None = None) -> None:
        """Return once everything queued before this call is written by the collector (or
        dropped and counted); :class:`CurateError` after ``timeout`` seconds."""
        target = self._ids.taken
        deadline = None if timeout is None else time.monotonic() + timeout
        self._wake.set()
        with self._idle:
            while self.written_rows + self.dropped_rows < target:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise CurateError(f"flush did not complete within {timeout} s")
                self._idle.wait(0.1 if left is None else min(0.1, left))
                self._wake.set()

    def close(self, timeout: float = 30.0) -> None:
        """Send what is queued (for up to ``timeout`` s while the collector is down), then stop."""
        if self.closed:
            return
        self.closed = True
        try:
            self.flush(timeout)
        except CurateError:
            log.error("curate: the collector at %s did not take %d rows before close()",
                      self.url, self.pending_rows)  # fmt: skip
        self._give_up = self._closing = True
        self._wake.set()
        self._sender.join(timeout=5)


def _body(writer: str, seq: int, frame: list[LogCall], lost: int) -> dict[str, Any]:
    calls = []
    for call in frame:
        wire = {"first_id": call.first_id, "n": call.n, "ts": int(call.ts), "inputs": call.inputs,
                "outputs": call.outputs, "gts": call.gts, "identifiers": call.identifiers,
                "extra_args": call.extra_args, "late": call.ground_truth_only}  # fmt: skip
        try:
            json.dumps(wire, default=_jsonable)
        except (TypeError, ValueError) as exc:
            wire = _unsendable(call, exc)
        calls.append(wire)
    return {"writer": writer, "seq": seq, "calls": calls, "lost": lost}


def _unsendable(call: LogCall, exc: Exception) -> dict[str, Any]:
    # Kept as text, so the collector quarantines the rows with their ids and the reason.
    return {"first_id": call.first_id, "n": call.n, "ts": int(call.ts),
            "malformed": f"cannot be sent as JSON: {exc}", "rows": call_rows(call)}  # fmt: skip


def _jsonable(value: Any) -> Any:
    if hasattr(value, "to_pydict"):  # pyarrow Table / RecordBatch
        return value.to_pydict()
    if hasattr(value, "to_dict") and hasattr(value, "columns"):  # pandas DataFrame
        return value.to_dict(orient="list")
    if hasattr(value, "tolist"):  # numpy arrays and scalars, pandas Series
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
