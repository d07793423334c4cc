"""LoRA adapters (peft) on tiny random models, for every task: saved apart from the base,
reloaded with equal predictions, merged on request, continued by the next run."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from trainer_fixtures import make_tiny_clm, make_tiny_mlm, review_rows

from curate.runs import RunRegistry
from curate.store import Store
from examples.support_qa.data import squad_rows
from trainer.config import TrainingArgs
from trainer.launch import start_run
from trainer.lora import is_peft_model
from trainer.probes import load_model
from trainer.tasks import get_task, task_names


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    return str(make_tiny_mlm(tmp_path_factory.mktemp("tiny-lora")))


@pytest.fixture(scope="module")
def tiny_clm(tmp_path_factory) -> str:
    return str(make_tiny_clm(tmp_path_factory.mktemp("tiny-lora-clm")))


HEADLINES = [
    "Nike shoes are very comfortable and durable today",
    "The staff were nice at the new store in Paris",
    "My new hoodies made by Adidas are really soft",
    "Puma socks are cheap but the shorts are expensive",
] * 10


def _table(task: str) -> pa.Table:
    if task == "qa":
        return pa.Table.from_pylist(squad_rows([f"{h} {i}" for i, h in enumerate(HEADLINES)], 40))
    texts = [t for t in review_rows(60) if t and t.strip()]
    return pa.table({"text": texts, "gts": [i % 2 for i in range(len(texts))]})


PROBES = {
    "mlm": ["nike shoes are very [MASK]"],
    "clm": ["nike shoes are very [MASK]"],
    "classification": ["the staff were nice"],
    "qa": [{"question": "Which shoes are comfortable?", "context": HEADLINES[0]}],
}


def _run(store: Store, model: str, task: str, **peft) -> object:
    args = {"task": task, "model": model, "max_steps": 4, "batch_size": 8, "max_length": 48,
            "num_threads": 1, "probes": PROBES[task], "top_k": 3, "bf16": False,
            "peft": {"r": 4, "alpha": 8, **peft}}  # fmt: skip
    if task == "qa":
        args["doc_stride"] = 16
    return start_run(store, args, progress_bar=False)


@pytest.mark.parametrize("task", sorted(task_names()))
def test_adapters_are_saved_apart_and_reload_to_the_same_predictions(
    tmp_path, tiny, tiny_clm, task
):
    store = Store(tmp_path / "s")
    store.write("retraining", _table(task))
    run = _run(store, tiny_clm if task == "clm" else tiny, task)
    assert run.has_model, run.error
    files = {p.name for p in (run.path / "model").iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors"} <= files
    assert "model.safetensors" not in files, "the base model is not copied"
    m = run.record["metrics"]
    assert 0 < m["trainable_parameters"] < m["total_parameters"]
    model, tokenizer = load_model(run.run_id, store, task=task)
    assert is_peft_model(model)
    stored = pq.read_table(run.path / "probes.parquet").to_pylist()
    after = [(r["rank"], r["token"], round(r["score"], 4)) for r in stored if r["stage"] == "after"]
    live = get_task(task, run_args(run)).probe_rows(model, tokenizer, PROBES[task], "after")
    assert [(r["rank"], r["token"], round(r["score"], 4)) for r in live] == after


def run_args(run) -> TrainingArgs:
    return TrainingArgs.model_validate(json.loads((run.path / "training_args.json").read_text()))


def test_merge_saves_a_full_model_with_the_adapters_in_it(tmp_path, tiny):
    store = Store(tmp_path / "s")
    store.write("retraining", _table("classification"))
    adapters = _run(store, tiny, "classification")
    merged = _run(Store(tmp_path / "s"), tiny, "classification", merge=True)
    assert merged.has_model, merged.error
    files = {p.name for p in (merged.path / "model").iterdir()}
    assert "model.safetensors" in files and "adapter_config.json" not in files
    full, tokenizer = load_model(merged.run_id, store)
    assert not is_peft_model(full) and type(full).__name__ == "BertForSequenceClassification"
    enc = tokenizer(["the staff were nice"], return_tensors="pt")
    with torch.no_grad():
        assert full(**enc).logits.shape == (1, 2)
    assert adapters.has_model


def test_a_run_continues_the_promoted_runs_adapters(tmp_path, tiny):
    store = Store(tmp_path / "s")
    store.write("retraining", _table("classification"))
    first = _run(store, tiny, "classification")
    RunRegistry(store).decide(first.run_id, "promoted", "test")
    store.write("retraining", _table("classification"))
    second = _run(store, tiny, "classification")
    assert second.has_model, second.error
    assert second.record["starts_from"] == first.run_id
    config = json.loads((second.path / "model" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == tiny, "the adapters still name the base model"
