"""Compaction records: which segments a merged segment replaced (``_compactions/<table>/``).

A compaction (:mod:`curate.compaction`) writes a merged segment under a temporary name, then
its record ``_compactions/<table>/<merged>.json`` (``{"table", "merged", "sources",
"dropped_rows", "at", ...}``), then renames the merged segment into place. A record is
*applied* once its merged segment is listed, or was itself merged into a segment of an applied
record, or when it merged nothing (``"merged": null``: every row of its sources expired).
Readers hide the sources of applied records, so a listing shows a compaction's sources or its
merged segment, never both and never neither. Only :class:`curate.store_reader.StoreReader`
calls :func:`view`; this module knows what records say, the reader knows where files are.

>>> m = merged_name("part-0000000000000001-w-000001.parquet", "ab12")
>>> m
'part-0000000000000001-w-000001~cab12.parquet'
>>> rec = Record("r.json", "metrics", m, ("part-0000000000000001-w-000001.parquet",
...              "part-0000000000000002-w-000002.parquet"), 0, 0, {})
>>> v = View(frozenset([*rec.sources, m]), (rec,))
>>> sorted(v.visible), v.resolve(["part-0000000000000002-w-000002.parquet"]) == [m]
(['part-0000000000000001-w-000001~cab12.parquet'], True)
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curate.errors import StoreError
from curate.lru import LRU

RECORDS = "_compactions"
#: Separates a merged segment's name from the name of the first source it sorts after.
MARK = "~c"
TMP_PREFIX = ".tmp-"
SUFFIX = ".parquet"
#: What expiring rows took out of ``outcomes()``'s counts, added back by the reader.
EXPIRED_KEYS = ("edge_cases", "quarantined", "quarantine_entries")

# Records never change once renamed into place (a rolled-back one is deleted, never rewritten).
_PARSED = LRU(100_000)


def merged_name(first_source: str, token: str) -> str:
    """The name of a segment merged from sources starting with ``first_source``: it sorts
    right after it, so the merged rows keep their place among the other segments.

    >>> merged_name("part-1-w-000001~c0a.parquet", "ff")  # a merge of a merge
    'part-1-w-000001~cff.parquet'
    """
    stem = first_source.removesuffix(SUFFIX).split(MARK, 1)[0]
    return f"{stem}{MARK}{token}{SUFFIX}"


def is_compaction_temporary(name: str) -> bool:
    """True for a merged segment still under its temporary name (writers' never carry MARK)."""
    return name.startswith(TMP_PREFIX) and MARK in name and name.endswith(SUFFIX)


@dataclass(frozen=True)
class Record:
    """One compaction record as read from ``_compactions/<table>/<name>``."""

    name: str
    table: str
    merged: str | None
    sources: tuple[str, ...]
    dropped_rows: int
    at_us: int
    expired: Mapping[str, int] = field(default_factory=dict)


def record_json(record: Record) -> dict[str, Any]:
    """The JSON document of ``record`` (``at`` in ISO 8601, UTC)."""
    at = dt.datetime.fromtimestamp(record.at_us / 1e6, dt.UTC).isoformat()
    return {"table": record.table, "merged": record.merged, "sources": list(record.sources),
            "dropped_rows": record.dropped_rows, "at": at, "at_us": record.at_us,
            "expired": dict(record.expired)}  # fmt: skip


def _parse(path: Path, table: str) -> Record:
    try:
        doc = json.loads(path.read_text())
        merged = doc["merged"]
        sources = tuple(str(s) for s in doc["sources"])
        if doc.get("table", table) != table or not (merged is None or isinstance(merged, str)):
            raise ValueError("wrong table or merged name")
        expired = {k: int(v) for k, v in (doc.get("expired") or {}).items() if k in EXPIRED_KEYS}
        return Record(path.name, table, merged, sources, int(doc.get("dropped_rows", 0)),
                      int(doc["at_us"]), expired)  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError) as exc:
        # Records are renamed into place whole; a broken one was edited or damaged, and
        # guessing would show rows twice or lose them.
        raise StoreError(f"unreadable compaction record {path}: {exc}") from None


def read_records(folder: Path, table: str) -> tuple[Record, ...]:
    """The records under ``folder`` (``_compactions/<table>``), in name order."""
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".json") and n[0] != ".")
    except (FileNotFoundError, NotADirectoryError):
        return ()
    out = []
    for name in names:
        key = str(folder / name)
        record = _PARSED.get(key)
        if record is None:
            try:
                record = _parse(folder / name, table)
            except StoreError:
                if not (folder / name).exists():  # rolled back between listing and reading
                    continue
                raise
            _PARSED.put(key, record)
        out.append(record)
    return tuple(out)


@dataclass(frozen=True)
class View:
    """A table's segment names as listed, with the compaction records read after listing."""

    listed: frozenset[str]
    records: tuple[Record, ...]
    temporaries: frozenset[str] = frozenset()
    _applied: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)
    _by_merged: dict[str, Record] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        by_source: dict[str, Record] = {}
        for record in self.records:
            for source in record.sources:
                by_source.setdefault(source, record)
        for record in self.records:
            self._follow(record, by_source)
        self._by_merged.update(
            {r.merged: r for r in self.records if r.merged and self._applied[r.name]}
        )

    def _follow(self, record: Record, by_source: dict[str, Record]) -> None:
        chain, current, result = [], record, False
        while True:
            if current.name in self._applied:
                result = self._applied[current.name]
                break
            chain.append(current)
            if current.merged is None or current.merged in self.listed:
                result = True
                break
            # Not listed: deleted after being merged again (applied if that merge is), or
            # not renamed into place yet (a compaction under way, or one that crashed).
            nxt = by_source.get(current.merged)
            if nxt is None or nxt in chain:
                break
            current = nxt
        for done in chain:
            self._applied[done.name] = result

    def applied(self, record: Record) -> bool:
        """True when readers see ``record``'s merged segment instead of its sources."""
        return self._applied.get(record.name, False)

    @property
    def forward(self) -> dict[str, str | None]:
        """Source name -> the segment that holds its rows now (``None``: all expired)."""
        return {s: r.merged for r in self.records if self.applied(r) for s in r.sources}

    @property
    def visible(self) -> list[str]:
        """The listed names readers see, sorted (names sort by creation time)."""
        hidden = self.forward
        return sorted(n for n in self.listed if n not in hidden)

    def resolve(self, names: Iterable[str]) -> list[str]:
        """Where the rows of segments once named ``names`` are now, each segment once, in
        order; sources whose rows all expired map to nothing."""
        forward, out, seen = self.forward, [], set()
        for name in names:
            current: str | None = name.rsplit("/", 1)[-1]  # "retraining/part-..." as runs list
            hops = 0
            while current in forward and hops <= len(forward):
                current, hops = forward[current], hops + 1
            if current is not None and current not in seen:
                seen.add(current)
                out.append(current)
        return out

    def origins(self, name: str) -> frozenset[str]:
        """The segments as first written whose rows ``name`` holds (``{name}`` if none)."""
        out, todo, done = set(), [name], set()
        while todo:
            current = todo.pop()
            record = self._by_merged.get(current)
            if record is None or current in done:
                out.add(current)
            else:
                done.add(current)
                todo.extend(record.sources)
        return frozenset(out)

    def expired(self) -> dict[str, int]:
        """The ``outcomes()`` counts that applied records took away with expired rows."""
        sums = dict.fromkeys(EXPIRED_KEYS, 0)
        for record in self.records:
            if self.applied(record):
                for key, value in record.expired.items():
                    sums[key] += value
        return sums


def scan(root: Path, table: str) -> View:
    """List ``table``'s folder under ``root``, then read its records (:func:`view`)."""
    try:
        names = os.listdir(root / table)
    except (FileNotFoundError, NotADirectoryError):
        names = []
    return view(root, table, names)


def expired_counts(reader: Any) -> dict[str, int]:
    """What compactions took out of ``outcomes()``'s counts with the rows they expired, over
    a :class:`~curate.store_reader.StoreReader`'s retraining set and quarantine."""
    views = [reader.compactions(t).expired() for t in ("retraining", "quarantine")]
    return {k: sum(v[k] for v in views) for k in EXPIRED_KEYS}


def view(root: Path, table: str, names: Iterable[str]) -> View:
    """The view of ``table`` given the names just listed in its folder (read records after
    listing: a record always exists before its merged segment has its final name)."""
    names = list(names)
    listed = frozenset(n for n in names if n.startswith("part-") and n.endswith(SUFFIX))
    temporaries = frozenset(n for n in names if is_compaction_temporary(n))
    return View(listed, read_records(root / RECORDS / table, table), temporaries)
