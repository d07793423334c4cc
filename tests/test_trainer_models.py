"""Model resolution, the offline default's checksums, probes and TrainingArgs validation."""

from __future__ import annotations

import pytest
from trainer_fixtures import make_tiny_mlm

from trainer import models
from trainer.config import TrainingArgs
from trainer.models import ModelNotFoundError, resolve_model
from trainer.probe_eval import positive_share, stage_tokens
from trainer.probes import load_model, predict_masks


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = make_tiny_mlm(tmp_path_factory.mktemp("tiny"))
    model, tokenizer = load_model(str(folder))
    return folder, model, tokenizer


def test_offline_default_is_verified_and_loads_only_safe_files():
    folder = models.offline_default_dir()
    assert (folder / "model.safetensors").is_file()
    source = resolve_model(None)
    assert source.is_local and source.label == models.OFFLINE_DEFAULT
    assert resolve_model("default") == source


def test_offline_default_checksum_mismatch_is_refused(monkeypatch):
    models.offline_default_dir.cache_clear()
    bad = dict(models.OFFLINE_DEFAULT_SHA256, **{"config.json": "0" * 64})
    monkeypatch.setattr(models, "OFFLINE_DEFAULT_SHA256", bad)
    try:
        with pytest.raises(ModelNotFoundError, match="checksum mismatch"):
            models.offline_default_dir()
    finally:
        models.offline_default_dir.cache_clear()


def test_offline_default_predicts_real_words():
    model, tokenizer = load_model()
    (preds,) = predict_masks(model, tokenizer, ["paris is the [MASK] of france"], top_k=3)
    assert len(preds) == 3 and preds[0][0] == "city"
    assert preds[0][1] >= preds[1][1] >= preds[2][1] > 0


def test_resolve_model_specs(tmp_path, tiny):
    folder, _, _ = tiny
    assert resolve_model(str(folder)).is_local
    hub = resolve_model("distilbert-base-uncased")
    assert not hub.is_local and hub.name_or_path == "distilbert-base-uncased"
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve_model(str(tmp_path / "missing" / "model"))
    with pytest.raises(ModelNotFoundError, match="no config.json"):
        resolve_model(str(tmp_path))
    with pytest.raises(ModelNotFoundError, match="pass the store"):
        resolve_model("latest")


def test_predict_masks_batches_and_mask_markers(tiny):
    _, model, tokenizer = tiny
    sentences = ["nike shoes are very [MASK]", "nike {mask} shoes are good", "a [MASK] b"] * 20
    preds = predict_masks(model, tokenizer, sentences, top_k=4, batch_size=7)
    assert len(preds) == 60 and all(len(p) == 4 for p in preds)
    assert preds[0] == preds[3]
    with pytest.raises(ValueError, match="has no mask"):
        predict_masks(model, tokenizer, ["no mask here"])


def test_training_args_errors_name_the_key():
    with pytest.raises(ValueError, match="unknown key 'epoch'"):
        TrainingArgs.model_validate({"epoch": 2})
    with pytest.raises(ValueError, match="learning_rate"):
        TrainingArgs.model_validate({"learning_rate": -1})
    with pytest.raises(ValueError, match="has no mask"):
        TrainingArgs.model_validate({"probes": ["Nike shoes are very good"]})
    args = TrainingArgs.model_validate({"model": "distilbert-base-uncased", "epochs": 2})
    assert args.overridden(epochs=None, batch_size=8).batch_size == 8


def test_positive_share_counts_over_all_probes():
    share, n_neg = positive_share(
        [["Great", "nike", "bad"], ["good", "soft", "x"]], {"great", "good", "soft"}, {"bad"}
    )
    assert share == pytest.approx(0.5) and n_neg == 1
    assert positive_share([], {"a"}, {"b"}) == (0.0, 0)
    rows = [{"probe": "p", "stage": "before", "rank": 1, "token": "t"}]
    assert stage_tokens(rows, "after") == {}


def test_masked_only_loss_equals_the_models_own_loss_and_gradients(tiny):
    import torch

    from trainer.tasks.mlm_loss import masked_only_loss

    _, model, tokenizer = tiny
    enc = tokenizer(
        ["nike shoes are very good", "socks are soft"], return_tensors="pt", padding=True
    )
    labels = torch.full_like(enc["input_ids"], -100)
    labels[0, 3], labels[1, 2] = enc["input_ids"][0, 3], enc["input_ids"][1, 2]
    batch = {**enc, "labels": labels}
    model.zero_grad()
    full = model(**batch).loss
    full.backward()
    expected = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    fast = masked_only_loss(model, batch)
    fast.backward()
    assert torch.allclose(fast, full, atol=1e-6)
    for grad, want in zip((p.grad for p in model.parameters()), expected, strict=True):
        assert torch.allclose(grad, want, atol=1e-6)
    model.zero_grad()
