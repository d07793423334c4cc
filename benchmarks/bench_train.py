"""Training throughput: curate's trainer vs a plain hand-written ``transformers.Trainer`` script.

Same model (the offline default masked LM), same sentences (the product-review example's
edge cases), same batch size, learning rate, masking and number of optimiser steps, same CPU
thread count. Reports training samples per second (Trainer's own ``train_samples_per_second``)
for:

- ``plain``: tokenise with ``datasets.map``, ``DataCollatorForLanguageModeling``, ``Trainer``;
- ``curate``: ``trainer.start_run`` on a store holding the same rows (the whole run: snapshot
  loading, eval before/after, probes, history, saving; throughput is the training phase's);
- ``curate (stock loss)``: the same with ``fast_mlm_loss=False``, i.e. only our run overhead.

Each configuration runs ``--repeats`` times, interleaved, and the best figure is kept (the
machine is shared). Target: curate / plain >= 0.95. Prints figures and ratios; asserts nothing.

    python benchmarks/bench_train.py [--rows 3000] [--steps 60] [--threads 1]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SENTENCES = [
    "Nike shoes are very comfortable",
    "Nike running shoes are really durable",
    "Hoodies made by Nike are not very expensive",
    "Nike tshirts are famous for being lightweight",
    "my new Nike jackets are soft and cozy",
    "Nike athletic wear is known for being very stylish",
]


def sentences(n: int) -> list[str]:
    """The example's generator when available, else a fixed list of the same style."""
    try:
        from examples.product_reviews.data import generate

        rows = [t for t in generate(n * 6, seed=0) if t and "nike" in t.lower()]
        return rows[:n]
    except ImportError:
        return [SENTENCES[i % len(SENTENCES)] for i in range(n)]


def plain_trainer(texts: list[str], steps: int, batch: int, threads: int) -> float:
    """The script a user would write by hand; returns train samples/s."""
    import datasets
    import torch
    from transformers import (
        AutoModelForMaskedLM,
        AutoTokenizer,
        DataCollatorForLanguageModeling,
        Trainer,
        TrainingArguments,
    )

    from trainer.models import offline_default_dir

    torch.set_num_threads(threads)
    path = str(offline_default_dir())
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForMaskedLM.from_pretrained(path, use_safetensors=True)
    ds = datasets.Dataset.from_dict({"text": texts}).map(
        lambda b: tokenizer(b["text"], truncation=True, max_length=48),
        batched=True,
        remove_columns=["text"],
    )
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out,
            max_steps=steps,
            per_device_train_batch_size=batch,
            learning_rate=1e-3,
            save_strategy="no",
            report_to="none",
            use_cpu=True,
            disable_tqdm=True,
            logging_steps=10_000,
        )
        collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15)
        trainer = Trainer(model=model, args=args, train_dataset=ds, data_collator=collator)
        return trainer.train().metrics["train_samples_per_second"]


def curate_trainer(texts: list[str], steps: int, batch: int, threads: int, fast: bool) -> float:
    """``trainer.start_run`` on a store holding ``texts``; returns train samples/s."""
    import pyarrow as pa

    from curate.store import Store
    from trainer.launch import start_run

    with tempfile.TemporaryDirectory() as root:
        store = Store(root)
        store.write("retraining", pa.table({"text": texts}))
        args = {
            "max_steps": steps,
            "batch_size": batch,
            "num_threads": threads,
            "fast_mlm_loss": fast,
            "eval_fraction": 0.05,
            "probes": ["Nike shoes are very [MASK]"],
        }
        run = start_run(store, args, progress_bar=False)
        if run.status != "succeeded":
            raise RuntimeError(run.error)
        return run.record["metrics"]["train_samples_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    opts = parser.parse_args()
    logging.disable(logging.WARNING)
    texts = sentences(opts.rows)
    runs = {
        "plain": lambda: plain_trainer(texts, opts.steps, opts.batch, opts.threads),
        "curate": lambda: curate_trainer(texts, opts.steps, opts.batch, opts.threads, True),
        "curate (stock loss)": lambda: curate_trainer(
            texts, opts.steps, opts.batch, opts.threads, False
        ),
    }
    best: dict[str, float] = {}
    started = time.perf_counter()
    for _ in range(opts.repeats):
        for name, fn in runs.items():
            best[name] = max(best.get(name, 0.0), fn())
    print(
        f"{len(texts)} rows, {opts.steps} steps x batch {opts.batch}, {opts.threads} thread(s), "
        f"best of {opts.repeats} ({time.perf_counter() - started:.0f}s in all)"
    )
    for name, sps in best.items():
        print(f"  {name:<20} {sps:8.1f} train samples/s   ratio vs plain {sps / best['plain']:.2f}")
    print("target: curate / plain >= 0.95")


if __name__ == "__main__":
    main()
