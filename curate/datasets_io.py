"""Hugging Face ``datasets`` views over store tables."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

from curate.store import Store


def load_parquet_dataset(
    store: Store,
    table: str,
    files: Sequence[Path] | None = None,
    columns: list[str] | None = None,
):
    """Load store segments with ``datasets.load_dataset("parquet")`` as one ``Dataset``.

    Segments written at different times may have gained columns; the union schema is passed as
    ``features`` so every file loads with the same columns. The Arrow cache lives under the
    store's ``_cache/`` folder.

    >>> import tempfile, pyarrow as pa
    >>> s = Store(tempfile.mkdtemp())
    >>> _ = s.write("retraining", pa.table({"id": [1, 2], "text": ["a", "b"]}))
    >>> load_parquet_dataset(s, "retraining")[:]["text"]
    ['a', 'b']
    >>> load_parquet_dataset(s, "retraining", columns=["text"]).column_names
    ['text']
    """
    import datasets

    files = store.files(table) if files is None else list(files)
    schema = store.schema(table, files)
    if columns is not None:
        schema = pa.schema([schema.field(c) for c in columns if c in schema.names])
    if not files:
        return datasets.Dataset(schema.empty_table())
    features = datasets.Features.from_arrow_schema(schema)
    ds = datasets.load_dataset(
        "parquet",
        data_files=[str(f) for f in files],
        split="train",
        features=features,
        columns=list(schema.names) if columns is not None else None,
        cache_dir=str(store.path("_cache", "datasets")),
    )
    return ds
