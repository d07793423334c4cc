"""What every alert sink shares: a watcher thread, one batch per window, retries with back-off.

An :class:`AlertSink` reads the store's alerts table from a thread of its own, never from the
``log()`` path. Every ``window`` seconds it reads the alert segments written since its last
look (through the store's ``files``/``read``, so it knows nothing of the layout) and, if there
are any, hands them to :meth:`AlertSink.send` as one batch: a burst of alerts costs one
delivery, not one per row. A failed attempt (any exception from ``send``) is retried up to
``retries`` times, ``backoff * 2**attempt`` seconds apart (or after the ``retry_after`` a
:class:`DeliveryError` asks for), capped at ``max_backoff``; after that the batch is dropped,
logged and counted. Alerts already in the store when the sink is made are not sent.

Delivery is at least once: a receiver that handled a request the sink then saw fail (a
timeout) gets the batch again on the retry.

>>> import tempfile
>>> from curate.store import Store
>>> from curate.tables import alert_row, alerts_table
>>> class Printer(AlertSink):
...     def send(self, alerts):
...         print([a["message"] for a in alerts])
>>> store = Store(tempfile.mkdtemp())
>>> sink = Printer(store, start=False)
>>> _ = store.write("alerts", alerts_table([alert_row(monitor="m", check="c", column="x",
...     metric="v", value=1.0, threshold=None, message="drift on x")]))
>>> sink.poll()
['drift on x']
1
>>> sink.close(); sink.batches_sent, sink.sent
(1, 1)
"""

from __future__ import annotations

import logging
import math
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

log = logging.getLogger("curate")

#: The columns of an alert as a sink hands it on (the store's alerts schema).
ALERT_FIELDS = ("ts", "monitor", "check", "column", "metric", "value", "threshold", "message")


class DeliveryError(Exception):
    """A failed delivery attempt; ``send`` raises it to say how to go on.

    ``retry_after`` is the wait the receiver asked for (seconds); ``permanent`` means a retry
    cannot help (the receiver refused the request itself), so the batch is dropped at once.
    """

    def __init__(
        self, message: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after, self.permanent = retry_after, permanent


class AlertSink:
    """Hands the store's new alerts to :meth:`send`, one batch per ``window`` seconds.

    Subclasses implement :meth:`send` (one attempt; raise to fail it). ``sent``/``dropped``
    count alerts, ``batches_sent``/``batches_dropped`` the batches they came in. No public
    method raises: a sink that cannot deliver logs and counts, it never breaks its caller.
    """

    #: Names the sink in log messages and in its thread's name.
    kind = "alert"

    def __init__(self, store: Any, *, window: float = 10.0, retries: int = 5,
                 backoff: float = 1.0, max_backoff: float = 60.0, timeout: float = 10.0,
                 start: bool = True) -> None:  # fmt: skip
        self.store = store
        self.window, self.retries, self.backoff = window, retries, backoff
        self.max_backoff, self.timeout = max_backoff, timeout
        self.sent = self.dropped = self.batches_sent = self.batches_dropped = 0
        self._seen: set[Path] = set(store.files("alerts"))
        # One batch at a time: the watcher and a caller's flush() never deliver the same rows.
        # Reentrant, so a callback that closes the sink from its own thread does not deadlock.
        self._lock = threading.RLock()
        self._stop = threading.Event()
        # Back-off waits sleep on this, so close() can wake them to check its deadline.
        self._wake = threading.Condition()
        self._deadline: float | None = None
        self._thread: threading.Thread | None = None
        if start:
            self.start()

    # -- what subclasses provide ------------------------------------------------------------
    def send(self, alerts: list[dict[str, Any]]) -> None:
        """Deliver one batch, once; raise (ideally :class:`DeliveryError`) if it failed."""
        raise NotImplementedError

    def attempt_timeout(self) -> float:
        """Seconds one attempt may take: ``timeout``, or less once close() set a deadline."""
        if self._deadline is None:
            return self.timeout
        return max(0.01, min(self.timeout, self._deadline - time.monotonic()))

    # -- the watcher --------------------------------------------------------------------------
    def start(self) -> None:
        """Start the watcher thread (done by the constructor unless ``start=False``)."""
        if self._thread is None and not self._stop.is_set():
            name = f"curate-{self.kind}-sink"
            self._thread = threading.Thread(target=self._run, name=name, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.window):
            try:
                self.poll()
            except Exception as exc:  # noqa: BLE001 - alerting must never stop by itself
                log.error("curate: the %s sink failed: %s", self.kind, exc)

    def new_alerts(self) -> list[dict[str, Any]]:
        """The alerts of the segments not looked at yet, oldest first (marked as seen)."""
        files = [f for f in self.store.files("alerts") if f not in self._seen]
        compactions = getattr(self.store, "compactions", None)
        if files and compactions is not None:  # a compaction's merged segment of sent alerts
            view = compactions("alerts")
            seen = {o for f in self._seen for o in view.origins(f.name)}
            merged = [f for f in files if view.origins(f.name) <= seen]
            self._seen.update(merged)
            files = [f for f in files if f not in merged]
        if not files:
            return []
        table = self.store.read("alerts", files=files)
        # Marked only once read: a segment that could not be read is tried again next window.
        self._seen.update(files)
        names = [n for n in ALERT_FIELDS if n in table.column_names]
        return [_alert(row) for row in table.select(names).to_pylist()]

    def poll(self) -> int:
        """Deliver what arrived since the last look now; the number of alerts delivered."""
        with self._lock:
            try:
                alerts = self.new_alerts()
            except Exception as exc:  # noqa: BLE001 - alerting must never stop by itself
                log.error("curate: %s sink cannot read the alerts: %s", self.kind, exc)
                return 0
            if not alerts:
                return 0
            if self.deliver(alerts):
                self.sent += len(alerts)
                self.batches_sent += 1
                return len(alerts)
            self.dropped += len(alerts)
            self.batches_dropped += 1
            log.error("curate: %d alerts dropped by the %s sink", len(alerts), self.kind)
            return 0

    def flush(self) -> int:
        """Deliver what is pending now (the same as :meth:`poll`); the alerts delivered."""
        return self.poll()

    # -- retries ------------------------------------------------------------------------------
    def deliver(self, alerts: list[dict[str, Any]]) -> bool:
        """Send one batch, retrying failed attempts with back-off; True once it went through."""
        for attempt in range(self.retries + 1):
            try:
                self.send(alerts)
                return True
            except DeliveryError as exc:
                if exc.permanent:
                    log.error("curate: the %s sink gave up on a batch: %s", self.kind, exc)
                    return False
                wait = exc.retry_after
                log.warning("curate: %s sink attempt %d failed: %s", self.kind, attempt + 1, exc)
            except Exception as exc:  # noqa: BLE001 - whatever send raises is one failed try
                wait = None
                log.warning("curate: %s sink attempt %d failed: %s", self.kind, attempt + 1, exc)
            if attempt == self.retries:
                break
            if not self._pause(self.delay(attempt, wait)):
                log.error("curate: the %s sink ran out of time to retry", self.kind)
                break
        return False

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds before retry ``attempt + 1``: the receiver's wish or the back-off, capped.

        >>> sink = AlertSink.__new__(AlertSink)
        >>> sink.backoff, sink.max_backoff = 1.0, 5.0
        >>> [sink.delay(a) for a in range(4)], sink.delay(0, retry_after=30)
        ([1.0, 2.0, 4.0, 5.0], 5.0)
        """
        if retry_after is None or not math.isfinite(retry_after) or retry_after < 0:
            retry_after = self.backoff * 2**attempt
        return min(retry_after, self.max_backoff)

    def _pause(self, seconds: float) -> bool:
        """Wait ``seconds``; False (at once) when that would pass close()'s deadline."""
        end = time.monotonic() + seconds
        with self._wake:
            while True:
                if self._deadline is not None and end > self._deadline:
                    return False
                left = end - time.monotonic()
                if left <= 0:
                    return True
                self._wake.wait(left)  # close() notifies: re-check against its deadline

    # -- closing ------------------------------------------------------------------------------
    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is pending and stop the watcher, spending at most about ``timeout`` s.

        Retries that would end after the deadline are not made: that batch is dropped and
        counted. Safe to call twice.
        """
        with self._wake:
            deadline = time.monotonic() + timeout
            self._deadline = deadline if self._deadline is None else min(deadline, self._deadline)
            self._stop.set()
            self._wake.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(max(0.0, self._deadline - time.monotonic()) + self.timeout)
        self.poll()


def _alert(row: dict[str, Any]) -> dict[str, Any]:
    """One alert row as plain JSON-ready values: ``ts`` as ISO 8601 text, floats finite."""
    out = {name: row.get(name) for name in ALERT_FIELDS}
    if isinstance(out["ts"], datetime):
        out["ts"] = out["ts"].isoformat()
    for name in ("value", "threshold"):
        # NaN and infinity are not JSON; a receiver would choke on the whole batch for one value.
        if isinstance(out[name], float) and not math.isfinite(out[name]):
            out[name] = None
    return out
