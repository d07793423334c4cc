"""Bounded summaries of a sample: quantile sketches and a vectorised reservoir.

>>> import numpy as np
>>> np.round(quantile_sketch(np.arange(10.0), 5), 6).tolist()
[0.9, 2.7, 4.5, 6.3, 8.1]
>>> r = Reservoir(3, rng=np.random.default_rng(0))
>>> r.add(np.arange(100.0)); len(r.sample()), r.seen
(3, 100)
"""

from __future__ import annotations

import numpy as np


def quantile_sketch(sorted_values: np.ndarray, k: int) -> np.ndarray:
    """``k`` quantiles at probabilities ``(i + 0.5) / k``; each stands for ``n / k`` values."""
    if not isinstance(k, int | np.integer) or k < 2:
        raise ValueError(f"sketch_size must be an integer >= 2, got {k!r}")
    return np.quantile(sorted_values, (np.arange(k) + 0.5) / k)


def merge_sketches(parts: list[tuple[np.ndarray, float]], k: int) -> np.ndarray:
    """A ``k``-point sketch of the union of sketches, each given as ``(points, total_weight)``.

    Every point of a part carries ``total_weight / len(points)``; the result is the weighted
    quantiles of the union at ``(i + 0.5) / k`` (midpoint interpolation of the weighted CDF).
    """
    values = np.concatenate([p for p, _ in parts])
    weights = np.concatenate([np.full(len(p), w / len(p)) for p, w in parts if len(p)])
    order = np.argsort(values, kind="stable")
    values, weights = values[order], weights[order]
    cum = (np.cumsum(weights) - weights / 2) / weights.sum()
    return np.interp((np.arange(k) + 0.5) / k, cum, values)


class Reservoir:
    """A uniform sample of at most ``capacity`` items of a stream (Vitter's algorithm R).

    Batches are added at once: item ``t`` (0-based, over the whole stream) replaces slot
    ``j ~ U{0..t}`` when ``j < capacity``; numpy applies repeated slots in order, so the later
    item wins, as in the one-at-a-time algorithm. Memory is ``capacity`` items whatever the
    stream length.
    """

    def __init__(self, capacity: int, rng: np.random.Generator | None = None) -> None:
        if not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be a positive integer, got {capacity!r}")
        self.capacity = capacity
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.reset()

    def reset(self) -> None:
        """Forget everything (start of a new window)."""
        self._buf: np.ndarray | None = None
        self._fill = 0
        self.seen = 0

    def add(self, values: np.ndarray) -> None:
        """Offer a batch of items (rows of ``values``)."""
        values = np.asarray(values)
        if len(values) == 0:
            return
        if self._buf is None:
            self._buf = np.empty((self.capacity, *values.shape[1:]), dtype=values.dtype)
        take = min(self.capacity - self._fill, len(values))
        if take:
            self._buf[self._fill : self._fill + take] = values[:take]
            self._fill += take
        rest = values[take:]
        if len(rest):
            t = self.seen + take + np.arange(len(rest))
            j = (self.rng.random(len(rest)) * (t + 1)).astype(np.int64)
            hit = j < self.capacity
            self._buf[j[hit]] = rest[hit]
        self.seen += len(values)

    def sample(self) -> np.ndarray:
        """The items kept (all of them while fewer than ``capacity`` were seen)."""
        if self._buf is None:
            return np.empty(0)
        return self._buf[: self._fill]
