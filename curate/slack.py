"""Alerts to a Slack incoming webhook: batched per window, retried with back-off, off the log path.

:class:`SlackSink` watches the store's alerts table from a thread of its own. Every ``window``
seconds it reads the alert segments written since its last look and, if there are any, posts
one message listing them (at most ``max_lines``, then a count), so a burst of alerts is one
POST rather than one per row. A failed POST (a network error, a 5xx or 429 answer) is retried
up to ``retries`` times, waiting ``backoff * 2**attempt`` seconds (or the ``Retry-After`` the
server asked for), capped at ``max_backoff``; after that the batch is dropped and logged.
Alerts already in the store when the sink starts are not sent.

>>> import tempfile
>>> from curate.store import Store
>>> sink = SlackSink(Store(tempfile.mkdtemp()), "http://127.0.0.1:9/hook", start=False)
>>> sink.message(["drift on text", "nulls in text"])["text"].splitlines()[1:]
['• drift on text', '• nulls in text']
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

log = logging.getLogger("curate")


class SlackSink:
    """Posts the store's new alerts to ``webhook_url``, one message per window."""

    def __init__(self, store: Any, webhook_url: str, *, window: float = 10.0, retries: int = 5,
                 backoff: float = 1.0, max_backoff: float = 60.0, timeout: float = 10.0,
                 max_lines: int = 20, start: bool = True) -> None:  # fmt: skip
        self.store, self.url = store, webhook_url
        self.window, self.retries, self.backoff = window, retries, backoff
        self.max_backoff, self.timeout, self.max_lines = max_backoff, timeout, max_lines
        self.sent = self.dropped = 0
        self._seen: set[Path] = set(store.files("alerts"))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if start:
            self._thread = threading.Thread(target=self._run, name="curate-slack", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.window):
            try:
                self.poll()
            except Exception as exc:  # noqa: BLE001 - alerting must never stop by itself
                log.error("curate: slack alerts failed: %s", exc)

    def new_alerts(self) -> list[str]:
        """Messages of the alert segments not looked at yet (marked as seen)."""
        files = [f for f in self.store.files("alerts") if f not in self._seen]
        if not files:
            return []
        self._seen.update(files)
        return self.store.read("alerts", columns=["message"], files=files).column(0).to_pylist()

    def message(self, alerts: list[str]) -> dict[str, str]:
        """The Slack payload for one window's alerts."""
        shown = [f"• {a}" for a in alerts[: self.max_lines]]
        if len(alerts) > self.max_lines:
            shown.append(f"… and {len(alerts) - self.max_lines} more (see the dashboard)")
        head = f"curate: {len(alerts)} alert{'s' if len(alerts) != 1 else ''} in {self.store.root}"
        return {"text": "\n".join([head, *shown])}

    def poll(self) -> int:
        """Send what arrived since the last look now; the number of alerts sent."""
        with self._lock:
            alerts = self.new_alerts()
            if not alerts:
                return 0
            if self.post(self.message(alerts)):
                self.sent += len(alerts)
                return len(alerts)
            self.dropped += len(alerts)
            log.error("curate: %d alerts not sent to Slack after %d tries", len(alerts),
                      self.retries + 1)  # fmt: skip
            return 0

    def post(self, payload: dict[str, str]) -> bool:
        """POST ``payload`` as JSON, retrying with exponential back-off; True once accepted."""
        data = json.dumps(payload).encode()
        for attempt in range(self.retries + 1):
            wait = min(self.backoff * 2**attempt, self.max_backoff)
            try:
                request = urllib.request.Request(
                    self.url, data=data, headers={"Content-Type": "application/json"}
                )
                with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                    if 200 <= answer.status < 300:
                        return True
            except urllib.error.HTTPError as exc:
                if exc.code < 500 and exc.code != 429:
                    log.error("curate: Slack refused the alerts (HTTP %s)", exc.code)
                    return False
                wait = _retry_after(exc, wait, self.max_backoff)
            except (urllib.error.URLError, OSError) as exc:
                log.warning("curate: Slack webhook unreachable (%s); retrying", exc)
            if attempt < self.retries and not self._stop.is_set():
                time.sleep(wait)
        return False

    def close(self) -> None:
        """Send what is left and stop the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.timeout)
        try:
            self.poll()
        except Exception as exc:  # noqa: BLE001
            log.error("curate: slack alerts failed: %s", exc)


def _retry_after(exc: urllib.error.HTTPError, wait: float, cap: float) -> float:
    try:
        return min(float(exc.headers.get("Retry-After", wait)), cap)
    except (TypeError, ValueError):
        return wait
