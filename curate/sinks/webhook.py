"""Alerts as a JSON POST to any HTTP endpoint, one request per window (``{"type": "webhook"}``).

The body is ``{"alerts": [{ts, monitor, check, column, metric, value, threshold, message}, ...],
"count": n}``. A 2xx answer delivers the batch; a network error, a timeout, a 5xx or a 429 is
retried with back-off (a ``Retry-After`` header, in seconds or as an HTTP date, is honoured);
any other 4xx drops the batch at once, since sending the same request again cannot help. Each
request carries an ``Idempotency-Key`` (a hash of its body, the same on every retry) so a
receiver can discard the copy that a timed-out attempt may have left it.

>>> import tempfile
>>> from curate.store import Store
>>> sink = WebhookSink(Store(tempfile.mkdtemp()), "http://127.0.0.1:9/hook", start=False)
>>> sink.payload([{"message": "drift on text"}])
{'alerts': [{'message': 'drift on text'}], 'count': 1}
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from curate.sinks.base import AlertSink, DeliveryError


class WebhookSink(AlertSink):
    """POSTs the store's new alerts as JSON to ``url``, one request per ``window`` seconds.

    ``headers`` are added to every request (an ``Authorization`` token, say); the keyword
    arguments are :class:`~curate.sinks.base.AlertSink`'s.
    """

    kind = "webhook"

    def __init__(self, store: Any, url: str, headers: dict[str, str] | None = None,
                 **options: Any) -> None:  # fmt: skip
        self.url = url
        self.headers = dict(headers or {})
        super().__init__(store, **options)

    def payload(self, alerts: list[dict[str, Any]]) -> dict[str, Any]:
        """The JSON document one window's alerts are posted as."""
        return {"alerts": alerts, "count": len(alerts)}

    def send(self, alerts: list[dict[str, Any]]) -> None:
        """POST one batch, once; raises :class:`DeliveryError` unless the answer is a 2xx."""
        post_json(self.url, self.payload(alerts), self.headers, self.attempt_timeout())


def post_json(url: str, payload: Any, headers: dict[str, str], timeout: float) -> None:
    """POST ``payload`` as JSON; raises :class:`DeliveryError` saying whether to retry."""
    data = json.dumps(payload, allow_nan=False).encode()
    key = hashlib.sha256(data).hexdigest()[:32]
    sent = {"Content-Type": "application/json", "Idempotency-Key": key, **headers}
    request = urllib.request.Request(url, data=data, headers=sent, method="POST")
    where = _host(url)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            status = answer.status
    except urllib.error.HTTPError as exc:
        retry = exc.code >= 500 or exc.code == 429
        raise DeliveryError(
            f"{where} answered HTTP {exc.code}",
            retry_after=retry_after(exc.headers.get("Retry-After")) if retry else None,
            permanent=not retry,
        ) from None
    except (urllib.error.URLError, OSError) as exc:  # refused, unreachable, timed out
        raise DeliveryError(f"{where} unreachable: {getattr(exc, 'reason', exc)}") from None
    if not 200 <= status < 300:  # e.g. a 1xx/3xx that urllib did not turn into an error
        raise DeliveryError(f"{where} answered HTTP {status}")


def _host(url: str) -> str:
    # Only the host goes into log messages: a webhook's path is often its secret (Slack's is).
    return urllib.parse.urlsplit(url).netloc or "the webhook"


def retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date); None if unset.

    >>> retry_after("2.5"), retry_after(None), retry_after("soon")
    (2.5, None, None)
    >>> retry_after("Wed, 21 Oct 2015 07:28:00 GMT")  # in the past: retry now
    0.0
    """
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
