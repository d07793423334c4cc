"""UpTrain's ``Visual.*`` checks, handed to the dashboard's Visuals page.

The settings of each visual (the column, the label to colour by, UMAP's and t-SNE's
parameters, the plot's type and axes) go to ``<store>/visuals.json``, which the page reads; the
rows come from the store. A ``Visual.SHAP`` check carries a model object the dashboard cannot
load, so the Framework computes its SHAP values itself, on ``flush()``, over up to
``shap_num_points`` rows of the traffic sample (the first ``shap_background`` as background),
and writes the mean absolute value per feature to ``<store>/visuals/shap.parquet``. SHAP needs
the ``shap`` package (curate's ``visuals`` extra); without it the Framework says so once.

>>> describe({"type": "UMAP", "measurable_args": {"feature_name": "emb"}, "dim": "2D",
...           "label_args": [{"feature_name": "source"}], "model": object()})
{'type': 'UMAP', 'dim': '2D', 'feature_name': 'emb', 'label': 'source'}
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

log = logging.getLogger("curate")

_KEPT = ("type", "dim", "n_neighbors", "min_dist", "metric", "perplexity", "plot", "plot_name",
         "x_feature_name", "y_feature_name", "feature_name", "bins", "dashboard_name",
         "shap_num_points", "clustering_algorithm")  # fmt: skip
_NOT_FEATURES = {"id", "ts", "identifiers", "reasons"}


def describe(check: dict[str, Any]) -> dict[str, Any]:
    """The JSON-safe settings of one visual check."""
    out = {k: getattr(check[k], "value", check[k]) for k in _KEPT if k in check}
    measurable = check.get("measurable_args") or {}
    if measurable.get("feature_name"):
        out["feature_name"] = measurable["feature_name"]
    labels = check.get("label_args") or []
    if labels and labels[0].get("feature_name"):
        out["label"] = labels[0]["feature_name"]
    return out


def write_visuals(root: Any, visuals: list[dict[str, Any]]) -> None:
    """Record the visuals for the dashboard (replaced atomically)."""
    path = root / "visuals.json"
    tmp = path.with_name(".tmp-visuals.json")
    tmp.write_text(json.dumps({"visuals": [describe(v) for v in visuals]}, indent=1))
    os.replace(tmp, path)


class ShapVisual:
    """SHAP values of ``check["model"]`` over the traffic sample, written on each refresh."""

    def __init__(self, check: dict[str, Any], store: Any) -> None:
        self.model, self.store = check["model"], store
        self.points = int(check.get("shap_num_points", 1000))
        self.background = int(check.get("shap_background", 100))
        names = check.get("feature_names")
        if names is None:
            names = getattr(self.model, "feature_names_in_", None)
        self.features = [] if names is None else [str(n) for n in names]
        self._rows = -1
        self._warned = False

    def _frame(self):
        frame = self.store.traffic_sample().to_pandas()
        if self.features:
            return frame[[c for c in self.features if c in frame.columns]]
        keep = [
            c
            for c in frame.columns
            if c not in _NOT_FEATURES and not c.startswith(("outputs", "gts", "_"))
        ]
        return frame[keep].select_dtypes("number")

    def refresh(self) -> None:
        """Recompute when the sample changed; a missing ``shap`` is reported once."""
        try:
            import shap
        except ImportError:
            if not self._warned:
                log.warning("curate: Visual.SHAP needs shap: pip install 'curate[visuals]'")
                self._warned = True
            return
        frame = self._frame().head(self.points)
        if frame.empty or len(frame) == self._rows:
            return
        explainer = shap.Explainer(self.model.predict, frame.head(self.background))
        values = np.asarray(explainer(frame).values)
        table = pa.table({"feature": list(frame.columns),
                          "mean_abs_shap": np.abs(values).mean(axis=0).astype(float),
                          "rows": [len(frame)] * frame.shape[1]})  # fmt: skip
        folder = self.store.root / "visuals"
        folder.mkdir(exist_ok=True)
        tmp = folder / ".tmp-shap.parquet"
        pq.write_table(table.sort_by([("mean_abs_shap", "descending")]), tmp)
        os.replace(tmp, folder / "shap.parquet")
        self._rows = len(frame)
