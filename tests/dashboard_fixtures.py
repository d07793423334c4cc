"""Stores for the dashboard tests: the real log pipeline, plus schema-true runs, drift and profiles.

Runs are written through :class:`curate.runs.RunRegistry` with the files the trainer writes
(``history.parquet``, ``probes.parquet``, ``training_args.json``); drift metrics through the
metrics table's fixed schema, as the drift monitor writes them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from streamlit.testing.v1 import AppTest

from curate import Framework, Signal
from curate.runs import RunRegistry
from curate.store import Store, now_us
from curate.tables import alert_row, alerts_table, metric_row, metrics_table

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"


def app_on(store: Path, page: str, monkeypatch: pytest.MonkeyPatch, timeout: float = 60) -> AppTest:
    """Run the app on ``store`` and switch to ``page``; fail on any exception."""
    monkeypatch.setenv("CURATE_STORE", str(store))
    monkeypatch.delenv("CURATE_RETRAIN_AFTER", raising=False)
    at = AppTest.from_file(str(APP), default_timeout=timeout).run()
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


PROBES = ["Nike shoes are very [MASK].", "The new hoodies are [MASK]."]
BEFORE = {"Nike shoes are very [MASK].": ["expensive", "heavy", "good"],
          "The new hoodies are [MASK].": ["ugly", "cheap", "nice"]}  # fmt: skip
AFTER = {"Nike shoes are very [MASK].": ["comfortable", "durable", "good"],
         "The new hoodies are [MASK].": ["great", "nice", "soft"]}  # fmt: skip
N_LOGGED = 20_000
DRIFT_WINDOWS = 12


def pipeline_store(root: Path, n: int = N_LOGGED, drift: bool = True) -> dict:
    """Log ``n`` generated product reviews through a real Framework; return its stats.

    Checks: EDGE_CASE (Nike & product & positive), DATA_INTEGRITY (non-null text, windows of
    2,000 rows) and, with ``drift``, DATA_DRIFT of ``text`` against a saved reference profile
    (``profiles/reference.profile``, windows of 2,000 rows).
    """
    from examples.product_reviews.data import generate

    nike = Signal.contains("nike")
    product = Signal.contains(["shoes", "wear", "tshirts", "hoodies", "trousers"])
    positive = Signal.contains(["comfortable", "durable", "great", "amazing", "nice", "good"])
    checks = [
        {"type": "edge_case", "signal_formulae": nike & product & positive},
        {
            "type": "data_integrity",
            "measurable_args": {"type": "input_feature", "feature_name": "text"},
            "integrity_type": "non_null",
            "window": 2000,
        },
    ]
    if drift:
        checks.append(
            {
                "type": "data_drift",
                "measurable_args": {"type": "input_feature", "feature_name": "text"},
                "reference_dataset": str(add_profile(root)),
                "window": 2000,
            }
        )
    cfg = {"checks": checks, "retraining_folder": str(root), "retrain_after": 500}
    with Framework(cfg) as fw:
        fw.log(inputs={"text": list(generate(n))})
        return fw.stats()


def add_run(root: Path, *, model_dir: Path | None = None, finish: bool = True) -> str:
    """Record a training run with history, probes and metrics; ``finish=False`` leaves it killed."""
    store = Store(root)
    run = RunRegistry(store).create(
        snapshot=store.files("retraining"), trigger="auto", kind="trainer",
        config={"retrain_after": 500},
    )  # fmt: skip
    run.update(started_at=run.record["created_at"], base_model="curate/offline-default")
    if not finish:
        return run.run_id
    _write_history(run.path)
    _write_probes(run.path)
    (run.path / "training_args.json").write_text(json.dumps({"epochs": 1, "probes": PROBES}))
    model_path = f"runs/{run.run_id}/model"
    if model_dir is not None:
        (run.path / "model").symlink_to(model_dir, target_is_directory=True)
    run.finish(
        metrics={"eval_loss_before": 3.2, "eval_loss_after": 2.1,
                 "perplexity_before": math.exp(3.2), "perplexity_after": math.exp(2.1)},
        model_path=model_path,
    )  # fmt: skip
    return run.run_id


def _write_history(folder: Path) -> None:
    steps = np.arange(0, 50, 5)
    loss = 3.5 * np.exp(-steps / 40) + 1.5
    eval_loss = np.where(steps % 10 == 0, loss + 0.1, np.nan)
    table = pa.table(
        {
            "step": pa.array(steps, pa.int64()),
            "epoch": steps / 50.0,
            "loss": loss,
            "eval_loss": pa.array(eval_loss, from_pandas=True),
            "perplexity": pa.array(np.exp(eval_loss), from_pandas=True),
            "learning_rate": np.linspace(5e-5, 0, len(steps)),
        }
    )
    pq.write_table(table, folder / "history.parquet")


def _write_probes(folder: Path) -> None:
    rows = []
    for stage, preds in (("before", BEFORE), ("after", AFTER)):
        for probe, tokens in preds.items():
            for rank, token in enumerate(tokens, start=1):
                rows.append({"probe": probe, "stage": stage, "rank": rank, "token": token,
                             "score": round(0.5 / rank, 3)})  # fmt: skip
    pq.write_table(pa.Table.from_pylist(rows), folder / "probes.parquet")


def add_drift(root: Path, windows: int = DRIFT_WINDOWS) -> None:
    """Drift statistics of a numeric ``rating`` column (wasserstein); the last 4 windows drift."""
    store = Store(root)
    start = now_us() - windows * 60_000_000
    rows, alerts = [], []
    for w in range(windows):
        ws, we = start + w * 60_000_000, start + (w + 1) * 60_000_000
        value = 0.025 + 0.01 * w
        flagged = value > 0.1
        rows.append(metric_row(monitor="data_drift", check="wasserstein", column="rating",
                               metric="wasserstein", value=value, n=1000, threshold=0.1,
                               flagged=flagged, window_start=ws, window_end=we))  # fmt: skip
        if flagged:
            alerts.append(alert_row(monitor="data_drift", check="wasserstein", column="rating",
                                    metric="wasserstein", value=value, threshold=0.1,
                                    message=f"rating: wasserstein {value:.3f} > 0.1"))  # fmt: skip
    store.write("metrics", metrics_table(rows, store.writer_id))
    store.write("alerts", alerts_table(alerts))


def add_profile(root: Path) -> Path:
    """A reference profile of generated reviews, a numeric ``rating`` and a ``category``."""
    from examples.product_reviews.data import generate
    from monitors.profile import build_profile

    rng = np.random.default_rng(0)
    n = 2000
    table = pa.table(
        {
            "text": generate(n, seed=1),
            "rating": rng.normal(4.0, 0.5, n),
            "category": rng.choice(["shoes", "hoodies", "socks"], n),
        }
    )
    path = root / "profiles" / "reference.profile"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        build_profile(table).save(path)
    return path


REAL_REF_ROWS = 3000
REAL_WINDOW = 1000


def real_drift_store(root: Path, column: str, alarm: bool, quiet_windows: int = 2) -> Path:
    """A store whose one DATA_DRIFT check watches real text (``column="text"``) or the
    review verdicts (``column="verdict"``: fresh / rotten / plot), logged through a Framework.

    Reference: 3,000 Rotten Tomatoes snippets of a shuffled corpus. Then ``quiet_windows``
    windows of 1,000 other snippets of the same shuffle (no drift) and, with ``alarm``, two
    windows of a changed source: Guardian headlines for the text, a week of mostly rotten
    reviews (20% fresh, 70% rotten, 10% plot summaries) for the verdicts. Data:
    :mod:`real_corpora`.
    """
    import real_corpora as rc

    df = rc.reviews().iloc[np.random.default_rng(0).permutation(len(rc.reviews()))]
    df = df.rename(columns={"category": "verdict"}).reset_index(drop=True)
    ref, rest = df.iloc[:REAL_REF_ROWS], df.iloc[REAL_REF_ROWS:]
    quiet = rest.iloc[: quiet_windows * REAL_WINDOW]
    batches = [quiet[column].to_numpy(object)]
    if alarm and column == "text":
        batches.append(rc.shuffled(rc.headlines(), 1)[: 2 * REAL_WINDOW])
    elif alarm:
        rng = np.random.default_rng(1)
        pools = {v: rest.loc[rest["verdict"] == v, "verdict"].to_numpy(object) for v in
                 ("fresh", "rotten", "plot")}  # fmt: skip
        mix = rng.choice(list(pools), 2 * REAL_WINDOW, p=[0.2, 0.7, 0.1])
        batches.append(np.array([pools[v][i % len(pools[v])] for i, v in enumerate(mix)], object))
    check = {
        "type": "data_drift",
        "measurable_args": {"type": "input_feature", "feature_name": column},
        "reference_dataset": pa.table({column: ref[column].to_numpy(object)}),
        "window": REAL_WINDOW,
    }
    with Framework({"checks": [check], "retraining_folder": str(root)}) as fw:
        for values in batches:
            for start in range(0, len(values), 250):  # several calls, as production logs
                fw.log(inputs={column: list(values[start : start + 250])})
            fw.flush()
    return root
