"""An EDGE_CASE check's ``budget``: only the ``n`` most informative selected rows per window.

``{"n": 100, "by": Signal.margin(), "order": "ascending", "window": 10_000}`` keeps, of the rows
the check's formula selects in each tumbling window (``window`` logged rows, or a duration such
as ``"1h"``, as the drift and integrity checks count them), the 100 with the smallest margin.
``order="descending"`` keeps the largest values instead (entropy, ``label_issue``). Ties go to
the earlier row; a row whose ``by`` value is NaN ranks after every number.

Memory stays bounded: :class:`TopN` holds at most ``n`` candidate rows (the rows themselves, a
:class:`~curate.batch.Batch` of them) plus their scores, whatever the window's length. Held rows
are written when their window closes, or early by ``flush()``: then the open window closes with
its rows so far and the rows after start a fresh budget (the drift checks close a partial
window the same way), so nothing held is ever lost. A selected row the budget leaves out is
counted in the ``budget_skipped`` metric of its window and is one of the store's
``rows_not_selected``.

>>> import numpy as np
>>> from curate.batch import Batch
>>> from curate.signals import Signal
>>> top = TopN(Budget(n=2, by=Signal.margin(), order="ascending", window=4))
>>> b = Batch.from_log(np.arange(6), np.arange(6), {"x": list(range(6))})
>>> scores = np.array([0.9, 0.1, 0.5, 0.3, 0.2, 0.8])
>>> closed, held = top.offer(b, np.ones(6, bool), scores, "why", {})
>>> [w.ids().tolist() for w in closed], held.tolist()
([[1, 3]], [False, True, False, True, True, True])
>>> [w.ids().tolist() for w in [top.flush()]]
[[4, 5]]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field, field_validator

from curate.batch import Batch
from curate.config_base import StrictModel
from curate.signals import Signal
from monitors.base import EdgeRows
from monitors.windows import Windower, parse_window


class Budget(StrictModel):
    """How many of a window's selected rows an EDGE_CASE check keeps, ranked by ``by``.

    >>> Budget(n=10, by=Signal.entropy(), order="descending").window
    10000
    """

    n: int = Field(gt=0)
    by: Signal
    order: Literal["ascending", "descending"]
    window: int | str = 10_000

    @field_validator("by", mode="before")
    @classmethod
    def _a_signal(cls, value: Any) -> Any:
        if not isinstance(value, Signal):
            raise ValueError(
                f"budget.by must be a numeric Signal ranking the rows (Signal.margin()), got "
                f"{type(value).__name__}"
            )
        return value

    @field_validator("window")
    @classmethod
    def _window(cls, value: int | str) -> int | str:
        parse_window(value)
        return value


@dataclass
class _Chunk:
    """Held rows of one batch: the rows, their scores, the check's reason and leaf values."""

    batch: Batch
    keys: np.ndarray  # sort keys: smaller is more informative
    reason: str
    leaves: dict[str, np.ndarray]

    def take(self, idx: np.ndarray) -> _Chunk:
        return _Chunk(
            self.batch.take(idx), self.keys[idx], self.reason,
            {k: v[idx] for k, v in self.leaves.items()},
        )  # fmt: skip


@dataclass
class ClosedWindow:
    """A window's kept rows (grouped as :class:`EdgeRows`) and its counts."""

    rows: list[EdgeRows] = field(default_factory=list)
    offered: int = 0
    n: int = 0
    start: int = 0
    end: int = 0

    @property
    def kept(self) -> int:
        return sum(len(r.batch) for r in self.rows)

    def ids(self) -> np.ndarray:
        """The kept rows' ids, ascending."""
        parts = [r.batch.ids for r in self.rows]
        return np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.int64)


class TopN:
    """The ``n`` best candidates of the open window, over any number of batches."""

    def __init__(self, budget: Budget) -> None:
        self.n = budget.n
        self.descending = budget.order == "descending"
        self.windower = Windower(budget.window)
        self._chunks: list[_Chunk] = []
        self._offered = self._rows = 0
        self._first: int | None = None
        self._last: int | None = None

    def offer(
        self,
        batch: Batch,
        candidates: np.ndarray,
        scores: np.ndarray,
        reason: str,
        leaves: dict[str, np.ndarray],
    ) -> tuple[list[ClosedWindow], np.ndarray]:
        """Offer a batch's candidate rows; the windows this closed, and which rows were kept.

        The mask marks this batch's rows now held or just written by a closed window.
        """
        keys = self._keys(np.asarray(scores, dtype=np.float64))
        closed = []
        for piece in self.windower.split(batch.ts):
            if piece.stop > piece.start:
                self._rows += piece.stop - piece.start
                self._first = self._first if self._first is not None else int(batch.ts[piece.start])
                self._last = int(batch.ts[piece.stop - 1])
            idx = np.flatnonzero(candidates[piece.start : piece.stop]) + piece.start
            self._add(batch, idx, keys, reason, leaves)
            if piece.closes and self._rows:
                closed.append(self._close())
        kept = [*(w.ids() for w in closed), *(c.batch.ids for c in self._chunks)]
        return closed, np.isin(batch.ids, np.concatenate([np.zeros(0, np.int64), *kept]))

    def flush(self) -> ClosedWindow | None:
        """Close the open window early (``Framework.flush()``); ``None`` if it has no rows."""
        if not self._rows:
            return None
        if self.windower.mode == "rows":
            self.windower.rows_in_window = 0
        return self._close()

    def _keys(self, scores: np.ndarray) -> np.ndarray:
        keys = -scores if self.descending else scores.copy()
        keys[np.isnan(keys)] = np.inf  # unknown informativeness: after every number
        return keys

    def _add(self, batch: Batch, idx: np.ndarray, keys: np.ndarray, reason: str,
             leaves: dict[str, np.ndarray]) -> None:  # fmt: skip
        if not len(idx):
            return
        self._offered += len(idx)
        if len(idx) > self.n:
            # Only this piece's own n best can make the window's n best: take no more rows.
            idx = idx[_best(keys[idx], batch.ids[idx], self.n)]
        chunk = _Chunk(batch, keys, reason, leaves).take(idx)
        self._chunks.append(chunk)
        self._trim()

    def _trim(self) -> None:
        sizes = [len(c.keys) for c in self._chunks]
        if sum(sizes) <= self.n:
            return
        keys = np.concatenate([c.keys for c in self._chunks])
        ids = np.concatenate([c.batch.ids for c in self._chunks])
        keep = np.zeros(len(keys), dtype=bool)
        keep[_best(keys, ids, self.n)] = True
        bounds = np.cumsum([0, *sizes])
        chunks = []
        for chunk, lo, hi in zip(self._chunks, bounds[:-1], bounds[1:], strict=True):
            mine = np.flatnonzero(keep[lo:hi])
            if len(mine):
                chunks.append(chunk if len(mine) == hi - lo else chunk.take(mine))
        self._chunks = chunks

    def _close(self) -> ClosedWindow:
        start, end = self.windower.window_bounds(self._first or 0, self._last or 0)
        window = ClosedWindow(list(_grouped(self._chunks)), self._offered, self._rows, start, end)
        self._chunks, self._offered, self._rows = [], 0, 0
        self._first = self._last = None
        return window


def _best(keys: np.ndarray, ids: np.ndarray, n: int) -> np.ndarray:
    """Positions of the ``n`` smallest keys, ties broken by the smaller (earlier) id."""
    return np.lexsort((ids, keys))[:n]


def _grouped(chunks: list[_Chunk]) -> Iterator[EdgeRows]:
    """The held chunks as few :class:`EdgeRows` as possible: one per reason and leaf set."""
    groups: dict[tuple, list[_Chunk]] = {}
    for c in chunks:
        key = (c.reason, tuple((k, v.dtype.str) for k, v in c.leaves.items()))
        groups.setdefault(key, []).append(c)
    for (reason, _), group in groups.items():
        try:
            batch = Batch.concat([c.batch for c in group])
        except pa.ArrowException:  # columns whose types differ between batches: one by one
            yield from (EdgeRows(c.batch, reason, c.leaves) for c in group)
            continue
        leaves = {k: np.concatenate([c.leaves[k] for c in group]) for k in group[0].leaves}
        yield EdgeRows(batch, reason, leaves)
