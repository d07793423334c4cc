"""What UpTrain notebooks read from the retraining folder, kept as views of curate's store.

* ``<folder>/<version>/smart_data.csv``: the edge cases collected for the next version, one
  row per edge case with UpTrain's columns (the input features, ``id``, ``output``, ``gt``,
  ``reasons``), each cell JSON-encoded as UpTrain wrote it. Rewritten from the Parquet
  retraining set after the writer's cycles and on ``flush()``; never read back by curate.
* ``<folder>/README.md``: a dataset card whose ``configs`` point ``datasets.load_dataset(folder)``
  at the retraining segments, so it yields the edge cases.

>>> import numpy as np, pyarrow as pa
>>> t = pa.table({"id": [7], "ts": pa.array([0], pa.timestamp("us", "UTC")), "text": ["hi"],
...               "identifiers": [3], "reasons": [["nike"]], "signal.nike": [True]})
>>> smart_records(t)
[{'text': '"hi"', 'id': '3', 'output': 'null', 'gt': 'null', 'reasons': '"Signal-nike"'}]
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

CARD = """---
configs:
- config_name: default
  data_files:
  - split: train
    path: "retraining/part-*.parquet"
---
# Retraining set

The edge cases curate collected, as Parquet segments under `retraining/`.
`datasets.load_dataset("<this folder>")` reads them; see the store layout in curate's docs.
"""

_HIDDEN = {"id", "ts", "reasons", "identifiers"}


class UpTrainEncoder(json.JSONEncoder):
    """JSON for numpy values, as UpTrain encoded its CSV cells."""

    def default(self, o: Any) -> Any:
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, np.generic):
            return o.item()
        return str(o)


def _dumps(value: Any) -> str:
    return json.dumps(value, cls=UpTrainEncoder)


def smart_records(table: pa.Table) -> list[dict[str, str]]:
    """Edge-case rows as UpTrain's ``smart_data.csv`` records (every cell JSON-encoded)."""
    names = table.column_names
    features = [c for c in names if c not in _HIDDEN and not c.startswith(("signal.", "outputs",
                                                                            "gts"))]  # fmt: skip
    output = next((c for c in names if c.startswith("outputs")), None)
    gt = next((c for c in names if c.startswith("gts")), None)
    ids = "identifiers" if "identifiers" in names else "id"
    wanted = {*features, ids, output, gt, "reasons"} & set(names)
    cols = {c: table.column(c).to_pylist() for c in wanted}
    out = []
    for i in range(table.num_rows):
        row = {f: _dumps(cols[f][i]) for f in features}
        row["id"] = _dumps(cols[ids][i])
        row["output"] = _dumps(cols[output][i] if output else None)
        row["gt"] = _dumps(cols[gt][i] if gt else None)
        reasons = cols.get("reasons", [None] * table.num_rows)[i] or []
        row["reasons"] = _dumps("; ".join(f"Signal-{r}" for r in reasons) or "None")
        out.append(row)
    return out


def write_smart_data(path: Path, table: pa.Table) -> None:
    """Write the CSV view atomically (a reader sees the old file or the new one)."""
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    records = smart_records(table)
    frame = pd.DataFrame(records, columns=list(records[0]) if records else ["id", "reasons"])
    frame.to_csv(tmp, index=False)
    os.replace(tmp, path)


def write_card(root: Path) -> None:
    """The dataset card that makes ``load_dataset(<folder>)`` read the edge cases (kept if there)."""
    card = root / "README.md"
    if not card.exists():
        root.mkdir(parents=True, exist_ok=True)
        card.write_text(CARD)
