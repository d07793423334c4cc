"""The vectorised DATA_INTEGRITY checks: each returns a violation mask and a reason per row.

A check gets the measured Arrow column and the check's config and returns ``(mask, reason)``
where ``reason`` is one string for every violating row. Missing values (None/NaN) violate
``non_null`` only; range, set and pattern checks skip them, as Great Expectations does, so one
null is not reported by every check on the column.

>>> import pyarrow as pa
>>> mask, why = less_than(pa.array([1.0, 5.0, None, float("nan")]), threshold=3)
>>> mask.tolist(), why
([False, True, False, False], 'value is not < 3')
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from curate.arrow_values import null_mask

CheckResult = tuple[np.ndarray, str]


def _numbers(col: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(values as float64, mask of present values that are not numbers)."""
    t = col.type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        values = col.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False)
        return values, np.zeros(len(col), dtype=bool)
    if pa.types.is_boolean(t):
        values = col.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False)
        return values, np.zeros(len(col), dtype=bool)
    present = col.is_valid().to_numpy(zero_copy_only=False)
    return np.full(len(col), np.nan), present


def _present(col: pa.Array) -> np.ndarray:
    return ~null_mask(col)


def non_null(col: pa.Array, *, empty_is_null: bool = False, **_: Any) -> CheckResult:
    """Violates where the value is None or NaN (or blank text, with ``empty_is_null``)."""
    return null_mask(col, empty_is_null), "value is missing"


def _compare(col: pa.Array, test: Callable[[np.ndarray], np.ndarray], reason: str) -> CheckResult:
    values, not_number = _numbers(col)
    present = ~np.isnan(values)
    with np.errstate(invalid="ignore"):
        ok = test(values)
    if not_number.any():
        return not_number | (present & ~ok), f"{reason} (or not a number)"
    return present & ~ok, reason


def less_than(col: pa.Array, *, threshold: float, **_: Any) -> CheckResult:
    """Violates where a present value is not strictly below ``threshold``."""
    return _compare(col, lambda v: v < threshold, f"value is not < {threshold:g}")


def greater_than(col: pa.Array, *, threshold: float, **_: Any) -> CheckResult:
    """Violates where a present value is not strictly above ``threshold``."""
    return _compare(col, lambda v: v > threshold, f"value is not > {threshold:g}")


def between(col: pa.Array, *, lower: float, upper: float, **_: Any) -> CheckResult:
    """Violates where a present value is outside ``[lower, upper]``."""
    return _compare(
        col, lambda v: (v >= lower) & (v <= upper), f"value is outside [{lower:g}, {upper:g}]"
    )


def in_set(col: pa.Array, *, values: Sequence[Any], **_: Any) -> CheckResult:
    """Violates where a present value is not one of ``values``."""
    reason = f"value is not one of {list(values)!r}"[:200]
    if pa.types.is_floating(col.type):
        col = pc.add(col, 0.0)  # -0.0 + 0.0 is 0.0: Arrow's hash set tells the zeros apart
    try:
        options = pa.array(list(values)).cast(col.type)
        member = pc.is_in(col, value_set=options)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        try:
            text = col.cast(pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # lists, structs: never members
            return _present(col), reason
        member = pc.is_in(text, value_set=pa.array([str(v) for v in values]))
    ok = member.to_numpy(zero_copy_only=False)
    return _present(col) & ~ok, reason


def matches(col: pa.Array, *, pattern: str, **_: Any) -> CheckResult:
    """Violates where a present value is not text matching ``pattern`` (anywhere)."""
    present = _present(col)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        return present, f"value is not text (expected a match for {pattern!r})"
    try:
        found = pc.match_substring_regex(col, pattern).fill_null(False)
        ok = found.to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        import re

        regex = re.compile(pattern)
        ok = np.array([v is not None and bool(regex.search(v)) for v in col.to_pylist()])
    return present & ~ok, f"value does not match {pattern!r}"


_DTYPES: dict[str, Callable[[pa.DataType], bool]] = {
    "int": pa.types.is_integer,
    "float": lambda t: pa.types.is_floating(t) or pa.types.is_integer(t),
    "number": lambda t: pa.types.is_floating(t) or pa.types.is_integer(t),
    "str": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
    "bool": pa.types.is_boolean,
    "list": lambda t: pa.types.is_list(t) or pa.types.is_fixed_size_list(t),
    "timestamp": pa.types.is_timestamp,
}
DTYPES = tuple(_DTYPES)


def dtype(col: pa.Array, *, dtype: str, problem_rows: np.ndarray | None = None, **_: Any):
    """Violates where a present value is not of type ``dtype`` (int, float, str, bool, list...).

    ``problem_rows`` marks cells whose type differed from the rest of their column when the call
    was normalised; they were stored as null and are reported here.
    """
    wrong = np.zeros(len(col), dtype=bool)
    if not pa.types.is_null(col.type) and not _DTYPES[dtype](col.type):
        wrong = _present(col)
    if problem_rows is not None:
        wrong |= problem_rows
    return wrong, f"value is not of type {dtype}"


def z_score(col: pa.Array, *, mean: float, std: float, z_threshold: float = 3.0, **_: Any):
    """Violates where ``|x - mean| / std`` exceeds ``z_threshold`` (mean and std of a reference)."""
    scale = std if std > 0 else np.finfo(float).tiny
    return _compare(
        col,
        lambda v: np.abs(v - mean) / scale <= z_threshold,
        f"|z| > {z_threshold:g} against the reference (mean {mean:.4g}, std {std:.4g})",
    )


def hash_values(col: pa.Array) -> np.ndarray:
    """64-bit hashes of an Arrow column's values (vectorised through pandas).

    Lists, structs and maps become numpy arrays or dicts in pandas, which cannot be hashed:
    their ``repr`` is hashed instead.
    """
    if pa.types.is_nested(col.type):
        values = np.array([None if v is None else repr(v) for v in col.to_pylist()], dtype=object)
    else:
        values = np.asarray(col.to_pandas(), dtype=object)
    return pd.util.hash_array(values)


class DuplicateTracker:
    """Flags values already seen in this stream, remembering at most ``memory`` recent values."""

    def __init__(self, memory: int = 1_000_000) -> None:
        self.memory = memory
        self._chunks: deque[np.ndarray] = deque()
        self._known = np.zeros(0, dtype=np.uint64)

    def __call__(self, col: pa.Array, **_: Any) -> CheckResult:
        present = _present(col)
        h = hash_values(col)
        dup = (np.isin(h, self._known) | pd.Series(h).duplicated().to_numpy()) & present
        new = h[present & ~dup]
        self._chunks.append(new)
        total = sum(len(c) for c in self._chunks)
        while total > self.memory and len(self._chunks) > 1:
            total -= len(self._chunks.popleft())
        self._known = np.concatenate(list(self._chunks))
        return dup, "value was already logged"


CHECKS: dict[str, Callable[..., CheckResult]] = {
    "non_null": non_null,
    "less_than": less_than,
    "greater_than": greater_than,
    "between": between,
    "in_set": in_set,
    "matches": matches,
    "dtype": dtype,
    "z_score": z_score,
}
INTEGRITY_TYPES = (*CHECKS, "duplicate")
