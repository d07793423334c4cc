"""The dashboard's queries over the store: metrics, alerts, quarantine, edge cases, overview.

Every read goes through :class:`curate.store_reader.StoreReader` (the one module that knows the
store layout, ``docs/store.md``), cached by :mod:`dashboard.cache` on the segment listing; runs
are queried in :mod:`dashboard.runs`; the drift page's reference profiles come from
:mod:`dashboard.profiles` through here. Frames returned here are shared by the cache: callers
copy before modifying them. Nothing here writes to the store.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp()) / "missing"
>>> overview(root, None).rows_logged, store_exists(root), root.exists()
(0, False, False)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from curate.enums import MonitorKind
from curate.runs import Run
from curate.store_reader import StoreReader
from curate.tables import FRAMEWORK, SIGNAL_PREFIX, Metric
from dashboard.cache import memo, read_table, table_schema
from dashboard.labels import check_names as check_names
from dashboard.labels import signal_labels as signal_labels
from dashboard.profiles import load_profile as load_profile  # the drift page's queries
from dashboard.profiles import profile_files as profile_files
from dashboard.profiles import safe_profile as safe_profile
from dashboard.runs import list_runs, pending_edge_cases, retrain_after
from dashboard.windows import drift_windows as drift_windows
from dashboard.windows import window_summary as window_summary
from dashboard.windows import window_verdicts as window_verdicts
from monitors.signal_report import COLUMNS as SIGNAL_REPORT_COLUMNS
from monitors.signal_report import SignalReport, report_from_table

DRIFT = MonitorKind.DATA_DRIFT.value
CONCEPT = MonitorKind.CONCEPT_DRIFT.value
INTEGRITY = MonitorKind.DATA_INTEGRITY.value
RESERVED = ("id", "ts", "reasons")


def store_exists(root: Path) -> bool:
    """True when ``root`` holds a curate store (read-only: creates nothing).

    >>> import tempfile
    >>> store_exists(Path(tempfile.mkdtemp()))
    False
    """
    return StoreReader(root).exists()


# -- metrics -----------------------------------------------------------------------------------

METRIC_COLUMNS = ["ts", "window_start", "window_end", "monitor", "check", "column", "metric",
                  "value", "threshold", "flagged", "n"]  # fmt: skip


@memo(["metrics"])
def metrics(root: Path) -> pd.DataFrame:
    """The metrics table (without ``writer``), one row per window and statistic.

    >>> import tempfile
    >>> list(metrics(Path(tempfile.mkdtemp())).columns) == METRIC_COLUMNS
    True
    """
    return read_table(root, "metrics", METRIC_COLUMNS).to_pandas()


@memo(["metrics"])
def rows_logged(root: Path) -> int:
    """Rows logged into the store by every writer (durable ``rows_logged`` metrics).

    >>> import tempfile
    >>> rows_logged(Path(tempfile.mkdtemp()))
    0
    """
    # From the cached metrics frame: StoreReader.rows_logged() would read every segment again.
    df = metrics(root)
    mask = (df["monitor"] == FRAMEWORK) & (df["metric"] == Metric.ROWS_LOGGED)
    return int(df.loc[mask, "value"].sum())


def _monitor_rows(root: Path, monitor: str, metric: str | None = None) -> pd.DataFrame:
    df = metrics(root)
    mask = df["monitor"] == monitor
    if metric is not None:
        mask &= df["metric"] == metric
    return df[mask].sort_values("window_end", kind="stable")


@memo(["metrics"])
def integrity_series(root: Path) -> pd.DataFrame:
    """Violation ratio per integrity check, column and window (``non_null`` = null ratio).

    >>> import tempfile
    >>> integrity_series(Path(tempfile.mkdtemp())).empty
    True
    """
    return _monitor_rows(root, INTEGRITY, Metric.VIOLATION_RATIO).reset_index(drop=True)


@memo(["metrics"])
def integrity_summary(root: Path) -> pd.DataFrame:
    """Per check and column: windows, rows, violations, overall and latest ratio.

    >>> import tempfile
    >>> list(integrity_summary(Path(tempfile.mkdtemp())).columns)[:3]
    ['check', 'column', 'windows']
    """
    counts = _monitor_rows(root, INTEGRITY, Metric.VIOLATIONS)
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
    """Drift statistics per column, method (``check``), statistic (``metric``) and window.

    >>> import tempfile
    >>> drift_series(Path(tempfile.mkdtemp())).empty
    True
    """
    return _monitor_rows(root, DRIFT).reset_index(drop=True)


@memo(["metrics"])
def drift_latest(root: Path) -> pd.DataFrame:
    """The latest window of every (column, check, metric) drift series.

    >>> import tempfile
    >>> drift_latest(Path(tempfile.mkdtemp())).empty
    True
    """
    df = drift_series(root)
    if df.empty:
        return df
    return df.groupby(["column", "check", "metric"], sort=True).tail(1).reset_index(drop=True)


def drifted_columns(root: Path) -> list[str]:
    """Columns whose latest window is flagged by at least one drift statistic.

    >>> import tempfile
    >>> drifted_columns(Path(tempfile.mkdtemp()))
    []
    """
    latest = drift_latest(root)
    if latest.empty:
        return []
    return sorted(latest.loc[latest["flagged"].fillna(False).astype(bool), "column"].unique())


@memo(["metrics"])
def concept_series(root: Path) -> pd.DataFrame:
    """Concept-drift results per check (``concept_drift``, ``ddm``, ``adwin``), statistic and
    window: accuracy or mean error, each detector's estimate (``flagged`` when it signalled a
    drift in that window), ADWIN's width; not the ``pending`` counts.

    >>> import tempfile
    >>> concept_series(Path(tempfile.mkdtemp())).empty
    True
    """
    df = _monitor_rows(root, CONCEPT)
    return df[df["metric"] != "pending"].reset_index(drop=True)


@memo(["metrics"])
def signal_report(root: Path) -> SignalReport:
    """The signal analysis of every EDGE_CASE check: per-window and total leaf tables and
    overlap matrices (:mod:`monitors.signal_report`).

    >>> import tempfile
    >>> signal_report(Path(tempfile.mkdtemp())).checks()
    []
    """
    return report_from_table(read_table(root, "metrics", SIGNAL_REPORT_COLUMNS))


# -- alerts and quarantine ---------------------------------------------------------------------


@memo(["alerts"])
def alerts(root: Path) -> pd.DataFrame:
    """Every alert, newest first.

    >>> import tempfile
    >>> alerts(Path(tempfile.mkdtemp())).empty
    True
    """
    df = read_table(root, "alerts").to_pandas()
    return df.sort_values("ts", ascending=False, kind="stable").reset_index(drop=True)


@memo(["alerts"])
def drift_alerts(root: Path) -> pd.DataFrame:
    """The alerts of data- and concept-drift checks, newest first.

    >>> import tempfile
    >>> drift_alerts(Path(tempfile.mkdtemp())).empty
    True
    """
    df = alerts(root)
    return df[df["monitor"].isin([DRIFT, CONCEPT])]


@memo(["quarantine"])
def quarantine(root: Path) -> pd.DataFrame:
    """The quarantined rows, newest first.

    >>> import tempfile
    >>> quarantine(Path(tempfile.mkdtemp())).empty
    True
    """
    df = read_table(root, "quarantine").to_pandas()
    return df.sort_values("ts", ascending=False, kind="stable").reset_index(drop=True)


def quarantine_count(root: Path) -> int:
    """Rows in quarantine (from the Parquet footers).

    >>> import tempfile
    >>> quarantine_count(Path(tempfile.mkdtemp()))
    0
    """
    return StoreReader(root).count("quarantine")


# -- edge cases --------------------------------------------------------------------------------


@memo(["retraining"])
def edge_cases(root: Path) -> pd.DataFrame:
    """The retraining set, oldest first; ``reasons`` is kept as a list column.

    >>> import tempfile
    >>> list(edge_cases(Path(tempfile.mkdtemp())).columns)
    ['id', 'ts']
    """
    table = read_table(root, "retraining")
    if table.num_rows and "ts" in table.column_names:
        table = table.sort_by("ts")
    return table.to_pandas(types_mapper=None)


@memo(["retraining"])
def edge_case_values(root: Path, column: str) -> pa.Array:
    """One column of the retraining set as a single Arrow array (empty if no such column).

    >>> import tempfile
    >>> len(edge_case_values(Path(tempfile.mkdtemp()), "text"))
    0
    """
    table = read_table(root, "retraining", [column])
    if column not in table.column_names:
        return pa.array([], pa.null())
    return table.column(column).combine_chunks()


def edge_case_count(root: Path) -> int:
    """Rows in the retraining set (from the Parquet footers).

    >>> import tempfile
    >>> edge_case_count(Path(tempfile.mkdtemp()))
    0
    """
    return StoreReader(root).count("retraining")


def table_columns(root: Path, table: str) -> list[str]:
    """The column names of a table (union over its segments).

    >>> import tempfile
    >>> table_columns(Path(tempfile.mkdtemp()), "retraining")
    ['id', 'ts']
    """
    return list(table_schema(root, table).names)


def signal_columns(root: Path) -> list[str]:
    """The per-leaf signal columns (``signal.<leaf>``) present in the retraining set.

    >>> import tempfile
    >>> signal_columns(Path(tempfile.mkdtemp()))
    []
    """
    return [n for n in table_schema(root, "retraining").names if n.startswith(SIGNAL_PREFIX)]


def text_columns(root: Path) -> list[str]:
    """String columns of the retraining set a text search can look in (``text`` first).

    >>> import tempfile
    >>> text_columns(Path(tempfile.mkdtemp()))
    []
    """
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
    """Every distinct reason (signal formula) in the retraining set.

    >>> import tempfile
    >>> reason_labels(Path(tempfile.mkdtemp()))
    []
    """
    table = read_table(root, "retraining", ["reasons"])
    if "reasons" not in table.column_names or not table.num_rows:
        return []
    flat = pc.list_flatten(table["reasons"])
    return sorted(v for v in pc.unique(flat).to_pylist() if v is not None)


# -- overview ----------------------------------------------------------------------------------


@dataclass
class Overview:
    """The headline numbers of a store.

    >>> Overview(violations=5, checked_rows=100).violation_rate
    0.05
    """

    rows_logged: int = 0
    edge_cases: int = 0
    pending: int = 0
    retrain_after: int | None = None
    quarantined: int = 0
    violations: int = 0
    checked_rows: int = 0
    drift_columns: list[str] = field(default_factory=list)
    drift_monitored: int = 0
    latest_run: Run | None = None
    runs: int = 0

    @property
    def violation_rate(self) -> float | None:
        """Violations per checked row over every integrity window (``None`` before any)."""
        return self.violations / self.checked_rows if self.checked_rows else None


def overview(root: Path, override_retrain_after: int | None) -> Overview:
    """The numbers of the overview page (``override_retrain_after``: ``--retrain-after``).

    >>> import tempfile
    >>> overview(Path(tempfile.mkdtemp()), 50).retrain_after
    50
    """
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
