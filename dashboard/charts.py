"""Altair charts of the dashboard, built from small, already-downsampled frames.

Time is shown in UTC with 24-hour labels everywhere, as the time slider and the tables show it:
time axes use a UTC scale and format their labels with ``utcFormat`` (Vega-Lite's defaults
would be the browser's zone and ``%I:%M``, 12-hour without AM/PM), tooltips use
:data:`TIME_FORMAT` in UTC. Lines over windows break where the stream was idle
(:func:`gap_segments`), so no line is drawn across a period without data. Every bar of a
categorical axis is labelled (Streamlit's theme would drop labels it finds too close).

>>> import pandas as pd
>>> len(downsample(pd.DataFrame({"x": range(10_000)}), 100))
100
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

MAX_POINTS = 1500
FLAG_COLOR = "#d62728"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# Seconds only when a tick has them; a date at midnight; otherwise hours and minutes.
UTC_LABELS = (
    "utcseconds(datum.value) != 0 ? utcFormat(datum.value, '%H:%M:%S') : "
    "utchours(datum.value) == 0 && utcminutes(datum.value) == 0 ? "
    "utcFormat(datum.value, '%b %d') : utcFormat(datum.value, '%H:%M')"
)
MIN_GAP = pd.Timedelta(seconds=1)
SOURCE_ORDER = ("reference", "window")


def utc_x(field: str, title: str) -> alt.X:
    """A time x axis in UTC with 24-hour labels.

    >>> utc_x("window_end", "t").to_dict()["scale"]
    {'type': 'utc'}
    """
    return alt.X(f"{field}:T", title=title, scale=alt.Scale(type="utc"),
                 axis=alt.Axis(labelExpr=UTC_LABELS))  # fmt: skip


def utc_tooltip(field: str, title: str | None = None) -> alt.Tooltip:
    """A tooltip of a time field as ``2026-01-05 18:42:00`` UTC.

    >>> utc_tooltip("ts").to_dict()["formatType"]
    'utc'
    """
    return alt.Tooltip(f"{field}:T", title=title or f"{field} (UTC)", format=TIME_FORMAT,
                       formatType="utc")  # fmt: skip


def gap_segments(df: pd.DataFrame, by: Sequence[str] = ()) -> pd.Series:
    """Segment numbers of windows: a new segment starts after an idle gap.

    Within each series (``by``), ordered by end, a window starts a new segment when it begins
    more than half a typical (median) window length, and at least :data:`MIN_GAP`, after the
    previous one ended: a missing time window, or an idle period between row windows. Drawn
    with ``detail``, each segment is its own line.

    >>> t = pd.to_datetime([0, 60, 120, 600, 660], unit="s", utc=True)
    >>> df = pd.DataFrame({"window_start": t, "window_end": t + pd.Timedelta(seconds=60)})
    >>> gap_segments(df).tolist()
    [0, 0, 0, 1, 1]
    """
    if df.empty:
        return pd.Series([], dtype="int64", index=df.index)
    groups = df.groupby(list(by), sort=False, dropna=False) if by else [((), df)]
    parts = []
    for _, g in groups:
        g = g.sort_values("window_end", kind="stable")
        length = (g["window_end"] - g["window_start"]).median()
        limit = max(length / 2, MIN_GAP) if pd.notna(length) else MIN_GAP
        idle = (g["window_start"] - g["window_end"].shift()) > limit
        parts.append(idle.cumsum().astype("int64"))
    return pd.concat(parts).reindex(df.index)


def downsample(
    df: pd.DataFrame, max_points: int = MAX_POINTS, keep: str | None = None
) -> pd.DataFrame:
    """At most ``max_points`` evenly spaced rows, plus every row where column ``keep`` is true."""
    if len(df) <= max_points:
        return df
    idx = np.unique(np.linspace(0, len(df) - 1, max_points).round().astype(int))
    chosen = np.zeros(len(df), dtype=bool)
    chosen[idx] = True
    if keep is not None and keep in df:
        chosen |= df[keep].fillna(False).to_numpy(dtype=bool)
    return df[chosen]


def threshold_chart(df: pd.DataFrame, title: str, height: int = 220) -> alt.LayerChart:
    """``value`` over ``window_end`` with the (dashed) ``threshold`` and flagged windows in red.

    ``df`` needs ``window_start``, ``window_end``, ``value``, ``threshold``, ``flagged`` and
    ``n``; the lines break at idle gaps (:func:`gap_segments`).
    """
    cols = ["window_start", "window_end", "value", "threshold", "flagged", "n"]
    data = df[cols].assign(segment=gap_segments(df))
    data = downsample(data, keep="flagged")
    data = data.assign(flagged=data["flagged"].fillna(False).astype(bool))
    x = utc_x("window_end", "window end (UTC)")
    tooltip = [utc_tooltip("window_end", "window end (UTC)"),
               alt.Tooltip("value:Q", format=".4g"), "threshold:Q", "n:Q"]  # fmt: skip
    base = alt.Chart(data)
    line = base.mark_line(point=True).encode(
        x=x, y=alt.Y("value:Q", title=title), detail="segment:N", tooltip=tooltip
    )
    flags = (
        base.transform_filter(alt.datum.flagged)
        .mark_point(color=FLAG_COLOR, size=70, filled=True)
        .encode(x=x, y="value:Q", tooltip=tooltip)
    )
    layers = [line, flags]
    if data["threshold"].notna().any():
        rule = base.mark_line(color=FLAG_COLOR, strokeDash=[6, 4]).encode(
            x=x, y="threshold:Q", detail="segment:N"
        )
        layers.insert(0, rule)
    return alt.layer(*layers).properties(height=height, title=title)


def ratio_lines(df: pd.DataFrame, color: str, height: int = 260) -> alt.LayerChart:
    """Violation ratio over windows, one line per ``color`` value, with the threshold dashed;
    lines break at idle gaps (:func:`gap_segments`)."""
    cols = ["window_start", "window_end", "value", "threshold", "n", color]
    data = df[cols].assign(segment=gap_segments(df, [color]))
    data = downsample(data, keep=None)
    x = utc_x("window_end", "window end (UTC)")
    lines = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=x,
            y=alt.Y("value:Q", title="violation ratio", axis=alt.Axis(format="%")),
            color=alt.Color(f"{color}:N", title=None),
            detail="segment:N",
            tooltip=[
                f"{color}:N",
                utc_tooltip("window_end", "window end (UTC)"),
                alt.Tooltip("value:Q", format=".2%"),
                "n:Q",
            ],  # fmt: skip
        )
    )
    rule = (
        alt.Chart(data)
        .mark_line(color=FLAG_COLOR, strokeDash=[6, 4])
        .encode(x=x, y="threshold:Q", detail=alt.Detail([f"{color}:N", "segment:N"]))
    )
    return alt.layer(rule, lines).properties(height=height)


def counts_chart(counts: pd.DataFrame, freq: str) -> alt.Chart:
    """Stacked bars of edge cases per time bin, coloured by ``check`` (its name)."""
    return (
        alt.Chart(counts)
        .mark_bar()
        .encode(
            x=utc_x("bin", f"time (UTC, bins of {freq})"),
            y=alt.Y("count:Q", title="edge cases"),
            color=alt.Color(
                "check:N", title=None, legend=alt.Legend(orient="bottom", labelLimit=600)
            ),
            tooltip=[utc_tooltip("bin", "bin start (UTC)"), "check:N", "count:Q"],
        )
        .properties(height=260)
    )


def compare_bars(
    df: pd.DataFrame,
    category: str,
    title: str,
    sort: Sequence[str] | None = None,
    every_label: bool = True,
) -> alt.Chart:
    """Side-by-side bars of ``share`` per ``category`` for each ``source`` (reference/window).

    Every bar is labelled unless ``every_label`` is false (a long numeric axis, such as words
    per text, where labels that would overlap are left out).
    """
    if every_label:
        axis = alt.Axis(labelOverlap=False, labelAngle=-45, labelLimit=160)
    else:
        axis = alt.Axis(labelOverlap=True, labelAngle=0)
    tooltip = [f"{category}:N", "source:N", alt.Tooltip("share:Q", format=".2%")]
    if "count" in df:
        tooltip.append(alt.Tooltip("count:Q", format=",.0f"))
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=alt.X(
                f"{category}:N",
                sort=list(sort) if sort is not None else "-y",
                title=None,
                axis=axis,
            ),
            xOffset=alt.XOffset("source:N", sort=list(SOURCE_ORDER)),
            y=alt.Y("share:Q", axis=alt.Axis(format="%"), title="share"),
            color=alt.Color("source:N", title=None, sort=list(SOURCE_ORDER)),
            tooltip=tooltip,
        )
        .properties(height=280, title=title)
    )


def cdf_chart(df: pd.DataFrame, title: str) -> alt.Chart:
    """Cumulative share ``p`` against ``value``, one line per ``source`` (reference/window)."""
    return (
        alt.Chart(df)
        .mark_line(interpolate="step-after")
        .encode(
            x=alt.X("value:Q", title="value"),
            y=alt.Y("p:Q", title="share of values ≤ x", axis=alt.Axis(format="%")),
            color=alt.Color("source:N", title=None, sort=list(SOURCE_ORDER)),
            tooltip=[
                "source:N",
                alt.Tooltip("value:Q", format=".4g"),
                alt.Tooltip("p:Q", format=".0%"),
            ],  # fmt: skip
        )
        .properties(height=260, title=title)
    )


def histogram_frame(reference: np.ndarray, bins: int = 30) -> pd.DataFrame:
    """Shares per bin of a reference profile's values (a column no window has tested yet).

    >>> histogram_frame(np.array([0.0, 1.0, 1.0, 3.0]), bins=3)["share"].tolist()
    [0.25, 0.5, 0.25]
    """
    x = reference[np.isfinite(reference)]
    if not len(x):
        return pd.DataFrame(columns=["bin", "bin_end", "source", "share"])
    counts, edges = np.histogram(x, bins=bins)
    return pd.DataFrame({"bin": edges[:-1], "bin_end": edges[1:], "source": "reference",
                         "share": counts / counts.sum()})  # fmt: skip


def histogram_chart(df: pd.DataFrame, title: str) -> alt.Chart:
    """A histogram (shares) of reference values."""
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=alt.X("bin:Q", bin="binned", title="value"),
            x2="bin_end:Q",
            y=alt.Y("share:Q", axis=alt.Axis(format="%")),
            color=alt.Color("source:N", title=None),
            tooltip=["bin:Q", alt.Tooltip("share:Q", format=".2%")],
        )
        .properties(height=260, title=title)
    )


def curves(df: pd.DataFrame, y_title: str, height: int = 260) -> alt.Chart:
    """Lines of ``value`` over ``step``, one per ``series`` (loss, eval loss, ...)."""
    return (
        alt.Chart(downsample(df))
        .mark_line(point=alt.OverlayMarkDef(size=25))
        .encode(
            x=alt.X("step:Q", title="step"),
            y=alt.Y("value:Q", title=y_title, scale=alt.Scale(zero=False)),
            color=alt.Color("series:N", title=None),
            tooltip=["series:N", "step:Q", alt.Tooltip("value:Q", format=".4g")],
        )
        .properties(height=height)
    )


def probe_chart(df: pd.DataFrame, stage_order: Sequence[str]) -> alt.Chart:
    """Top-k token scores of each probe, one column per stage (or model)."""
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=alt.X("score:Q", title="probability"),
            y=alt.Y("token:N", sort="-x", title=None, axis=alt.Axis(labelOverlap=False)),
            color=alt.Color("stage:N", sort=list(stage_order), title=None),
            tooltip=[
                "probe:N",
                "stage:N",
                "rank:Q",
                "token:N",
                alt.Tooltip("score:Q", format=".3f"),
            ],
        )
        .properties(width=220, height=alt.Step(20))
        .facet(
            row=alt.Row("probe:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")),
            column=alt.Column("stage:N", sort=list(stage_order), title=None),
        )
        .resolve_scale(y="independent")
    )
