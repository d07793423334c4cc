"""Reference profiles: what drift monitors keep of the reference data, built once, saved small.

A :class:`Profile` holds one summary per column, by kind (see :mod:`monitors.stats.auto`):

* numeric: count, nulls, mean, variance, min, max and the *sorted reference values* when there
  are at most ``exact_limit`` (100,000) of them, otherwise a ``sketch_size`` (2,000) point
  quantile sketch. KS, PSI bins and Wasserstein are computed from these values; with the whole
  sample they are exact, with a sketch they are within ``1/sketch_size`` in CDF terms.
* categorical: counts of the ``max_categories`` (1,000) most frequent values (as strings) and
  the count of all others.
* text: the ``max_vocab`` (20,000) most frequent words with counts and document frequencies,
  the count of other tokens, a histogram of words per row, null and empty counts, and a uniform
  sample of ``doc_sample`` (2,000) texts, at most ``doc_sample_tokens`` (100,000) words, kept as
  vocabulary ids: drift thresholds are calibrated by resampling them (see
  :mod:`monitors.stats.calibrate`).
* embedding: a uniform sample of ``embedding_sample`` (1,000) vectors, the RBF bandwidth
  (median heuristic) and the 99th percentile of nearest-neighbour distances in the sample.

Profiles are saved as one Parquet file (one row per column) and merge: counts, moments, nulls,
vocabularies, document frequencies and category counts merge exactly (up to the truncation
limits); quantile sketches and embedding and text samples merge approximately (in proportion to
the rows they stand for). The file format is version 2; version-1 files (no document
frequencies, no text sample) still load, and drift checks on their text columns fall back to
word-level estimates and the uncalibrated thresholds. Building from a Parquet file streams it
in record batches and merges the batch profiles, so the reference never has to fit in memory.

Command line (``curate profile`` calls :func:`cli`)::

    python -m monitors.profile reference.parquet --out ref.profile [--columns a b] [--kind a=text]

>>> import pandas as pd, tempfile, os
>>> df = pd.DataFrame({"x": range(100), "c": ["a", "b"] * 50})
>>> p = build_profile(df)
>>> p["x"].kind, p["c"].kind, p["x"].exact
('numeric', 'categorical', True)
>>> path = os.path.join(tempfile.mkdtemp(), "ref.profile")
>>> _ = p.save(path); Profile.load(path)["c"].counts.tolist()
[50, 50]
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from monitors.stats.auto import infer_kind
from monitors.stats.column_profile import (
    COLUMN_TYPES,
    ColumnProfile,
    ProfileOptions,
    build_column,
)

PROFILE_KEY = b"curate.profile"
# 2 added the text columns' document frequencies and text sample (``doc_freq``,
# ``sample_ids``, ``sample_offsets``); files of version 1 lack those columns and still load.
FORMAT_VERSION = 2
_ROW_SCHEMA = pa.schema(
    [
        ("column", pa.string()),
        ("kind", pa.string()),
        ("meta", pa.string()),
        ("values", pa.list_(pa.float64())),
        ("keys", pa.list_(pa.string())),
        ("counts", pa.list_(pa.int64())),
        ("doc_freq", pa.list_(pa.int64())),
        ("sample_ids", pa.list_(pa.int32())),
        ("sample_offsets", pa.list_(pa.int64())),
    ]
)


@dataclass
class Profile:
    """Column summaries of a reference data set, keyed by column name."""

    columns: dict[str, ColumnProfile] = field(default_factory=dict)

    def __getitem__(self, name: str) -> ColumnProfile:
        try:
            return self.columns[name]
        except KeyError:
            raise KeyError(
                f"the reference profile has no column {name!r}; it has: " + ", ".join(self.columns)
            ) from None

    def __contains__(self, name: str) -> bool:
        return name in self.columns

    def merge(self, other: Profile) -> Profile:
        """The profile of both data sets together (columns of either; same kinds required)."""
        out = dict(self.columns)
        for name, col in other.columns.items():
            out[name] = out[name].merge(col) if name in out else col
        return Profile(out)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the profile as one Parquet file (atomically: temporary name, then rename)."""
        rows = [col.to_row(name) for name, col in self.columns.items()]
        table = pa.Table.from_pylist(rows, schema=_ROW_SCHEMA)
        meta = json.dumps({"format_version": FORMAT_VERSION}).encode()
        table = table.replace_schema_metadata({PROFILE_KEY: meta})
        path = Path(path)
        tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
        pq.write_table(table, tmp)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Profile:
        """Read a profile written by :meth:`save`; ``ValueError`` if the file is not one."""
        if not is_profile_file(path):
            raise ValueError(f"{path} is not a curate profile (make one with `curate profile`)")
        table = pq.read_table(path)
        cols = {}
        for row in table.to_pylist():
            cols[row["column"]] = COLUMN_TYPES[row["kind"]].from_row(row)
        return cls(cols)


def is_profile_file(path: str | os.PathLike[str]) -> bool:
    """True for a Parquet file carrying the curate profile marker."""
    try:
        meta = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowInvalid):
        return False
    return PROFILE_KEY in meta


def build_profile(
    data: Any,
    columns: Sequence[str] | None = None,
    kinds: dict[str, str] | None = None,
    **options: Any,
) -> Profile:
    """Profile ``data`` (a path, DataFrame, ``datasets.Dataset``, Arrow table or dict of columns).

    ``kinds`` overrides the inferred kind of some columns; ``options`` are the fields of
    :class:`~monitors.stats.column_profile.ProfileOptions` (``exact_limit``, ``sketch_size``,
    ``max_categories``, ``max_vocab``, ``embedding_sample``, ``doc_sample``,
    ``doc_sample_tokens``, ``seed``).
    """
    opts = ProfileOptions(**options)
    kinds = dict(kinds or {})
    profile: Profile | None = None
    for chunk in _chunks(data, columns):
        for name in chunk.column_names:
            if name not in kinds:
                kinds[name] = infer_kind(chunk.column(name).combine_chunks())
        part = Profile(
            {
                name: build_column(kinds[name], chunk.column(name).combine_chunks(), opts)
                for name in chunk.column_names
            }
        )
        profile = part if profile is None else profile.merge(part)
    if profile is None:
        raise ValueError("reference_dataset has no rows to profile")
    return profile


def as_profile(
    reference: Any, columns: Sequence[str] | None = None, kinds: dict[str, str] | None = None
) -> Profile:
    """A :class:`Profile` from whatever a check's ``reference_dataset`` may be.

    A profile (object or saved file) is used as it is; anything else is profiled now.
    """
    if isinstance(reference, Profile):
        return reference
    if isinstance(reference, str | os.PathLike):
        path = Path(reference)
        if not path.exists():
            raise ValueError(f"reference_dataset: no such file {str(path)!r}")
        if is_profile_file(path):
            return Profile.load(path)
    return build_profile(reference, columns, kinds)


def _chunks(data: Any, columns: Sequence[str] | None) -> Iterator[pa.Table]:
    cols = list(columns) if columns is not None else None
    if isinstance(data, str | os.PathLike):
        yield from _file_chunks(Path(data), cols)
        return
    table = _to_table(data)
    if cols is not None:
        missing = [c for c in cols if c not in table.column_names]
        if missing:
            raise ValueError(f"no column {missing[0]!r}; it has: " + ", ".join(table.column_names))
        table = table.select(cols)
    yield table


def _file_chunks(path: Path, cols: list[str] | None) -> Iterator[pa.Table]:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        import pyarrow.csv as pcsv

        opts = pcsv.ParseOptions(delimiter="\t" if suffix == ".tsv" else ",")
        table = pcsv.read_csv(path, parse_options=opts)
        yield from _chunks(table, cols)
        return
    try:
        pf = pq.ParquetFile(path)
    except (OSError, pa.ArrowInvalid) as exc:
        msg = f"reference_dataset: cannot read {str(path)!r} as Parquet/CSV: {exc}"
        raise ValueError(msg) from None
    names = pf.schema_arrow.names
    missing = [c for c in cols or [] if c not in names]
    if missing:
        raise ValueError(f"{str(path)!r} has no column {missing[0]!r}; it has: {', '.join(names)}")
    for batch in pf.iter_batches(batch_size=1_000_000, columns=cols):
        yield pa.Table.from_batches([batch])


def _to_table(data: Any) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if type(data).__name__ == "DataFrame":
        return pa.Table.from_pandas(data, preserve_index=False)
    if type(data).__name__ == "Dataset" and hasattr(data, "with_format"):
        return data.with_format("arrow")[:]
    if isinstance(data, dict):
        return pa.table(data)
    raise ValueError(
        "reference_dataset must be a path (Parquet, CSV or a saved profile), a pandas DataFrame, "
        f"a datasets.Dataset, a pyarrow Table or a Profile; got {type(data).__name__}"
    )


def cli(argv: Sequence[str] | None = None) -> int:
    """``curate profile DATA --out FILE [--columns ...] [--kind col=kind ...]``."""
    parser = argparse.ArgumentParser(
        prog="curate profile", description="Build a reference profile for drift monitoring."
    )
    parser.add_argument("data", help="reference data: Parquet or CSV file")
    parser.add_argument("--out", required=True, help="where to write the profile (Parquet)")
    parser.add_argument("--columns", nargs="+", help="columns to profile (default: all)")
    parser.add_argument("--kind", nargs="+", default=[], metavar="COLUMN=KIND")
    parser.add_argument("--exact-limit", type=int, default=ProfileOptions.exact_limit)
    parser.add_argument("--sketch-size", type=int, default=ProfileOptions.sketch_size)
    args = parser.parse_args(argv)
    kinds = {}
    for item in args.kind:
        name, sep, kind = item.partition("=")
        if not sep:
            parser.error(f"--kind expects COLUMN=KIND, got {item!r}")
        kinds[name] = kind
    try:
        profile = build_profile(
            args.data,
            args.columns,
            kinds,
            exact_limit=args.exact_limit,
            sketch_size=args.sketch_size,
        )
    except (ValueError, OSError) as exc:
        parser.exit(2, f"curate profile: error: {exc}\n")
    out = profile.save(args.out)
    for name, col in profile.columns.items():
        print(f"{name}: {col.describe()}")
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(cli())
