"""Value counts of string arrays: count, add up and truncate them, frequency-sorted.

Keys are sorted by decreasing count, ties by key, so truncating keeps the most frequent values
and the order is deterministic.

>>> import pyarrow as pa
>>> keys, counts = value_counts(pa.array(["b", "a", "b", "c"]))
>>> keys, counts.tolist()
(['b', 'a', 'c'], [2, 1, 1])
>>> keys, (c,) = sum_counts(keys, [counts], ["c", "d"], [np.array([5, 1])])
>>> keys, c.tolist()
(['c', 'b', 'a', 'd'], [6, 2, 1, 1])
>>> truncate(keys, [c], 2)
(['c', 'b'], [array([6, 2])], 2)
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def value_counts(arr: pa.Array) -> tuple[list[str], np.ndarray]:
    """Distinct values of ``arr`` and their counts, most frequent first."""
    if len(arr) == 0:
        return [], np.zeros(0, np.int64)
    vc = pc.value_counts(arr)
    keys = vc.field("values").to_pylist()
    counts = vc.field("counts").to_numpy(zero_copy_only=False).astype(np.int64)
    order = np.lexsort((np.array(keys, dtype=object).astype(str), -counts))
    return [keys[i] for i in order], counts[order]


def sum_counts(ka: list[str], ca: list[np.ndarray], kb: list[str], cb: list[np.ndarray]):
    """Add two keyed count tables (each a list of parallel arrays, sorted by the first one)."""
    width = len(ca)
    total: dict[str, list[int]] = {k: list(v) for k, v in zip(ka, _rows(ca), strict=True)}
    for k, v in zip(kb, _rows(cb), strict=True):
        row = total.setdefault(k, [0] * width)
        for i in range(width):
            row[i] += v[i]
    keys = sorted(total, key=lambda k: (-total[k][0], k))
    return keys, [np.array([total[k][i] for k in keys], np.int64) for i in range(width)]


def truncate(keys: list[str], arrays: list[np.ndarray], limit: int):
    """The first ``limit`` keys and entries, and the sum of the first array's remainder."""
    return keys[:limit], [a[:limit] for a in arrays], int(arrays[0][limit:].sum())


def _rows(arrays: list[np.ndarray]) -> list[list[int]]:
    if not arrays or len(arrays[0]) == 0:
        return []
    return np.column_stack([np.asarray(a, np.int64) for a in arrays]).tolist()
