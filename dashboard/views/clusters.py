"""The Clusters section of the Edge cases page: groups of similar edge cases and their words.

Off until switched on: embedding and clustering take tens of seconds for thousands of rows on
a CPU, so the page stays as fast as before for a user who only searches and exports. A toggle
(not a button) keeps it on while the user filters or picks a cluster, and an expander would
not help: Streamlit runs a collapsed expander's code all the same. The numbers come from
:mod:`dashboard.clusters`, computed on the matching rows (the page's filters narrow what is
clustered) and cached per store snapshot and rows, so going back to a filter is instant.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from curate.store_reader import StoreReader
from dashboard import clusters, data, projections, ui

TOGGLE_KEY = "ec_clusters"
PICK_KEY = "ec_cluster_pick"
#: Environment variable naming the sentence encoder (a folder or a cached hub name).
ENCODER_ENV = "CURATE_CLUSTER_ENCODER"
#: Clusters with a colour of their own on the map; the smaller ones share one.
COLOURED = 12
OTHER = "other clusters"
PALETTE = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b",
           "#9d755d", "#ff9da6", "#bab0ac", "#1f77b4", "#d62728"]  # fmt: skip


def render_clusters(root: Path, shown: pd.DataFrame) -> pd.Series | None:
    """Draw the Clusters section for the matching rows ``shown``; return each row's cluster.

    The series is indexed like ``shown`` (``Int64``: ``-1`` noise, ``<NA>`` a row not
    clustered), or ``None`` while clustering is off or impossible. Pass it to
    :func:`chosen_rows` to show only the cluster the user picked.
    """
    st.subheader("Clusters")
    on = st.toggle("Find clusters of the matching edge cases", key=TOGGLE_KEY)
    if not on:
        st.caption(
            "Groups similar edge cases (sentence embeddings, UMAP, HDBSCAN) and names each group "
            f"by its most distinctive words; at most the {clusters.MAX_ROWS:,} most recent "
            "matching rows. Off by default: it takes a while on large sets."
        )
        return None
    column, encoder, min_size = _settings(root, shown)
    keep = [c for c in (column, "ts") if c in shown.columns]
    try:
        result = _clustered(str(root), _snapshot(root), _digest(shown[keep]), column, encoder,
                            min_size, shown[keep])  # fmt: skip
    except (clusters.ClusterInputError, projections.MissingExtra) as exc:
        st.info(f"No clusters: {exc}")
        return None
    _describe(result, len(shown))
    _table(result)
    _map(result)
    _pick(result)
    return result.ids.reindex(shown.index)


def chosen_rows(shown: pd.DataFrame, ids: pd.Series | None) -> pd.DataFrame:
    """``shown``, or only its rows in the cluster picked in the Clusters section.

    >>> rows = pd.DataFrame({"text": ["a", "b"]})
    >>> len(chosen_rows(rows, None))
    2
    """
    picked = st.session_state.get(PICK_KEY)
    if ids is None or picked is None:
        return shown
    return shown[ids.reindex(shown.index).eq(picked).fillna(False).to_numpy(bool)]


def _settings(root: Path, shown: pd.DataFrame) -> tuple[str, str, int]:
    with st.expander("Clustering settings"):
        left, mid, right = st.columns(3)
        names = [c for c in data.text_columns(root) if c in shown.columns] or ["text"]
        column = left.selectbox("Text column", names, key="ec_cluster_column")
        min_size = mid.number_input(
            "Smallest cluster (rows; 0: 2% of the rows, at least 10)",
            min_value=0, value=0, step=5, key="ec_cluster_min_size",
        )  # fmt: skip
        encoder = right.text_input(
            "Sentence encoder (a local folder or a cached hub name)",
            value=os.environ.get(ENCODER_ENV, "default"), key="ec_cluster_encoder",
        )  # fmt: skip
    return column, encoder.strip() or "default", int(min_size)


def _snapshot(root: Path) -> tuple[str, ...]:
    return tuple(str(f) for f in StoreReader(root).files("retraining"))


def _digest(frame: pd.DataFrame) -> str:
    hashed = pd.util.hash_pandas_object(frame.astype(str), index=True).to_numpy()
    return hashlib.blake2b(hashed.tobytes(), digest_size=16).hexdigest()


@st.cache_data(show_spinner="Clustering edge cases…", max_entries=8)
def _clustered(
    root: str,
    snapshot: tuple[str, ...],
    digest: str,
    column: str,
    encoder: str,
    min_size: int,
    _frame: pd.DataFrame,
) -> clusters.ClusterResult:
    # Keyed on the snapshot and a digest of the rows: ``_frame`` itself is not hashed.
    spec = None if encoder == "default" else encoder
    return clusters.cluster_edge_cases(_frame, column, encoder=spec,
                                       min_cluster_size=min_size or None)  # fmt: skip


def _describe(result: clusters.ClusterResult, matching: int) -> None:
    if result.note:
        st.warning(
            f"Embedded with {result.method} instead of a sentence encoder ({result.note}): "
            "clusters follow shared words rather than meaning."
        )
    found = int((result.summary["cluster"] >= 0).sum())
    noise = result.summary.loc[result.summary["cluster"] == clusters.NOISE, "share"].sum()
    capped = f" (the {clusters.MAX_ROWS:,} most recent)" if matching > clusters.MAX_ROWS else ""
    st.caption(
        f"{result.clustered:,} of {matching:,} matching rows clustered{capped}: "
        f"{found} clusters, {ui.fmt_pct(noise, 1)} noise. Embedded by {result.method}, "
        f"reduced by {result.reduction}, clustered by HDBSCAN; "
        f"{sum(result.seconds.values()):.1f} s."
    )


def _table(result: clusters.ClusterResult) -> None:
    ui.table(
        result.summary.drop(columns=["label"]),
        column_config={
            "cluster": st.column_config.NumberColumn("cluster", help="-1: noise"),
            "terms": st.column_config.TextColumn("distinctive terms (c-TF-IDF)"),
            "share": st.column_config.NumberColumn("share", format="percent"),
            "examples": st.column_config.TextColumn("most central rows", width="large"),
        },
        key="ec_cluster_table",
    )


def _map(result: clusters.ClusterResult) -> None:
    points = result.points
    if points.empty:
        return
    big = set(result.summary["cluster"].head(COLOURED)) - {clusters.NOISE}
    shown = points.assign(
        group=points["label"].where(points["cluster"].isin(big) | (points["cluster"] < 0), OTHER)
    )
    shown = shown.sort_values("cluster", key=lambda c: c >= 0, kind="stable")  # noise below
    domain = [lab for lab in result.summary["label"] if lab in set(shown["group"])]
    domain += [OTHER] if OTHER in set(shown["group"]) else []
    # Clusters in distinct colours; noise and the small clusters in greys, behind them.
    grey = {clusters.NOISE_LABEL: "#c9ccd1", OTHER: "#8e949c"}
    palette = iter(PALETTE * (1 + len(domain) // len(PALETTE)))
    colours = [grey.get(lab) or next(palette) for lab in domain]
    chart = (
        alt.Chart(shown)
        .mark_circle(size=28, opacity=0.8)
        .encode(
            x=alt.X("x:Q", axis=None),
            y=alt.Y("y:Q", axis=None),
            color=alt.Color(
                "group:N",
                title=None,
                scale=alt.Scale(domain=domain, range=colours),
                legend=alt.Legend(orient="right", labelLimit=320),
            ),
            tooltip=[alt.Tooltip("label:N", title="cluster"), alt.Tooltip("text:N")],
        )
        .properties(height=460)
    )
    st.altair_chart(chart, width="stretch")
    if len(points) < result.clustered:
        st.caption(f"The map shows a sample of {len(points):,} of {result.clustered:,} rows.")


def _pick(result: clusters.ClusterResult) -> None:
    options = [None, *result.summary["cluster"].tolist()]
    if st.session_state.get(PICK_KEY) not in options:
        st.session_state.pop(PICK_KEY, None)  # the cluster is gone (new rows, new settings)
    rows = dict(zip(result.summary["cluster"], result.summary["rows"], strict=True))
    st.selectbox(
        "Show the rows of",
        options,
        format_func=lambda c: "all clusters" if c is None else f"{result.label(c)} ({rows[c]:,})",
        key=PICK_KEY,
    )
