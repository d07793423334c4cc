"""Integrity: null and violation ratios per check and column over windows, quarantined rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from curate.tables import FRAMEWORK, Metric
from dashboard import charts, data, ui

SHOW_ROWS = 500
FRAMEWORK_METRICS = {
    Metric.BAD_CELLS: "Cells of a wrong type",
    Metric.MALFORMED_CALLS: "Malformed log() calls",
    Metric.MONITOR_ERRORS: "Monitor errors",
    Metric.ROWS_DROPPED: "Rows dropped (disk full)",
}


def render() -> None:
    """Draw the page."""
    root = ui.store_root()
    st.title("Integrity")
    if not data.store_exists(root):
        ui.no_store(root)
        return
    _framework_counts(root)
    _ratios(root)
    _quarantine(root)


def _framework_counts(root: Path) -> None:
    m = data.metrics(root)
    fw = m[(m["monitor"] == FRAMEWORK) & m["metric"].isin(list(FRAMEWORK_METRICS))]
    if fw.empty:
        return
    totals = fw.groupby("metric")["value"].sum()
    cols = st.columns(len(totals))
    for col, (metric, value) in zip(cols, totals.items(), strict=True):
        col.metric(FRAMEWORK_METRICS[metric], ui.fmt_int(value))


def _ratios(root: Path) -> None:
    st.subheader("Violation ratio per window")
    summary = data.integrity_summary(root)
    series = data.integrity_series(root)
    if series.empty:
        ui.empty(
            "No integrity windows yet: add a `data_integrity` check (e.g. "
            '`{"type": "data_integrity", "integrity_type": "non_null", "measurable_args": '
            '{"type": "input_feature", "feature_name": "text"}}`) to the config; every closed '
            "window writes its violation ratio here (`non_null` gives the null ratio)."
        )
        return
    table = summary.rename(columns={"rate": "overall ratio", "latest": "latest window"})
    ui.table(
        table,
        column_config={
            "overall ratio": st.column_config.NumberColumn(format="percent"),
            "latest window": st.column_config.NumberColumn(format="percent"),
        },
    )
    series = series.assign(series=series["check"] + " · " + series["column"])
    st.altair_chart(charts.ratio_lines(series, "series"), width="stretch")
    st.caption("Dashed: the alert threshold (`alert_ratio`). `non_null` ratios are null ratios.")


def _quarantine(root: Path) -> None:
    st.subheader("Quarantined rows")
    q = data.quarantine(root)
    if q.empty:
        ui.empty(
            "No quarantined rows: rows that fail an integrity check, have a cell of the wrong "
            "type or come from a malformed `log()` call are kept here, never trained on."
        )
        return
    by = q.groupby(["monitor", "check", "column", "reason"], dropna=False).size()
    ui.table(by.rename("rows").reset_index())
    checks = ["(all)", *sorted(q["check"].dropna().unique())]
    check = st.selectbox("Check", checks, key="q_check")
    shown = q if check == "(all)" else q[q["check"] == check]
    ui.table(_clip(shown.head(SHOW_ROWS)))
    st.caption(f"{len(shown):,} rows; the {min(len(shown), SHOW_ROWS):,} newest are shown.")


def _clip(df: pd.DataFrame) -> pd.DataFrame:
    """Long row JSON clipped for display."""
    return df.assign(row=df["row"].str.slice(0, 300))
