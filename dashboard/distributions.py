"""Reference vs tested window as small frames to chart, from a window's stored summary.

A drift window's summary (``docs/store.md``, the metrics table's ``summary`` column) holds the
bins its statistics compared, with reference and window counts: the frames here are shares of
exactly those counts, so the chart shows what was tested. Columns with a reference profile but
no tested window yet are drawn from the profile alone (:func:`reference_frame`).

>>> s = {"kind": "categorical", "bins": {"labels": ["a", "b", None], "ref": [6, 3, 1],
...      "win": [1, 1, 8]}}
>>> bins_frame(s).query("source == 'window'")["share"].tolist()
[0.1, 0.1, 0.8]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

TOP = 20
SOURCES = ("reference", "window")
TAIL = {"categorical": "(other)", "text": "(all other words)", "numeric": "(other)"}
FRAME_COLUMNS = ["label", "source", "share", "count"]


def _shares(counts: Any) -> np.ndarray:
    counts = np.asarray(counts, np.float64)
    total = counts.sum()
    return counts / total if total > 0 else np.zeros_like(counts)


def bins_frame(summary: dict[str, Any], top: int = TOP) -> pd.DataFrame:
    """Reference and window share (and count) of each compared bin.

    Numeric bins stay in value order. Categories are ordered by reference share; past ``top``
    the smallest are pooled with the tail. Text shows the ``top`` words by combined share and
    leaves out the tail bin (all other words, unseen ones included), which :func:`tail_shares`
    gives.

    >>> s = {"kind": "text", "bins": {"labels": ["a", "b", None], "ref": [1, 3, 6],
    ...      "win": [1, 1, 8]}}
    >>> bins_frame(s)["label"].unique().tolist()
    ['b', 'a']
    """
    kind = summary.get("kind")
    bins = summary.get("bins")
    if not bins:
        return pd.DataFrame(columns=FRAME_COLUMNS)
    ref, win = np.asarray(bins["ref"], np.float64), np.asarray(bins["win"], np.float64)
    labels = [TAIL.get(kind, "(other)") if b is None else str(b) for b in bins["labels"]]
    p, q = _shares(ref), _shares(win)
    if kind == "text":
        order = list(np.argsort(-(p + q)[:-1], kind="stable")[:top])
    elif kind == "categorical":
        head = list(np.argsort(-p[:-1], kind="stable"))
        order = head[:top] + [len(labels) - 1]
        rest = head[top:]
        if rest:  # pooled into the tail bar
            for arr in (ref, win, p, q):
                arr[-1] += arr[rest].sum()
    else:
        order = list(range(len(labels)))
    rows = []
    for i in order:
        if i == len(labels) - 1 and ref[i] == win[i] == 0:
            continue  # an empty tail: every value has its own bin
        for source, share, count in (("reference", p, ref), ("window", q, win)):
            rows.append({"label": labels[i], "source": source, "share": float(share[i]),
                         "count": float(count[i])})  # fmt: skip
    return pd.DataFrame(rows, columns=FRAME_COLUMNS)


def bins_table(summary: dict[str, Any]) -> pd.DataFrame:
    """Every compared bin in order, the tail last: both shares and both counts.

    >>> bins_table({"kind": "text", "bins": {"labels": ["a", None], "ref": [3, 1],
    ...             "win": [1, 1]}})["label"].tolist()
    ['a', '(all other words)']
    """
    bins = summary.get("bins") or {"labels": [], "ref": [], "win": []}
    tail = TAIL.get(summary.get("kind"), "(other)")
    ref, win = np.asarray(bins["ref"], np.float64), np.asarray(bins["win"], np.float64)
    return pd.DataFrame({
        "label": [tail if b is None else str(b) for b in bins["labels"]],
        "reference share": _shares(ref), "window share": _shares(win),
        "reference count": ref, "window count": win,
    })  # fmt: skip


def tail_shares(summary: dict[str, Any]) -> tuple[float, float]:
    """``(reference, window)`` share of the tail bin: every value outside the compared bins.

    >>> tail_shares({"bins": {"labels": ["a", None], "ref": [3, 1], "win": [1, 1]}})
    (0.25, 0.5)
    """
    bins = summary.get("bins")
    if not bins:
        return 0.0, 0.0
    return float(_shares(bins["ref"])[-1]), float(_shares(bins["win"])[-1])


def lengths_frame(summary: dict[str, Any], max_words: int = 60) -> pd.DataFrame:
    """Share of texts per number of words in reference and window (longer ones at
    ``max_words``): the histograms the ``length`` statistic compared.

    >>> lengths_frame({"lengths": {"ref": [0, 1, 1], "win": [0, 2, 0]}})["share"].tolist()
    [0.0, 0.5, 0.5, 0.0, 1.0, 0.0]
    """
    lengths = summary.get("lengths") or {}
    rows = []
    for source in SOURCES:
        counts = np.asarray(lengths.get(source[:3], []), np.float64)
        if not len(counts):
            continue
        clipped = np.append(counts[:max_words], counts[max_words:].sum())
        for words, share in enumerate(_shares(clipped)):
            rows.append({"words": words, "source": source, "share": float(share)})
    df = pd.DataFrame(rows, columns=["words", "source", "share"])
    used = df.loc[df["share"] > 0, "words"]
    return df[df["words"] <= (used.max() if len(used) else 0)]


def quantile_frame(summary: dict[str, Any]) -> pd.DataFrame:
    """The reference's and the window sample's quantiles (a CDF each), when they were kept.

    >>> quantile_frame({"quantiles": {"p": [0, 1], "ref": [0, 2], "win": [1, 3]}}).shape
    (4, 3)
    """
    qs = summary.get("quantiles")
    if not qs:
        return pd.DataFrame(columns=["value", "p", "source"])
    parts = [pd.DataFrame({"value": qs[source[:3]], "p": qs["p"], "source": source})
             for source in SOURCES]  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def unseen_frame(summary: dict[str, Any]) -> pd.DataFrame:
    """The window's most frequent values missing from the reference, with their share.

    >>> unseen_frame({"n": 10, "rows": 10, "kind": "categorical", "unseen": [["x", 2]]})
    ... # doctest: +NORMALIZE_WHITESPACE
      value  count  share
    0     x      2    0.2
    """
    total = summary.get("tokens") if summary.get("kind") == "text" else summary.get("n")
    rows = [{"value": v, "count": int(c), "share": c / total if total else 0.0}
            for v, c in summary.get("unseen") or []]  # fmt: skip
    return pd.DataFrame(rows, columns=["value", "count", "share"])


# -- a reference profile alone (columns with no tested window yet) ------------------------------


def reference_frame(prof: Any, top: int = TOP) -> pd.DataFrame:
    """Shares of a profile's top categories or words (and the rest), as :func:`bins_frame`.

    >>> from types import SimpleNamespace as NS
    >>> reference_frame(NS(kind="categorical", keys=["a", "b"], counts=[3, 1], other=0))[
    ...     "share"].tolist()
    [0.75, 0.25]
    """
    if prof.kind == "text":
        keys, counts, other = list(prof.vocab), prof.counts, int(prof.other_tokens)
    else:
        keys, counts, other = list(prof.keys), prof.counts, int(getattr(prof, "other", 0))
    counts = np.asarray(counts, np.float64)
    values = np.r_[counts[:top], counts[top:].sum() + other]
    labels = [*keys[:top], TAIL.get(prof.kind, "(other)")]
    shares = _shares(values)
    rows = [{"label": k, "source": "reference", "share": float(s), "count": float(c)}
            for k, s, c in zip(labels, shares, values, strict=True) if c > 0]  # fmt: skip
    return pd.DataFrame(rows, columns=FRAME_COLUMNS)


def reference_lengths(prof: Any, max_words: int = 60) -> pd.DataFrame:
    """Share of reference texts per number of words (a text profile's histogram).

    >>> from types import SimpleNamespace as NS
    >>> reference_lengths(NS(length_counts=[0, 1, 3]))["share"].tolist()
    [0.0, 0.25, 0.75]
    """
    return lengths_frame({"lengths": {"ref": list(prof.length_counts), "win": []}}, max_words)


def numeric_values(prof: Any) -> np.ndarray:
    """The reference values a numeric profile keeps (all, or its quantile sketch)."""
    return np.asarray(prof.values, dtype=float)
