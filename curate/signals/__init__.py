"""Signals and the formulas built from them (see :mod:`curate.signals.core`)."""

from curate.signals.core import FunctionSignal, Signal, signal

__all__ = ["FunctionSignal", "Signal", "signal"]
