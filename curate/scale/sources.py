"""What batch curation reads: Parquet, JSONL or CSV files on a local path or object storage.

A source is a file, a folder (every data file under it, by name) or a glob, given as a path or
as a ``file://``, ``s3://``, ``gs://`` or ``abfs://`` URI, opened with pyarrow's filesystems
(credentials and endpoints as pyarrow takes them: the usual environment variables, or URI
options such as ``s3://bucket/data?endpoint_override=...``). The job is cut into
:class:`Fragment` s: a Parquet row-group range, or a whole JSONL/CSV file. Each knows its first
row in source order, so whichever worker curates it gives its rows the same ids, timestamps and
windows.

>>> import tempfile, pathlib, pyarrow as pa, pyarrow.parquet as pq
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> pq.write_table(pa.table({"text": ["a", "b", "c"]}), folder / "x.parquet", row_group_size=2)
>>> fragments = plan(str(folder), fragment_rows=2)
>>> fragments = with_offsets(fragments, [count_rows(f) for f in fragments])
>>> [(f.first_row, f.rows) for f in fragments]
[(0, 2), (2, 1)]
>>> read_fragment(fragments[1]).column("text").to_pylist()
['c']
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.fs as pafs
import pyarrow.json as pajson
import pyarrow.parquet as pq

from curate.errors import ConfigError

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".jsonl": "json", ".json": "json",
           ".ndjson": "json", ".csv": "csv"}  # fmt: skip
SCHEMES = ("file", "s3", "gs", "gcs", "abfs", "abfss", "az")
#: Rows a Parquet fragment aims for: row groups are grouped up to it (one task each).
FRAGMENT_ROWS = 100_000


@dataclass(frozen=True)
class Fragment:
    """Part of a source: rows ``[first_row, first_row + rows)`` of the whole source."""

    uri: str  # the file, as a URI pyarrow opens (options of the source URI included)
    format: str
    first_row: int = 0
    rows: int = -1  # -1 until counted (JSONL and CSV files are counted by reading them)
    row_groups: tuple[int, ...] | None = None


def _split_uri(source: str) -> tuple[str, str, str]:
    """``(prefix, path, options)``: ``s3://b/x?o=1`` is ``("s3://", "b/x", "?o=1")``."""
    m = re.match(r"^([A-Za-z][A-Za-z0-9+.-]+)://", source)
    if not m:
        return "", str(Path(source).expanduser().resolve()), ""
    scheme = m.group(1).lower()
    if scheme not in SCHEMES:
        raise ConfigError(
            f"source {source!r}: '{scheme}://' is not supported; use a path or one of "
            + ", ".join(f"{s}://" for s in SCHEMES)
        )
    rest, _, query = source[len(m.group(0)) :].partition("?")
    return f"{scheme}://", rest, f"?{query}" if query else ""


def filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem and the path inside it for a path or URI.

    >>> type(filesystem("/tmp")[0]).__name__
    'LocalFileSystem'
    """
    prefix, path, options = _split_uri(uri)
    if not prefix:
        return pafs.LocalFileSystem(), path
    try:
        return pafs.FileSystem.from_uri(prefix + path + options)
    except (pa.ArrowException, ValueError) as exc:
        raise ConfigError(f"source {uri!r}: {exc}") from exc


def list_files(source: str) -> list[tuple[str, str]]:
    """``(uri, format)`` of every data file of a source, sorted by name (the source order)."""
    prefix, path, options = _split_uri(source)
    fs, root = filesystem(source)
    pattern = None
    if any(c in root for c in "*?["):
        root, _, pattern = root.rpartition("/")
    info = fs.get_file_info(root)
    if info.type == pafs.FileType.NotFound:
        raise ConfigError(f"source {source!r}: no such file or folder")
    if info.type == pafs.FileType.File:
        paths = [root]
    else:
        selector = pafs.FileSelector(root, recursive=pattern is None)
        paths = sorted(i.path for i in fs.get_file_info(selector) if i.type == pafs.FileType.File)
        if pattern is not None:
            paths = [p for p in paths if fnmatch.fnmatch(p.rpartition("/")[2], pattern)]
    # Hidden and underscore files are what writers leave beside data (_SUCCESS, .tmp-*).
    names = [p for p in paths if not p.rpartition("/")[2].startswith((".", "_"))]
    files = [(p, FORMATS.get(Path(p).suffix.lower())) for p in names]
    files = [(prefix + p + options if prefix else p, f) for p, f in files if f is not None]
    if not files:
        raise ConfigError(f"source {source!r}: no Parquet, JSONL or CSV files found")
    return files


def plan(source: str, fragment_rows: int = FRAGMENT_ROWS) -> list[Fragment]:
    """The fragments of a source in source order; Parquet ones carry their rows already."""
    fragments: list[Fragment] = []
    for uri, fmt in list_files(source):
        if fmt != "parquet":
            fragments.append(Fragment(uri, fmt))
            continue
        fs, path = filesystem(uri)
        with fs.open_input_file(path) as fh:
            meta = pq.ParquetFile(fh).metadata
        group: list[int] = []
        rows = 0
        for i in range(meta.num_row_groups):
            group.append(i)
            rows += meta.row_group(i).num_rows
            if rows >= fragment_rows or i == meta.num_row_groups - 1:
                fragments.append(Fragment(uri, fmt, rows=rows, row_groups=tuple(group)))
                group, rows = [], 0
    return fragments


def with_offsets(fragments: list[Fragment], counts: list[int]) -> list[Fragment]:
    """The fragments with their row counts and first rows in source order."""
    out, first = [], 0
    for fragment, n in zip(fragments, counts, strict=True):
        out.append(replace(fragment, first_row=first, rows=n))
        first += n
    return out


def count_rows(fragment: Fragment) -> int:
    """Rows of a fragment (JSONL and CSV: by reading it)."""
    return fragment.rows if fragment.rows >= 0 else read_fragment(fragment).num_rows


def read_fragment(fragment: Fragment) -> pa.Table:
    """The rows of one fragment as an Arrow table.

    >>> read_fragment(Fragment("/nonexistent.csv", "csv"))
    Traceback (most recent call last):
    curate.errors.ConfigError: cannot read /nonexistent.csv: ...
    """
    fs, path = filesystem(fragment.uri)
    try:
        with fs.open_input_file(path) as fh:
            if fragment.format == "parquet":
                groups = fragment.row_groups
                pf = pq.ParquetFile(fh)
                return pf.read_row_groups(list(groups)) if groups is not None else pf.read()
            if fragment.format == "json":
                return pajson.read_json(fh)
            return pacsv.read_csv(fh)
    except (OSError, pa.ArrowException) as exc:
        raise ConfigError(f"cannot read {fragment.uri}: {exc}") from exc
