"""UpTrain's Visual checks: the projections, SHAP values and plots behind the Visuals page."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import curate as uptrain
from dashboard import projections

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def store_with_visuals(tmp_path: Path, n: int = 300) -> Path:
    """A store logged through an UpTrain config with UMAP, t-SNE, SHAP and PLOT visuals."""
    rng = np.random.default_rng(0)
    emb = np.r_[rng.normal(0, 1, (n // 2, 8)), rng.normal(4, 1, (n // 2, 8))]
    x = rng.normal(0, 1, n)

    class Model:  # a tabular model: y = 3 a + b
        feature_names_in_ = np.array(["a", "b"])

        def predict(self, frame):
            return 3 * np.asarray(frame["a"]) + np.asarray(frame["b"])

    far = uptrain.Signal("far", lambda inputs, outputs, gts=None, extra_args=None:
                         [float(np.mean(e)) > 2 for e in inputs["emb"]])  # fmt: skip
    visual = {"measurable_args": {"type": uptrain.MeasurableType.INPUT_FEATURE,
                                  "feature_name": "emb"},
              "label_args": [{"type": "input_feature", "feature_name": "source"}]}  # fmt: skip
    cfg = {
        "checks": [
            {"type": uptrain.Monitor.EDGE_CASE, "signal_formulae": far},
            {"type": uptrain.Visual.UMAP, **visual, "n_neighbors": 10, "dim": "2D"},
            {"type": uptrain.Visual.TSNE, **visual},
            {"type": uptrain.Visual.SHAP, "model": Model(), "shap_num_points": 100},
            {"type": uptrain.Visual.PLOT, "plot": uptrain.PlotType.HISTOGRAM, "feature_name": "a"},
        ],
        "retraining_folder": str(tmp_path / "store"),
        "logging_args": {"st_logging": True},
    }
    with uptrain.Framework(cfg) as fw:
        fw.log(inputs={"emb": emb, "a": x, "b": rng.normal(0, 0.1, n),
                       "source": np.where(np.arange(n) < n // 2, "train", "prod")})  # fmt: skip
    return tmp_path / "store"


@pytest.mark.slow
def test_projections_separate_two_groups(tmp_path):
    root = store_with_visuals(tmp_path)
    frame = projections.rows(root)
    assert frame[projections.ORIGIN].value_counts().to_dict() == {"traffic": 150, "edge case": 150}
    assert frame["id"].is_unique
    assert projections.columns(frame)[:2] == ["emb", "a"]
    x = projections.features(frame, "emb")
    truth = x.mean(axis=1) > 2
    for method in ("UMAP", "t-SNE"):
        coords = projections.project(x, method, n_neighbors=10)
        assert coords.shape == (len(frame), 2)
        # the groups are far apart in 8-D, and stay apart in 2-D
        a, b = coords[truth].mean(axis=0), coords[~truth].mean(axis=0)
        spread = coords[truth].std(axis=0).mean() + coords[~truth].std(axis=0).mean()
        assert np.linalg.norm(a - b) > spread, method
    labels = projections.cluster(projections.project(x, "t-SNE"))
    assert len(set(labels) - {-1}) >= 2


def test_shap_values_and_the_recorded_visuals(tmp_path):
    root = store_with_visuals(tmp_path)
    configured = projections.configured(root)
    assert [v["type"] for v in configured] == ["UMAP", "t-SNE", "SHAP", "PLOT"]
    assert configured[0] == {"type": "UMAP", "dim": "2D", "n_neighbors": 10,
                             "feature_name": "emb", "label": "source"}  # fmt: skip
    shap = projections.shap_table(root)
    assert (
        list(shap["feature"]) == ["a", "b"]
        and shap["mean_abs_shap"].iloc[0] > 3 * shap["mean_abs_shap"].iloc[1]
    )
    hist = projections.plot_frame(projections.rows(root), configured[3])
    assert list(hist.columns) == ["a", "count"] and hist["count"].sum() > 0


def test_a_missing_extra_is_named(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_umap(name, *args, **kwargs):
        if name == "umap":
            raise ImportError("no umap")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_umap)
    with pytest.raises(projections.MissingExtra, match="pip install 'curate\\[visuals\\]'"):
        projections.project(np.zeros((5, 2)), "UMAP")


@pytest.mark.slow
def test_the_visuals_page_draws_them(tmp_path, monkeypatch):
    root = store_with_visuals(tmp_path)
    monkeypatch.setenv("CURATE_STORE", str(root))
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.switch_page("app_pages/visuals.py").run()
    assert not at.exception, [e.value for e in at.exception]
    subheaders = [s.value for s in at.subheader]
    assert subheaders[:4] == ["UMAP of emb", "t-SNE of emb", "SHAP values", "histogram of a"]
    assert "Project a column" in subheaders
    assert len(at.get("arrow_vega_lite_chart")) >= 4 or len(at.get("vega_lite_chart")) >= 4
    tables = [t.value for t in at.dataframe]
    assert any(isinstance(t, pd.DataFrame) and "mean_abs_shap" in t.columns for t in tables)


def test_the_visuals_page_on_an_empty_store(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATE_STORE", str(tmp_path / "none"))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.switch_page("app_pages/visuals.py").run()
    assert not at.exception
