"""Altair charts of the dashboard, built from small, already-downsampled frames.

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

    ``df`` needs ``window_end``, ``value``, ``threshold``, ``flagged`` and ``n``.
    """
    data = downsample(df[["window_end", "value", "threshold", "flagged", "n"]], keep="flagged")
    data = data.assign(flagged=data["flagged"].fillna(False).astype(bool))
    x = alt.X("window_end:T", title="window end (UTC)")
    tooltip = ["window_end:T", alt.Tooltip("value:Q", format=".4g"), "threshold:Q", "n:Q"]
    base = alt.Chart(data)
    line = base.mark_line(point=True).encode(x=x, y=alt.Y("value:Q", title=title), tooltip=tooltip)
    flags = (
        base.transform_filter(alt.datum.flagged)
        .mark_point(color=FLAG_COLOR, size=70, filled=True)
        .encode(x=x, y="value:Q", tooltip=tooltip)
    )
    layers = [line, flags]
    if data["threshold"].notna().any():
        rule = base.mark_line(color=FLAG_COLOR, strokeDash=[6, 4]).encode(x=x, y="threshold:Q")
        layers.insert(0, rule)
    return alt.layer(*layers).properties(height=height, title=title)


def ratio_lines(df: pd.DataFrame, color: str, height: int = 260) -> alt.LayerChart:
    """Violation ratio over windows, one line per ``color`` value, with the threshold dashed."""
    data = downsample(df[["window_end", "value", "threshold", "n", color]], keep=None)
    x = alt.X("window_end:T", title="window end (UTC)")
    lines = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=x,
            y=alt.Y("value:Q", title="violation ratio", axis=alt.Axis(format="%")),
            color=alt.Color(f"{color}:N", title=None),
            tooltip=[f"{color}:N", "window_end:T", alt.Tooltip("value:Q", format=".2%"), "n:Q"],
        )
    )
    rule = (
        alt.Chart(data)
        .mark_line(color=FLAG_COLOR, strokeDash=[6, 4])
        .encode(x=x, y="threshold:Q", detail=f"{color}:N")
    )
    return alt.layer(rule, lines).properties(height=height)


def counts_chart(counts: pd.DataFrame, freq: str) -> alt.Chart:
    """Stacked bars of edge cases per time bin, coloured by reason."""
    return (
        alt.Chart(counts)
        .mark_bar()
        .encode(
            x=alt.X("bin:T", title=f"time (UTC, bins of {freq})"),
            y=alt.Y("count:Q", title="edge cases"),
            color=alt.Color("reason:N", legend=alt.Legend(orient="bottom", labelLimit=600)),
            tooltip=["bin:T", "reason:N", "count:Q"],
        )
        .properties(height=260)
    )


def compare_bars(df: pd.DataFrame, category: str, title: str, sort: Sequence[str] | None = None):
    """Side-by-side bars of ``share`` per ``category`` for each ``source`` (reference/current)."""
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=alt.X(f"{category}:N", sort=list(sort) if sort is not None else "-y", title=None),
            xOffset="source:N",
            y=alt.Y("share:Q", axis=alt.Axis(format="%"), title="share"),
            color=alt.Color("source:N", title=None),
            tooltip=[f"{category}:N", "source:N", alt.Tooltip("share:Q", format=".2%")],
        )
        .properties(height=260, title=title)
    )


def histogram_frame(reference: np.ndarray, current: np.ndarray | None, bins: int = 30):
    """Shares per bin of the reference and current values on common bin edges."""
    values = [reference] + ([current] if current is not None and len(current) else [])
    pooled = np.concatenate(values) if values else np.zeros(0)
    pooled = pooled[np.isfinite(pooled)]
    if not len(pooled):
        return pd.DataFrame(columns=["bin", "bin_end", "source", "share"])
    edges = np.histogram_bin_edges(pooled, bins=bins)
    rows = []
    for source, x in zip(("reference", "current"), values, strict=False):
        counts, _ = np.histogram(x[np.isfinite(x)], bins=edges)
        shares = counts / max(counts.sum(), 1)
        for lo, hi, share in zip(edges[:-1], edges[1:], shares, strict=True):
            rows.append({"bin": float(lo), "bin_end": float(hi), "source": source,
                         "share": float(share)})  # fmt: skip
    return pd.DataFrame(rows)


def histogram_chart(df: pd.DataFrame, title: str) -> alt.Chart:
    """Overlaid step histograms (shares) of reference and current values."""
    return (
        alt.Chart(df)
        .mark_bar(opacity=0.55)
        .encode(
            x=alt.X("bin:Q", bin="binned", title="value"),
            x2="bin_end:Q",
            y=alt.Y("share:Q", stack=None, axis=alt.Axis(format="%")),
            color=alt.Color("source:N", title=None),
            tooltip=["bin:Q", "source:N", alt.Tooltip("share:Q", format=".2%")],
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
            y=alt.Y("token:N", sort="-x", title=None),
            color=alt.Color("stage:N", sort=list(stage_order), title=None),
            tooltip=[
                "probe:N",
                "stage:N",
                "rank:Q",
                "token:N",
                alt.Tooltip("score:Q", format=".3f"),
            ],
        )
        .properties(width=220, height=alt.Step(18))
        .facet(
            row=alt.Row("probe:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")),
            column=alt.Column("stage:N", sort=list(stage_order), title=None),
        )
        .resolve_scale(y="independent")
    )
