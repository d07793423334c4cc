"""Training runs as the dashboard shows them: the runs table, run files, retraining progress.

Runs are :class:`curate.runs.Run` objects read through :class:`curate.store_reader.StoreReader`
(a run whose record says ``running`` but whose lock nobody holds reads as ``failed``).

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> list_runs(root), pending_edge_cases(root, None), runs_frame([]).empty
([], 0, True)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from curate.lru import LRU
from curate.runs import Run
from curate.store_reader import StoreReader
from dashboard.cache import file_stamp

RETRAIN_AFTER_ENV = "CURATE_RETRAIN_AFTER"

# Run files (history, probes) are rewritten while a run trains: cached on size and mtime.
_RUN_FILES = LRU(64)


def list_runs(root: Path) -> list[Run]:
    """Every run with a readable record, oldest first.

    >>> import tempfile, pathlib
    >>> list_runs(pathlib.Path(tempfile.mkdtemp()) / "missing")
    []
    """
    return StoreReader(root).runs()


#: How runs recorded before ``task_info`` existed read: the language-model tasks.
_LM_INFO = {"task": "mlm", "probe_kind": "mask", "figures": ["loss", "perplexity"],
            "target": "perplexity", "higher_is_better": False}  # fmt: skip

#: The probe section's title and the playground's inputs, per probe kind (``task_info``).
PROBE_VIEWS = {
    "mask": ("Mask predictions before / after training", "a sentence with [MASK]"),
    "mask_or_prompt": ("Mask fills and prompt continuations before / after", "a [MASK] sentence or a prompt"),
    "labels": ("Predicted label distribution before / after", "a sentence to classify"),
    "answers": ("Answers before / after", "a question"),
}  # fmt: skip


def task_info(run: Run | None) -> dict[str, Any]:
    """What the run's task declared (figures, target, probe kind), LM defaults for old runs.

    >>> from types import SimpleNamespace
    >>> task_info(SimpleNamespace(record={"task_info": {"probe_kind": "labels"}}))["probe_kind"]
    'labels'
    """
    recorded = (run.record.get("task_info") if run is not None else None) or {}
    return {**_LM_INFO, **recorded}


def runs_frame(runs: list[Run]) -> pd.DataFrame:
    """One row per run (newest first) for the runs table.

    >>> runs_frame([]).shape
    (0, 0)
    """
    rows = []
    for run in reversed(runs):
        rec, m = run.record, run.metrics
        rows.append(
            {
                "run": run.run_id,
                "status": run.status,
                "trigger": rec.get("trigger"),
                "created": _parse_time(rec.get("created_at")),
                "duration_s": _duration(rec),
                "rows": rec.get("snapshot_rows"),
                "base_model": rec.get("base_model"),
                "task": task_info(run)["task"],
                "target": task_info(run)["target"],
                "target_before": m.get(f"{task_info(run)['target']}_before"),
                "target_after": m.get(f"{task_info(run)['target']}_after"),
                "eval_loss_before": m.get("eval_loss_before"),
                "eval_loss_after": m.get("eval_loss_after"),
                "perplexity_before": m.get("perplexity_before"),
                "perplexity_after": m.get("perplexity_after"),
                "error": run.error,
            }
        )
    return pd.DataFrame(rows)


def _parse_time(value: Any) -> pd.Timestamp | None:
    if not value:
        return None
    try:
        return pd.Timestamp(value)
    except (ValueError, TypeError):
        return None


def _duration(rec: dict[str, Any]) -> float | None:
    start = _parse_time(rec.get("started_at") or rec.get("created_at"))
    end = _parse_time(rec.get("finished_at"))
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 1)


def run_parquet(run: Run, name: str) -> pd.DataFrame:
    """A Parquet file of the run folder (``history.parquet``, ``probes.parquet``) or empty.

    >>> import tempfile
    >>> from types import SimpleNamespace
    >>> run_parquet(SimpleNamespace(path=Path(tempfile.mkdtemp())), "history.parquet").empty
    True
    """
    path = run.path / name
    stamp = file_stamp(path)
    if stamp is None:
        return pd.DataFrame()
    key = (str(path), stamp)
    frame = _RUN_FILES.get(key)
    if frame is None:
        try:
            frame = pq.read_table(path).to_pandas()
        except (OSError, pa.ArrowInvalid):
            return pd.DataFrame()
        _RUN_FILES.put(key, frame)
    return frame


def run_probes(run: Run) -> list[str]:
    """The probe sentences of a run: those it stored predictions for (``probes.parquet``), else
    those of its training arguments (``training_args.json``, then the run record's config).

    >>> import tempfile
    >>> from types import SimpleNamespace
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "training_args.json").write_text('{"probes": ["A [MASK] day."]}')
    >>> run_probes(SimpleNamespace(path=folder, record={}))
    ['A [MASK] day.']
    """
    probes = run_parquet(run, "probes.parquet")
    if "probe" in probes:
        found = list(dict.fromkeys(probes["probe"].dropna().astype(str)))
        if found:
            return found
    try:
        args = json.loads((run.path / "training_args.json").read_text())
    except (OSError, ValueError):
        args = {}
    for source in (args, run.record.get("config")):
        value = source.get("probes") if isinstance(source, dict) else None
        if isinstance(value, list) and value:
            return [str(p) for p in value if isinstance(p, str)]
    return []


def pending_edge_cases(root: Path, latest: Run | None) -> int:
    """Edge cases written since ``latest`` took its snapshot (what ``retrain_after`` counts);
    every edge case when there is no run yet.

    >>> import tempfile, pathlib
    >>> pending_edge_cases(pathlib.Path(tempfile.mkdtemp()), None)
    0
    """
    reader = StoreReader(root)
    # ``pending_rows(None)`` would look up the latest run itself; here None means "no run".
    return reader.count("retraining") if latest is None else reader.pending_rows(latest)


def retrain_after(root: Path, runs: list[Run], env: Mapping[str, str] = os.environ) -> int | None:
    """``retrain_after`` from ``CURATE_RETRAIN_AFTER``, the store's settings
    (``StoreReader.settings()``), its metadata, or the newest run config that has one.

    >>> import tempfile, pathlib
    >>> retrain_after(pathlib.Path(tempfile.mkdtemp()), [], {"CURATE_RETRAIN_AFTER": "20"})
    20
    """
    value = env.get(RETRAIN_AFTER_ENV, "")
    if value.isdigit() and int(value) > 0:
        return int(value)
    reader = StoreReader(root)
    configs = [r.record.get("config") or {} for r in reversed(runs)]
    for source in [reader.settings(), reader.metadata(), *configs]:
        found = source.get("retrain_after") if isinstance(source, dict) else None
        if isinstance(found, int) and found > 0:
            return found
    return None
