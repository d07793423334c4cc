"""UpTrain monitors see one ``log()`` call at a time; curate's writer sees merged batches.

UpTrain 0.2 ran every check inside ``log()``, on that call's rows only (a z-score without a
reference is the call's own, a custom ``check_func`` gets the call's batch). The Framework
records where each call starts in a :class:`CallLog` (an id and a size: no copy of the data),
and :class:`Shared` cuts each writer batch back into those calls, once for all the UpTrain
checks, joining labels logged later (``log(identifiers=ids, gts=gts)``) with their predictions.

>>> import numpy as np
>>> from curate.batch import Batch
>>> shared = Shared()
>>> shared.calls.add(0, 2, None); shared.calls.add(2, 1, None)
>>> b = Batch.from_log(np.arange(3), np.zeros(3, np.int64), {"x": [1, 2, 3]},
...                    identifiers=["a", "b", "c"])
>>> [c.inputs["x"].tolist() for c in shared.split(b)]
[[1, 2], [3]]
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from curate.compat.signals import row_ids
from monitors.concept_drift import Pending


@dataclass
class Call:
    """The rows of one UpTrain call, as UpTrain's checks received them."""

    inputs: dict[str, Any]
    outputs: Any
    gts: Any
    extra: dict[str, Any]
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.extra["id"])


class CallLog:
    """Where each logged call starts (its first row id) and how many labels each late call had."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.starts: dict[int, Any] = {}
        self.late: deque[int] = deque()

    def add(self, first: int, n: int, extra: Any) -> None:
        """Record a call of ``n`` rows starting at row id ``first`` with UpTrain's ``extra``."""
        with self._lock:
            self.starts[first] = extra

    def add_late(self, n: int) -> None:
        """Record a call that logged ``n`` labels for earlier predictions."""
        with self._lock:
            self.late.append(n)

    def boundaries(self, ids: np.ndarray) -> tuple[list[int], list[Any]]:
        """Offsets in ``ids`` where a call starts, and each call's ``extra``; consumed."""
        with self._lock:
            cuts = [0]
            extras = [self.starts.pop(int(ids[0]), None)]
            for i in np.flatnonzero(np.isin(ids[1:], list(self.starts))) + 1:
                cuts.append(int(i))
                extras.append(self.starts.pop(int(ids[i]), None))
        return cuts, extras

    def late_sizes(self, n: int) -> list[int]:
        """Sizes of the late calls that make up ``n`` labels, oldest first; consumed."""
        sizes, total = [], 0
        with self._lock:
            while self.late and total < n:
                sizes.append(min(self.late.popleft(), n - total))
                total += sizes[-1]
        return sizes + ([n - total] if total < n else [])


def _column_dict(rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    keys = list(rows[0]) if rows else []
    out = {}
    for k in keys:
        values = [r.get(k) for r in rows]
        arr = np.asarray(values)
        if arr.dtype.kind in "OUS" or arr.ndim != np.ndim(values[0]) + 1:
            arr = np.empty(len(values), dtype=object)
            arr[:] = values
        out[k] = arr
    return out


class Shared:
    """State every UpTrain check of one Framework shares: calls, and predictions awaiting labels."""

    def __init__(self, max_pending: int = 100_000) -> None:
        self.calls = CallLog()
        self.predictions = Pending(max_pending)
        self.labels = Pending(max_pending)
        self._last: tuple[Any, list[Call], list[Call]] | None = None
        #: Set by the first check that needs labels; until then predictions are not kept.
        self.wants_labels = False

    def split(self, batch: Any) -> list[Call]:
        """The UpTrain calls of a batch of logged rows (not of late labels)."""
        return self._parts(batch)[0]

    def labelled(self, batch: Any) -> list[Call]:
        """Calls whose rows have labels now: logged with them, or joined with late labels."""
        return self._parts(batch)[1]

    def _parts(self, batch: Any) -> tuple[list[Call], list[Call]]:
        # Every UpTrain check gets the same batch object in turn: cut and join it only once.
        if self._last is not None and self._last[0] is batch:
            return self._last[1], self._last[2]
        if batch.inputs.num_columns == 0 and (batch.ids < 0).all():
            calls, labelled = [], self._late(batch)
        else:
            calls = self._calls(batch)
            labelled = [c for c in calls if c.gts is not None]
            if self.wants_labels:
                labelled += [j for c in calls if c.gts is None for j in self._join_predictions(c)]
        self._last = (batch, calls, labelled)
        return calls, labelled

    def _calls(self, batch: Any) -> list[Call]:
        cuts, extras = self.calls.boundaries(batch.ids)
        ids = row_ids(batch)
        inputs, outputs, gts = batch.python_inputs(), batch.python_part("outputs"), None
        if batch.gts is not None:
            gts = batch.python_part("gts")
        calls = []
        for (start, stop), extra in zip(
            zip(cuts, [*cuts[1:], len(batch)], strict=True), extras, strict=True
        ):
            part = slice(start, stop)
            call_ids = ids[part]
            calls.append(
                Call(
                    inputs={**{k: v[part] for k, v in inputs.items()}, "id": call_ids},
                    outputs=None if outputs is None else outputs[part],
                    gts=None if gts is None else gts[part],
                    extra={**(extra or {}), "id": call_ids},
                    rows=np.arange(start, stop),
                )
            )
        return calls

    def _join_predictions(self, call: Call) -> list[Call]:
        keys = list(call.extra["id"])
        found, gts = self.labels.pop(keys)
        if not found.all():
            waiting = np.flatnonzero(~found)
            rows = [({k: v[i] for k, v in call.inputs.items()}, call.outputs[i]) for i in waiting]
            self.predictions.put([keys[i] for i in waiting], rows)
        if not found.any():
            return []
        idx = np.flatnonzero(found)
        return [
            Call(
                inputs={k: v[idx] for k, v in call.inputs.items()},
                outputs=call.outputs[idx],
                gts=np.asarray(gts, dtype=object if _ragged(gts) else None),
                extra={"id": call.extra["id"][idx]},
                rows=call.rows[idx],
            )
        ]

    def _late(self, batch: Any) -> list[Call]:
        keys = batch.identifiers.column(0).to_pylist()
        values = batch.python_part("gts")
        out, start = [], 0
        for size in self.calls.late_sizes(len(keys)):
            part_keys, part_gts = keys[start : start + size], values[start : start + size]
            start += size
            found, rows = self.predictions.pop(part_keys)
            if (~found).any():
                self.labels.put([k for k, f in zip(part_keys, found, strict=True) if not f],
                                [g for g, f in zip(part_gts, found, strict=True) if not f])  # fmt: skip
            if not found.any():
                continue
            matched = np.asarray(part_keys, dtype=object)[found]
            out.append(
                Call(
                    inputs=_column_dict([r[0] for r in rows]),
                    outputs=np.asarray([r[1] for r in rows]),
                    gts=np.asarray(part_gts)[found],
                    extra={"id": matched},
                )
            )
        return out


def _ragged(values: list[Any]) -> bool:
    return any(isinstance(v, list | tuple | np.ndarray) for v in values)
