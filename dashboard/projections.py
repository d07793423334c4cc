"""The numbers behind the Visuals page: 2-D projections, clusters and plots of logged rows.

Rows come from the store: the uniform sample of all traffic (``StoreReader.traffic_sample``)
and the edge cases (the retraining set), each marked with where it came from, so a projection
shows the edge cases against everything the model saw. UMAP needs ``umap-learn`` and t-SNE and
the clusterings ``scikit-learn``; both come with curate's ``visuals`` extra, and a missing one
is reported by :class:`MissingExtra` with the command that installs it.

>>> import numpy as np, pandas as pd
>>> rows = pd.DataFrame({"v": [[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]], "x": [1, 2, 3]})
>>> features(rows, "v").shape, features(rows, "x").shape
((3, 2), (3, 1))
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from curate.store_reader import StoreReader

#: Rows projected at most (t-SNE and UMAP grow faster than linearly with the rows).
MAX_ROWS = 3000
ORIGIN = "origin"


class MissingExtra(ImportError):
    """An optional library a visual needs is not installed."""


def _need(module: str, package: str) -> Any:
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        raise MissingExtra(
            f"this visual needs {package}: pip install 'curate[visuals]' (or pip install {package})"
        ) from None


def configured(root: Path) -> list[dict[str, Any]]:
    """The visuals a Framework's config asked for (``visuals.json``, written by curate.compat)."""
    path = Path(root) / "visuals.json"
    if not path.exists():
        return []
    return json.loads(path.read_text()).get("visuals", [])


def rows(root: Path, limit: int = MAX_ROWS) -> pd.DataFrame:
    """Edge cases and the rest of the traffic sample (``origin`` says which), ``limit`` each.

    A sampled row that is also an edge case is drawn once, as an edge case.
    """
    reader = StoreReader(root)
    parts = []
    edges = reader.read("retraining")
    if edges.num_rows:
        parts.append(edges.slice(0, limit).to_pandas().assign(**{ORIGIN: "edge case"}))
    traffic = reader.traffic_sample().to_pandas()
    if len(traffic) and parts and "id" in traffic.columns:
        traffic = traffic[~traffic["id"].isin(edges.column("id").to_pylist())]
    if len(traffic):
        parts.append(traffic.head(limit).assign(**{ORIGIN: "traffic"}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def columns(frame: pd.DataFrame) -> list[str]:
    """Columns that can be projected: numbers, or lists of numbers (embeddings)."""
    out = []
    for name in frame.columns:
        if name in (ORIGIN, "id", "ts") or name.startswith(("signal.", "_")):
            continue
        values = frame[name].dropna()
        if values.empty:
            continue
        first = values.iloc[0]
        if isinstance(first, list | tuple | np.ndarray) or pd.api.types.is_numeric_dtype(values):
            out.append(name)
    return out


def features(frame: pd.DataFrame, column: str | list[str]) -> np.ndarray:
    """A numeric matrix of one embedding column, or of one or several numeric columns."""
    if isinstance(column, list):
        return np.column_stack([features(frame, c) for c in column])
    values = frame[column]
    first = values.dropna().iloc[0]
    if isinstance(first, list | tuple | np.ndarray):
        return np.vstack([np.asarray(v, dtype=float) for v in values])
    return values.to_numpy(dtype=float).reshape(-1, 1)


def project(x: np.ndarray, method: str, dim: int = 2, seed: int = 0, **params: Any) -> np.ndarray:
    """``x`` projected to ``dim`` dimensions by ``"UMAP"``, ``"t-SNE"`` or ``"PCA"``.

    >>> project(np.eye(4), "PCA", dim=2).shape
    (4, 2)
    """
    x = np.nan_to_num(np.asarray(x, dtype=float))
    if method == "UMAP":
        umap = _need("umap", "umap-learn")
        keys = {k: params[k] for k in ("n_neighbors", "min_dist", "metric") if k in params}
        keys["n_neighbors"] = min(keys.get("n_neighbors", 15), max(2, len(x) - 1))
        return umap.UMAP(n_components=dim, random_state=seed, **keys).fit_transform(x)
    if method == "t-SNE":
        manifold = _need("sklearn.manifold", "scikit-learn")
        perplexity = min(float(params.get("perplexity", 30)), max(1.0, (len(x) - 1) / 3))
        return manifold.TSNE(n_components=dim, perplexity=perplexity, random_state=seed,
                             init="pca").fit_transform(x)  # fmt: skip
    if method == "PCA":
        decomposition = _need("sklearn.decomposition", "scikit-learn")
        dim = min(dim, *x.shape)
        return decomposition.PCA(n_components=dim, random_state=seed).fit_transform(x)
    raise ValueError(f"unknown projection {method!r}; choose UMAP, t-SNE or PCA")


def cluster(
    coords: np.ndarray,
    algorithm: str = "HDBSCAN",
    min_cluster_size: int | None = None,
    selection: str = "eom",
) -> np.ndarray:
    """Cluster labels of projected points (-1: noise), by ``HDBSCAN`` or ``DBSCAN``.

    HDBSCAN's smallest cluster is ``min_cluster_size`` points (default: 2% of them, at least
    5); ``selection`` is its ``cluster_selection_method`` (``"eom"`` or ``"leaf"``).

    >>> rng = np.random.default_rng(0)
    >>> blobs = np.vstack([rng.normal(0, 0.1, (20, 2)), rng.normal(5, 0.1, (20, 2))])
    >>> sorted(set(cluster(blobs).tolist()))
    [0, 1]
    """
    sk = _need("sklearn.cluster", "scikit-learn")
    if algorithm == "DBSCAN":
        spread = float(np.median(np.std(coords, axis=0))) or 1.0
        return sk.DBSCAN(eps=spread / 5).fit_predict(coords)
    size = min_cluster_size or max(5, len(coords) // 50)
    hdbscan = sk.HDBSCAN(min_cluster_size=size, cluster_selection_method=selection, copy=True)
    return hdbscan.fit_predict(coords)


def plot_frame(frame: pd.DataFrame, visual: dict[str, Any]) -> pd.DataFrame:
    """The table a ``Visual.PLOT`` chart draws (bar, line, scatter, or a histogram's bins)."""
    kind = visual.get("plot", "histogram")
    if kind == "histogram":
        values = frame[visual["feature_name"]].dropna().to_numpy(dtype=float)
        counts, edges = np.histogram(values, bins=visual.get("bins", 20))
        centres = (edges[:-1] + edges[1:]) / 2
        return pd.DataFrame({visual["feature_name"]: centres.round(4), "count": counts})
    x, y = visual.get("x_feature_name"), visual.get("y_feature_name")
    if kind == "bar_chart" and y is None:
        return frame[x].value_counts().rename("count").rename_axis(x).reset_index()
    return frame[[c for c in (x, y) if c]].dropna()


def shap_table(root: Path) -> pd.DataFrame | None:
    """Mean absolute SHAP value per feature, as curate.compat computed it (or None)."""
    path = Path(root) / "visuals" / "shap.parquet"
    if not path.exists():
        return None
    return pd.read_parquet(path)
