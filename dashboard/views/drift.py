"""Drift: per column, each statistic over windows with its threshold; reference vs current."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import charts, data, distributions, ui

EDGE_CASES = "edge cases (retraining set)"


def render() -> None:
    """Draw the page."""
    root = ui.store_root()
    st.title("Drift")
    if not data.store_exists(root):
        ui.no_store(root)
        return
    series = data.drift_series(root)
    profiles = data.profile_files(root)
    if series.empty and not profiles:
        ui.empty(
            "No drift statistics yet: add a `data_drift` check with a `reference_dataset` (a "
            "Parquet/CSV file or a profile made with `curate profile`) to the config; every "
            "closed window then writes one statistic per column here."
        )
        return
    column = _pick_column(root, series, profiles)
    if not series.empty:
        _latest_table(root)
        _column_charts(series, column)
    _distributions(root, profiles, column)
    _alerts(root)


def _pick_column(root: Path, series: pd.DataFrame, profiles: list[Path]) -> str | None:
    columns = sorted(series["column"].dropna().unique()) if not series.empty else []
    for path in profiles:
        columns += [c for c in _safe_profile(path) if c not in columns]
    if not columns:
        return None
    drifted = data.drifted_columns(root)
    default = columns.index(drifted[0]) if drifted and drifted[0] in columns else 0
    return st.selectbox("Column", columns, index=default)


def _latest_table(root: Path) -> None:
    latest = data.drift_latest(root)
    st.subheader("Latest window")
    cols = ["column", "check", "metric", "value", "threshold", "flagged", "n", "window_end"]
    st.dataframe(latest[cols], hide_index=True, width="stretch")


def _column_charts(series: pd.DataFrame, column: str | None) -> None:
    sub = series[series["column"] == column]
    if sub.empty:
        st.caption(f"No drift statistics for `{column}`.")
        return
    st.subheader(f"`{column}` over windows")
    groups = list(sub.groupby(["check", "metric"], sort=True))
    cols = st.columns(min(len(groups), 2))
    for i, ((check, metric), df) in enumerate(groups):
        with cols[i % len(cols)]:
            title = f"{check}: {metric}" if metric != check else str(check)
            st.altair_chart(charts.threshold_chart(df, title), width="stretch")
    st.caption("Dashed red: the threshold; red points: windows flagged as drifted.")


def _safe_profile(path: Path) -> dict[str, Any]:
    try:
        return data.load_profile(path)
    except (ImportError, ValueError, OSError, KeyError):
        return {}


def _distributions(root: Path, profiles: list[Path], column: str | None) -> None:
    st.subheader("Reference vs current")
    holding = [p for p in profiles if column in _safe_profile(p)]
    if column is None or not holding:
        ui.empty(
            "No reference profile for this column under `profiles/`: the drift check saves "
            "one there, or build one with `curate profile reference.parquet --out "
            f"{root / 'profiles' / 'reference.profile'}`."
        )
        return
    names = {p.name: p for p in holding}
    left, right = st.columns(2)
    ref_name = left.selectbox("Reference profile", list(names), index=0)
    ref = _safe_profile(names[ref_name])[column]
    options = [n for n in names if n != ref_name]
    if column in data.table_columns(root, "retraining"):
        options.append(EDGE_CASES)
    choice = right.selectbox("Current", options or ["(none)"], index=max(len(options) - 1, 0))
    cur = _current(root, names, choice, column, ref.kind)
    _plot(ref, cur, column, choice)


def _current(root: Path, names: dict[str, Path], choice: str, column: str, kind: str) -> Any:
    if choice in names:
        return _safe_profile(names[choice]).get(column)
    if choice == EDGE_CASES:
        return distributions.current_profile(data.edge_case_values(root, column), kind)
    return None


def _plot(ref: Any, cur: Any, column: str, source: str) -> None:
    if cur is not None and getattr(cur, "kind", ref.kind) != ref.kind:
        cur = None
    kind = ref.kind
    if kind == "numeric":
        cur_values = None if cur is None else distributions.numeric_values(cur)
        df = charts.histogram_frame(distributions.numeric_values(ref), cur_values)
        st.altair_chart(charts.histogram_chart(df, f"{column}: histogram"), width="stretch")
    elif kind == "categorical":
        df = distributions.category_frame(ref, cur)
        order = list(dict.fromkeys(df["category"]))
        st.altair_chart(charts.compare_bars(df, "category", column, order), width="stretch")
    elif kind == "text":
        _plot_text(ref, cur, column)
    else:
        st.caption(f"`{column}` is a {kind} column: no distribution chart for it.")
    if cur is None:
        st.caption("Reference only: no current distribution to compare with.")
    else:
        st.caption(f"Current: {source}.")


def _plot_text(ref: Any, cur: Any, column: str) -> None:
    left, right = st.columns(2)
    lengths = distributions.length_frame(ref, cur)
    with left:
        st.altair_chart(
            charts.compare_bars(lengths, "words", f"{column}: words per text",
                                sort=sorted(lengths["words"].unique())),
            width="stretch",
        )  # fmt: skip
    with right:
        tokens = distributions.token_frame(ref, cur)
        order = list(dict.fromkeys(tokens["token"]))
        st.altair_chart(
            charts.compare_bars(tokens, "token", f"{column}: top tokens", order), width="stretch"
        )
    if cur is not None:
        st.metric(
            "Out-of-vocabulary tokens (current)", ui.fmt_pct(distributions.oov_rate(ref, cur))
        )


def _alerts(root: Path) -> None:
    st.subheader("Drift alerts")
    drift = data.drift_alerts(root)
    if drift.empty:
        st.caption(
            "No drift alerts: one is written when a window's statistic crosses its threshold."
        )
        return
    cols = ["ts", "check", "column", "metric", "value", "threshold", "message"]
    st.dataframe(drift[cols].head(200), hide_index=True, width="stretch")
