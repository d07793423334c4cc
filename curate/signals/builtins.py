"""Built-in signals, vectorised over Arrow columns (pyarrow.compute, numpy, rapidfuzz).

Each is a leaf :class:`~curate.signals.leaf.Builtin` built with ``Signal.contains(...)`` etc.
``column`` names an input column, or an ``outputs``/``gts`` column (``"outputs"``,
``"outputs.label"``). Each class registers itself in ``BUILTINS`` and declares the parameters
the shared contract test builds it with (``_unit_test_params``). ``margin`` and ``label_issue``
live in :mod:`curate.signals.uncertainty`, imported here so they register with the others.

>>> import numpy as np
>>> from curate.batch import Batch
>>> b = Batch.from_log(np.arange(3), np.zeros(3, np.int64),
...                    {"text": ["Nikee shoes", "Adidas", None]})
>>> Contains("nike", fuzzy=80).evaluate(b).tolist()
[True, False, False]
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process

from curate.arrow_values import arrow_to_numpy, null_mask
from curate.errors import SignalError
from curate.signals.leaf import BUILTINS, Builtin, batch_column
from curate.signals.node import Signal
from curate.signals.uncertainty import LabelIssue, Margin

__all__ = [
    "BUILTINS",
    "Builtin",
    "Confidence",
    "Contains",
    "Entropy",
    "InSet",
    "IsNull",
    "LabelIssue",
    "Length",
    "Margin",
    "Matches",
    "batch_column",
]


def _quote(value: Any) -> str:
    return repr(value)


class Contains(Builtin):
    """True where the text contains ``term`` (or any of several terms).

    ``fuzzy=`` is a rapidfuzz ``partial_ratio`` cutoff in 0-100 that also accepts misspellings
    ("nikee" for "nike" scores 89); without it the match is an exact, by default
    case-insensitive, substring test done by Arrow.
    """

    __slots__ = ("terms", "case", "fuzzy")

    def __init__(
        self,
        term: str | Sequence[str],
        column: str = "text",
        *,
        case: bool = False,
        fuzzy: float | None = None,
    ) -> None:
        terms = [term] if isinstance(term, str) else list(term)
        if not terms or not all(isinstance(t, str) and t for t in terms):
            raise ValueError(f"contains: term must be a non-empty string or strings, got {term!r}")
        if fuzzy is not None and not 0 < fuzzy <= 100:
            raise ValueError(f"contains: fuzzy must be a score cutoff in (0, 100], got {fuzzy!r}")
        # Tuples: the terms are part of the name, which must not change after construction.
        self._set(terms=tuple(terms), case=case, fuzzy=fuzzy)
        shown = _quote(terms[0]) if len(terms) == 1 else _quote(terms)
        extras = (", case=True" if case else "") + (f", fuzzy={fuzzy:g}" if fuzzy else "")
        super().__init__(f"contains({column}, {shown}{extras})", column)

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {"term": "nike"}
        yield {"term": ["NIKE", "adidas", "a.b"], "case": True}  # the alternation path
        yield {"term": "naive", "fuzzy": 80}
        yield {"term": "1", "column": "number"}  # a non-text column is cast to text

    def values(self, batch: Any) -> np.ndarray:
        col = _as_text(self, batch_column(self, batch, self.column))
        if self.fuzzy is None:
            return self._exact(col)
        texts = col.fill_null("").to_pylist()
        terms = self.terms if self.case else [t.lower() for t in self.terms]
        processor = None if self.case else str.lower
        scores = process.cdist(
            terms, texts, scorer=fuzz.partial_ratio, score_cutoff=self.fuzzy, processor=processor
        )
        return (scores > 0).any(axis=0) & col.is_valid().to_numpy(zero_copy_only=False)

    def _exact(self, col: pa.Array) -> np.ndarray:
        if len(self.terms) == 1:
            found = pc.match_substring(col, self.terms[0], ignore_case=not self.case)
            return found.fill_null(False).to_numpy(zero_copy_only=False)
        # One pass of an alternation instead of one pass per term (about 10x faster for 10 terms).
        alternation = "(?:" + "|".join(re.escape(t) for t in self.terms) + ")"
        try:
            found = pc.match_substring_regex(col, alternation, ignore_case=not self.case)
            return found.fill_null(False).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            hit = np.zeros(len(col), dtype=bool)
            for t in self.terms:
                found = pc.match_substring(col, t, ignore_case=not self.case)
                hit |= found.fill_null(False).to_numpy(zero_copy_only=False)
            return hit


class Matches(Builtin):
    """True where the text matches ``pattern`` (a regular expression) anywhere.

    Arrow's RE2 engine is used; patterns RE2 cannot run (look-arounds, back-references) fall
    back to Python's ``re``.
    """

    __slots__ = ("pattern", "_regex")

    def __init__(self, pattern: str, column: str = "text") -> None:
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"matches: invalid regular expression {pattern!r}: {exc}") from exc
        self._set(pattern=pattern, _regex=regex)
        super().__init__(f"matches({column}, {_quote(pattern)})", column)

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {"pattern": r"\d+"}
        yield {"pattern": r"(?i)\bnike\b"}
        yield {"pattern": r"\w(?=e)"}  # a look-ahead: RE2 cannot run it, Python's re does

    def values(self, batch: Any) -> np.ndarray:
        col = _as_text(self, batch_column(self, batch, self.column))
        try:
            found = pc.match_substring_regex(col, self.pattern)
            return found.fill_null(False).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            search = self._regex.search
            return np.array([t is not None and bool(search(t)) for t in col.to_pylist()])


class IsNull(Builtin):
    """True where the value is missing: None, NaN, and empty/blank text when ``empty=True``."""

    __slots__ = ("empty",)

    def __init__(self, column: str = "text", empty: bool = False) -> None:
        self._set(empty=empty)
        super().__init__(f"is_null({column}{', empty=True' if empty else ''})", column)

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {}
        yield {"empty": True}
        yield {"column": "number"}
        yield {"column": "embedding"}

    def values(self, batch: Any) -> np.ndarray:
        return null_mask(batch_column(self, batch, self.column), self.empty)


class Length(Builtin):
    """Number of characters of text, or of items of a list; NaN where missing."""

    __slots__ = ()

    def __init__(self, column: str = "text") -> None:
        super().__init__(f"length({column})", column)

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {}
        yield {"column": "embedding"}

    def values(self, batch: Any) -> np.ndarray:
        col = batch_column(self, batch, self.column)
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            lengths = pc.utf8_length(col)
        elif pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
            lengths = pc.list_value_length(col)
        elif pa.types.is_fixed_size_list(col.type):
            lengths = pc.if_else(col.is_valid(), col.type.list_size, None)
        elif pa.types.is_null(col.type):
            # Every value of this batch is missing: no length, as for a single missing text.
            return np.full(len(col), np.nan)
        else:
            raise SignalError(
                f"signal {str(self)!r}: column {self.column!r} is {col.type}, not text"
            )
        return lengths.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False)


class InSet(Builtin):
    """True where the value is one of ``values``."""

    __slots__ = ("options",)

    def __init__(self, column: str, values: Sequence[Any]) -> None:
        if isinstance(values, str) or not len(values):
            raise ValueError(f"in_set: values must be a non-empty collection, got {values!r}")
        self._set(options=tuple(values))  # a tuple, like Contains.terms
        super().__init__(f"in_set({column}, {_quote(list(values))})", column)

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {"column": "category", "values": ["red", "green"]}
        yield {"column": "number", "values": [0.5, 2]}
        yield {"column": "number", "values": ["0.5"]}  # mismatched types compare as text

    def values(self, batch: Any) -> np.ndarray:
        col = batch_column(self, batch, self.column)
        try:
            options = pa.array(self.options).cast(col.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            options = pa.array([str(v) for v in self.options])
            col = col.cast(pa.string())
        return pc.is_in(col, value_set=options).to_numpy(zero_copy_only=False)


class _Distribution(Builtin, abstract=True):
    """Base of signals over each row's predicted class probabilities."""

    __slots__ = ()

    def probabilities(self, batch: Any) -> tuple[np.ndarray, np.ndarray]:
        """Flat probabilities and the start offset of each row (rows may differ in length)."""
        col = batch_column(self, batch, self.column)
        if not (pa.types.is_list(col.type) or pa.types.is_fixed_size_list(col.type)):
            if pa.types.is_floating(col.type) or pa.types.is_integer(col.type):
                p = arrow_to_numpy(col).astype(np.float64)
                flat = np.stack([p, 1.0 - p], axis=1).reshape(-1)
                return flat, np.arange(0, 2 * len(p), 2)
            raise SignalError(
                f"signal {str(self)!r}: column {self.column!r} is {col.type}; expected a list of "
                "class probabilities per row (or one probability for binary models)"
            )
        if col.null_count:
            raise SignalError(f"signal {str(self)!r}: {col.null_count} rows have no probabilities")
        if pa.types.is_fixed_size_list(col.type):
            k = col.type.list_size
            flat = col.flatten().to_numpy(zero_copy_only=False).astype(np.float64)
            return flat, np.arange(0, len(col) * k, k)
        offsets = col.offsets.to_numpy()
        if (np.diff(offsets) == 0).any():
            raise SignalError(f"signal {str(self)!r}: some rows have an empty probability list")
        flat = col.flatten().to_numpy(zero_copy_only=False).astype(np.float64)
        return flat, offsets[:-1] - offsets[0]


class Confidence(_Distribution):
    """The highest class probability of each row."""

    __slots__ = ()

    def __init__(self, column: str = "outputs") -> None:
        super().__init__(f"confidence({column})", column)

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {}

    def values(self, batch: Any) -> np.ndarray:
        flat, starts = self.probabilities(batch)
        if len(starts) == 0:
            return np.zeros(0)
        return np.maximum.reduceat(flat, starts)


class Entropy(_Distribution):
    """Shannon entropy of each row's distribution, in nats (or in [0, 1] with ``normalize``)."""

    __slots__ = ("normalize",)

    def __init__(self, column: str = "outputs", normalize: bool = False) -> None:
        self._set(normalize=normalize)
        super().__init__(f"entropy({column}{', normalize=True' if normalize else ''})", column)

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {}
        yield {"normalize": True}

    def values(self, batch: Any) -> np.ndarray:
        flat, starts = self.probabilities(batch)
        if len(starts) == 0:
            return np.zeros(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(flat > 0, -flat * np.log(flat), 0.0)
        h = np.add.reduceat(terms, starts)
        if self.normalize:
            k = np.diff(np.append(starts, len(flat)))
            with np.errstate(divide="ignore", invalid="ignore"):
                h = np.where(k > 1, h / np.log(np.maximum(k, 2)), 0.0)
        return h


def _as_text(sig: Signal, col: pa.Array) -> pa.Array:
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        return col
    if pa.types.is_null(col.type):
        return pa.nulls(len(col), pa.string())
    try:
        return col.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SignalError(f"signal {str(sig)!r}: column is {col.type}, not text") from exc
