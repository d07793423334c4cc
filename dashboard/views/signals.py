"""Signals: what each predicate of an EDGE_CASE formula does (Snorkel's ``LFAnalysis`` view).

Per check: the leaf table (coverage, overlap, marginal contribution, unknown, precision), the
overlap matrix as a heatmap, and coverage per window over time; totals or one window.
"""

from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import charts, data, ui
from monitors.signal_report import FORMULA_LABEL, SignalReport

TOTAL = "All windows"
PERCENT = st.column_config.NumberColumn(format="percent")
COUNT = st.column_config.NumberColumn(format="localized")


def render() -> None:
    """Draw the page."""
    root = ui.store_root()
    st.title("Signals")
    if not data.store_exists(root):
        ui.no_store(root)
        return
    report = data.signal_report(root)
    groups = report.checks()
    if not groups:
        ui.empty(
            "No signal analysis yet: every `edge_case` check counts what each signal of its "
            "formula does, per `analysis_window` logged rows (default 10,000) and on "
            "`flush()`. Log rows, then flush, to see its first window here."
        )
        return
    labels = {g: g[0] if g[0] == g[1] else f"{g[0]} · {g[1]}" for g in groups}
    group = st.selectbox("Check", groups, format_func=labels.get, key="signals_check")
    _check(root, report, *group)


def _check(root: Path, report: SignalReport, check: str, formula: str) -> None:
    wins = _rows(report.windows, check, formula)
    n = int(wins["window"].max()) + 1
    ends = wins.drop_duplicates("window").set_index("window")["window_end"]
    options = [TOTAL, *range(n - 1, -1, -1)]
    chosen = st.selectbox(
        "Window", options, key="signals_window",
        format_func=lambda k: k if k == TOTAL else f"window {k} (ending {ui.fmt_time(ends[k])})",
    )  # fmt: skip
    if chosen == TOTAL:
        leaves = _rows(report.totals, check, formula)
        overlaps = _rows(report.total_overlaps, check, formula)
    else:
        leaves = wins[wins["window"] == chosen]
        o = _rows(report.overlaps, check, formula)
        overlaps = o[o["window"] == chosen]
    _headline(leaves, n)
    st.subheader("Leaf signals")
    _leaf_table(leaves)
    st.subheader("Overlap")
    st.altair_chart(overlap_heatmap(overlaps), width="stretch")
    st.caption("Share of the rows where both signals are true; the diagonal is each coverage.")
    st.subheader("Coverage over time")
    st.altair_chart(coverage_lines(wins), width="stretch")


def _rows(df: pd.DataFrame, check: str, formula: str) -> pd.DataFrame:
    return df[(df["check"] == check) & (df["formula"] == formula)]


def _headline(leaves: pd.DataFrame, windows: int) -> None:
    top = leaves[leaves["leaf"] == FORMULA_LABEL].iloc[0]
    cols = st.columns(4)
    cols[0].metric("Rows", ui.fmt_int(top["rows"]))
    cols[1].metric("Windows", ui.fmt_int(windows))
    cols[2].metric("Formula coverage", ui.fmt_pct(top["coverage"]))
    precision = None if pd.isna(top["precision"]) else top["precision"]
    cols[3].metric("Precision (mispredicted)", ui.fmt_pct(precision),
                   help="share of the labelled selected rows the model got wrong")  # fmt: skip


def _leaf_table(leaves: pd.DataFrame) -> None:
    shown = leaves[["leaf", "coverage", "overlap", "marginal", "marginal_rows", "unknown",
                    "precision", "labelled", "marginal_precision"]]  # fmt: skip
    ui.table(
        shown,
        column_config={
            "coverage": PERCENT, "overlap": PERCENT, "marginal": PERCENT, "unknown": PERCENT,
            "precision": PERCENT, "marginal_precision": PERCENT,
            "marginal_rows": COUNT, "labelled": COUNT,
        },
    )  # fmt: skip
    st.caption(
        "coverage: rows where the signal is true; overlap: true together with another signal; "
        "marginal: rows the formula selects only because of it (with it false they would not "
        "be selected); unknown: a leaf failed; precision: of the labelled rows it selects, the "
        "share the model mispredicted (needs `gts` logged with `outputs`)."
    )


def overlap_heatmap(overlaps: pd.DataFrame) -> alt.LayerChart:
    """The overlap matrix as a heatmap with its shares written in the cells.

    >>> df = pd.DataFrame({"leaf": ["a", "a", "b", "b"], "other": ["a", "b", "a", "b"],
    ...                    "both": [2, 1, 1, 1], "share": [0.5, 0.25, 0.25, 0.25]})
    >>> overlap_heatmap(df).to_dict()["layer"][0]["mark"]["type"]
    'rect'
    """
    order = list(dict.fromkeys(overlaps["leaf"]))
    axis = alt.Axis(labelLimit=360, labelAngle=0)
    base = alt.Chart(overlaps).encode(
        x=alt.X(
            "other:N",
            sort=order,
            title=None,
            axis=alt.Axis(labelLimit=180, labelAngle=-30, labelOverlap=False),
        ),
        y=alt.Y("leaf:N", sort=order, title=None, axis=axis),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("share:Q", title="share of rows", scale=alt.Scale(scheme="blues"),
                        legend=alt.Legend(format="%")),
        tooltip=["leaf:N", "other:N", alt.Tooltip("share:Q", format=".2%"),
                 alt.Tooltip("both:Q", title="rows", format=",")],
    )  # fmt: skip
    text = base.mark_text(fontSize=13).encode(
        text=alt.Text("share:Q", format=".1%"),
        color=alt.condition(alt.datum.share > 0.5 * overlaps["share"].max(),
                            alt.value("white"), alt.value("black")),
    )  # fmt: skip
    return alt.layer(cells, text).properties(height=max(120, 60 * len(order)))


def coverage_lines(windows: pd.DataFrame) -> alt.Chart:
    """Coverage per window, one line per leaf (and the formula).

    The x axis counts windows, not time: row windows filled by one ``log()`` call share its
    timestamp, and a time axis would stack them on one instant. Tooltips give the times.

    >>> t = pd.to_datetime([0, 60], unit="s", utc=True)
    >>> df = pd.DataFrame({"leaf": ["a", "a"], "window_start": t, "window_end": t,
    ...                    "coverage": [0.1, 0.2], "rows": [10, 10], "window": [0, 1]})
    >>> coverage_lines(df).to_dict()["mark"]["type"]
    'line'
    """
    cols = ["leaf", "window", "window_start", "window_end", "coverage", "rows"]
    df = charts.downsample(windows[cols].sort_values(["leaf", "window"], kind="stable"))
    order = list(dict.fromkeys(windows["leaf"]))
    return (
        alt.Chart(df)
        .mark_line(point=True)
        .encode(
            x=alt.X("window:Q", title="window", axis=alt.Axis(format="d", tickMinStep=1)),
            y=alt.Y("coverage:Q", title="coverage", axis=alt.Axis(format="%")),
            color=alt.Color(
                "leaf:N", title=None, sort=order, legend=alt.Legend(orient="right", labelLimit=380)
            ),
            tooltip=[
                "leaf:N",
                "window:Q",
                charts.utc_tooltip("window_end", "window end (UTC)"),
                alt.Tooltip("coverage:Q", format=".2%"),
                alt.Tooltip("rows:Q", format=","),
            ],
        )  # fmt: skip
        .properties(height=280)
    )
