"""The ``alert_sinks`` entries of a config: one pydantic model per sink type, and their sinks.

Each entry is a dict with a ``type`` (a key of :data:`SPECS`: ``webhook``, ``callback`` or
``slack``), that type's keys and the delivery settings every sink shares (``window``,
``retries``, ``backoff``, ``max_backoff``, ``timeout``). ``curate.config.parse_sink`` picks the
model, as ``parse_check`` does for ``checks``; unknown keys are errors listing the valid ones.

>>> spec = SPECS["webhook"].model_validate({"type": "webhook", "url": "https://x.org/hook"})
>>> type(spec).__name__, spec.window, spec.retries
('WebhookSpec', 10.0, 5)
>>> WebhookSpec(url="ftp://x.org")
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for WebhookSpec
url
  Value error, must be an http:// or https:// URL, got 'ftp://x.org' ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field, field_validator

from curate.config_base import StrictModel
from curate.sinks.base import AlertSink
from curate.sinks.callback import CallbackSink
from curate.sinks.slack import SlackSink
from curate.sinks.webhook import WebhookSink


class SinkSpec(StrictModel):
    """Delivery settings every sink takes (see :class:`~curate.sinks.base.AlertSink`)."""

    window: float = Field(10.0, gt=0)
    retries: int = Field(5, ge=0)
    backoff: float = Field(1.0, ge=0)
    max_backoff: float = Field(60.0, ge=0)
    timeout: float = Field(10.0, gt=0)

    def options(self) -> dict[str, Any]:
        """The shared settings as :class:`~curate.sinks.base.AlertSink` keyword arguments."""
        names = ("window", "retries", "backoff", "max_backoff", "timeout")
        return {name: getattr(self, name) for name in names}

    def build(self, store: Any, start: bool = True) -> AlertSink:
        """The sink this entry describes, watching ``store``."""
        raise NotImplementedError


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"must be an http:// or https:// URL, got {value!r}")
    return value


class WebhookSpec(SinkSpec):
    """``{"type": "webhook", "url": ..., "headers": {...}}``: a JSON POST per window."""

    type: Literal["webhook"] = "webhook"
    url: str
    # Not in the repr: headers usually carry a token.
    headers: dict[str, str] | None = Field(None, repr=False)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)

    def build(self, store: Any, start: bool = True) -> AlertSink:
        return WebhookSink(store, self.url, self.headers, start=start, **self.options())


class CallbackSpec(SinkSpec):
    """``{"type": "callback", "fn": callable}``: ``fn(list_of_alert_dicts)`` per window."""

    type: Literal["callback"] = "callback"
    fn: Callable[..., Any]

    def build(self, store: Any, start: bool = True) -> AlertSink:
        return CallbackSink(store, self.fn, start=start, **self.options())


class SlackSpec(SinkSpec):
    """``{"type": "slack", "webhook_url": ...}``: a Slack message per window."""

    type: Literal["slack"] = "slack"
    # Not in the repr: a Slack webhook's URL is its secret.
    webhook_url: str = Field(repr=False)
    max_lines: int = Field(20, gt=0)

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)

    def build(self, store: Any, start: bool = True) -> AlertSink:
        opts = self.options()
        return SlackSink(store, self.webhook_url, max_lines=self.max_lines, start=start, **opts)


SPECS: dict[str, type[SinkSpec]] = {"webhook": WebhookSpec, "callback": CallbackSpec,
                                    "slack": SlackSpec}  # fmt: skip
