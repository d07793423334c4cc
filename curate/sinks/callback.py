"""Alerts handed to a Python function, one call per window (``{"type": "callback"}``).

``fn(alerts)`` gets the window's alerts as a list of dicts (``ts`` as ISO 8601 text, then
``monitor``, ``check``, ``column``, ``metric``, ``value``, ``threshold``, ``message``) in the
sink's own thread, never on the ``log()`` path. An exception from ``fn`` is a failed attempt,
retried with back-off like a failed POST; raising
:class:`~curate.sinks.base.DeliveryError` with ``permanent=True`` drops the batch at once.

>>> import tempfile
>>> from curate.store import Store
>>> got = []
>>> sink = CallbackSink(Store(tempfile.mkdtemp()), got.append, start=False)
>>> sink.send([{"message": "drift on text"}]); got
[[{'message': 'drift on text'}]]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from curate.sinks.base import AlertSink


class CallbackSink(AlertSink):
    """Calls ``fn(list_of_alert_dicts)`` with the store's new alerts every ``window`` seconds.

    The keyword arguments are :class:`~curate.sinks.base.AlertSink`'s; ``timeout`` does not
    apply, since a running Python call cannot be interrupted.
    """

    kind = "callback"

    def __init__(self, store: Any, fn: Callable[[list[dict[str, Any]]], Any],
                 **options: Any) -> None:  # fmt: skip
        if not callable(fn):
            raise TypeError(f"CallbackSink needs a callable, got {type(fn).__name__}")
        self.fn = fn
        super().__init__(store, **options)

    def send(self, alerts: list[dict[str, Any]]) -> None:
        """Call ``fn`` once with the batch; whatever it raises fails the attempt."""
        # A copy of each dict: a callback that edits its argument must not change the retry's.
        self.fn([dict(a) for a in alerts])
