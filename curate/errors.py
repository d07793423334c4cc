"""Exceptions raised by curate. Each message says what was wrong and where."""

from __future__ import annotations


class CurateError(Exception):
    """Base class of every error curate raises on purpose."""


class ConfigError(CurateError, ValueError):
    """A configuration key or value is invalid; raised at construction."""


class LogInputError(CurateError, ValueError):
    """A ``log()`` call was malformed (unequal lengths, missing columns, bad types)."""


class SignalError(CurateError):
    """A signal raised, or returned the wrong length or type. The message names the signal."""


class StoreError(CurateError, OSError):
    """Reading or writing the on-disk store failed."""
