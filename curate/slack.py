"""Alerts to a Slack incoming webhook: :class:`~curate.sinks.slack.SlackSink`, under its old name.

The sink lives in :mod:`curate.sinks.slack`; this module keeps ``from curate.slack import
SlackSink`` working.

>>> from curate.slack import SlackSink
>>> SlackSink.__module__
'curate.sinks.slack'
"""

from __future__ import annotations

from curate.sinks.slack import SlackSink

__all__ = ["SlackSink"]
