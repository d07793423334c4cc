"""Promotion and replay on a tiny random causal LM: worse runs are rejected and skipped, and
replaying the traffic sample keeps retention where training on edge cases alone does not."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest
from trainer_fixtures import make_tiny_clm, review_rows

from curate.batch import Batch
from curate.runs import RunRegistry
from curate.store import Store
from curate.traffic import TRAFFIC_TABLE, Reservoir
from trainer.launch import start_run
from trainer.models import resolve_model


@pytest.fixture(scope="module")
def tiny_clm(tmp_path_factory) -> str:
    return str(make_tiny_clm(tmp_path_factory.mktemp("tiny-clm")))


def _args(model: str, **extra) -> dict:
    return {"task": "clm", "model": model, "batch_size": 8, "max_steps": 20, **extra}


def _add_edge_cases(store: Store, n: int, seed: int) -> None:
    store.write("retraining", pa.table({"text": review_rows(n, seed)}))


def test_a_run_that_makes_target_eval_worse_is_rejected_and_not_used(tmp_path, tiny_clm):
    store = Store(tmp_path / "s")
    _add_edge_cases(store, 80, seed=0)
    first = start_run(store, _args(tiny_clm, learning_rate=5e-3), progress_bar=False)
    assert first.status == "promoted", first.record.get("promotion")

    _add_edge_cases(store, 80, seed=1)
    # A learning rate this high wrecks the model: its target eval gets worse.
    bad = start_run(store, _args(tiny_clm, learning_rate=0.9, max_steps=5), progress_bar=False)
    metrics = bad.record["metrics"]
    assert metrics["perplexity_after"] > metrics["perplexity_before"]
    assert bad.status == "rejected" and not bad.record["promotion"]["target_ok"]
    assert "did not improve" in bad.record["promotion"]["reason"]
    assert bad.record["starts_from"] == first.run_id
    assert (bad.path / "model" / "model.safetensors").is_file(), "a rejected model is kept"
    registry = RunRegistry(store)
    assert registry.latest_promoted().run_id == first.run_id
    assert resolve_model("latest", store).name_or_path == str(first.path / "model")

    _add_edge_cases(store, 40, seed=2)
    third = start_run(store, _args(tiny_clm, learning_rate=5e-3), progress_bar=False)
    assert (
        third.record["starts_from"] == first.run_id and third.record["base_model"] == first.run_id
    )
    # Everything since the promoted run is new to its model: the rejected run's rows too.
    assert third.record["metrics"]["train_rows"] == 80 + 40

    hand = registry.decide(bad.run_id, "promoted", "looked fine to me")
    assert hand.status == "promoted" and hand.record["decision"]["previous"] == "rejected"
    assert hand.record["promotion"]["status"] == "rejected", "the rule's verdict is kept"


def _traffic_texts(n: int, seed: int) -> list[str]:
    """Ordinary traffic: 28 distinct sentences about cats, dogs and tea."""
    rng = random.Random(seed)
    animal, place = ["cat", "dog"], ["mat", "park", "house"]
    templates = [
        lambda: f"the {rng.choice(animal)} {rng.choice(['sat', 'ran'])} on the {rng.choice(place)}",
        lambda: f"{rng.choice(['she', 'he'])} drank a cup of {rng.choice(['tea', 'water'])}",
        lambda: (
            f"the {rng.choice(['big', 'small'])} {rng.choice(animal)} is in the {rng.choice(place)}"
        ),
    ]
    return [rng.choice(templates)() for _ in range(n)]


def _store_with_traffic(root, texts: list[str]) -> Store:
    store = Store(root)
    n = len(texts)
    batch = Batch.from_log(np.arange(n), np.zeros(n, np.int64), {"text": texts})
    store.write(TRAFFIC_TABLE, Reservoir(store, size=n, seed=0).offer(batch))
    return store


#: The tiny model memorises its traffic (retention perplexity ~1.7), so any fine-tune moves it;
#: measured here: +82% without replay, +16% with half the training rows replayed.
TOLERANCE = 0.25


def test_replay_keeps_retention_where_edge_cases_alone_do_not(tmp_path, tiny_clm):
    # A base model that knows the ordinary traffic: trained on it first.
    traffic = _traffic_texts(1200, seed=0)
    warm = Store(tmp_path / "warm")
    warm.write("retraining", pa.table({"text": traffic}))
    base = start_run(warm, _args(tiny_clm, learning_rate=5e-3, max_steps=150), progress_bar=False)
    base_model = str(base.path / "model")

    results = {}
    for fraction in (0.0, 0.5):
        store = _store_with_traffic(tmp_path / f"replay-{fraction}", traffic)
        _add_edge_cases(store, 400, seed=3)
        args = _args(
            base_model,
            learning_rate=1e-3,
            max_steps=30,
            replay_fraction=fraction,
            retention_samples=12,
            retention_tolerance=TOLERANCE,
        )
        results[fraction] = start_run(store, args, progress_bar=False)
    alone, replayed = results[0.0], results[0.5]
    for run in (alone, replayed):
        m = run.record["metrics"]
        assert m["retention_samples"] > 0 and m["perplexity_after"] < m["perplexity_before"]
    assert alone.record["metrics"]["replay_traffic"] == 0
    assert replayed.record["metrics"]["replay_traffic"] > 0
    m = alone.record["metrics"]
    assert m["retention_perplexity_after"] > (1 + TOLERANCE) * m["retention_perplexity_before"]
    assert alone.status == "rejected" and not alone.record["promotion"]["retention_ok"]
    m = replayed.record["metrics"]
    assert m["retention_perplexity_after"] <= (1 + TOLERANCE) * m["retention_perplexity_before"]
    assert replayed.status == "promoted", replayed.record["promotion"]
