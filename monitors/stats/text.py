"""Vectorised word tokens of a text column (pyarrow.compute), for vocabulary statistics.

Text is lower-cased and split on runs of characters that are neither letters, digits nor ``_``
(Unicode-aware RE2 classes), empty pieces dropped. Tokens come back flat with the row each
belongs to, so per-row counts are one ``np.bincount`` away.

>>> import pyarrow as pa
>>> toks, rows = tokenize(pa.array(["Nike shoes, great!", None, "", "déjà-vu"]))
>>> sorted(zip(rows.tolist(), toks.to_pylist()))
[(0, 'great'), (0, 'nike'), (0, 'shoes'), (3, 'déjà'), (3, 'vu')]
>>> word_counts(rows, 3).tolist()
[3, 0, 0]
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

TOKEN_SPLIT = r"[^\p{L}\p{N}_]+"


def as_strings(arr: pa.Array) -> pa.Array:
    """The column as a plain string array (dictionary or large strings decoded)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if not pa.types.is_string(arr.type):
        arr = arr.cast(pa.string())
    return arr


def tokenize(arr: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """``(tokens, row_index)``: the non-empty lower-cased words and the row of each.

    Fast path: split on whitespace, keep the pieces made only of letters and digits; only the
    pieces with punctuation (a minority) go through the regular-expression split. Tokens are
    grouped by path, not in row order.
    """
    arr = as_strings(arr)
    ascii_only = pc.all(pc.string_is_ascii(arr)).as_py() is not False
    if ascii_only:  # the same result, with the cheaper ASCII kernels
        lists = pc.ascii_split_whitespace(pc.ascii_lower(arr))
    else:
        lists = pc.utf8_split_whitespace(pc.utf8_lower(arr))
    flat = pc.list_flatten(lists)
    rows = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    simple = (pc.ascii_is_alnum if ascii_only else pc.utf8_is_alnum)(flat)
    simple = simple.to_numpy(zero_copy_only=False)
    if simple.all():
        return flat, rows
    pieces = pc.split_pattern_regex(flat.filter(pa.array(~simple)), pattern=TOKEN_SPLIT)
    parts = pc.list_flatten(pieces)
    parent = pc.list_parent_indices(pieces).to_numpy(zero_copy_only=False)
    keep = pc.not_equal(parts, "")
    tokens = pa.concat_arrays([flat.filter(pa.array(simple)), parts.filter(keep)])
    extra = rows[~simple][parent][keep.to_numpy(zero_copy_only=False)]
    return tokens, np.concatenate([rows[simple], extra])


def word_counts(rows: np.ndarray, n: int) -> np.ndarray:
    """Words per row, from the row index of every token."""
    return np.bincount(rows, minlength=n)[:n]


def vocab_index(tokens: pa.Array, vocab: pa.Array) -> np.ndarray:
    """Index of each token in ``vocab``; ``-1`` for out-of-vocabulary tokens."""
    idx = pc.index_in(tokens, value_set=vocab)
    return pc.fill_null(idx, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def oov_share_per_row(arr: pa.Array, vocab: pa.Array) -> np.ndarray:
    """Share of each row's words missing from ``vocab`` (0 for rows without words).

    >>> oov_share_per_row(pa.array(["a b", "a zz", None]), pa.array(["a", "b"])).tolist()
    [0.0, 0.5, 0.0]
    """
    n = len(arr)
    tokens, rows = tokenize(arr)
    oov = vocab_index(tokens, vocab) < 0
    total = word_counts(rows, n).astype(np.float64)
    missing = np.bincount(rows, weights=oov, minlength=n)[:n]
    return np.divide(missing, total, out=np.zeros(n), where=total > 0)
