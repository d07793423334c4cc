"""Review decisions on edge cases: accept, reject or relabel, kept beside the retraining set.

A person reviewing the retraining set (the dashboard's Review section, or
:func:`write_reviews` from a notebook) appends one row per decision to the store's ``reviews``
table: the edge case's ``id``, the ``decision`` (``accept``, ``reject`` or ``relabel``), for a
relabel the new ``label`` (any JSON value, stored as JSON text), the ``reviewer``, ``ts`` and an
optional ``note``. Nothing is rewritten: a later decision on the same id replaces the earlier one
for readers (:func:`read_reviews`, newest ``ts`` wins; a tie goes to the decision written last).
A training run applies the decisions of its ``reviews_snapshot`` (:func:`apply_reviews`):
rejected rows never train, a relabel replaces the row's label (over its logged label and over
any late label), and with ``require_review`` only accepted or relabelled rows train.

>>> import tempfile
>>> from curate.store import Store
>>> store = Store(tempfile.mkdtemp())
>>> _ = store.write("retraining", pa.table({"id": [1, 2, 3], "text": ["a", "b", "c"]}))
>>> _ = write_reviews(store.root, [{"id": 1, "decision": "reject"},
...                               {"id": 2, "decision": "relabel", "label": "pos"}], reviewer="ana")
>>> _ = write_reviews(store.root, [{"id": 1, "decision": "accept", "note": "fine"}], reviewer="bo")
>>> latest = read_reviews(store)
>>> latest.select(["id", "decision", "label", "reviewer"]).to_pylist()[0]
{'id': 1, 'decision': 'accept', 'label': None, 'reviewer': 'bo'}
>>> decisions_by_id(latest)[2].label
'pos'
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import math
import numbers
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from curate.errors import CurateError, StoreError
from curate.tables import TS, now_us

if TYPE_CHECKING:
    from curate.store_reader import StoreReader

__all__ = [
    "DECISIONS",
    "REVIEWS_SCHEMA",
    "REVIEWS_TABLE",
    "Decision",
    "ReviewError",
    "Reviewed",
    "apply_reviews",
    "decisions_by_id",
    "default_reviewer",
    "read_reviews",
    "review_table",
    "write_reviews",
]

REVIEWS_TABLE = "reviews"
ACCEPT, REJECT, RELABEL = "accept", "reject", "relabel"
DECISIONS = (ACCEPT, REJECT, RELABEL)
REVIEWS_SCHEMA = pa.schema(
    [
        ("ts", TS),
        ("id", pa.int64()),
        ("decision", pa.string()),
        ("label", pa.string()),  # JSON text; null unless the decision is a relabel
        ("reviewer", pa.string()),
        ("note", pa.string()),
    ]
)
MAX_REVIEWER, MAX_NOTE = 200, 2000
_ROW = "__curate_row"


class ReviewError(CurateError, ValueError):
    """A review decision is malformed; the message says which one and what is wrong."""


class Decision(NamedTuple):
    """The newest decision on one edge case (``label`` decoded from its JSON)."""

    decision: str
    label: Any
    reviewer: str
    ts: dt.datetime | None


def default_reviewer() -> str:
    """Who reviews when no name is given: the OS user (``uid-<n>`` when it has no name).

    >>> isinstance(default_reviewer(), str) and bool(default_reviewer())
    True
    """
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # a container user without a passwd entry or $USER
        return f"uid-{os.getuid()}"


def _records(decisions: Any) -> list[Mapping[str, Any]]:
    if isinstance(decisions, pa.Table):
        return decisions.to_pylist()
    if hasattr(decisions, "to_dict") and hasattr(decisions, "columns"):  # a pandas DataFrame
        return decisions.to_dict(orient="records")
    if isinstance(decisions, Mapping):
        raise ReviewError("decisions: give a list of decisions (mappings), not one mapping")
    return list(decisions)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars, as a DataFrame hands them over
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _ts_us(value: Any, where: str) -> int:
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return int(aware.timestamp() * 1_000_000)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    raise ReviewError(
        f"{where}: ts must be a datetime or microseconds since the epoch, not {value!r}"
    )


def _text(value: Any, name: str, limit: int, where: str) -> str | None:
    if _missing(value) or value == "":
        return None
    if not isinstance(value, str):
        raise ReviewError(f"{where}: {name} must be text, not {type(value).__name__}")
    if len(value) > limit:
        raise ReviewError(f"{where}: {name} has {len(value)} characters; at most {limit}")
    return value


def _row(item: Any, index: int, reviewer: str, now: int) -> dict[str, Any]:
    """One validated table row of decision number ``index``."""
    if not isinstance(item, Mapping):
        raise ReviewError(f"decision {index}: a mapping with id and decision, not {item!r}")
    unknown = sorted(set(item) - {"id", "decision", "label", "reviewer", "note", "ts"})
    ident = item.get("id")
    if isinstance(ident, bool) or not isinstance(ident, numbers.Integral):
        raise ReviewError(f"decision {index}: id must be an edge case's integer id, not {ident!r}")
    where = f"decision {index} (id {int(ident)})"
    if unknown:
        raise ReviewError(f"{where}: unknown key(s) {', '.join(unknown)}")
    decision = item.get("decision")
    if decision not in DECISIONS:
        raise ReviewError(f"{where}: decision {decision!r} is not one of {', '.join(DECISIONS)}")
    label = item.get("label")
    if decision == RELABEL and _missing(label):
        raise ReviewError(f"{where}: a relabel needs the new label")
    if decision != RELABEL and not _missing(label):
        raise ReviewError(
            f"{where}: a label is given only with decision 'relabel', not {decision!r}"
        )
    try:
        text = (
            None
            if decision != RELABEL
            else json.dumps(label, allow_nan=False, default=_json_default)
        )
    except (TypeError, ValueError) as exc:
        raise ReviewError(f"{where}: the label is not a JSON value ({exc})") from None
    who = _text(item.get("reviewer"), "reviewer", MAX_REVIEWER, where) or reviewer
    ts = now if _missing(item.get("ts")) else _ts_us(item["ts"], where)
    note = _text(item.get("note"), "note", MAX_NOTE, where)
    return {"ts": ts, "id": int(ident), "decision": decision, "label": text,
            "reviewer": who, "note": note}  # fmt: skip


def review_table(
    decisions: Iterable[Mapping[str, Any]] | Any, reviewer: str | None = None
) -> pa.Table:
    """The ``reviews`` rows of ``decisions``, validated (a :class:`ReviewError` names the bad one).

    Each decision is a mapping with ``id`` and ``decision``, and optionally ``label`` (only for
    ``relabel``, where it is required), ``reviewer`` (else ``reviewer``, else the OS user),
    ``note`` and ``ts`` (a datetime or epoch microseconds; else now). A list of mappings, an
    Arrow table or a pandas DataFrame of such rows.

    >>> review_table([{"id": 7, "decision": "relabel", "label": {"text": ["x"]}}], "ana").to_pylist()[0]["label"]
    '{"text": ["x"]}'
    >>> review_table([{"id": 7, "decision": "maybe"}])
    Traceback (most recent call last):
    curate.reviews.ReviewError: decision 0 (id 7): decision 'maybe' is not one of accept, reject, relabel
    """
    who = _text(reviewer, "reviewer", MAX_REVIEWER, "reviewer") or default_reviewer()
    now = now_us()
    rows = [_row(item, i, who, now) for i, item in enumerate(_records(decisions))]
    columns = {f.name: [r[f.name] for r in rows] for f in REVIEWS_SCHEMA}
    columns["ts"] = pa.array(columns["ts"], pa.int64()).cast(TS)
    return pa.table(columns, schema=REVIEWS_SCHEMA)


def write_reviews(
    store_root: str | os.PathLike[str],
    decisions: Iterable[Mapping[str, Any]] | Any,
    reviewer: str | None = None,
) -> Path | None:
    """Append ``decisions`` (see :func:`review_table`) as one segment of the ``reviews`` table.

    The segment is written like every other (a temporary name, fsync, rename), under a writer id
    of its own, so it never collides with a Framework writing the same store. Every id must be
    an edge case of the store. Returns the segment's path (``None`` for no decisions).
    """
    # Imported here: curate.store imports curate.runs, which imports this module's table name.
    from curate.store import Store
    from curate.store_reader import StoreReader

    table = review_table(decisions, reviewer)
    reader = StoreReader(store_root)
    if not reader.exists():
        raise StoreError(f"no curate store at {reader.root}: reviews go into an existing store")
    if not table.num_rows:
        return None
    known = reader.read("retraining", columns=["id"])
    if "id" not in known.column_names:
        raise ReviewError(f"the retraining set of {reader.root} has no edge cases to review")
    unknown = pc.filter(table["id"], pc.invert(pc.is_in(table["id"], known["id"])))
    if len(unknown):
        shown = ", ".join(map(str, unknown.to_pylist()[:5]))
        raise ReviewError(
            f"{len(unknown)} reviewed id(s) are not edge cases of {reader.root}: {shown}"
        )
    return Store(reader.root).write(REVIEWS_TABLE, table)


def read_reviews(reader: StoreReader, files: Sequence[Path] | None = None) -> pa.Table:
    """The newest decision per id (of ``files``, default every segment), sorted by id.

    Newest is the largest ``ts``; of equal ``ts`` the one written last (segments in name order,
    rows in order) wins.
    """
    paths = reader.files(REVIEWS_TABLE) if files is None else list(files)
    if not paths:
        return REVIEWS_SCHEMA.empty_table()
    table = reader.read(REVIEWS_TABLE, files=paths)
    table = table.select([f.name for f in REVIEWS_SCHEMA if f.name in table.column_names])
    indexed = table.append_column(_ROW, pa.array(range(table.num_rows), pa.int64()))
    ordered = indexed.take(pc.sort_indices(indexed, [("ts", "ascending"), (_ROW, "ascending")]))
    # Ordered aggregation: "last" needs the single-threaded group-by to keep row order.
    last = ordered.group_by("id", use_threads=False).aggregate([(_ROW, "last")])
    newest = table.take(last[f"{_ROW}_last"])
    return newest.take(pc.sort_indices(newest, [("id", "ascending")]))


def decisions_by_id(latest: pa.Table) -> dict[int, Decision]:
    """``{id: Decision}`` of :func:`read_reviews`' table, labels decoded from JSON.

    >>> decisions_by_id(review_table([{"id": 3, "decision": "relabel", "label": 1}], "a"))[3].label
    1
    """
    out = {}
    for row in latest.to_pylist():
        label = json.loads(row["label"]) if row.get("label") is not None else None
        out[row["id"]] = Decision(row["decision"], label, row.get("reviewer") or "", row.get("ts"))
    return out


class Reviewed(NamedTuple):
    """Rows after their decisions: ``rows`` aligned with the input (``None`` where withheld)."""

    rows: list[dict[str, Any] | None]
    counts: Counter


def apply_reviews(
    rows: Sequence[Mapping[str, Any]],
    decisions: Mapping[int, Decision],
    *,
    label_column: str | None = None,
    require: bool = False,
    id_column: str = "id",
) -> Reviewed:
    """Apply the newest decision of each row (by ``id_column``).

    Rejected rows are withheld (``None``); relabelled rows take the new label in
    ``label_column`` (tasks without a label keep the row as it is); with ``require`` rows
    without a decision are withheld too. ``counts`` has ``accepted``, ``relabelled``,
    ``rejected``, ``unreviewed`` and ``unreviewed_withheld``.

    >>> d = {1: Decision("reject", None, "a", None), 2: Decision("relabel", "pos", "a", None)}
    >>> out = apply_reviews([{"id": 1, "y": "neg"}, {"id": 2, "y": "neg"}, {"id": 3, "y": "x"}],
    ...                     d, label_column="y")
    >>> out.rows, dict(out.counts)
    ([None, {'id': 2, 'y': 'pos'}, {'id': 3, 'y': 'x'}], {'rejected': 1, 'relabelled': 1, 'unreviewed': 1})
    """
    kept: list[dict[str, Any] | None] = []
    counts: Counter = Counter()
    for row in rows:
        found = decisions.get(row.get(id_column)) if row.get(id_column) is not None else None
        if found is None:
            counts["unreviewed"] += 1
            if require:
                counts["unreviewed_withheld"] += 1
            kept.append(None if require else dict(row))
        elif found.decision == REJECT:
            counts["rejected"] += 1
            kept.append(None)
        elif found.decision == RELABEL:
            counts["relabelled"] += 1
            new = dict(row)
            if label_column is not None:
                new[label_column] = found.label
            kept.append(new)
        else:
            counts["accepted"] += 1
            kept.append(dict(row))
    return Reviewed(kept, counts)
