"""Edge cases: the retraining set, filtered and searched, counted over time, exported."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import streamlit as st

from dashboard import charts, data, filters, ui
from dashboard.views.clusters import chosen_rows, render_clusters
from dashboard.views.review import render_review

SHOW_ROWS = 1000


def render() -> None:
    """Draw the page."""
    root = ui.store_root()
    st.title("Edge cases")
    if not data.store_exists(root):
        ui.no_store(root)
        return
    df = data.edge_cases(root)
    if df.empty:
        ui.empty(
            "No edge cases yet: log rows with a `Framework` whose config has an `edge_case` "
            "check (a signal formula such as `Signal.contains('nike') & ...`); the rows it "
            f"selects are collected here ({ui.QUICK_START})."
        )
        return
    chosen = _filters(root, df)
    shown = filters.filter_edge_cases(df, chosen)
    st.metric("Matching edge cases", f"{len(shown):,} of {len(df):,}")
    counts, freq = filters.counts_over_time(shown, data.check_names(root))
    if not counts.empty:
        st.subheader("Edge cases over time, per check")
        st.altair_chart(charts.counts_chart(counts, freq), width="stretch")
    cluster_ids = render_clusters(root, shown)
    shown = chosen_rows(shown, cluster_ids)
    _table(shown)
    _export(shown)
    render_review(root, shown, cluster_ids)


def _filters(root: Path, df: pd.DataFrame) -> filters.EdgeCaseFilter:
    left, right = st.columns(2)
    names = data.check_names(root)
    reasons = left.multiselect(
        "Check (signal formula)",
        data.reason_labels(root),
        format_func=lambda r: filters.reason_label(r, names),
    )
    labels = data.signal_labels(root)
    leaves = right.multiselect(
        "Leaf signals that must be true",
        data.signal_columns(root),
        format_func=lambda n: labels.get(n, n),
    )
    start, end = _time_range(df)
    q_col, c_col, s_col = st.columns([3, 1, 1])
    query = q_col.text_input("Search text (fuzzy, rapidfuzz partial ratio)", key="ec_query")
    columns = data.text_columns(root) or ["text"]
    column = c_col.selectbox("in column", columns)
    score = s_col.slider("min score", 50, 100, 80, step=5)
    return filters.EdgeCaseFilter(
        reasons=tuple(reasons),
        leaves=tuple(leaves),
        start=start,
        end=end,
        query=query,
        column=column,
        min_score=float(score),
    )


def _time_range(df: pd.DataFrame) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    lo, hi = df["ts"].min(), df["ts"].max()
    if pd.isna(lo) or (hi - lo) < pd.Timedelta(seconds=2):
        return None, None
    naive_lo = lo.tz_convert("UTC").tz_localize(None).to_pydatetime()
    naive_hi = hi.tz_convert("UTC").tz_localize(None).to_pydatetime()
    step = max((naive_hi - naive_lo) / 200, dt.timedelta(seconds=1))
    start, end = st.slider(
        "Time range (UTC)",
        min_value=naive_lo,
        max_value=naive_hi,
        value=(naive_lo, naive_hi),
        step=step,
        format="YYYY-MM-DD HH:mm:ss",
    )
    if start <= naive_lo and end >= naive_hi:
        return None, None
    return pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC")


def _table(shown: pd.DataFrame) -> None:
    st.subheader("Rows")
    ui.table(filters.display_frame(shown, SHOW_ROWS))
    if len(shown) > SHOW_ROWS:
        st.caption(f"Showing the first {SHOW_ROWS:,} of {len(shown):,} rows; export for all.")


def _export(shown: pd.DataFrame) -> None:
    left, right = st.columns(2)
    frame = filters.export_frame(shown)
    left.download_button(
        "Export CSV",
        data=lambda: filters.display_frame(frame, len(frame)).to_csv(index=False).encode(),
        file_name="edge_cases.csv",
        mime="text/csv",
        icon=":material/download:",
    )
    right.download_button(
        "Export Parquet",
        data=lambda: _parquet_bytes(frame),
        file_name="edge_cases.parquet",
        mime="application/vnd.apache.parquet",
        icon=":material/download:",
    )


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buf, compression="zstd")
    return buf.getvalue()
