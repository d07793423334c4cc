"""Sequence classification on tiny random BERTs: labels, metrics, class weights, probes, runs;
on synthetic rows and on real Rotten Tomatoes snippets (fresh/rotten verdicts); and one slow
test that fine-tunes the real offline default (all-MiniLM-L6-v2 with a new head)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import real_corpora
from trainer_fixtures import make_tiny_mlm

from curate.runs import RunRegistry
from curate.store import Store
from trainer.config import TrainingArgs
from trainer.launch import start_run
from trainer.metrics import classification_scores
from trainer.probes import label_distributions, load_model
from trainer.tasks import get_task
from trainer.tasks.classification import class_weights

needs_corpora = pytest.mark.skipif(not real_corpora.available(), reason=real_corpora.SKIP_REASON)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    return str(make_tiny_mlm(tmp_path_factory.mktemp("tiny-cls")))


def _args(tiny: str, **changes) -> dict:
    args = {"task": "classification", "model": tiny, "max_steps": 6, "batch_size": 16,
            "max_length": 32, "learning_rate": 3e-3, "num_threads": 1}  # fmt: skip
    return {**args, **changes}


def _synthetic(n: int) -> pa.Table:
    good = ["nike shoes are great", "the staff were nice", "my new socks are soft"]
    bad = ["the website is terrible", "these shoes are ugly", "the jackets are poor"]
    texts = [f"{(good if i % 2 else bad)[i % 3]} {i}" for i in range(n)]
    return pa.table({"text": texts, "gts": [i % 2 for i in range(n)]})


def test_metrics_equal_a_hand_computation():
    truth, predicted = [0, 0, 0, 1, 1, 2], [0, 1, 0, 1, 1, 1]
    figures, details = classification_scores(truth, predicted, ["a", "b", "c"])
    # a: P 2/2 R 2/3 F1 0.8; b: P 2/4 R 2/2 F1 2/3; c: P 0 R 0 F1 0 -> macro (0.8+2/3+0)/3
    assert figures["accuracy"] == pytest.approx(4 / 6)
    assert figures["macro_f1"] == pytest.approx((0.8 + 2 / 3 + 0) / 3)
    assert details["confusion"] == [[2, 1, 0], [0, 2, 0], [0, 1, 0]]
    assert details["per_class"]["b"] == pytest.approx(
        {"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 2}
    )


def test_class_weights_only_when_skewed():
    assert class_weights(["a"] * 6 + ["b"] * 2, ["a", "b"], "auto") == [8 / 12, 8 / 4]
    assert class_weights(["a"] * 3 + ["b"] * 3, ["a", "b"], "auto") is None
    assert class_weights(["a"] * 3 + ["b"] * 3, ["a", "b"], "weights") == [1.0, 1.0]
    assert class_weights(["a"] * 6 + ["b"], ["a", "b"], "none") is None


def test_examples_and_probes_are_checked():
    task = get_task("classification")
    assert task.columns() == ["text", "gts"]
    assert task.example({"text": "  ", "gts": 1}) is None
    assert task.example({"text": "ok", "gts": "pos"}) == ("ok", "pos")
    assert TrainingArgs(task="classification", probes=["no mask needed"]).probes
    with pytest.raises(ValueError, match="classification probe"):
        TrainingArgs(task="classification", probes=[""])


def test_a_run_stores_labels_figures_and_probe_distributions(tmp_path, tiny):
    store = Store(tmp_path / "s")
    store.write("retraining", _synthetic(80))
    run = start_run(store, _args(tiny, probes=["the staff were nice"]), progress_bar=False)
    assert run.has_model, run.error
    m, info = run.record["metrics"], run.record["task_info"]
    assert info["target"] == "macro_f1" and info["probe_kind"] == "labels"
    assert 0 <= m["accuracy_before"] <= 1 and m["macro_f1_after"] is not None
    confusion = run.record["eval_details"]["after"]["eval"]["confusion"]
    assert sum(map(sum, confusion)) == m["eval_samples"] == 8
    assert run.record["promotion"]["metric"] == "macro_f1"
    model, tokenizer = load_model(run.run_id, store)
    assert model.config.id2label == {0: "0", 1: "1"}, "label names are stored with the model"
    rows = pq.read_table(run.path / "probes.parquet").to_pylist()
    after = [r for r in rows if r["stage"] == "after"]
    assert sorted(r["token"] for r in after) == ["0", "1"]
    assert sum(r["score"] for r in after) == pytest.approx(1.0)
    live = dict(label_distributions(model, tokenizer, ["the staff were nice"])[0])
    assert live == pytest.approx({r["token"]: r["score"] for r in after}, abs=1e-5)


@needs_corpora
def test_real_reviews_train_and_a_new_label_is_refused(tmp_path, tiny):
    reviews = real_corpora.reviews()
    fresh_rotten = reviews[reviews["category"] != "plot"].head(120)
    store = Store(tmp_path / "s")
    store.write("retraining", pa.table({"text": list(fresh_rotten["text"]),
                                        "verdict": list(fresh_rotten["category"])}))  # fmt: skip
    args = _args(tiny, label_column="verdict", probes=[fresh_rotten["text"].iloc[0]])
    first = start_run(store, args, progress_bar=False)
    assert first.has_model, first.error
    assert first.record["eval_details"]["before"]["eval"]["labels"] == ["fresh", "rotten"]
    assert first.record["metrics"]["eval_samples"] == 12
    assert first.record["metrics"]["train_loss"] > 0
    RunRegistry(store).decide(first.run_id, "promoted", "test: continue from it")
    plots = reviews[reviews["category"] == "plot"].head(20)
    store.write("retraining", pa.table({"text": list(plots["text"]),
                                        "verdict": list(plots["category"])}))  # fmt: skip
    second = start_run(store, args, progress_bar=False)
    assert second.status == "failed" and "new to the model" in second.error
    assert "from_base_model" in second.error


@pytest.mark.slow
@needs_corpora
def test_minilm_default_learns_real_sentiment(tmp_path):
    reviews = real_corpora.reviews()
    reviews = reviews[reviews["category"] != "plot"].sample(400, random_state=0)
    store = Store(tmp_path / "s")
    store.write("retraining", pa.table({"text": list(reviews["text"]),
                                        "gts": list(reviews["category"])}))  # fmt: skip
    args = {"task": "classification", "max_steps": 24, "batch_size": 16, "num_threads": 1,
            "max_length": 48, "eval_fraction": 0.25, "learning_rate": 2e-4}  # fmt: skip
    run = start_run(store, args, progress_bar=False)
    assert run.has_model, run.error
    m = run.record["metrics"]
    assert run.record["base_model"] == "curate/offline-default-encoder"
    assert m["eval_samples"] == 100 and m["accuracy_after"] > m["accuracy_before"]


def test_a_skewed_training_set_weighs_the_training_loss_only(tmp_path, tiny):
    import torch
    from transformers import TrainingArguments

    from trainer.data import TextSplits
    from trainer.models import resolve_model

    task = get_task("classification", TrainingArgs(task="classification", max_length=16))
    train = [(f"nike shoes are great {i}", "pos") for i in range(6)] + [("bad shoes", "neg")]
    task.configure(TextSplits(train=train, eval=[("ugly socks", "neg")]))
    model, tokenizer = task.load(resolve_model(tiny))
    data = task.prepare(TextSplits(train=train, eval=[("ugly socks", "neg")]), tokenizer)
    args = TrainingArguments(str(tmp_path), use_cpu=True, report_to="none")
    trainer = task.trainer_class()(model=model, args=args, data_collator=task.collator(tokenizer))
    assert trainer.class_weights == pytest.approx([7 / 2, 7 / 12])  # labels: neg, pos
    batch = task.collator(tokenizer)([data.train[i] for i in range(7)])
    model.eval()  # dropout off, so both passes see the same logits
    with torch.no_grad():
        logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
        weighted = torch.nn.functional.cross_entropy(
            logits, batch["labels"], weight=torch.tensor([7 / 2, 7 / 12])
        )
        plain = trainer.compute_loss(model, dict(batch))
    assert float(plain) == pytest.approx(
        float(torch.nn.functional.cross_entropy(logits, batch["labels"])), rel=1e-5
    ), "evaluation is never weighted"
    model.train()
    for module in model.modules():  # training mode without dropout noise
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    with torch.no_grad():
        assert float(trainer.compute_loss(model, dict(batch))) == pytest.approx(
            float(weighted), rel=1e-5
        )
