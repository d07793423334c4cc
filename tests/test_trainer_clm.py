"""The causal-LM task on a tiny random Llama: probes, runs, held-out sets, bf16 saves; and one
slow test that loads the real offline default (SmolLM2-135M) and probes it without training."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from trainer_fixtures import make_tiny_clm, review_rows

from curate.batch import Batch
from curate.runs import RunRegistry
from curate.store import Store
from curate.traffic import TRAFFIC_TABLE, Reservoir
from trainer import offline_clm
from trainer.clm_probes import fill_mask, split_probe
from trainer.config import TrainingArgs
from trainer.data import normalise, select_texts
from trainer.launch import start_run
from trainer.models import ModelNotFoundError, resolve_model
from trainer.probes import load_model, predict_masks, probe_rows

PROBES = ["nike shoes are very [MASK]", "the {mask} sat on the mat", "the cat"]


@pytest.fixture(scope="module")
def tiny_clm(tmp_path_factory) -> str:
    return str(make_tiny_clm(tmp_path_factory.mktemp("tiny-clm")))


def test_mask_probes_rank_whole_words_and_prompts_generate(tiny_clm):
    model, tokenizer = load_model(tiny_clm)
    assert type(model).__name__ == "LlamaForCausalLM", "the architecture picks the loader"
    preds = fill_mask(model, tokenizer, PROBES[0], top_k=4)
    assert len(preds) == 4 and len({w for w, _ in preds}) == 4
    scores = [s for _, s in preds]
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1 + 1e-6
    assert all(w and " " not in w for w, _ in preds)
    rows = probe_rows(model, tokenizer, PROBES, top_k=3, stage="before", max_new_tokens=4)
    assert [r["rank"] for r in rows if r["probe"] == PROBES[0]] == [1, 2, 3]
    (prompt,) = [r for r in rows if r["probe"] == "the cat"]
    assert prompt["rank"] == 1 and prompt["token"] and 0 < prompt["score"] <= 1
    assert predict_masks(model, tokenizer, PROBES[:1], top_k=4)[0] == preds
    with pytest.raises(ValueError, match="has no mask"):
        predict_masks(model, tokenizer, ["the cat"])


def test_split_probe_and_prompt_validation():
    assert split_probe("a <mask> b [MASK] c") == ("a", "b [MASK] c")
    assert split_probe("no mask") is None
    assert TrainingArgs(task="clm", probes=["a prompt"]).probes == ["a prompt"]
    with pytest.raises(ValueError, match="has no mask"):
        TrainingArgs(task="mlm", probes=["a prompt"])


def _store(root, n_edge: int = 120, n_traffic: int = 300) -> Store:
    store = Store(root)
    store.write("retraining", pa.table({"text": review_rows(n_edge)}))
    texts = [f"the cat sat on the mat {i % 40}" for i in range(n_traffic)] + review_rows(30, 5)
    ids = np.arange(len(texts))
    batch = Batch.from_log(ids, np.zeros(len(texts), np.int64), {"text": texts})
    store.write(TRAFFIC_TABLE, Reservoir(store, size=len(texts), seed=0).offer(batch))
    return store


def test_no_held_out_text_is_trained_on(tmp_path):
    store = _store(tmp_path / "s")
    run = RunRegistry(store).create(
        snapshot=store.files("retraining"), trigger="cli", kind="trainer"
    )
    args = TrainingArgs(task="clm", retention_samples=10, replay_fraction=0.25, eval_fraction=0.2)
    splits = select_texts(run, args, previous=None)
    train = {normalise(t) for t in splits.train}
    assert splits.eval and len(splits.retention) == 10
    assert not train & {normalise(t) for t in splits.eval}
    assert not train & {normalise(t) for t in splits.retention}
    assert len({normalise(t) for t in splits.eval}) == len(splits.eval), "eval is deduplicated"
    counts = splits.counts
    assert counts["replay_traffic"] == round(counts["new_edge_cases"] * 0.25 / 0.75)
    assert len(splits.train) == counts["new_edge_cases"] + counts["replay_traffic"]


def test_a_clm_run_saves_bf16_weights_it_was_evaluated_with(tmp_path, tiny_clm):
    store = _store(tmp_path / "s")
    args = {"task": "clm", "model": tiny_clm, "max_steps": 6, "batch_size": 8, "bf16": False}
    args.update(save_dtype="bfloat16", probes=PROBES[:2], top_k=3, learning_rate=3e-3)
    args.update(retention_samples=10)
    run = start_run(store, args, progress_bar=False)
    assert run.has_model, run.error
    m = run.record["metrics"]
    assert m["saved_dtype"] == "bfloat16" and m["retention_samples"] > 0
    assert m["retention_perplexity_before"] > 0 and m["replay_traffic"] > 0
    assert run.record["promotion"]["status"] == run.status
    from safetensors import safe_open

    with safe_open(str(run.path / "model" / "model.safetensors"), "pt") as weights:
        names = weights.keys()  # a safetensors handle is not iterable itself
        assert {str(weights.get_tensor(k).dtype) for k in names} == {"torch.bfloat16"}
    model, tokenizer = load_model(run.run_id, store)
    stored = pq.read_table(run.path / "probes.parquet").to_pylist()
    after = [r["token"] for r in sorted(stored, key=lambda r: r["rank"])
             if r["stage"] == "after" and r["probe"] == PROBES[0]]  # fmt: skip
    assert [w for w, _ in fill_mask(model, tokenizer, PROBES[0], top_k=3)] == after


def test_offline_clm_default_refuses_a_wrong_file(monkeypatch):
    offline_clm.gguf_path.cache_clear()
    monkeypatch.setattr(offline_clm, "OFFLINE_CLM_SHA256", "0" * 64)
    try:
        with pytest.raises(offline_clm.OfflineModelError, match="checksum mismatch"):
            offline_clm.gguf_path()
        with pytest.raises(ModelNotFoundError, match="checksum mismatch"):
            resolve_model(None, task="clm")
    finally:
        offline_clm.gguf_path.cache_clear()
    monkeypatch.setattr(offline_clm, "_DIST_NAME", "no-such-distribution-here")
    with pytest.raises(offline_clm.OfflineModelError, match="--no-deps"):
        offline_clm.gguf_path()
    offline_clm.gguf_path.cache_clear()


@pytest.mark.slow
def test_the_real_offline_default_speaks_english_without_training():
    source = resolve_model(None, task="clm")
    assert source.label == "curate/offline-default-clm"
    assert (offline_clm.converted_dir() / "model.safetensors").is_file()
    model, tokenizer = load_model(source)
    assert model.num_parameters() > 100_000_000
    france, shoes = predict_masks(
        model, tokenizer, ["The capital of France is [MASK]", "Nike shoes are very [MASK]"]
    )
    assert france[0][0] == "Paris"
    assert "popular" in [w for w, _ in shoes]
