"""Queued ``log()`` calls and how they become batches.

``log()`` only records a :class:`LogCall` (its ids, timestamp and the caller's objects); the
writer thread turns calls into :class:`~curate.batch.Batch` objects. Consecutive calls made of
plain lists with the same columns are merged first: ``list.extend`` per call is far cheaper than
converting each one-row call to Arrow on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from curate.batch import Batch


@dataclass
class LogCall:
    """One queued ``log()`` call: its first id, row count, timestamp(s) and raw arguments."""

    first_id: int
    n: int
    ts: int | np.ndarray
    inputs: Any
    outputs: Any = None
    gts: Any = None
    identifiers: Any = None
    extra_args: Any = None
    # Set when merged calls (from several threads) do not form one contiguous id range.
    ids: np.ndarray | None = None
    # Labels that arrive after their predictions (Framework.log_ground_truth): no new rows.
    ground_truth_only: bool = False


def to_batch(call: LogCall) -> Batch:
    if call.ground_truth_only:
        no_inputs = pa.table({"_": pa.nulls(call.n)}).drop(["_"])
        ids, ts = np.full(call.n, -1, dtype=np.int64), np.full(call.n, call.ts, dtype=np.int64)
        return Batch.from_log(ids, ts, no_inputs, None, call.gts, call.identifiers)
    ids = call.ids if call.ids is not None else np.arange(call.first_id, call.first_id + call.n)
    ts = call.ts if isinstance(call.ts, np.ndarray) else np.full(call.n, call.ts, dtype=np.int64)
    return Batch.from_log(ids, ts, call.inputs, call.outputs, call.gts, call.identifiers,
                          call.extra_args)  # fmt: skip


def call_shape(call: LogCall) -> tuple | None:
    """A key under which calls can be merged into one call cheaply (dicts of plain lists)."""
    parts = (call.inputs, call.outputs, call.gts, call.identifiers)
    key = []
    for p in parts:
        if p is None:
            key.append(None)
        elif isinstance(p, dict) and all(type(v) is list for v in p.values()):
            key.append(tuple(p))
        elif type(p) is list and p and not isinstance(p[0], dict):
            key.append("seq")
        else:
            return None
    if call.extra_args is not None:
        return None
    return tuple(key)


def mergeable_groups(calls: list[LogCall]) -> list[list[LogCall]]:
    groups: list[list[LogCall]] = []
    last = object()
    for call in calls:
        key = call_shape(call)
        if key is not None and key == last and groups:
            groups[-1].append(call)
        else:
            groups.append([call])
        last = key
    return groups


def merge_calls(calls: list[LogCall]) -> LogCall:
    """Consecutive one-row calls become one call: list.extend is much cheaper than Arrow per call."""
    first = calls[0]
    merged: dict[str, Any] = {}
    for part in ("inputs", "outputs", "gts", "identifiers"):
        value = getattr(first, part)
        if value is None:
            merged[part] = None
        elif isinstance(value, dict):
            merged[part] = {k: [] for k in value}
            for c in calls:
                for k, v in getattr(c, part).items():
                    merged[part][k].extend(v)
        else:
            merged[part] = [x for c in calls for x in getattr(c, part)]
    ids = np.concatenate([np.arange(c.first_id, c.first_id + c.n, dtype=np.int64) for c in calls])
    ts = np.concatenate([np.full(c.n, c.ts, dtype=np.int64) for c in calls])
    return LogCall(first.first_id, len(ids), ts, ids=ids, **merged)
