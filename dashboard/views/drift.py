"""Drift: per column, each statistic over windows with its threshold; reference vs a tested
window (:mod:`dashboard.views.drift_window`); concept drift over windows; alerts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import charts, data, ui
from dashboard.views import drift_window

CONCEPT_TITLES = {
    ("concept_drift", "accuracy"): "accuracy",
    ("concept_drift", "mean_abs_error"): "mean absolute error",
    ("ddm", "error_rate"): "DDM: error rate",
    ("adwin", "adwin_mean"): "ADWIN: mean error",
    ("adwin", "adwin_width"): "ADWIN: window width",
}


def render() -> None:
    """Draw the page."""
    root = ui.store_root()
    st.title("Drift")
    if not data.store_exists(root):
        ui.no_store(root)
        return
    series = data.drift_series(root)
    concept = data.concept_series(root)
    profiles = data.profile_files(root)
    if series.empty and concept.empty and not profiles:
        ui.empty(
            "No drift statistics yet: add a `data_drift` check with a `reference_dataset` (a "
            "Parquet/CSV file or a profile made with `curate profile`) to the config; every "
            "closed window then writes one statistic per column here. A `concept_drift` "
            "check charts accuracy and its DDM/ADWIN detectors here too."
        )
        return
    if not series.empty or profiles:
        column = _pick_column(root, series, profiles)
        if not series.empty:
            _latest_table(root)
            _column_charts(series, column)
        drift_window.render(root, column, profiles)
    _concept(concept)
    _alerts(root)


def _pick_column(root: Path, series: pd.DataFrame, profiles: list[Path]) -> str | None:
    columns = sorted(series["column"].dropna().unique()) if not series.empty else []
    for path in profiles:
        columns += [c for c in data.safe_profile(path) if c not in columns]
    if not columns:
        return None
    drifted = data.drifted_columns(root)
    default = columns.index(drifted[0]) if drifted and drifted[0] in columns else 0
    return st.selectbox("Column", columns, index=default)


def _latest_table(root: Path) -> None:
    latest = data.drift_latest(root)
    st.subheader("Latest window")
    cols = ["column", "check", "metric", "value", "threshold", "flagged", "n", "window_end"]
    ui.table(latest[cols])


def _charts(groups: list[tuple[tuple[str, str], pd.DataFrame]], titles: dict) -> None:
    cols = st.columns(min(len(groups), 2))
    for i, (key, df) in enumerate(groups):
        with cols[i % len(cols)]:
            st.altair_chart(charts.threshold_chart(df, titles[key]), width="stretch")


def _column_charts(series: pd.DataFrame, column: str | None) -> None:
    sub = series[series["column"] == column]
    if sub.empty:
        st.caption(f"No drift statistics for `{column}`.")
        return
    st.subheader(f"`{column}` over windows")
    groups = list(sub.groupby(["check", "metric"], sort=True))
    titles = {(c, m): f"{c}: {m}" if m != c else str(c) for (c, m), _ in groups}
    _charts(groups, titles)
    st.caption(
        "Dashed red: the threshold; red points: windows flagged as drifted; lines break "
        "where no window was closed."
    )


def _concept(concept: pd.DataFrame) -> None:
    st.subheader("Concept drift")
    if concept.empty:
        st.caption(
            "No concept-drift windows: a `concept_drift` check (DDM, ADWIN) compares outputs "
            "with ground truth and charts its accuracy and detectors here."
        )
        return
    for column, sub in concept.groupby("column", sort=True):
        if concept["column"].nunique() > 1:
            st.markdown(f"`{column}`")
        groups = list(sub.groupby(["check", "metric"], sort=False))
        titles = {key: CONCEPT_TITLES.get(key, f"{key[0]}: {key[1]}") for key, _ in groups}
        _charts(groups, titles)
    st.caption("Red points: windows in which the detector signalled a drift.")


def _alerts(root: Path) -> None:
    st.subheader("Drift alerts")
    drift = data.drift_alerts(root)
    if drift.empty:
        st.caption(
            "No drift alerts: one is written when a window's statistic crosses its threshold."
        )
        return
    cols = ["ts", "monitor", "check", "column", "metric", "value", "threshold", "message"]
    ui.table(drift[cols].head(200))
