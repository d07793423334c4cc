"""Near-duplicate text in bounded memory: MinHash signatures and a banded LSH index.

``dedupe: "minhash"`` of an EDGE_CASE check. A text is normalised (lower case; every run of
characters that are neither letters, digits, ``_`` nor whitespace becomes a space) and cut into
word ``shingle_size``-grams; a text with fewer words is one shingle, a text with none has an
empty set (and is a near-duplicate of every other such text, as two empty MinHashes are). Word
sets (``shingle_size=1``) are the default: on real review snippets, headlines and speech
sentences with planted edits they find the most near-copies at the same precision, where 2- and
3-grams lose a copy to each edited word (``docs/minhash_dedupe.md`` has the figures).

Signatures are datasketch's, computed for a whole batch with numpy: a shingle of one word
hashes to ``datasketch.hashfunc.sha1_hash32`` of its UTF-8 bytes (datasketch's own default), a
longer one to FNV-1a over its words' hashes; the permutations are those of
``datasketch.MinHash(num_perm, seed=1)`` (the ``affine32`` scheme: MurmurHash3's finalizer,
then ``a * h + b mod 2**32``). ``tests/test_minhash_dedupe.py`` checks them equal.

The index holds the newest ``memory`` kept rows. Bands of ``r`` signature values are hashed to
64-bit keys kept in sorted runs (merged as they grow, so inserting and looking up a batch are a
few ``numpy`` sorts and searches); a candidate is a row that shares a band with the query, and
it counts only if the signatures agree on at least ``threshold`` of their values. ``r`` is the
largest band for which a pair at the threshold is a candidate with probability >= 0.99, so the
estimate, not the banding, decides. A row costs 2 bytes per permutation (the low 16 bits of its
signature, enough to estimate agreement: a false match has probability 2**-16) and 16 bytes
per band, at most twice while runs wait to be merged: about 0.6 to 1 KB at the defaults.

>>> d = MinHashDeduper(threshold=0.8, memory=100)
>>> d.duplicates(pa.array(["The shoes are great, really comfortable and light",
...                        "the shoes are great really comfortable and light!",
...                        "Terrible socks"])).tolist()
[False, True, False]
>>> d.duplicates(pa.array(["THE SHOES ARE GREAT, really comfortable, and light."])).tolist()
[True]
>>> len(d), (d.bands, d.rows_per_band)
(2, (21, 6))
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasketch import MinHash

#: datasketch's default seed: signatures equal ``MinHash(num_perm, seed=SEED)``'s.
SEED = 1
#: Candidates looked at per band key and run (the newest): bounds the work for a band that
#: very many dissimilar rows share (boilerplate), where one more candidate rarely matters.
MAX_CANDIDATES = 32
_NON_WORD = r"[^\p{L}\p{N}_\s]+"
_FNV_OFFSET, _FNV_PRIME = np.uint32(0x811C9DC5), np.uint32(0x01000193)
_FMIX = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35))
_BAND_SEED, _BAND_PRIME = np.uint64(0x9E3779B97F4A7C15), np.uint64(0x100000001B3)
_CHUNK = 1 << 16  # shingles (or candidate pairs) per vectorised step: 32 MB at 128 permutations


def is_text(type_: pa.DataType) -> bool:
    """True for the Arrow types ``dedupe="minhash"`` reads (strings, or all null).

    >>> is_text(pa.string()), is_text(pa.large_string()), is_text(pa.int64())
    (True, True, False)
    """
    return pa.types.is_string(type_) or pa.types.is_large_string(type_) or pa.types.is_null(type_)


def shingle_hashes(values: pa.Array, size: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """32-bit hashes of every text's word ``size``-grams: ``(hashes, offsets)``.

    Text ``i``'s shingles are ``hashes[offsets[i]:offsets[i + 1]]`` (repeats included: a
    MinHash ignores them). Nulls are empty texts.

    >>> h, off = shingle_hashes(pa.array(["Hello, world", None, "hello world!"]))
    >>> off.tolist(), h[:2].tolist() == h[2:].tolist()
    ([0, 2, 2, 4], True)
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_null(values.type):
        values = pa.array([""] * len(values), pa.string())
    text = pc.utf8_lower(values.fill_null(""))
    text = pc.utf8_trim_whitespace(pc.replace_substring_regex(text, _NON_WORD, " "))
    words = pc.utf8_split_whitespace(text)
    flat = pc.list_flatten(words)
    parents = np.asarray(pc.list_parent_indices(words))
    keep = np.asarray(pc.greater(pc.binary_length(flat), 0).fill_null(False))
    flat, parents = flat.filter(pa.array(keep)), parents[keep]
    counts = np.bincount(parents, minlength=len(values))
    encoded = flat.dictionary_encode()
    vocab = encoded.dictionary.cast(pa.binary()).to_pylist()
    digests = b"".join([hashlib.sha1(w).digest()[:4] for w in vocab])  # sha1_hash32's bytes
    word_hashes = np.frombuffer(digests, dtype="<u4").astype(np.uint32)
    word = word_hashes[np.asarray(encoded.indices, dtype=np.int64)]
    return _ngrams(word, counts, size)


def _ngrams(word: np.ndarray, counts: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of the word ``size``-grams of each text, from its words' hashes."""
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    if size == 1:
        return word, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    n_grams = np.where(counts >= size, counts - size + 1, np.minimum(counts, 1))
    offsets = np.concatenate([[0], np.cumsum(n_grams)]).astype(np.int64)
    first = np.repeat(starts - offsets[:-1], n_grams) + np.arange(offsets[-1])
    length = np.repeat(np.minimum(counts, size), n_grams)
    out = np.full(len(first), _FNV_OFFSET, dtype=np.uint32)
    for k in range(size):
        more = k < length
        out[more] = (out[more] ^ word[first[more] + k]) * _FNV_PRIME
    # A one-word shingle (a one-word text) is that word's hash, as for size 1.
    single = length == 1
    out[single] = word[first[single]]
    return out, offsets


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer (datasketch's pre-mix of the ``affine32`` scheme).

    >>> fmix32(np.array([0, 1], dtype=np.uint32)).tolist()
    [0, 1364076727]
    """
    s1, m1, s2, m2 = _FMIX
    h = h ^ (h >> s1)
    h = h * m1
    h = h ^ (h >> s2)
    h = h * m2
    return h ^ (h >> s1)


def permutations(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``(a, b)`` of datasketch's ``MinHash(num_perm, seed=SEED)`` (``affine32``)."""
    a, b = MinHash(num_perm=num_perm, seed=SEED).permutations
    return np.asarray(a, dtype=np.uint32), np.asarray(b, dtype=np.uint32)


def signatures(hashes: np.ndarray, offsets: np.ndarray, num_perm: int = 128) -> np.ndarray:
    """MinHash signatures (``len(offsets) - 1`` rows of ``num_perm`` uint32) of shingle sets.

    Equal to ``datasketch.MinHash(num_perm, seed=1)`` updated with the same shingles.

    >>> sig = signatures(np.array([7, 8, 8, 7], np.uint32), np.array([0, 2, 4, 4]), 16)
    >>> sig.shape, bool((sig[0] == sig[1]).all()), int(sig[2].min()) == 2**32 - 1
    ((3, 16), True, True)
    """
    a, b = permutations(num_perm)
    a, b = a[:, None], b[:, None]
    n = len(offsets) - 1
    out = np.full((n, num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    mixed = fmix32(hashes.astype(np.uint32, copy=False))
    counts = np.diff(offsets)
    # Permutations x shingles, filled in place: each permutation's values are contiguous, so
    # the per-text minimum is a reduceat along rows of memory (several times faster).
    buffer = np.empty((num_perm, _CHUNK), dtype=np.uint32)
    row = 0
    while row < n:
        # Whole texts per step, so each step's minima are final; a long text goes alone.
        end = int(np.searchsorted(offsets, offsets[row] + _CHUNK, "right")) - 1
        end = min(max(end, row + 1), n)
        rows = np.flatnonzero(counts[row:end]) + row
        if len(rows):
            lo, hi = offsets[row], offsets[end]
            if hi - lo > buffer.shape[1]:
                buffer = np.empty((num_perm, hi - lo), dtype=np.uint32)
            phv = buffer[:, : hi - lo]
            np.multiply(a, mixed[None, lo:hi], out=phv)
            np.add(phv, b, out=phv)
            out[rows] = np.minimum.reduceat(phv, offsets[rows] - lo, axis=1).T
        row = end
    return out


def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """``(bands, rows_per_band)``: the longest band at which a pair of similarity
    ``threshold`` shares some band with probability >= 0.99 (at least two bands).

    >>> lsh_params(0.8, 128), lsh_params(0.9, 128), lsh_params(0.5, 128)
    ((21, 6), (12, 10), (42, 3))
    """
    for r in range(num_perm // 2, 0, -1):
        b = num_perm // r
        if 1 - (1 - threshold**r) ** b >= 0.99:
            return b, r
    return num_perm // 2, 2 if num_perm >= 4 else 1


def band_keys(sig: np.ndarray, bands: int, rows_per_band: int) -> np.ndarray:
    """One 64-bit key per row and band (FNV over the band's values, seeded by the band)."""
    n = len(sig)
    values = sig[:, : bands * rows_per_band].reshape(n, bands, rows_per_band).astype(np.uint64)
    keys = np.broadcast_to((np.arange(bands, dtype=np.uint64) + 1) * _BAND_SEED, (n, bands))
    keys = keys.copy()
    for k in range(rows_per_band):
        keys = (keys ^ values[:, :, k]) * _BAND_PRIME
    return keys


class _SortedRuns:
    """Band keys of the indexed rows with each row's sequence number, as sorted runs."""

    def __init__(self) -> None:
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []

    def __len__(self) -> int:
        return sum(len(k) for k, _ in self.runs)

    def add(self, keys: np.ndarray, seqs: np.ndarray, oldest: int) -> None:
        # Stable on the key alone: seqs come in ascending, so equal keys stay oldest first.
        order = np.argsort(keys, kind="stable")
        self.runs.append((keys[order], seqs[order]))
        # Merge while the newest run is at least half its elder: O(log n) runs, each entry
        # merged O(log n) times; merging drops the entries of evicted rows.
        while len(self.runs) > 1 and len(self.runs[-2][0]) <= 2 * len(self.runs[-1][0]):
            (k1, s1), (k2, s2) = self.runs.pop(-2), self.runs.pop()
            self.runs.append(self._merged([(k1, s1), (k2, s2)], oldest))

    def compact(self, oldest: int) -> None:
        """One run, without the entries of evicted rows."""
        if self.runs:
            self.runs = [self._merged(self.runs, oldest)]

    @staticmethod
    def _merged(runs: list[tuple[np.ndarray, np.ndarray]], oldest: int) -> tuple:
        keys = np.concatenate([k for k, _ in runs])
        seqs = np.concatenate([s for _, s in runs])
        live = seqs >= oldest
        keys, seqs = keys[live], seqs[live]
        # Older runs first and each sorted: a stable sort (timsort, which finds the runs)
        # merges them in about linear time and keeps equal keys oldest first.
        order = np.argsort(keys, kind="stable")
        return keys[order], seqs[order]

    def lookup(self, keys: np.ndarray, rows: np.ndarray, oldest: int) -> tuple:
        """``(query_row, seq)`` of the live entries sharing a key with a query."""
        found_rows, found_seqs = [], []
        order = np.argsort(keys)  # sorted needles: searchsorted walks each run once
        keys, rows = keys[order], rows[order]
        for run_keys, run_seqs in self.runs:
            hi = np.searchsorted(run_keys, keys, "right")
            lo = np.maximum(np.searchsorted(run_keys, keys, "left"), hi - MAX_CANDIDATES)
            counts = hi - lo
            total = int(counts.sum())
            if not total:
                continue
            ends = np.cumsum(counts)
            pos = np.repeat(lo - (ends - counts), counts) + np.arange(total)
            found_rows.append(np.repeat(rows, counts))
            found_seqs.append(run_seqs[pos])
        if not found_rows:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        q, s = np.concatenate(found_rows), np.concatenate(found_seqs)
        live = s >= oldest
        return q[live], s[live]


class MinHashDeduper:
    """Flags texts that are near-duplicates (estimated Jaccard >= ``threshold`` of their
    shingle sets) of a row kept earlier, or earlier in the same call; keeps ``memory`` rows.

    >>> d = MinHashDeduper(threshold=0.5, memory=2)
    >>> d.duplicates(pa.array(["a b c d", "e f g h", "i j k l"])).tolist()
    [False, False, False]
    >>> d.duplicates(pa.array(["a b c d", "i j k l"])).tolist()  # "a b c d" was evicted
    [False, True]
    """

    def __init__(
        self,
        threshold: float = 0.8,
        num_perm: int = 128,
        memory: int = 1_000_000,
        shingle_size: int = 1,
    ) -> None:
        if not 0 < threshold <= 1:
            raise ValueError(f"minhash_threshold must be in (0, 1], got {threshold!r}")
        if num_perm < 8:
            raise ValueError(f"num_perm must be at least 8, got {num_perm!r}")
        if memory < 1 or shingle_size < 1:
            raise ValueError(f"memory and shingle_size must be >= 1, got {memory}, {shingle_size}")
        self.threshold, self.num_perm, self.memory = threshold, num_perm, memory
        self.shingle_size = shingle_size
        self.bands, self.rows_per_band = lsh_params(threshold, num_perm)
        # Agreement needed, as a count: estimated J = agreeing values / num_perm >= threshold.
        self._need = math.ceil(threshold * num_perm - 1e-9)
        self._fp = np.zeros((0, num_perm), dtype=np.uint16)
        self._runs = _SortedRuns()
        self._next = 0  # sequence number of the next row indexed; row s lives in slot s % memory

    def __len__(self) -> int:
        """Rows in the index (never more than ``memory``)."""
        return min(self._next, self.memory)

    @property
    def index_entries(self) -> int:
        """Band entries held, evicted rows' included until merged (<= 2 x rows x bands)."""
        return len(self._runs)

    @property
    def _oldest(self) -> int:
        return self._next - self.memory

    def signatures(self, values: pa.Array) -> np.ndarray:
        """The texts' MinHash signatures (one row of ``num_perm`` uint32 per text)."""
        return signatures(*shingle_hashes(values, self.shingle_size), self.num_perm)

    def duplicates(self, values: pa.Array) -> np.ndarray:
        """Which texts are near-duplicates of a kept one; the others are kept (indexed)."""
        if not is_text(values.type):
            raise TypeError(f"dedupe='minhash' compares texts, got a {values.type} column")
        if not len(values):
            return np.zeros(0, dtype=bool)
        sig = self.signatures(values)
        fp = (sig & np.uint32(0xFFFF)).astype(np.uint16)
        keys = band_keys(sig, self.bands, self.rows_per_band)
        dup = self._known(fp, keys)
        dup |= self._within(fp, keys, dup)
        self._insert(fp[~dup], keys[~dup])
        return dup

    def _known(self, fp: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """Rows near an indexed row."""
        dup = np.zeros(len(fp), dtype=bool)
        if not len(self):
            return dup
        rows = np.repeat(np.arange(len(fp), dtype=np.int64), self.bands)
        q, seqs = self._runs.lookup(keys.ravel(), rows, self._oldest)
        if not len(q):
            return dup
        pairs = np.unique(q * self.memory + seqs % self.memory)  # a pair once, whatever bands
        q, slots = pairs // self.memory, pairs % self.memory
        for lo in range(0, len(q), _CHUNK):
            qq, ss = q[lo : lo + _CHUNK], slots[lo : lo + _CHUNK]
            agree = (fp[qq] == self._fp[ss]).sum(axis=1)
            dup[qq[agree >= self._need]] = True
        return dup

    def _within(self, fp: np.ndarray, keys: np.ndarray, dup: np.ndarray) -> np.ndarray:
        """Rows near an earlier kept row of the same call (the first of a group is kept)."""
        out = np.zeros(len(fp), dtype=bool)
        idx = np.flatnonzero(~dup)
        if len(idx) < 2:
            return out
        k, r = keys[idx].ravel(), np.repeat(idx, self.bands)
        order = np.lexsort((r, k))
        k, r = k[order], r[order]
        same = k[1:] == k[:-1]
        shared = np.zeros(len(k), dtype=bool)
        shared[1:] |= same
        shared[:-1] |= same
        # Only rows that share a band key with another row of the call go through this loop.
        keys_of: dict[int, list[int]] = {}
        for key, row in zip(k[shared].tolist(), r[shared].tolist(), strict=True):
            keys_of.setdefault(row, []).append(key)
        kept: dict[int, list[int]] = {}
        for row in sorted(keys_of):
            candidates = {c for key in keys_of[row] for c in kept.get(key, ())}
            if candidates:
                c = np.fromiter(candidates, dtype=np.int64, count=len(candidates))
                if ((fp[c] == fp[row]).sum(axis=1) >= self._need).any():
                    out[row] = True
                    continue
            for key in keys_of[row]:
                bucket = kept.setdefault(key, [])
                bucket.append(row)
                if len(bucket) > MAX_CANDIDATES:
                    del bucket[0]
        return out

    def _insert(self, fp: np.ndarray, keys: np.ndarray) -> None:
        if len(fp) > self.memory:  # the earlier ones would be evicted at once
            self._next += len(fp) - self.memory
            fp, keys = fp[-self.memory :], keys[-self.memory :]
        if not len(fp):
            return
        seqs = self._next + np.arange(len(fp), dtype=np.int64)
        self._grow(self._next + len(fp))
        self._fp[seqs % self.memory] = fp
        self._next += len(fp)
        self._runs.add(keys.ravel(), np.repeat(seqs, self.bands), self._oldest)
        if len(self._runs) > 2 * len(self) * self.bands:
            self._runs.compact(self._oldest)

    def _grow(self, rows: int) -> None:
        """Room for ``rows`` slots (up to ``memory``), doubling: small streams stay small."""
        want = min(rows, self.memory)
        if want <= len(self._fp):
            return
        size = min(self.memory, max(want, 2 * len(self._fp), 1024))
        grown = np.zeros((size, self.num_perm), dtype=np.uint16)
        grown[: len(self._fp)] = self._fp
        self._fp = grown
