"""Every query the dashboard makes, read-only, cached on the store's file listing.

The store layout is documented in :mod:`curate.store` (tables), :mod:`curate.runs` (runs) and
:mod:`monitors.profile` (reference profiles). Frames returned here are shared by the cache:
callers copy before modifying them.

>>> import tempfile, pathlib
>>> overview(pathlib.Path(tempfile.mkdtemp()), None).rows_logged
0
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dashboard.files import LRU, list_files, memo, read_table, row_counts, table_schema

DRIFT = "data_drift"
INTEGRITY = "data_integrity"
RESERVED = ("id", "ts", "reasons")
SIGNAL_PREFIX = "signal."


def store_exists(root: Path) -> bool:
    """True when ``root`` looks like a curate store (``store.json`` or a table folder)."""
    return (root / "store.json").exists() or any(
        (root / t).is_dir() for t in ("retraining", "metrics", "runs")
    )


# -- metrics -----------------------------------------------------------------------------------


@memo(["metrics"])
def metrics(root: Path) -> pd.DataFrame:
    """The metrics table (without ``writer``), one row per window and statistic."""
    cols = ["ts", "window_start", "window_end", "monitor", "check", "column", "metric"]
    cols += ["value", "threshold", "flagged", "n"]
    return read_table(root, "metrics", cols).to_pandas()


@memo(["metrics"])
def rows_logged(root: Path) -> int:
    """Rows logged into the store by every writer (durable ``rows_logged`` metrics)."""
    df = metrics(root)
    logged = df.loc[(df["monitor"] == "framework") & (df["metric"] == "rows_logged"), "value"]
    return int(logged.sum())


def _monitor_rows(root: Path, monitor: str, metric: str | None = None) -> pd.DataFrame:
    df = metrics(root)
    mask = df["monitor"] == monitor
    if metric is not None:
        mask &= df["metric"] == metric
    return df[mask].sort_values("window_end", kind="stable")


@memo(["metrics"])
def integrity_series(root: Path) -> pd.DataFrame:
    """Violation ratio per integrity check, column and window (``non_null`` = null ratio)."""
    return _monitor_rows(root, INTEGRITY, "violation_ratio").reset_index(drop=True)


@memo(["metrics"])
def integrity_summary(root: Path) -> pd.DataFrame:
    """Per check and column: windows, rows, violations, overall and latest ratio."""
    counts = _monitor_rows(root, INTEGRITY, "violations")
    ratios = integrity_series(root)
    if counts.empty:
        return pd.DataFrame(
            columns=["check", "column", "windows", "rows", "violations", "rate", "latest"]
        )
    g = counts.groupby(["check", "column"], sort=True)
    out = g.agg(windows=("value", "size"), rows=("n", "sum"), violations=("value", "sum"))
    out["rate"] = out["violations"] / out["rows"].where(out["rows"] > 0)
    if not ratios.empty:
        out["latest"] = ratios.groupby(["check", "column"])["value"].last()
    else:
        out["latest"] = np.nan
    out["violations"] = out["violations"].astype("int64")
    return out.reset_index()


@memo(["metrics"])
def drift_series(root: Path) -> pd.DataFrame:
    """Drift statistics per column, method (``check``), statistic (``metric``) and window."""
    return _monitor_rows(root, DRIFT).reset_index(drop=True)


@memo(["metrics"])
def drift_latest(root: Path) -> pd.DataFrame:
    """The latest window of every (column, check, metric) drift series."""
    df = drift_series(root)
    if df.empty:
        return df
    return df.groupby(["column", "check", "metric"], sort=True).tail(1).reset_index(drop=True)


def drifted_columns(root: Path) -> list[str]:
    """Columns whose latest window is flagged by at least one drift statistic."""
    latest = drift_latest(root)
    if latest.empty:
        return []
    return sorted(latest.loc[latest["flagged"].fillna(False).astype(bool), "column"].unique())


# -- alerts and quarantine ---------------------------------------------------------------------


@memo(["alerts"])
def alerts(root: Path) -> pd.DataFrame:
    """Every alert, newest first."""
    df = read_table(root, "alerts").to_pandas()
    return df.sort_values("ts", ascending=False, kind="stable").reset_index(drop=True)


@memo(["quarantine"])
def quarantine(root: Path) -> pd.DataFrame:
    """The quarantined rows, newest first."""
    df = read_table(root, "quarantine").to_pandas()
    return df.sort_values("ts", ascending=False, kind="stable").reset_index(drop=True)


def quarantine_count(root: Path) -> int:
    """Rows in quarantine (from the Parquet footers)."""
    return row_counts(root, "quarantine")


# -- edge cases --------------------------------------------------------------------------------


@memo(["retraining"])
def edge_cases(root: Path) -> pd.DataFrame:
    """The retraining set, oldest first; ``reasons`` is kept as a list column."""
    table = read_table(root, "retraining")
    if table.num_rows and "ts" in table.column_names:
        table = table.sort_by("ts")
    return table.to_pandas(types_mapper=None)


def edge_case_count(root: Path) -> int:
    """Rows in the retraining set (from the Parquet footers)."""
    return row_counts(root, "retraining")


def table_columns(root: Path, table: str) -> list[str]:
    """The column names of a table (union over its segments)."""
    return list(table_schema(root, table).names)


def signal_columns(root: Path) -> list[str]:
    """The per-leaf signal columns (``signal.<leaf>``) present in the retraining set."""
    return [n for n in table_schema(root, "retraining").names if n.startswith(SIGNAL_PREFIX)]


def text_columns(root: Path) -> list[str]:
    """String columns of the retraining set a text search can look in (``text`` first)."""
    schema = table_schema(root, "retraining")
    names = [
        f.name
        for f in schema
        if f.name not in RESERVED
        and not f.name.startswith(SIGNAL_PREFIX)
        and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))
    ]
    return sorted(names, key=lambda n: (n != "text", n))


@memo(["retraining"])
def reason_labels(root: Path) -> list[str]:
    """Every distinct reason (signal formula) in the retraining set."""
    table = read_table(root, "retraining", ["reasons"])
    if "reasons" not in table.column_names or not table.num_rows:
        return []
    flat = pc.list_flatten(table["reasons"])
    return sorted(v for v in pc.unique(flat).to_pylist() if v is not None)


# -- runs --------------------------------------------------------------------------------------


@dataclass
class RunInfo:
    """A training run as the dashboard shows it (status already corrected for killed runs)."""

    run_id: str
    status: str
    record: dict[str, Any]
    path: Path
    error: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)


def _is_locked(path: Path) -> bool:
    """True when another open file holds an exclusive ``flock`` on ``path`` (read-only check)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _run_info(path: Path, record: dict[str, Any]) -> RunInfo:
    status = record.get("status", "failed")
    error = record.get("error")
    if status == "running" and not _is_locked(path / ".lock"):
        status = "failed"
        error = "the training process ended without recording a result (killed?)"
    return RunInfo(record.get("run_id", path.name), status, record, path, error,
                   record.get("metrics") or {})  # fmt: skip


def list_runs(root: Path) -> list[RunInfo]:
    """Every run with a readable ``run.json``, oldest first."""
    folder = root / "runs"
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    runs = []
    for name in names:
        try:
            record = json.loads((folder / name / "run.json").read_text())
        except (OSError, ValueError):
            continue
        if isinstance(record, dict):
            runs.append(_run_info(folder / name, record))
    return runs


def runs_frame(runs: list[RunInfo]) -> pd.DataFrame:
    """One row per run (newest first) for the runs table."""
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


def run_parquet(run: RunInfo, name: str) -> pd.DataFrame:
    """A Parquet file of the run folder (``history.parquet``, ``probes.parquet``) or empty."""
    return _run_file(run.path / name, _stamp_of(run.path / name))


def _stamp_of(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


_RUN_FILES = LRU(64)


def _run_file(path: Path, stamp: tuple[int, int] | None) -> pd.DataFrame:
    if stamp is None:
        return pd.DataFrame()
    key = (str(path), stamp)
    frame = _RUN_FILES.get(key)
    if frame is None:
        import pyarrow.parquet as pq

        try:
            frame = pq.read_table(path).to_pandas()
        except (OSError, pa.ArrowInvalid):
            return pd.DataFrame()
        _RUN_FILES.put(key, frame)
    return frame


# -- overview ----------------------------------------------------------------------------------


@dataclass
class Overview:
    """The headline numbers of a store."""

    rows_logged: int = 0
    edge_cases: int = 0
    pending: int = 0
    retrain_after: int | None = None
    quarantined: int = 0
    violations: int = 0
    checked_rows: int = 0
    drift_columns: list[str] = field(default_factory=list)
    drift_monitored: int = 0
    latest_run: RunInfo | None = None
    runs: int = 0

    @property
    def violation_rate(self) -> float | None:
        """Violations per checked row over every integrity window (``None`` before any)."""
        return self.violations / self.checked_rows if self.checked_rows else None


def pending_edge_cases(root: Path, latest: RunInfo | None) -> int:
    """Edge cases written since ``latest`` took its snapshot (what ``retrain_after`` counts)."""
    if latest is None:
        return edge_case_count(root)
    consumed = {Path(p).name for p in latest.record.get("snapshot", [])}
    names = [k.name for k in list_files(root, "retraining") if k.name not in consumed]
    return row_counts(root, "retraining", names)


def retrain_after(root: Path, runs: list[RunInfo]) -> int | None:
    """``retrain_after`` from the environment, ``framework.json``, ``store.json`` or the latest
    run's config."""
    env = os.environ.get("CURATE_RETRAIN_AFTER")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    metas = []
    for name in ("framework.json", "store.json"):
        try:
            metas.append(json.loads((root / name).read_text()))
        except (OSError, ValueError):
            continue
    for source in [*metas, *(r.record.get("config") or {} for r in reversed(runs))]:
        value = source.get("retrain_after") if isinstance(source, dict) else None
        if isinstance(value, int) and value > 0:
            return value
    return None


def overview(root: Path, override_retrain_after: int | None) -> Overview:
    """The numbers of the overview page."""
    runs = list_runs(root)
    latest = runs[-1] if runs else None
    summary = integrity_summary(root)
    latest_drift = drift_latest(root)
    return Overview(
        rows_logged=rows_logged(root),
        edge_cases=edge_case_count(root),
        pending=pending_edge_cases(root, latest),
        retrain_after=override_retrain_after or retrain_after(root, runs),
        quarantined=quarantine_count(root),
        violations=int(summary["violations"].sum()) if not summary.empty else 0,
        checked_rows=int(summary["rows"].sum()) if not summary.empty else 0,
        drift_columns=drifted_columns(root),
        drift_monitored=int(latest_drift["column"].nunique()) if not latest_drift.empty else 0,
        latest_run=latest,
        runs=len(runs),
    )


# -- reference profiles ------------------------------------------------------------------------


def profile_files(root: Path) -> list[Path]:
    """Saved profiles under ``profiles/`` (any depth), newest last."""
    folder = root / "profiles"
    if not folder.is_dir():
        return []
    files = [
        p
        for p in folder.rglob("*")
        if p.is_file() and not p.name.startswith((".", "_")) and _is_profile(p)
    ]
    return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))


def _is_profile(path: Path) -> bool:
    try:
        from monitors.profile import is_profile_file
    except ImportError:
        return path.suffix in (".parquet", ".profile")
    return is_profile_file(path)


def load_profile(path: Path) -> dict[str, Any]:
    """``{column: ColumnProfile}`` of a saved profile (cached on size and mtime)."""
    return _load_profile(str(path), _stamp_of(path))


_PROFILES = LRU(16)


def _load_profile(path: str, stamp: Any) -> dict[str, Any]:
    key = (path, stamp)
    columns = _PROFILES.get(key)
    if columns is None:
        from monitors.profile import Profile

        columns = dict(Profile.load(path).columns)
        _PROFILES.put(key, columns)
    return columns
