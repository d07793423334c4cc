"""Tumbling windows over the logged stream, by row count or by time.

A window spec is an ``int`` (rows per window) or a duration string such as ``"30s"``, ``"5m"``,
``"1h"`` or ``"1d"`` (windows aligned to multiples of the duration since the epoch, UTC).

>>> w = Windower(3)
>>> [(p.start, p.stop, p.closes) for p in w.split(np.arange(5))]
[(0, 3, True), (3, 5, False)]
>>> [(p.start, p.stop, p.closes) for p in w.split(np.arange(2))]
[(0, 1, True), (1, 2, False)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_window(spec: int | str) -> tuple[str, int]:
    """``("rows", n)`` or ``("time", microseconds)`` for a window spec; ``ValueError`` if bad.

    >>> parse_window("1h")
    ('time', 3600000000)
    >>> parse_window(5000)
    ('rows', 5000)
    """
    if isinstance(spec, bool):
        raise ValueError(f"window must be a row count or a duration like '1h', got {spec!r}")
    if isinstance(spec, int):
        if spec <= 0:
            raise ValueError(f"window must be a positive row count, got {spec}")
        return "rows", spec
    if isinstance(spec, str):
        m = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", spec)
        if m and int(m.group(1)) > 0:
            return "time", int(m.group(1)) * _UNITS[m.group(2)] * 1_000_000
        if spec.strip().isdigit() and int(spec) > 0:
            return "rows", int(spec)
    raise ValueError(
        f"window must be a positive row count or a duration like '30s', '5m', '1h', '1d'; got {spec!r}"
    )


@dataclass(frozen=True)
class Piece:
    """Rows ``[start, stop)`` of a batch that fall in the current window.

    ``closes`` is true when the window is complete after these rows.
    """

    start: int
    stop: int
    closes: bool


class Windower:
    """Splits successive batches into pieces of tumbling windows.

    Only a counter (row windows) or the current window's key (time windows) is kept, so memory
    is constant whatever the stream length.
    """

    def __init__(self, spec: int | str) -> None:
        self.mode, self.size = parse_window(spec)
        self.rows_in_window = 0
        self._key: int | None = None

    def split(self, ts: np.ndarray) -> list[Piece]:
        """Pieces of a batch whose row timestamps (µs) are ``ts``."""
        n = len(ts)
        if n == 0:
            return []
        if self.mode == "rows":
            return self._split_rows(n)
        return self._split_time(np.asarray(ts, dtype=np.int64))

    def _split_rows(self, n: int) -> list[Piece]:
        pieces, start = [], 0
        while start < n:
            take = min(self.size - self.rows_in_window, n - start)
            self.rows_in_window += take
            closes = self.rows_in_window == self.size
            if closes:
                self.rows_in_window = 0
            pieces.append(Piece(start, start + take, closes))
            start += take
        return pieces

    def _split_time(self, ts: np.ndarray) -> list[Piece]:
        # Rows from several threads may be slightly out of order; a late row joins the window
        # that is open rather than reopening a closed one.
        keys = np.maximum.accumulate(ts // self.size)
        if self._key is not None:
            keys = np.maximum(keys, self._key)
        pieces, start = [], 0
        bounds = np.flatnonzero(np.diff(keys)) + 1
        if self._key is not None and keys[0] != self._key:
            pieces.append(Piece(0, 0, True))
        for stop in [*bounds.tolist(), len(ts)]:
            closes = stop < len(ts)
            pieces.append(Piece(start, stop, closes))
            start = stop
        self._key = int(keys[-1])
        return pieces

    def window_bounds(self, ts_first: int, ts_last: int) -> tuple[int, int]:
        """The window's start and end (µs) for a window whose rows span these timestamps."""
        if self.mode == "time":
            start = (ts_first // self.size) * self.size
            return start, start + self.size
        return ts_first, ts_last
