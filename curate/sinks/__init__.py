"""Alert sinks: the store's new alerts delivered off the ``log()`` path, one batch per window.

``base`` (the watcher thread, batching, retries with back-off), ``webhook`` (a JSON POST),
``callback`` (a Python function), ``slack`` (a Slack message) and ``spec`` (their
``alert_sinks`` config entries). A Framework starts the sinks its config names and closes them,
delivering what is pending, when it closes.

>>> from curate.sinks import CallbackSink, SlackSink, WebhookSink
>>> issubclass(SlackSink, WebhookSink), CallbackSink.kind
(True, 'callback')
"""

from __future__ import annotations

from curate.sinks.base import AlertSink, DeliveryError
from curate.sinks.callback import CallbackSink
from curate.sinks.slack import SlackSink
from curate.sinks.webhook import WebhookSink

__all__ = ["AlertSink", "CallbackSink", "DeliveryError", "SlackSink", "WebhookSink"]
