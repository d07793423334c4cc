"""The drift page's "reference vs tested window": pick a closed window, see what was tested.

Each closed window of a DATA_DRIFT check stored the bins its statistics compared, with the
reference's and the window's counts (``docs/store.md``); the charts here are shares of exactly
those counts, next to the window's verdicts. Columns with a reference profile but no tested
window yet show the reference alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import charts, data, distributions, ui
from dashboard.windows import WindowKey, default_window


def render(root: Path, column: str | None, profiles: list[Path]) -> None:
    """The window picker, the chosen window's verdicts and its distributions."""
    st.subheader("Reference vs tested window")
    if column is None:
        ui.empty("No drift column yet: a `data_drift` check names one in `measurable_args`.")
        return
    windows = data.drift_windows(root, column)
    if windows.empty:
        _reference_only(root, column, profiles)
        return
    w = windows.iloc[_pick_window(windows, column)]
    key = WindowKey(column, int(w["window"]))
    _verdicts(data.window_verdicts(root, key))
    summary = data.window_summary(root, key)
    if summary is None:
        ui.empty(
            "This window was written before drift windows kept what their statistics were "
            "computed from, so it cannot be drawn; windows closed from now on can."
        )
        return
    _draw(summary, column)


def window_label(w: pd.Series, ordinal: int, writers: int = 1) -> str:
    """How the picker names a window: its place, UTC bounds, size and verdict.

    >>> t = pd.Timestamp("2026-01-05 18:00", tz="UTC")
    >>> w = pd.Series({"window_start": t, "window_end": t + pd.Timedelta("1h"), "n": 61234,
    ...                "rows": 5000, "flagged": True, "alarms": ["js"], "writer": "w1"})
    >>> window_label(w, 7)
    '#7 · 2026-01-05 18:00:00 → 19:00:00 UTC · 5,000 rows · drift: js'
    """
    start, end = w["window_start"], w["window_end"]
    same_day = ui.fmt_time(start, "%Y-%m-%d") == ui.fmt_time(end, "%Y-%m-%d")
    end_text = ui.fmt_time(end, "%H:%M:%S" if same_day else "%Y-%m-%d %H:%M:%S")
    verdict = "drift: " + ", ".join(w["alarms"]) if w["flagged"] else "no drift"
    rows = w.get("rows")
    size = (
        f"{int(rows):,} rows" if rows is not None and pd.notna(rows) else f"{int(w['n']):,} values"
    )
    label = f"#{ordinal} · {ui.fmt_time(start)} → {end_text} UTC · {size} · {verdict}"
    return f"{label} · writer {w['writer']}" if writers > 1 else label


def _pick_window(windows: pd.DataFrame, column: str) -> int:
    # Options are window numbers, which new windows do not change: a choice survives reruns.
    position = {int(w): i for i, w in enumerate(windows["window"])}
    newest_first = list(position)[::-1]
    writers = windows["writer"].nunique()
    chosen = st.selectbox(
        "Tested window",
        newest_first,
        index=len(windows) - 1 - default_window(windows),
        format_func=lambda w: window_label(windows.iloc[position[w]], position[w] + 1, writers),
        key=f"drift_window:{column}",
        help="Every closed window of this column, newest first; the latest that drifted is "
        "shown first. The charts are the counts its statistics were computed from.",
    )
    return position[chosen]


def _verdicts(verdicts: pd.DataFrame) -> None:
    rows = verdicts[verdicts["threshold"].notna()]
    flagged = rows[rows["flagged"].fillna(False).astype(bool)]
    said = [
        f"`{r.metric}` = {r.value:.4g} (threshold {r.threshold:.4g})" for r in rows.itertuples()
    ]
    if not flagged.empty:
        st.error("Drift in this window: " + "; ".join(said), icon=":material/warning:")
    elif said:
        st.success("No drift in this window: " + "; ".join(said), icon=":material/check:")


def _draw(summary: dict[str, Any], column: str) -> None:
    kind = summary.get("kind")
    if kind == "categorical":
        _bars(distributions.bins_frame(summary), f"{column}: share of each category")
    elif kind == "text":
        _text(summary, column)
    elif kind == "numeric":
        left, right = st.columns(2)
        with left:
            title = f"{column}: share in each reference quantile bin"
            _bars(distributions.bins_frame(summary), title)
        quantiles = distributions.quantile_frame(summary)
        if not quantiles.empty:
            with right:
                chart = charts.cdf_chart(quantiles, f"{column}: cumulative distribution")
                st.altair_chart(chart, width="stretch")
    else:
        st.caption(f"`{column}` is a {kind} column: no distribution chart for it.")
        return
    _numbers(summary)


def _bars(frame: pd.DataFrame, title: str) -> None:
    order = list(dict.fromkeys(frame["label"]))
    st.altair_chart(charts.compare_bars(frame, "label", title, order), width="stretch")


def _lengths(lengths: pd.DataFrame, column: str) -> None:
    chart = charts.compare_bars(lengths, "words", f"{column}: words per text",
                                sort=sorted(lengths["words"].unique()), every_label=False)  # fmt: skip
    st.altair_chart(chart, width="stretch")


def _text(summary: dict[str, Any], column: str) -> None:
    _bars(distributions.bins_frame(summary), f"{column}: most frequent compared words")
    _lengths(distributions.lengths_frame(summary), column)
    ref_tail, win_tail = distributions.tail_shares(summary)
    tokens = summary.get("tokens") or 0
    cols = st.columns(3)
    cols[0].metric("All other words (reference)", ui.fmt_pct(ref_tail),
                   help="words outside the compared bins, pooled in one tail bin")  # fmt: skip
    cols[1].metric("All other words (window)", ui.fmt_pct(win_tail))
    cols[2].metric("Unseen words (window)", ui.fmt_pct(summary["oov"] / tokens if tokens else None),
                   help="share of the window's words missing from the reference vocabulary")  # fmt: skip


def _numbers(summary: dict[str, Any]) -> None:
    table = distributions.bins_table(summary)
    unseen = distributions.unseen_frame(summary)
    percent = st.column_config.NumberColumn(format="percent")
    with st.expander(f"The numbers drawn: {len(table):,} compared bins"):
        ui.table(table, column_config={"reference share": percent, "window share": percent})
        if not unseen.empty:
            st.caption("Most frequent values of the window the reference does not have:")
            ui.table(
                unseen, column_config={"share": st.column_config.NumberColumn(format="percent")}
            )


def _reference_only(root: Path, column: str, profiles: list[Path]) -> None:
    holding = [p for p in profiles if column in data.safe_profile(p)]
    if not holding:
        ui.empty(
            "No tested window and no reference profile for this column under `profiles/`: "
            "a `data_drift` check saves its reference there and draws every closed window "
            "against it here."
        )
        return
    ref = data.safe_profile(holding[-1])[column]
    st.caption(
        f"No tested window of `{column}` yet: the reference (`{holding[-1].name}`) alone. Each "
        "closed window of a `data_drift` check is drawn here against it."
    )
    if ref.kind == "numeric":
        df = charts.histogram_frame(distributions.numeric_values(ref))
        st.altair_chart(charts.histogram_chart(df, f"{column}: histogram"), width="stretch")
    elif ref.kind in ("categorical", "text"):
        _bars(distributions.reference_frame(ref), f"{column}: reference shares")
        if ref.kind == "text":
            _lengths(distributions.reference_lengths(ref), column)
    else:
        st.caption(f"`{column}` is a {ref.kind} column: no distribution chart for it.")
