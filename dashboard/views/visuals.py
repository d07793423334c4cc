"""Visuals: UMAP / t-SNE projections of logged rows, SHAP of a tabular model, configured plots.

The projection draws the traffic sample and the edge cases of one embedding or numeric column
in 2-D, coloured by origin (edge case or not), by a clustering of the projection, or by a
logged label column. Visuals a Framework's config asked for (UpTrain's ``Visual.UMAP``,
``TSNE``, ``SHAP``, ``PLOT`` checks) are drawn first, with their settings; the page also lets
you project any column. The numbers come from :mod:`dashboard.projections`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from curate.store_reader import StoreReader
from dashboard import data, projections, ui

COLOURS = ("origin", "cluster")


def render() -> None:
    """Draw the page."""
    root = ui.store_root()
    st.title("Visuals")
    if not data.store_exists(root):
        ui.no_store(root)
        return
    frame = _rows(str(root), _listing(root))
    if frame.empty:
        ui.empty("No rows yet: log some traffic and refresh.")
        return
    for i, visual in enumerate(projections.configured(root)):
        _configured(root, frame, visual, i)
    _explore(root, frame)


def _listing(root: Path) -> tuple[str, ...]:
    reader = StoreReader(root)
    return tuple(str(f) for t in ("traffic", "retraining") for f in reader.files(t))


@st.cache_data(show_spinner=False, max_entries=8)
def _rows(root: str, listing: tuple[str, ...]) -> pd.DataFrame:
    return projections.rows(Path(root))


@st.cache_data(show_spinner="Projecting…", max_entries=16)
def _projected(root: str, listing: tuple[str, ...], column: Any, method: str, dim: int,
               params: tuple[tuple[str, Any], ...]) -> pd.DataFrame:  # fmt: skip
    frame = projections.rows(Path(root))
    cols = list(column) if isinstance(column, tuple) else column
    usable = frame.dropna(subset=cols if isinstance(cols, list) else [cols])
    coords = projections.project(projections.features(usable, cols), method, dim, **dict(params))
    out = usable.drop(columns=[c for c in usable.columns if c.startswith("_")]).copy()
    for k in range(dim):
        out[f"d{k}"] = coords[:, k]
    out["cluster"] = projections.cluster(coords).astype(str)
    return out


def _scatter(points: pd.DataFrame, colour: str) -> None:
    st.scatter_chart(points, x="d0", y="d1", color=colour, height=480)
    counts = points.groupby(colour).size().rename("rows").reset_index()
    ui.table(counts)


def _configured(root: Path, frame: pd.DataFrame, visual: dict[str, Any], i: int) -> None:
    kind = visual.get("type")
    st.subheader(_title(visual))
    try:
        if kind in ("UMAP", "t-SNE"):
            params = tuple(sorted((k, visual[k]) for k in ("n_neighbors", "min_dist", "metric",
                                                            "perplexity") if k in visual))  # fmt: skip
            dim = 3 if visual.get("dim") == "3D" else 2
            points = _projected(
                str(root), _listing(root), visual["feature_name"], kind, dim, params
            )
            label = visual.get("label")
            _scatter(points, label if label in points.columns else "origin")
        elif kind == "SHAP":
            _shap(root)
        elif kind == "PLOT":
            _plot(frame, visual)
    except projections.MissingExtra as exc:
        st.warning(str(exc))
    except (KeyError, ValueError) as exc:
        st.error(f"cannot draw this visual: {exc}")


def _shap(root: Path) -> None:
    table = projections.shap_table(root)
    if table is None:
        ui.empty("No SHAP values yet: they are computed when the Framework flushes.")
        return
    st.bar_chart(table, x="feature", y="mean_abs_shap", horizontal=True)
    ui.table(table)


def _plot(frame: pd.DataFrame, visual: dict[str, Any]) -> None:
    chart = projections.plot_frame(frame, visual)
    kind = visual.get("plot", "histogram")
    x, y = chart.columns[0], chart.columns[-1]
    if kind == "line_chart":
        st.line_chart(chart, x=x, y=y)
    elif kind == "scatter_plot":
        st.scatter_chart(chart, x=x, y=y)
    else:
        st.bar_chart(chart, x=x, y=y)


def _explore(root: Path, frame: pd.DataFrame) -> None:
    st.subheader("Project a column")
    usable = projections.columns(frame)
    if not usable:
        ui.empty("No numeric or embedding column to project.")
        return
    left, mid, right = st.columns(3)
    column = left.selectbox("Column", usable)
    method = mid.radio("Method", ("UMAP", "t-SNE"), horizontal=True)
    labels = [c for c in frame.columns if c not in usable and _is_text(frame[c])]
    colour = right.selectbox("Colour by", [*COLOURS, *labels])
    if st.button("Project", icon=":material/scatter_plot:"):
        try:
            _scatter(_projected(str(root), _listing(root), column, method, 2, ()), colour)
        except projections.MissingExtra as exc:
            st.warning(str(exc))


def _is_text(values: pd.Series) -> bool:
    present = values.dropna()
    return not present.empty and isinstance(present.iloc[0], str) and present.nunique() <= 20


def _title(visual: dict[str, Any]) -> str:
    kind, feature = visual.get("type"), visual.get("feature_name")
    if kind == "SHAP":
        return "SHAP values"
    if kind == "PLOT":
        axes = feature or " vs ".join(
            str(a) for a in (visual.get("y_feature_name"), visual.get("x_feature_name")) if a
        )
        return f"{visual.get('plot_name') or visual.get('plot', 'plot')} of {axes}"
    return f"{kind} of {feature}"
