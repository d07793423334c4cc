"""Alerts to a Slack incoming webhook, one message per window (``{"type": "slack"}``).

A :class:`~curate.sinks.webhook.WebhookSink` whose body is a Slack message: a head line with
the count and the store, then one bullet per alert (at most ``max_lines``, then a count), so a
burst of alerts is one post. Retries, back-off and ``Retry-After`` are the webhook's.

>>> import tempfile
>>> from curate.store import Store
>>> sink = SlackSink(Store(tempfile.mkdtemp()), "http://127.0.0.1:9/hook", start=False)
>>> sink.message(["drift on text", {"message": "nulls in text"}])["text"].splitlines()[1:]
['• drift on text', '• nulls in text']
"""

from __future__ import annotations

from typing import Any

from curate.sinks.webhook import WebhookSink


class SlackSink(WebhookSink):
    """Posts the store's new alerts to ``webhook_url``, one Slack message per window."""

    kind = "slack"

    def __init__(self, store: Any, webhook_url: str, *, max_lines: int = 20,
                 **options: Any) -> None:  # fmt: skip
        self.max_lines = max_lines
        super().__init__(store, webhook_url, **options)

    def message(self, alerts: list[dict[str, Any] | str]) -> dict[str, str]:
        """The Slack payload for one window's alerts (alert dicts, or their messages)."""
        texts = [(a.get("message") or "") if isinstance(a, dict) else str(a) for a in alerts]
        shown = [f"• {t}" for t in texts[: self.max_lines]]
        if len(texts) > self.max_lines:
            shown.append(f"… and {len(texts) - self.max_lines} more (see the dashboard)")
        head = f"curate: {len(texts)} alert{'s' if len(texts) != 1 else ''} in {self.store.root}"
        return {"text": "\n".join([head, *shown])}

    def payload(self, alerts: list[dict[str, Any]]) -> dict[str, Any]:
        """Slack's body for the batch: :meth:`message`."""
        return self.message(alerts)
