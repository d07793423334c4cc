"""Turning logged values into typed Arrow columns, and Arrow columns back into numpy.

A column that Arrow cannot hold as one type (mixed types, nested junk, str beside bytes) is not an
error of the whole call: the majority type wins and the other cells become nulls, each reported as
a :class:`CellProblem` so the caller can quarantine it with its original value.

>>> arr, problems = to_arrow_column("x", [1, "two", 3.5], "inputs")
>>> arr.to_pylist(), [(p.row, p.value) for p in problems]
([1.0, None, 3.5], [(1, 'two')])
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.errors import LogInputError


@dataclass
class CellProblem:
    """A value that could not be stored as its column's type; it is reported, not lost."""

    part: str
    column: str
    row: int
    value: Any
    reason: str


def _is_tabular(obj: Any) -> bool:
    return isinstance(obj, pa.Table | pa.RecordBatch) or type(obj).__name__ == "DataFrame"


def columns_of(obj: Any, part: str) -> dict[str, Any]:
    """The columns of one ``log()`` argument, as a dict of sequences (no copying of data)."""
    if isinstance(obj, pa.Table | pa.RecordBatch):
        return {name: obj.column(name) for name in obj.column_names}
    if type(obj).__name__ == "DataFrame" and hasattr(obj, "columns"):
        return {str(c): obj[c].to_numpy() for c in obj.columns}
    if isinstance(obj, dict):
        if not obj:
            raise LogInputError(f"{part}: empty dict; expected at least one column")
        return {str(k): v for k, v in obj.items()}
    if isinstance(obj, list) and obj and all(isinstance(r, dict) for r in obj):
        keys: dict[str, None] = {}
        for r in obj:
            keys.update(dict.fromkeys(map(str, r)))
        return {k: [r.get(k) for r in obj] for k in keys}
    if part != "inputs" and isinstance(obj, list | tuple | np.ndarray | pa.Array | pa.ChunkedArray):
        return {part: obj}
    if part != "inputs" and type(obj).__name__ == "Series":
        return {part: obj.to_numpy()}
    raise LogInputError(
        f"{part}: unsupported type {type(obj).__name__}; expected a dict of columns, a list of "
        "row dicts, a pandas DataFrame or a pyarrow Table"
        + ("" if part == "inputs" else ", or one sequence with a value per row")
    )


def column_length(name: str, values: Any, part: str) -> int:
    """Number of rows in one column; a clear error for scalars and strings."""
    if isinstance(values, str | bytes) or not hasattr(values, "__len__"):
        raise LogInputError(
            f"{part}[{name!r}]: expected a sequence with one value per row, got "
            f"{type(values).__name__} (wrap a single value in a list: [value])"
        )
    return len(values)


def _python_type_key(v: Any) -> str:
    if isinstance(v, bool | np.bool_):
        return "bool"
    if isinstance(v, int | np.integer):
        # One int beyond int64 must not null the whole column: it is its own (minority) type.
        return "int" if -(2**63) <= v < 2**63 else "int beyond 64 bits"
    if isinstance(v, float | np.floating):
        return "float"
    if isinstance(v, str):
        return "str"
    if isinstance(v, list | tuple | np.ndarray):
        return "list"
    if isinstance(v, dict):
        return "dict"
    return type(v).__name__


_COMPATIBLE = {"int": {"float"}, "float": {"int"}}


def safe_repr(value: Any, limit: int = 200) -> str:
    """A short printable form of any value, for error messages and the quarantine table."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="backslashreplace")
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def to_arrow_column(name: str, values: Any, part: str) -> tuple[pa.Array, list[CellProblem]]:
    """One column as an Arrow array; cells of a minority type become nulls plus problems."""
    arr, problems, _ = convert_column(name, values, part)
    return arr, problems


def convert_column(name: str, values: Any, part: str) -> tuple[pa.Array, list[CellProblem], bool]:
    """``to_arrow_column``, and whether Arrow took the values as they are (nothing coerced)."""
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks(), [], True
    if isinstance(values, pa.Array):
        return values, [], True
    if isinstance(values, np.ndarray) and values.dtype != object:
        if values.ndim == 1:
            return pa.array(values), [], True
        if values.ndim == 2:
            flat = pa.array(values.reshape(-1))
            return pa.FixedSizeListArray.from_arrays(flat, values.shape[1]), [], True
    try:
        arr = pa.array(values, from_pandas=True)
        # Arrow takes str and bytes together as binary, which hides the text from every text
        # check: the minority type is reported instead.
        if not (pa.types.is_binary(arr.type) and any(isinstance(v, str) for v in values)):
            return arr, [], True
    except (
        pa.ArrowInvalid,
        pa.ArrowTypeError,
        pa.ArrowNotImplementedError,
        OverflowError,
        UnicodeEncodeError,  # a lone surrogate in a str: _coerce_mixed cleans it
    ):
        pass
    return (*_coerce_mixed(name, list(values), part), False)


def _coerce_mixed(name: str, values: list[Any], part: str) -> tuple[pa.Array, list[CellProblem]]:
    keys = [
        None if v is None or (isinstance(v, float) and math.isnan(v)) else _python_type_key(v)
        for v in values
    ]
    counts = Counter(k for k in keys if k is not None)
    problems: list[CellProblem] = []
    for key, _ in counts.most_common():
        allowed = {key} | _COMPATIBLE.get(key, set())
        kept = [v if k in allowed else None for v, k in zip(values, keys, strict=True)]
        if key == "str":
            kept = [_clean_str(v) if v is not None else None for v in kept]
        try:
            arr = pa.array(kept, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
            continue
        for i, (v, k) in enumerate(zip(values, keys, strict=True)):
            if k is not None and k not in allowed:
                problems.append(
                    CellProblem(
                        part, name, i, v, f"expected {key} like most of the column, got {k}"
                    )
                )
        return arr, problems
    # Nothing typed fits (e.g. every value is an unsupported object): keep a readable string.
    for i, v in enumerate(values):
        if v is not None:
            problems.append(CellProblem(part, name, i, v, f"unsupported value type {keys[i]}"))
    return pa.array([None] * len(values), pa.null()), problems


def _clean_str(v: Any) -> str:
    # Lone surrogates cannot be encoded as UTF-8 and would make the Parquet write fail later.
    return v.encode("utf-8", errors="backslashreplace").decode("utf-8")


def _concat_tables(tables: list[pa.Table], lengths: list[int]) -> pa.Table:
    names: dict[str, None] = {}
    for t in tables:
        names.update(dict.fromkeys(t.column_names))
    columns = {}
    for name in names:
        chunks = []
        types = {t.schema.field(name).type for t in tables if name in t.column_names}
        types.discard(pa.null())
        target = types.pop() if len(types) == 1 else None
        for t, n in zip(tables, lengths, strict=True):
            if name in t.column_names:
                col = t.column(name).combine_chunks()
                if target is not None and col.type != target:
                    col = col.cast(target) if pa.types.is_null(col.type) else col
                chunks.append(col)
            else:
                chunks.append(pa.nulls(n, target or pa.null()))
        if target is None and len(types) > 1:
            chunks = _unify_chunks(chunks)
        columns[name] = pa.chunked_array(chunks).combine_chunks() if chunks else pa.nulls(0)
    return pa.table(columns)


def _unify_chunks(chunks: list[pa.Array]) -> list[pa.Array]:
    """Chunks of differing types: promote numbers, otherwise fall back to their text."""
    try:
        schema = pa.unify_schemas(
            [pa.schema([("c", c.type)]) for c in chunks], promote_options="permissive"
        )
        return [c.cast(schema.field("c").type) for c in chunks]
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return [c if pa.types.is_string(c.type) else c.cast(pa.string()) for c in chunks]


def arrow_to_numpy(arr: pa.Array) -> np.ndarray:
    """An Arrow column as numpy: numbers stay numeric, nulls become ``None`` in object arrays,
    equal-length lists of numbers become a 2-D array (e.g. class probabilities)."""
    t = arr.type
    if pa.types.is_fixed_size_list(t) and arr.null_count == 0:
        return arr.flatten().to_numpy(zero_copy_only=False).reshape(len(arr), t.list_size)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        lengths = arr.value_lengths().to_numpy(zero_copy_only=False)
        if arr.null_count == 0 and len(arr) and (lengths == lengths[0]).all():
            values = arr.flatten()
            if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
                return values.to_numpy(zero_copy_only=False).reshape(len(arr), int(lengths[0]))
    if arr.null_count and not (pa.types.is_floating(t)):
        return np.array(arr.to_pylist(), dtype=object)
    return arr.to_numpy(zero_copy_only=False)


def null_mask(col: pa.Array, empty: bool = False) -> np.ndarray:
    """Missing values of an Arrow column (None and NaN; blank text too when ``empty``)."""
    if pa.types.is_null(col.type):
        return np.ones(len(col), dtype=bool)
    mask = pc.is_null(col, nan_is_null=True).to_numpy(zero_copy_only=False)
    if empty and (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        blank = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(col)), 0)
        mask |= blank.fill_null(False).to_numpy(zero_copy_only=False)
    return mask
