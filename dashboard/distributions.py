"""Reference vs current distributions as small frames to chart, from column profiles.

A column profile is one of :mod:`monitors.stats.column_profile`' summaries (numeric: sorted values or a
quantile sketch; categorical: value counts; text: vocabulary counts and a words-per-row
histogram). Only their attributes are read here, so any object with the same attributes works.

>>> from types import SimpleNamespace as NS
>>> ref = NS(kind="categorical", keys=["a", "b"], counts=[3, 1], other=0)
>>> category_frame(ref, None)["share"].tolist()
[0.75, 0.25]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

TOP = 20


def _shares(keys: list[str], counts: Any, other: int, top: int) -> dict[str, float]:
    counts = np.asarray(counts, dtype=float)
    total = counts.sum() + other
    if total <= 0:
        return {}
    out = {k: float(c / total) for k, c in zip(keys[:top], counts[:top], strict=False)}
    rest = counts[top:].sum() + other
    if rest > 0:
        out["(other)"] = float(rest / total)
    return out


def category_frame(ref: Any, cur: Any | None, top: int = TOP) -> pd.DataFrame:
    """Shares of the reference's top categories (and the rest) in reference and current."""
    ref_shares = _shares(list(ref.keys), ref.counts, int(getattr(ref, "other", 0)), top)
    rows = [{"category": k, "source": "reference", "share": v} for k, v in ref_shares.items()]
    if cur is not None:
        cur_total = dict(zip(cur.keys, np.asarray(cur.counts, float), strict=False))
        total = sum(cur_total.values()) + int(getattr(cur, "other", 0))
        kept = [k for k in ref_shares if k != "(other)"]
        for k in kept:
            rows.append({"category": k, "source": "current", "share": cur_total.get(k, 0) / total})
        rest = 1.0 - sum(cur_total.get(k, 0) for k in kept) / total if total else 0.0
        if rest > 1e-12:
            rows.append({"category": "(other)", "source": "current", "share": rest})
    return pd.DataFrame(rows, columns=["category", "source", "share"])


def token_frame(ref: Any, cur: Any | None, top: int = TOP) -> pd.DataFrame:
    """Shares of the most frequent words: the reference's top words, and the current's."""
    rows = []
    ref_total = float(np.sum(ref.counts)) + ref.other_tokens
    ref_counts = dict(zip(ref.vocab, np.asarray(ref.counts, float), strict=False))
    words = list(ref.vocab[:top])
    cur_counts: dict[str, float] = {}
    cur_total = 0.0
    if cur is not None:
        cur_counts = dict(zip(cur.vocab, np.asarray(cur.counts, float), strict=False))
        cur_total = float(np.sum(cur.counts)) + cur.other_tokens
        words += [w for w in cur.vocab[:top] if w not in words]
    for w in words:
        rows.append({"token": w, "source": "reference", "share": ref_counts.get(w, 0) / ref_total})
        if cur is not None and cur_total:
            rows.append(
                {"token": w, "source": "current", "share": cur_counts.get(w, 0) / cur_total}
            )
    return pd.DataFrame(rows, columns=["token", "source", "share"])


def oov_rate(ref: Any, cur: Any) -> float:
    """Share of the current text's tokens that are not in the reference vocabulary."""
    vocab = set(ref.vocab)
    counts = np.asarray(cur.counts, float)
    total = counts.sum() + cur.other_tokens
    if not total:
        return 0.0
    unseen = sum(c for w, c in zip(cur.vocab, counts, strict=False) if w not in vocab)
    return float((unseen + cur.other_tokens) / total)


def length_frame(ref: Any, cur: Any | None, max_words: int = 60) -> pd.DataFrame:
    """Share of texts per number of words (longer ones counted at ``max_words``)."""
    rows = []
    for source, prof in (("reference", ref), ("current", cur)):
        if prof is None:
            continue
        counts = np.asarray(prof.length_counts, float)
        clipped = np.append(counts[:max_words], counts[max_words:].sum())
        total = clipped.sum() or 1.0
        for words, c in enumerate(clipped):
            rows.append({"words": words, "source": source, "share": c / total})
    df = pd.DataFrame(rows, columns=["words", "source", "share"])
    used = df.loc[df["share"] > 0, "words"]
    return df[df["words"] <= (used.max() if len(used) else 0)]


def numeric_values(prof: Any) -> np.ndarray:
    """The reference values a numeric profile keeps (all, or its quantile sketch)."""
    return np.asarray(prof.values, dtype=float)


def current_profile(values: Any, kind: str) -> Any | None:
    """A profile of ``values`` (an Arrow column) of the given kind; ``None`` if none can be made."""
    try:
        from monitors.stats.column_profile import ProfileOptions, build_column
    except ImportError:
        return None
    try:
        return build_column(kind, values, ProfileOptions())
    except (ValueError, TypeError):
        return None
