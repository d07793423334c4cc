"""Scoring probe predictions against a lexicon: how many of the top-k are wanted words.

>>> positive_share([["great", "nike"], ["bad", "good"]], {"great", "good"}, {"bad"})
(0.5, 1)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def _norm(token: str) -> str:
    return token.strip().lower()


def positive_share(
    top_k_tokens: Sequence[Sequence[str]],
    positive: Iterable[str],
    negative: Iterable[str],
) -> tuple[float, int]:
    """``(share of predicted tokens that are positive, number that are negative)``.

    ``top_k_tokens`` holds one list of predicted tokens per probe; the share is taken over all
    of them together (case-insensitive). An empty input has share ``0.0``.

    >>> positive_share([["Comfortable", "durable", "nike"]], ["comfortable", "durable"], [])
    (0.6666666666666666, 0)
    """
    pos = {_norm(w) for w in positive}
    neg = {_norm(w) for w in negative}
    tokens = [_norm(t) for preds in top_k_tokens for t in preds]
    if not tokens:
        return 0.0, 0
    n_pos = sum(t in pos for t in tokens)
    n_neg = sum(t in neg for t in tokens)
    return n_pos / len(tokens), n_neg


def stage_tokens(rows: Iterable[dict], stage: str) -> dict[str, list[str]]:
    """Tokens per probe for one stage (``before``/``after``) from ``probes.parquet`` rows, by rank.

    >>> stage_tokens([{"probe": "p", "stage": "after", "rank": 2, "token": "b"},
    ...               {"probe": "p", "stage": "after", "rank": 1, "token": "a"}], "after")
    {'p': ['a', 'b']}
    """
    out: dict[str, list[tuple[int, str]]] = {}
    for row in rows:
        if row["stage"] == stage:
            out.setdefault(row["probe"], []).append((int(row["rank"]), row["token"]))
    return {probe: [t for _, t in sorted(pairs)] for probe, pairs in out.items()}
