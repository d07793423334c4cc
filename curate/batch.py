"""Normalising what ``log()`` receives into Arrow, and the :class:`Batch` monitors see.

``log()`` accepts, for ``inputs`` (and ``outputs``/``gts``/``identifiers``): a dict of columns
(lists, tuples, numpy arrays, pandas Series, pyarrow arrays), a list of row dicts, a pandas
DataFrame or a pyarrow Table/RecordBatch. ``outputs``, ``gts`` and ``identifiers`` may also be a
single sequence (one value per row, e.g. a 2-D array of class probabilities), stored as one column
named ``outputs``, ``gts`` or ``identifiers``; a dict of them is stored as ``outputs.<key>`` etc.

Values that Arrow cannot hold in one typed column are not an error of the whole call (see
:mod:`curate.columns`): the cells become nulls reported as ``dtype`` violations
(:attr:`Batch.problems`), so the rest of the row is still monitored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pyarrow as pa

from curate.arrow_values import (
    CellProblem,
    _concat_tables,
    _is_tabular,
    arrow_to_numpy,
    column_length,
    columns_of,
    convert_column,
    safe_repr,
)
from curate.enums import MeasurableType
from curate.errors import LogInputError

PARTS = ("inputs", "outputs", "gts", "identifiers")
TS_TYPE = pa.timestamp("us", tz="UTC")


@dataclass
class Batch:
    """Rows logged together: ids, timestamps and one Arrow table per part.

    >>> b = Batch.from_log(np.arange(2), np.zeros(2, np.int64), {"text": ["a", None]})
    >>> b.inputs.column("text").to_pylist()
    ['a', None]
    >>> b.python_inputs()["text"].tolist()
    ['a', None]
    """

    ids: np.ndarray
    ts: np.ndarray
    inputs: pa.Table
    outputs: pa.Table | None = None
    gts: pa.Table | None = None
    identifiers: pa.Table | None = None
    extra_args: dict[str, Any] | None = None
    problems: list[CellProblem] = field(default_factory=list)
    # Text columns logged as plain lists, by stored name: the signals' numpy view is built from
    # the caller's list instead of converting the Arrow column back to Python strings.
    raw: dict[str, list[Any]] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_log(
        cls,
        ids: np.ndarray,
        ts: np.ndarray,
        inputs: Any,
        outputs: Any = None,
        gts: Any = None,
        identifiers: Any = None,
        extra_args: dict[str, Any] | None = None,
    ) -> Batch:
        """Normalise one ``log()`` call; ``LogInputError`` says what was wrong and where."""
        n = len(ids)
        if inputs is None:
            raise LogInputError("inputs: missing; log() needs at least one input column")
        tables: dict[str, pa.Table | None] = {}
        problems: list[CellProblem] = []
        raw: dict[str, list[Any]] = {}
        for part, obj in zip(PARTS, (inputs, outputs, gts, identifiers), strict=True):
            tables[part] = None if obj is None else _part_table(part, obj, n, problems, raw)
        return cls(
            ids=np.asarray(ids, dtype=np.int64),
            ts=np.asarray(ts, dtype=np.int64),
            problems=problems,
            extra_args=extra_args,
            raw=raw,
            **tables,
        )

    @staticmethod
    def count_rows(inputs: Any) -> int:
        """Rows in a ``log()`` ``inputs`` argument, cheaply (for id assignment on the hot path)."""
        if isinstance(inputs, dict):
            for name, values in inputs.items():
                return column_length(str(name), values, "inputs")
            raise LogInputError("inputs: empty dict; expected at least one column")
        if _is_tabular(inputs) or isinstance(inputs, list):
            return len(inputs)
        raise LogInputError(
            f"inputs: unsupported type {type(inputs).__name__}; expected a dict of columns, a "
            "list of row dicts, a pandas DataFrame or a pyarrow Table"
        )

    @staticmethod
    def concat(batches: list[Batch]) -> Batch:
        """One batch from several (columns missing in some are filled with nulls)."""
        if len(batches) == 1:
            return batches[0]
        problems, offset = [], 0
        for b in batches:
            for p in b.problems:
                problems.append(CellProblem(p.part, p.column, p.row + offset, p.value, p.reason))
            offset += len(b)
        tables = {}
        for part in PARTS:
            parts = [getattr(b, part) for b in batches]
            if all(t is None for t in parts):
                tables[part] = None
                continue
            filled = [
                t if t is not None else pa.table({"__n": pa.nulls(len(b))}).drop(["__n"])
                for t, b in zip(parts, batches, strict=True)
            ]
            tables[part] = _concat_tables(filled, [len(b) for b in batches])
        return Batch(
            ids=np.concatenate([b.ids for b in batches]),
            ts=np.concatenate([b.ts for b in batches]),
            extra_args=batches[-1].extra_args,
            problems=problems,
            **tables,
        )

    def take(self, mask_or_indices: np.ndarray) -> Batch:
        """The rows selected by a boolean mask or an index array."""
        idx = np.asarray(mask_or_indices)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        arr = pa.array(idx, pa.int64())
        return Batch(
            ids=self.ids[idx],
            ts=self.ts[idx],
            extra_args=self.extra_args,
            **{p: (t.take(arr) if t is not None else None) for p, t in self._tables().items()},
        )

    def _tables(self) -> dict[str, pa.Table | None]:
        return {p: getattr(self, p) for p in PARTS}

    # -- column access ------------------------------------------------------------------------
    def __getitem__(self, name: str) -> pa.Array:
        """A logged column by name: inputs first, then outputs, gts, identifiers.

        >>> b = Batch.from_log(np.arange(2), np.zeros(2, np.int64), {"text": ["a", None]})
        >>> b["text"].to_pylist()
        ['a', None]
        """
        available = []
        for part in PARTS:
            table = getattr(self, part)
            if table is None:
                continue
            for candidate in (name, f"{part}.{name}"):
                if candidate in table.column_names:
                    return table.column(candidate).combine_chunks()
            available += table.column_names
        raise KeyError(
            f"no column {name!r} in the batch; logged columns: {', '.join(available) or '(none)'}"
        )

    def column(self, measurable: MeasurableType | str, name: str | None = None) -> pa.Array:
        """The values a check measures: an input feature, the prediction, ground truth, ...

        >>> b = Batch.from_log(np.arange(1), np.zeros(1, np.int64), {"x": [1]}, outputs=[0.3])
        >>> b.column("prediction").to_pylist()
        [0.3]
        """
        measurable = MeasurableType(measurable)
        part = {
            MeasurableType.INPUT_FEATURE: "inputs",
            MeasurableType.PREDICTION: "outputs",
            MeasurableType.GROUND_TRUTH: "gts",
            MeasurableType.IDENTIFIER: "identifiers",
        }[measurable]
        table = getattr(self, part)
        if table is None:
            raise KeyError(f"no {part} were logged in this batch")
        if name is None:
            if part in table.column_names:
                name = part
            elif table.num_columns == 1:
                name = table.column_names[0]
            else:
                raise KeyError(
                    f"{part} has several columns ({', '.join(table.column_names)}); "
                    "name one with feature_name"
                )
        for candidate in (name, f"{part}.{name}"):
            if candidate in table.column_names:
                return table.column(candidate).combine_chunks()
        raise KeyError(
            f"{part} has no column {name!r}; logged columns: {', '.join(table.column_names)}"
        )

    @cached_property
    def _python(self) -> dict[str, Any]:
        return {p: _python_view(t, p, self.raw) for p, t in self._tables().items()}

    def python_inputs(self) -> dict[str, np.ndarray]:
        """Inputs as UpTrain-style numpy arrays: strings as ``str``, missing values as ``None``."""
        return self._python["inputs"]

    def python_part(self, part: str) -> Any:
        """``outputs``, ``gts`` or ``identifiers`` as numpy (a dict when several columns)."""
        return self._python[part]

    # -- storage ------------------------------------------------------------------------------
    def stored_table(self) -> pa.Table:
        """The rows as stored: ``id``, ``ts``, the inputs, then outputs/gts/identifiers columns."""
        cols: dict[str, pa.Array] = {
            "id": pa.array(self.ids, pa.int64()),
            "ts": pa.array(self.ts, pa.int64()).cast(TS_TYPE),
        }
        for table in self._tables().values():
            if table is None:
                continue
            for name in table.column_names:
                if pa.types.is_null(table.schema.field(name).type):
                    continue
                # A logged column called "id" or "ts" must not clash with ours.
                key = f"inputs.{name}" if name in cols else name
                cols[key] = table.column(name)
        return pa.table(cols)

    def row_json(self, i: int) -> str:
        """Row ``i`` as JSON (for quarantine); values JSON cannot hold are written as text."""
        return self.rows_json([i])[0]

    def rows_json(self, rows: Any) -> list[str]:
        """The given rows as JSON strings, as ``json.dumps`` would write them.

        Built column by column with json's C string encoder: quarantining a few thousand rows
        per batch is on the log path, and ``json.dumps`` of a dict per row costs ten times more.
        """
        idx = np.asarray(rows, dtype=np.int64)
        taken = pa.array(idx, pa.int64())
        columns: dict[str, list[Any]] = {}
        for table in self._tables().values():
            if table is None:
                continue
            for name in table.column_names:
                columns[name] = table.column(name).take(taken).to_pylist()
        problems: dict[int, list[CellProblem]] = {}
        for p in self.problems:
            problems.setdefault(p.row, []).append(p)
        if "id" in columns:  # a logged column called "id" replaces the row id, as in a dict
            return [self._row_json_slow(i, columns, j, problems) for j, i in enumerate(idx)]
        cells = [
            [key + _json_value(v) for v in values]
            for key, values in zip(
                (_json_str(n) + ": " for n in columns), columns.values(), strict=True
            )
        ]
        row_ids = self.ids[idx].tolist()
        bodies = map(", ".join, zip(*cells, strict=True)) if cells else [""] * len(idx)
        out = [
            f'{{"id": {i}, {body}}}' if body else f'{{"id": {i}}}'
            for i, body in zip(row_ids, bodies, strict=True)
        ]
        for j, i in enumerate(idx.tolist()):
            if i in problems:
                out[j] = self._row_json_slow(i, columns, j, problems)
        return out

    def _row_json_slow(
        self, i: int, columns: dict[str, list[Any]], j: int, problems: dict[int, list[CellProblem]]
    ) -> str:
        row: dict[str, Any] = {"id": int(self.ids[i])}
        for name, values in columns.items():
            row[name] = values[j]
        for p in problems.get(int(i), ()):
            key = p.column if p.part == "inputs" else f"{p.part}.{p.column}"
            row[key] = safe_repr(p.value, 10_000)
        return json.dumps(row, default=safe_repr, ensure_ascii=False)


_json_str = json.encoder.encode_basestring  # type: ignore[attr-defined]  # C, ensure_ascii=False
_JSON = json.JSONEncoder(default=safe_repr, ensure_ascii=False)


def _json_value(v: Any) -> str:
    if v is None:
        return "null"
    t = type(v)
    if t is str:
        return _json_str(v)
    if t is bool:
        return "true" if v else "false"
    if t is int:
        return int.__repr__(v)
    return _JSON.encode(v)


def _part_table(
    part: str, obj: Any, n: int, problems: list[CellProblem], raw: dict[str, list[Any]]
) -> pa.Table:
    """One part of a ``log()`` call as an Arrow table, checked to have ``n`` rows per column.

    Cells Arrow cannot hold are added to ``problems``; text columns logged as plain lists to
    ``raw`` (see :attr:`Batch.raw`).
    """
    arrays = {}
    for name, values in columns_of(obj, part).items():
        length = column_length(name, values, part)
        if length != n:
            raise LogInputError(
                f"{part}[{name!r}] has {length} values but the call has {n} rows; "
                "every column must have one value per row"
            )
        arr, col_problems, direct = convert_column(name, values, part)
        stored = name if part == "inputs" or name == part else f"{part}.{name}"
        arrays[stored] = arr
        problems.extend(col_problems)
        # Every null must be a None (not a NaN) for the list to be the same view.
        if (
            direct
            and type(values) is list
            and _is_text(arr)
            and (arr.null_count == 0 or values.count(None) == arr.null_count)
        ):
            raw[stored] = values
    return pa.table(arrays)


def _is_text(arr: pa.Array) -> bool:
    return pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)


def _python_view(table: pa.Table | None, part: str, raw: dict[str, list[Any]]) -> Any:
    if table is None:
        return None
    view = {}
    for name in table.column_names:
        key = name[len(part) + 1 :] if name.startswith(f"{part}.") else name
        if name in raw:
            values = np.empty(len(raw[name]), dtype=object)
            values[:] = raw[name]
            view[key] = values
        else:
            view[key] = arrow_to_numpy(table.column(name).combine_chunks())
    if part != "inputs" and list(view) == [part]:
        return view[part]
    return view
