"""What a closed drift window keeps for its readers: the bins its statistics compared, bounded.

A window's statistics are computed from its state (:mod:`monitors.stats.accumulators`,
:mod:`monitors.stats.text_window`) and the state is then dropped. So that the dashboard can
draw exactly what was tested, each window also writes a small summary of that state as JSON in
the ``summary`` column of its first metrics row (``docs/store.md``). Per kind:

* every kind with counts: ``bins``, the bins the count statistics (``js``, ``psi``, ``chi2``)
  compared: ``labels`` (one per bin; ``null`` for the tail bin that pools every other value,
  unseen ones included), ``ref`` and ``win`` (reference and window counts, the tail last);
* categorical and text: ``unseen``, the most frequent values the reference lacks, with counts
  (at most :data:`MAX_UNSEEN`);
* numeric: ``edges`` (the reference's quantile edges) and, when ``ks`` or ``wasserstein`` ran,
  ``quantiles``: ``p`` and the reference's and the window sample's quantiles at ``p``
  (:data:`QUANTILES` points);
* text: ``tokens``, ``oov`` (tokens missing from the reference vocabulary), ``empty`` (null or
  empty texts) and ``lengths``, the words-per-text histograms (``ref``, ``win``) the ``length``
  statistic compared, trailing empty bins cut.

Sizes are bounded by the check's settings, never by the window: at most ``js_bins`` words, the
profile's kept categories (``max_categories``), ``bins`` numeric bins.

>>> s = bins_summary(["a", "b", None], np.array([5.0, 3, 2]), np.array([1.0, 1, 8]))
>>> s["labels"], s["ref"], s["win"]
(['a', 'b', None], [5.0, 3.0, 2.0], [1.0, 1.0, 8.0])
>>> json.loads(encode({"kind": "categorical", "bins": s}))["bins"]["labels"]
['a', 'b', None]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

#: Format of the summaries written (``v`` in each one).
VERSION = 1
#: Unseen values kept per window.
MAX_UNSEEN = 20
#: Quantile points kept of a numeric window sample and of its reference.
QUANTILES = 101


def bins_summary(labels: Sequence[str | None], ref: np.ndarray, win: np.ndarray) -> dict:
    """The compared bins: one label per bin (``None`` for the tail), both counts.

    >>> bins_summary(["x"], np.array([2.0]), np.array([3.0]))
    {'labels': ['x'], 'ref': [2.0], 'win': [3.0]}
    """
    ref, win = np.asarray(ref, np.float64), np.asarray(win, np.float64)
    if not len(labels) == len(ref) == len(win):
        raise ValueError(f"bins differ in length: {len(labels)}, {len(ref)}, {len(win)}")
    return {"labels": list(labels), "ref": ref.tolist(), "win": win.tolist()}


def edge_labels(edges: np.ndarray) -> list[str]:
    """Labels of the numeric bins ``(-inf, e0), [e0, e1), ..., [e_last, inf)``.

    >>> edge_labels(np.array([0.5, 1.25]))
    ['< 0.5', '0.5 – 1.25', '≥ 1.25']
    """
    e = [f"{x:.4g}" for x in np.asarray(edges, np.float64)]
    if not e:
        return ["all values"]
    return [f"< {e[0]}", *(f"{a} – {b}" for a, b in zip(e[:-1], e[1:], strict=True)), f"≥ {e[-1]}"]


def quantiles(ref_sorted: np.ndarray, sample: np.ndarray, k: int = QUANTILES) -> dict:
    """Quantiles of the reference and of the window sample at ``k`` evenly spaced probabilities.

    >>> q = quantiles(np.arange(11.0), np.arange(5.0), k=3)
    >>> q["p"], q["ref"], q["win"]
    ([0.0, 0.5, 1.0], [0.0, 5.0, 10.0], [0.0, 2.0, 4.0])
    """
    p = np.linspace(0.0, 1.0, k)
    return {"p": p.tolist(), "ref": np.quantile(ref_sorted, p).tolist(),
            "win": np.quantile(sample, p).tolist()}  # fmt: skip


def trimmed(ref: np.ndarray, win: np.ndarray) -> dict:
    """Two histograms over the same support, cut after the last bin either one uses.

    >>> trimmed(np.array([0, 2, 1, 0, 0]), np.array([1, 0, 0, 0, 0]))
    {'ref': [0.0, 2.0, 1.0], 'win': [1.0, 0.0, 0.0]}
    """
    ref, win = np.asarray(ref, np.float64), np.asarray(win, np.float64)
    used = np.flatnonzero((ref > 0) | (win > 0))
    end = int(used[-1]) + 1 if len(used) else 0
    return {"ref": ref[:end].tolist(), "win": win[:end].tolist()}


def unseen_items(items: Sequence[tuple[str, int]]) -> list[list[Any]]:
    """The most frequent unseen values as ``[value, count]`` pairs (at most :data:`MAX_UNSEEN`).

    >>> unseen_items([("covid", 3), ("mask", 2)])
    [['covid', 3], ['mask', 2]]
    """
    return [[str(v), int(c)] for v, c in list(items)[:MAX_UNSEEN]]


def encode(summary: dict[str, Any]) -> str:
    """The summary as compact JSON, with its format version (``v``).

    >>> encode({"kind": "text", "n": 3})
    '{"v":1,"kind":"text","n":3}'
    """
    return json.dumps({"v": VERSION, **summary}, separators=(",", ":"), allow_nan=False)
