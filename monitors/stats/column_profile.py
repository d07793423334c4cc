"""Column profiles: the per-column reference summaries a :class:`monitors.profile.Profile` holds.

Each summary is built from one Arrow column, merges with another summary of the same kind and
round-trips through one row of the profile's Parquet file (scalars as JSON in ``meta``, arrays
in the ``values``/``keys``/``counts`` list columns).

>>> import pyarrow as pa
>>> a = build_column("numeric", pa.array([1.0, 2.0, None]), ProfileOptions())
>>> b = build_column("numeric", pa.array([3.0, 4.0]), ProfileOptions())
>>> m = a.merge(b)
>>> m.n, m.n_null, m.values.tolist(), round(m.std, 4)
(4, 1, [1.0, 2.0, 3.0, 4.0], 1.118)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from monitors.stats.counts import sum_counts, truncate, value_counts
from monitors.stats.doc_sample import doc_frequencies, merge_doc_samples, sample_docs
from monitors.stats.embedding import embedding_matrix, merge_samples, novelty_cutoff, sample_rows
from monitors.stats.mmd import median_bandwidth
from monitors.stats.sketch import merge_sketches, quantile_sketch
from monitors.stats.text import as_strings, tokenize, vocab_index, word_counts

MAX_WORDS = 256  # words-per-row histogram: the last bin holds everything longer
_MAY_BE_ZERO = ("seed", "doc_sample", "doc_sample_tokens")  # 0 texts: no calibration sample


@dataclass(frozen=True)
class ProfileOptions:
    """Size limits of a profile: positive integers (``seed`` and the text sample sizes >= 0)."""

    exact_limit: int = 100_000
    sketch_size: int = 2000
    max_categories: int = 1000
    max_vocab: int = 20_000
    embedding_sample: int = 1000
    doc_sample: int = 2000
    doc_sample_tokens: int = 100_000
    seed: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            low = 0 if f.name in _MAY_BE_ZERO else (2 if f.name == "sketch_size" else 1)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"{f.name} must be an integer >= {low}, got {v!r}")


class ColumnProfile:
    """Base of the column summaries: ``n`` non-null values and ``n_null`` missing ones."""

    kind: ClassVar[str]
    n: int
    n_null: int

    def merge(self, other: ColumnProfile) -> ColumnProfile:  # pragma: no cover - interface
        raise NotImplementedError

    def _check_merge(self, other: ColumnProfile) -> None:
        if other.kind != self.kind:
            raise ValueError(f"cannot merge a {self.kind} profile with a {other.kind} profile")

    def to_row(self, name: str) -> dict[str, Any]:
        row = {"column": name, "kind": self.kind, "values": None, "keys": None, "counts": None}
        row["meta"] = json.dumps(self._meta())
        return row

    def _meta(self) -> dict[str, Any]:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self) -> str:
        return f"{self.kind}, {self.n:,} values, {self.n_null:,} missing"


@dataclass
class NumericProfile(ColumnProfile):
    """Moments, range and the sorted values (whole sample, or a quantile sketch)."""

    kind: ClassVar[str] = "numeric"
    n: int
    n_null: int
    mean: float
    m2: float
    min: float
    max: float
    values: np.ndarray
    exact: bool
    sketch_size: int = 2000
    exact_limit: int = 100_000

    @property
    def std(self) -> float:
        """Population standard deviation of the reference values."""
        return float(np.sqrt(self.m2 / self.n)) if self.n else 0.0

    @classmethod
    def build(cls, arr: pa.Array, opts: ProfileOptions) -> NumericProfile:
        x = numeric_values(arr)
        x.sort()
        exact = len(x) <= opts.exact_limit
        vals = x if exact else quantile_sketch(x, opts.sketch_size)
        mean = float(x.mean()) if len(x) else 0.0
        m2 = float(((x - mean) ** 2).sum()) if len(x) else 0.0
        lo, hi = (float(x[0]), float(x[-1])) if len(x) else (np.inf, -np.inf)
        n_null = len(arr) - len(x)
        return cls(
            len(x), n_null, mean, m2, lo, hi, vals, exact, opts.sketch_size, opts.exact_limit
        )

    def merge(self, other: ColumnProfile) -> NumericProfile:
        self._check_merge(other)
        assert isinstance(other, NumericProfile)
        n = self.n + other.n
        if not self.n or not other.n:
            base = self if self.n else other
            return NumericProfile(**{**base.__dict__, "n_null": self.n_null + other.n_null})
        delta = other.mean - self.mean
        mean = self.mean + delta * other.n / n
        m2 = self.m2 + other.m2 + delta**2 * self.n * other.n / n
        exact = self.exact and other.exact and n <= self.exact_limit
        if exact:
            vals = np.sort(np.concatenate([self.values, other.values]))
        else:
            parts = [(self.values, self.n), (other.values, other.n)]
            vals = merge_sketches(parts, self.sketch_size)
        lo, hi = min(self.min, other.min), max(self.max, other.max)
        nulls = self.n_null + other.n_null
        return NumericProfile(
            n, nulls, mean, m2, lo, hi, vals, exact, self.sketch_size, self.exact_limit
        )

    def _meta(self) -> dict[str, Any]:
        keys = ("n", "n_null", "mean", "m2", "min", "max", "exact", "sketch_size", "exact_limit")
        return {k: getattr(self, k) for k in keys}

    def to_row(self, name: str) -> dict[str, Any]:
        return {**super().to_row(name), "values": self.values.tolist()}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> NumericProfile:
        return cls(values=np.asarray(row["values"] or [], np.float64), **json.loads(row["meta"]))

    def describe(self) -> str:
        how = "whole sample" if self.exact else f"{len(self.values)}-point quantile sketch"
        return f"{super().describe()}, range [{self.min:g}, {self.max:g}], {how}"


@dataclass
class CategoricalProfile(ColumnProfile):
    """Counts of the most frequent values (as strings) and of all other values."""

    kind: ClassVar[str] = "categorical"
    n: int
    n_null: int
    keys: list[str]
    counts: np.ndarray
    other: int = 0
    max_categories: int = 1000

    @classmethod
    def build(cls, arr: pa.Array, opts: ProfileOptions) -> CategoricalProfile:
        s = as_strings(arr)
        keys, counts = value_counts(s.drop_null())
        keys, (counts,), other = truncate(keys, [counts], opts.max_categories)
        return cls(len(s) - s.null_count, s.null_count, keys, counts, other, opts.max_categories)

    def merge(self, other: ColumnProfile) -> CategoricalProfile:
        self._check_merge(other)
        assert isinstance(other, CategoricalProfile)
        keys, counts = sum_counts(self.keys, [self.counts], other.keys, [other.counts])
        keys, (counts,), rest = truncate(keys, counts, self.max_categories)
        return CategoricalProfile(
            self.n + other.n,
            self.n_null + other.n_null,
            keys,
            counts,
            self.other + other.other + rest,
            self.max_categories,
        )

    def _meta(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("n", "n_null", "other", "max_categories")}

    def to_row(self, name: str) -> dict[str, Any]:
        return {**super().to_row(name), "keys": self.keys, "counts": self.counts.tolist()}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> CategoricalProfile:
        counts = np.asarray(row["counts"] or [], np.int64)
        return cls(keys=list(row["keys"] or []), counts=counts, **json.loads(row["meta"]))

    def describe(self) -> str:
        return f"{super().describe()}, {len(self.keys)} categories"


@dataclass
class TextProfile(ColumnProfile):
    """Word counts of the vocabulary, other tokens, words-per-row histogram, empty texts.

    Also, when built by this version: ``doc_freq`` (texts containing each word) and a bounded
    sample of texts as vocabulary ids (:mod:`monitors.stats.doc_sample`); ``None`` in profiles
    saved before they existed, which then fall back to word-level estimates.
    """

    kind: ClassVar[str] = "text"
    n: int
    n_null: int
    n_empty: int
    vocab: list[str]
    counts: np.ndarray
    other_tokens: int
    length_counts: np.ndarray
    max_vocab: int = 20_000
    doc_freq: np.ndarray | None = None
    sample_ids: np.ndarray | None = None
    sample_offsets: np.ndarray | None = None
    doc_sample: int = 2000
    doc_sample_tokens: int = 100_000
    _ARRAYS: ClassVar[tuple[str, ...]] = ("doc_freq", "sample_ids", "sample_offsets")

    @property
    def total_tokens(self) -> int:
        return int(self.counts.sum()) + self.other_tokens

    @property
    def oov_rate(self) -> float:
        """Share of the reference's own tokens outside the kept vocabulary."""
        return self.other_tokens / self.total_tokens if self.total_tokens else 0.0

    @property
    def expected_oov_rate(self) -> float:
        """OOV share expected of *new* text from the reference distribution (Good-Turing).

        New text contains words the reference never saw at about the rate of the reference's
        words that only one of its texts contains (leave-one-text-out missing mass; with no
        ``doc_freq``, words seen once), on top of tokens outside the kept vocabulary.
        """
        once = self.doc_freq == 1 if self.doc_freq is not None else self.counts == 1
        rare = int(self.counts[once].sum())
        return (self.other_tokens + rare) / self.total_tokens if self.total_tokens else 0.0

    @classmethod
    def build(cls, arr: pa.Array, opts: ProfileOptions) -> TextProfile:
        s = as_strings(arr)
        tokens, rows = tokenize(s)
        keys, counts = value_counts(tokens)
        keys, (counts,), other = truncate(keys, [counts], opts.max_vocab)
        ids = vocab_index(tokens, pa.array(keys, pa.string()))
        valid = s.is_valid().to_numpy(zero_copy_only=False)
        words = word_counts(rows, len(s))[valid]
        lengths = np.bincount(np.minimum(words, MAX_WORDS), minlength=MAX_WORDS + 1)
        n = int(valid.sum())
        sample = sample_docs(
            ids, rows, np.flatnonzero(valid), opts.doc_sample, opts.doc_sample_tokens, opts.seed
        )
        return cls(n, len(s) - n, int((words == 0).sum()), keys, counts, other, lengths,
                   opts.max_vocab, doc_frequencies(ids, rows, len(keys)), *sample,
                   opts.doc_sample, opts.doc_sample_tokens)  # fmt: skip

    def merge(self, other: ColumnProfile) -> TextProfile:
        self._check_merge(other)
        assert isinstance(other, TextProfile)
        has_df = self.doc_freq is not None and other.doc_freq is not None
        arrays = [[p.counts, p.doc_freq if has_df else p.counts] for p in (self, other)]
        keys, merged = sum_counts(self.vocab, arrays[0], other.vocab, arrays[1])
        keys, (counts, df), rest = truncate(keys, merged, self.max_vocab)
        sides = [(p.sample_ids, p.sample_offsets, p.vocab, p.n) for p in (self, other)]
        sample = (None, None)
        if all(side[0] is not None for side in sides):
            sample = merge_doc_samples(*sides, keys, self.doc_sample, self.doc_sample_tokens)
        return TextProfile(
            self.n + other.n, self.n_null + other.n_null, self.n_empty + other.n_empty, keys,
            counts, self.other_tokens + other.other_tokens + rest,
            self.length_counts + other.length_counts, self.max_vocab,
            df if has_df else None, *sample, self.doc_sample, self.doc_sample_tokens,
        )  # fmt: skip

    def _meta(self) -> dict[str, Any]:
        keys = ("n", "n_null", "n_empty", "other_tokens", "max_vocab", "doc_sample")
        meta = {k: getattr(self, k) for k in (*keys, "doc_sample_tokens")}
        return {**meta, "length_counts": self.length_counts.tolist()}

    def to_row(self, name: str) -> dict[str, Any]:
        row = {**super().to_row(name), "keys": self.vocab, "counts": self.counts.tolist()}
        for k in self._ARRAYS:
            value = getattr(self, k)
            row[k] = None if value is None else value.tolist()
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> TextProfile:
        meta = json.loads(row["meta"])
        meta["length_counts"] = np.asarray(meta["length_counts"], np.int64)
        counts = np.asarray(row["counts"] or [], np.int64)
        dtypes = {"doc_freq": np.int64, "sample_ids": np.int32, "sample_offsets": np.int64}
        arrays = {
            k: None if row.get(k) is None else np.asarray(row[k], dtypes[k]) for k in cls._ARRAYS
        }
        return cls(vocab=list(row["keys"] or []), counts=counts, **arrays, **meta)

    def describe(self) -> str:
        docs = 0 if self.sample_offsets is None else len(self.sample_offsets) - 1
        return f"{super().describe()}, vocabulary {len(self.vocab):,} words, {docs:,} texts kept"


@dataclass
class EmbeddingProfile(ColumnProfile):
    """A uniform sample of reference vectors, the kernel bandwidth and a novelty cutoff."""

    kind: ClassVar[str] = "embedding"
    n: int
    n_null: int
    dim: int
    sample: np.ndarray
    bandwidth: float
    nn_cutoff: float
    embedding_sample: int = 1000
    seed: int = 0

    @classmethod
    def build(cls, arr: pa.Array, opts: ProfileOptions) -> EmbeddingProfile:
        mat, valid = embedding_matrix(arr)
        sample = sample_rows(mat, opts.embedding_sample, opts.seed)
        n = int(valid.sum())
        return cls._finish(n, len(arr) - n, sample, opts.embedding_sample, opts.seed)

    @classmethod
    def _finish(cls, n: int, nulls: int, sample: np.ndarray, k: int, seed: int):
        dim = sample.shape[1] if sample.ndim == 2 else 0
        cutoff = novelty_cutoff(sample)
        return cls(n, nulls, dim, sample, median_bandwidth(sample), cutoff, k, seed)

    def merge(self, other: ColumnProfile) -> EmbeddingProfile:
        self._check_merge(other)
        assert isinstance(other, EmbeddingProfile)
        if self.n and other.n and self.dim != other.dim:
            raise ValueError(f"cannot merge embeddings of dimension {self.dim} and {other.dim}")
        k, seed = self.embedding_sample, self.seed
        sample = merge_samples(self.sample, self.n, other.sample, other.n, k, seed)
        nulls = self.n_null + other.n_null
        return EmbeddingProfile._finish(self.n + other.n, nulls, sample, k, seed)

    def _meta(self) -> dict[str, Any]:
        keys = ("n", "n_null", "dim", "bandwidth", "nn_cutoff", "embedding_sample", "seed")
        return {k: getattr(self, k) for k in keys}

    def to_row(self, name: str) -> dict[str, Any]:
        return {**super().to_row(name), "values": self.sample.ravel().tolist()}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> EmbeddingProfile:
        meta = json.loads(row["meta"])
        flat = np.asarray(row["values"] or [], np.float64)
        return cls(sample=flat.reshape(-1, max(meta["dim"], 1)), **meta)


COLUMN_TYPES: dict[str, type] = {
    c.kind: c for c in (NumericProfile, CategoricalProfile, TextProfile, EmbeddingProfile)
}


def build_column(kind: str, arr: pa.Array, opts: ProfileOptions) -> ColumnProfile:
    """The summary of one column of the given kind."""
    if kind not in COLUMN_TYPES:
        raise ValueError(f"kind must be one of {', '.join(COLUMN_TYPES)}; got {kind!r}")
    return COLUMN_TYPES[kind].build(arr, opts)


def numeric_values(arr: pa.Array) -> np.ndarray:
    """Finite values of a numeric (or temporal/boolean) column as float64; others dropped."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_temporal(arr.type):
        arr = arr.cast(pa.int64())
    try:
        x = arr.cast(pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ValueError(f"expected a numeric column, got {arr.type}: {exc}") from None
    return x[np.isfinite(x)].astype(np.float64, copy=True)
