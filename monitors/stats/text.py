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

import string

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

TOKEN_SPLIT = r"[^\p{L}\p{N}_]+"
# ASCII punctuation but "_" (a word character for TOKEN_SPLIT)
_EDGE_PUNCTUATION = "".join(c for c in string.punctuation if c != "_")


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

    The same as splitting on :data:`TOKEN_SPLIT`, in stages that each keep the pieces that are
    already words (letters and digits only) and pass the others on: split on ASCII whitespace
    (UTF-8 never has an ASCII byte inside a character); trim ASCII punctuation but ``_`` off
    the ends (``film,`` ``(cage)``); only what is left (``it's``, ``co-star``, a no-break space,
    ``x_y``) goes through the regular expression. Tokens are grouped by stage, not row order.
    """
    arr = as_strings(arr)
    ascii_only = pc.all(pc.string_is_ascii(arr)).as_py() is not False
    lower = pc.ascii_lower(arr) if ascii_only else pc.utf8_lower(arr)
    is_word = pc.ascii_is_alnum if ascii_only else pc.utf8_is_alnum
    lists = pc.ascii_split_whitespace(lower)
    pieces = pc.list_flatten(lists)
    rows = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    out, out_rows = [], []
    for i, stage in enumerate((None, *_STAGES)):
        if stage is not None:
            pieces = stage(pieces)
            if pa.types.is_list(pieces.type):
                rows = rows[pc.list_parent_indices(pieces).to_numpy(zero_copy_only=False)]
                pieces = pc.list_flatten(pieces)
        full = pc.utf8_length(pieces).to_numpy(zero_copy_only=False) > 0 if i else True
        last = i == len(_STAGES)  # after the regular expression, every piece is a word
        keep = full if last else is_word(pieces).to_numpy(zero_copy_only=False)
        out.append(pieces.filter(pa.array(keep)))
        out_rows.append(rows[keep])
        rest = full & ~keep
        if last or not rest.any():
            break
        pieces, rows = pieces.filter(pa.array(rest)), rows[rest]
    return pa.concat_arrays(out), np.concatenate(out_rows)


_STAGES = (
    lambda s: pc.ascii_trim(s, characters=_EDGE_PUNCTUATION),
    lambda s: pc.split_pattern_regex(s, pattern=TOKEN_SPLIT),
)


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
