"""Signals and the formulas built from them (see :mod:`curate.signals.core`)."""

from curate.signals.core import Signal, signal

__all__ = ["Signal", "signal"]
