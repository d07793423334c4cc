"""Plant near-duplicates in a list of texts, and the exact reference a MinHash dedupe is judged by.

Used by ``tests/test_minhash_dedupe.py`` and ``benchmarks/bench_dedupe.py``. :func:`plant`
copies a fraction of the rows with a few random edits (a word replaced, two neighbours swapped,
a word dropped or repeated, punctuation and case changed) and shuffles the copies in after
their originals. :func:`reference_duplicates` is the decision the deduper approximates, made
exactly: a row is a duplicate when the Jaccard similarity of its shingle set with an earlier
*kept* row's reaches the threshold; it compares every pair, so it is for small inputs only.
:func:`shingles` mirrors ``monitors.minhash_dedupe`` in plain Python (lower case, every run of
characters that are neither letters, digits, ``_`` nor whitespace a space, word ``n``-grams).
"""

from __future__ import annotations

import math
import random
import string

import numpy as np

PUNCTUATION = ".,!?;:-"


def _edit(words: list[str], rng: random.Random, vocabulary: list[str]) -> list[str]:
    """One random edit of a word list (never empties it)."""
    words = list(words)
    i = rng.randrange(len(words))
    kind = rng.choice(("replace", "swap", "drop", "repeat", "punctuate", "case"))
    if kind == "replace":
        words[i] = rng.choice(vocabulary)
    elif kind == "swap" and len(words) > 1:
        j = min(i + 1, len(words) - 1) if i < len(words) - 1 else i - 1
        words[i], words[j] = words[j], words[i]
    elif kind == "drop" and len(words) > 1:
        del words[i]
    elif kind == "repeat":
        words.insert(i, words[i])
    elif kind == "punctuate":
        words[i] = words[i].rstrip(PUNCTUATION) + rng.choice(PUNCTUATION)
    else:
        words[i] = words[i].upper() if words[i].islower() else words[i].lower()
    return words


def near_copy(text: str, rng: random.Random, vocabulary: list[str], max_edits: int = 2) -> str:
    """``text`` with 1..``max_edits`` random edits."""
    words = text.split() or [text]
    for _ in range(rng.randint(1, max_edits)):
        words = _edit(words, rng, vocabulary)
    return " ".join(words)


def plant(
    texts: list[str], fraction: float = 0.2, seed: int = 0, max_edits: int = 2
) -> tuple[list[str], np.ndarray]:
    """``texts`` with near-copies planted: ``(rows, source)``.

    ``rows`` has ``len(texts) / (1 - fraction)`` rows, a ``fraction`` of them near-copies;
    ``source[k]`` is the index in ``rows`` of the original row ``k`` was copied from (always an
    earlier row), or -1 for an original.

    >>> rows, source = plant(["a b c d", "e f g h", "i j k l", "m n o p"], 0.5, seed=1)
    >>> len(rows), int((source >= 0).sum()), all(source[k] < k for k in range(len(rows)))
    (8, 4, True)
    """
    rng = random.Random(seed)
    vocabulary = sorted({w for t in texts[:5000] for w in t.split()}) or ["x"]
    n_copies = round(len(texts) * fraction / (1 - fraction))
    picks = sorted(rng.randrange(len(texts)) for _ in range(n_copies))
    # Each copy goes somewhere after its original: at a random later position of the stream.
    inserts: dict[int, list[str]] = {}
    for p in picks:
        at = rng.randint(p + 1, len(texts))
        inserts.setdefault(at, []).append((p, near_copy(texts[p], rng, vocabulary, max_edits)))
    rows: list[str] = []
    source: list[int] = []
    position: dict[int, int] = {}
    for k in range(len(texts) + 1):
        for p, copy in inserts.get(k, []):
            rows.append(copy)
            source.append(position[p])
        if k < len(texts):
            position[k] = len(rows)
            rows.append(texts[k])
            source.append(-1)
    return rows, np.array(source, dtype=np.int64)


def synthetic_texts(n: int, seed: int = 0, words: int = 18) -> list[str]:
    """``n`` distinct-looking sentences of random lower-case words (a Zipf-like vocabulary)."""
    rng = np.random.default_rng(seed)
    letters = np.array(list(string.ascii_lowercase))
    vocab = ["".join(rng.choice(letters, rng.integers(2, 9))) for _ in range(5000)]
    weights = 1.0 / np.arange(1, len(vocab) + 1)
    weights /= weights.sum()
    lengths = rng.integers(max(words // 2, 3), words * 2, n)
    picks = rng.choice(len(vocab), int(lengths.sum()), p=weights)
    out, at = [], 0
    for length in lengths.tolist():
        out.append(" ".join(vocab[i] for i in picks[at : at + length]))
        at += length
    return out


def normalise(text: str | None) -> list[str]:
    """The words of ``text`` as the deduper sees them (lower case, punctuation a space).

    >>> normalise("Great, GREAT shoes!!  don't")
    ['great', 'great', 'shoes', 'don', 't']
    """
    if text is None:
        return []
    kept = (c if c.isalnum() or c == "_" or c.isspace() else " " for c in text.lower())
    return "".join(kept).split()


def shingles(text: str | None, n: int) -> set[tuple[str, ...]]:
    """Word ``n``-grams of ``text``; a text of fewer words is one shingle, no words none.

    >>> sorted(shingles("a b c", 2)), shingles("a", 3), shingles("?!", 2)
    ([('a', 'b'), ('b', 'c')], {('a',)}, set())
    """
    words = normalise(text)
    if 0 < len(words) < n:
        return {tuple(words)}
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: set, b: set) -> float:
    """Jaccard similarity; two empty sets are identical (as two empty MinHashes are)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def reference_duplicates(texts: list[str], threshold: float, n: int) -> np.ndarray:
    """Exact all-pairs decision: row ``k`` is a duplicate when an earlier kept row's shingle
    set has Jaccard similarity >= ``threshold`` with its own.

    Pairs are found by prefix filtering (Bayardo et al., "Scaling up all pairs similarity
    search", 2007), which is exact: with each set's shingles ordered rarest first, two sets of
    similarity >= t share a shingle among the first ``|s| - ceil(t |s|) + 1`` of each.

    >>> reference_duplicates(["a b c d", "a b c d!", "x y", "a b c e"], 0.8, 1).tolist()
    [False, True, False, False]
    """
    sets = [shingles(t, n) for t in texts]
    frequency: dict[tuple[str, ...], int] = {}
    for s in sets:
        for sh in s:
            frequency[sh] = frequency.get(sh, 0) + 1
    postings: dict[tuple[str, ...], list[int]] = {}
    kept_empty = False
    out = np.zeros(len(texts), dtype=bool)
    for k, s in enumerate(sets):
        if not s:
            out[k], kept_empty = kept_empty, True
            continue
        prefix = sorted(s, key=lambda sh: (frequency[sh], sh))
        prefix = prefix[: len(s) - math.ceil(threshold * len(s) - 1e-9) + 1]
        seen = {j for sh in prefix for j in postings.get(sh, ())}
        if any(jaccard(s, sets[j]) >= threshold for j in seen):
            out[k] = True
            continue
        for sh in prefix:
            postings.setdefault(sh, []).append(k)
    return out
