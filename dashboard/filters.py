"""Filtering, searching and binning the retraining set (pure pandas, no Streamlit).

>>> import pandas as pd
>>> df = pd.DataFrame({"ts": pd.to_datetime(["2026-01-01", "2026-01-02"], utc=True),
...                    "text": ["Nike shoes are great", "adidas socks"],
...                    "reasons": [["nike"], ["other"]]})
>>> filter_edge_cases(df, EdgeCaseFilter(reasons=("nike",)))["text"].tolist()
['Nike shoes are great']
>>> filter_edge_cases(df, EdgeCaseFilter(query="addidas sock", column="text"))["text"].tolist()
['adidas socks']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process, utils

# Bin widths for counts over time, smallest first; the first giving <= MAX_BINS bins is used.
FREQS = ("1s", "10s", "1min", "10min", "1h", "6h", "1D", "7D")
MAX_BINS = 120


@dataclass(frozen=True)
class EdgeCaseFilter:
    """What the edge-cases page filters on; empty fields do not filter."""

    reasons: tuple[str, ...] = ()
    leaves: tuple[str, ...] = ()
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    query: str = ""
    column: str = "text"
    min_score: float = 80.0


def filter_edge_cases(df: pd.DataFrame, f: EdgeCaseFilter) -> pd.DataFrame:
    """The rows matching every filter; a text search adds a ``score`` column and sorts by it.

    Reasons match when a row has any of them; leaf signals when every chosen leaf is true. The
    text search is rapidfuzz ``partial_ratio`` (case- and punctuation-insensitive) of at least
    ``min_score``.
    """
    mask = np.ones(len(df), dtype=bool)
    if f.reasons and "reasons" in df:
        chosen = set(f.reasons)
        mask &= (
            df["reasons"]
            .map(lambda r: r is not None and not chosen.isdisjoint(r))
            .to_numpy(dtype=bool)
        )
    for leaf in f.leaves:
        if leaf in df:
            mask &= df[leaf].fillna(False).to_numpy(dtype=bool)
    if f.start is not None and "ts" in df:
        mask &= (df["ts"] >= f.start).to_numpy()
    if f.end is not None and "ts" in df:
        mask &= (df["ts"] <= f.end).to_numpy()
    out = df[mask]
    if f.query.strip() and f.column in out:
        out = _search(out, f.query, f.column, f.min_score)
    return out


def _search(df: pd.DataFrame, query: str, column: str, min_score: float) -> pd.DataFrame:
    texts = df[column].fillna("").astype(str).tolist()
    scores = process.cdist(
        [query],
        texts,
        scorer=fuzz.partial_ratio,
        processor=utils.default_process,
        score_cutoff=min_score,
        workers=-1,
    )[0]
    keep = scores >= min_score
    out = df[keep].assign(score=scores[keep])
    return out.sort_values("score", ascending=False, kind="stable")


def pick_freq(start: pd.Timestamp, end: pd.Timestamp) -> str:
    """The smallest bin width in :data:`FREQS` giving at most :data:`MAX_BINS` bins.

    >>> pick_freq(pd.Timestamp("2026-01-01"), pd.Timestamp("2026-01-02"))
    '1h'
    """
    span = max((end - start).total_seconds(), 1.0)
    for freq in FREQS:
        if span / pd.Timedelta(freq).total_seconds() <= MAX_BINS:
            return freq
    return FREQS[-1]


def reason_label(reason: str, names: Mapping[str, str]) -> str:
    """The check's name for a stored reason (its formula), else the reason itself.

    A reason that extends a known one, such as ``nike | boom (without 'boom')`` for a batch in
    which a leaf failed, keeps what it adds.

    >>> names = {"nike | boom": "Nike mentions"}
    >>> reason_label("nike | boom", names), reason_label("nike | boom (without 'boom')", names)
    ('Nike mentions', "Nike mentions (without 'boom')")
    >>> reason_label("other", names)
    'other'
    """
    if reason in names:
        return names[reason]
    for formula, name in names.items():
        if reason.startswith(formula + " ("):
            return name + reason[len(formula) :]
    return reason


def counts_over_time(
    df: pd.DataFrame, names: Mapping[str, str] | None = None
) -> tuple[pd.DataFrame, str]:
    """Edge cases per time bin and check: ``(frame[bin, check, count], freq)``; ``check`` is
    the check's name where ``names`` (``{reason: name}``) has it, else the reason."""
    if df.empty or "ts" not in df:
        return pd.DataFrame(columns=["bin", "check", "count"]), FREQS[0]
    freq = pick_freq(df["ts"].min(), df["ts"].max())
    reasons = df["reasons"] if "reasons" in df else pd.Series([["(none)"]] * len(df))
    long = pd.DataFrame({"bin": df["ts"].dt.floor(freq), "reason": reasons.to_numpy()})
    long = long.explode("reason")
    reason = long["reason"].fillna("(none)").astype(str)
    long["check"] = reason.map(lambda r: reason_label(r, names or {}))
    counts = long.groupby(["bin", "check"], sort=True).size().rename("count").reset_index()
    return counts, freq


def display_frame(df: pd.DataFrame, limit: int) -> pd.DataFrame:
    """At most ``limit`` rows, with list columns joined into text (for ``st.dataframe``)."""
    out = df.head(limit).copy()
    if "reasons" in out:
        out["reasons"] = out["reasons"].map(
            lambda r: " | ".join(map(str, r)) if r is not None else ""
        )
    return out


def export_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The rows as exported: list columns kept for Parquet, search score dropped."""
    return df.drop(columns=[c for c in ("score",) if c in df])
