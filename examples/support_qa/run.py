"""The support-QA example: questions the model answered with low confidence retrain it (QA).

A support desk answers questions about digests of real Guardian headlines
(:mod:`examples.support_qa.data` says how the SQuAD rows are built). The production answerer,
a word-overlap heuristic standing in for a deployed model, returns the headline that shares the
most words with the question, with the share as its confidence; each request is logged with the
question, the context, the answer, the confidence and the agent's correct answer (``gts``
column ``answers``, the SQuAD ``{"text", "answer_start"}``, stored as ``gts.answers``). The
edge cases are the answers given with **low confidence**. They fine-tune the offline default
QA model (all-MiniLM-L6-v2 with a new head), and its exact match and F1 on held-out questions
are printed before and after, with wall times.

    python -m examples.support_qa.run [--rows 1500] [--test 200] [--epochs 4]
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from curate import Framework, Monitor, Signal
from examples.real_text import headlines
from examples.support_qa.data import squad_rows

#: Below this confidence an answer is an edge case.
LOW_CONFIDENCE = 0.5
RECIPE = {"task": "qa", "answers_column": "gts.answers", "max_length": 128,
          "max_eval_samples": 150, "from_base_model": True}  # fmt: skip
_WORDS = re.compile(r"\w+")


def production_answer(question: str, context: str) -> tuple[str, float]:
    """The headline sharing most words with the question, and that share of its words."""
    asked = {w.lower() for w in _WORDS.findall(question)}
    best, share = "", 0.0
    for sentence in re.split(r"(?<=\.)\s+", context):
        words = [w.lower() for w in _WORDS.findall(sentence)]
        overlap = sum(w in asked for w in words) / max(1, len(words))
        if overlap > share:
            best, share = sentence.rstrip("."), overlap
    return best, min(1.0, 3 * share)


def low_confidence(inputs, outputs, gts=None, extra_args=None):
    """Edge case: the answer was given with low confidence."""
    return np.asarray(outputs["confidence"], float) < LOW_CONFIDENCE


def log_requests(store: Path, rows: list[dict]) -> None:
    """Log the requests in batches of 25 with the production answers and the agents' answers."""
    edge = Signal("answered with low confidence", low_confidence)
    config = {"checks": [{"type": Monitor.EDGE_CASE, "signal_formulae": edge}],
              "retraining_folder": str(store)}  # fmt: skip
    with Framework(config) as fw:
        for at in range(0, len(rows), 25):
            batch = rows[at : at + 25]
            answers = [production_answer(r["question"], r["context"]) for r in batch]
            fw.log(inputs={"question": [r["question"] for r in batch],
                           "context": [r["context"] for r in batch]},
                   outputs={"answer": [a for a, _ in answers],
                            "confidence": [c for _, c in answers]},
                   gts={"answers": [r["answers"] for r in batch]})  # fmt: skip
        fw.flush()
        stats = fw.stats()
    print(f"logged {stats['rows_logged']:,} questions; {stats['edge_cases']:,} edge cases")


def held_out_scores(model, tokenizer, rows: list[dict], args) -> dict[str, float]:
    """Exact match and F1 of a QA model on the held-out questions."""
    from trainer.metrics import squad_scores
    from trainer.qa_features import predict_answers

    pairs = [{"question": r["question"], "context": r["context"]} for r in rows]
    answers = predict_answers(model, tokenizer, pairs, 1, args.max_length, args.doc_stride)
    return squad_scores([a[0][0] for a in answers], [r["answers"]["text"] for r in rows])


def train_and_score(store: Path, rows: list[dict], epochs: float, extra: dict):
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
    task = get_task("qa", args)
    model, tokenizer = task.load(resolve_model(run.run_id, Store(store), task="qa"))
    after = held_out_scores(model.eval(), tokenizer, rows, args)
    model, tokenizer = task.load(resolve_model(run.record["base_model_path"], task="qa"))
    before = held_out_scores(model.eval(), tokenizer, rows, args)
    return run, before, after, time.perf_counter() - started


def report(name: str, run, before: dict, after: dict, seconds: float) -> None:
    """Print one run's figures."""
    m = run.record["metrics"]
    print(f"\n{name}: {run.run_id} {run.status} ({run.record['promotion']['reason']})")
    print(f"  held-out questions: EM {before['exact_match']:.3f} -> {after['exact_match']:.3f}, "
          f"F1 {before['f1']:.3f} -> {after['f1']:.3f}")  # fmt: skip
    print(f"  target eval (held-out edge cases, {m['eval_samples']} windows): EM "
          f"{m['exact_match_before']:.3f} -> {m['exact_match_after']:.3f}, F1 "
          f"{m['f1_before']:.3f} -> {m['f1_after']:.3f}")  # fmt: skip
    print(f"  trainable parameters {m['trainable_parameters']:,} of {m['total_parameters']:,}; "
          f"{m['train_samples']} training windows; train {run.record['timings']['train']:.0f} s, "
          f"whole run with held-out scoring {seconds:.0f} s")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run the example; returns a process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1500, help="questions logged")
    parser.add_argument("--test", type=int, default=200, help="held-out questions, never logged")
    parser.add_argument("--epochs", type=float, default=4.0)
    parser.add_argument("--store", type=Path, default=Path(".demo/support_qa"))
    parser.add_argument("--lora", action="store_true", help="train LoRA adapters instead")
    opts = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    shutil.rmtree(opts.store, ignore_errors=True)  # the example's own folder, fresh each time
    rows = squad_rows(headlines(), opts.rows + opts.test, seed=0)
    test, logged = rows[: opts.test], rows[opts.test :]
    log_requests(opts.store, logged)
    extra = {"peft": {"method": "lora", "r": 8, "alpha": 16}} if opts.lora else {}
    report("LoRA r=8" if opts.lora else "full fine-tune",
           *train_and_score(opts.store, test, opts.epochs, extra))  # fmt: skip
    print(f"\nexample finished in {time.perf_counter() - started:.0f} s; "
          f"dashboard: curate dashboard --store {opts.store}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
