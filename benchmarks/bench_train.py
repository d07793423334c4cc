"""Training throughput, every task: curate's trainer vs a plain hand-written ``transformers.Trainer``.

For each task, the same model (the task's offline default), the same examples, batch size,
learning rate, precision, maximum length and number of optimiser steps, the same CPU thread
count. Reports training samples per second (Trainer's own ``train_samples_per_second``) of:

- ``plain``: the script a user writes from the Hugging Face guides: ``datasets.map`` to
  tokenise, the stock collator, ``Trainer``, no evaluation;
- ``curate``: ``trainer.start_run`` on a store holding the same rows (the whole run: snapshot
  loading, eval before/after, probes, history, saving). Two figures: ``train phase`` is
  Trainer's own, which includes the in-training evaluations of the target eval set that draw
  the run's history (``eval_steps``; the plain script runs none); ``steps only`` leaves their
  time out, the like-for-like comparison of the training steps.

Tasks and data: ``mlm`` (SPLADE-tiny) and ``clm`` (SmolLM2-135M, top 10 blocks, as its
recipe) on the product-review sentences; ``classification`` (all-MiniLM-L6-v2, new head) on
real Rotten Tomatoes snippets; ``qa`` (the same encoder, new QA head) on SQuAD rows built from
real headlines. For ``mlm`` also ``stock loss`` (``fast_mlm_loss=False``: only our run
overhead). Each configuration runs ``--repeats`` times, interleaved, and the best figure is
kept (the machine is shared). Target: curate / plain >= 0.95. Prints figures; asserts nothing.

    python benchmarks/bench_train.py [--tasks mlm,clm,classification,qa] [--steps 16]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SENTENCES = [
    "Nike shoes are very comfortable",
    "Nike running shoes are really durable",
    "Hoodies made by Nike are not very expensive",
    "Nike tshirts are famous for being lightweight",
]
#: Per task: batch size, learning rate, maximum length (each task's recipe).
SETTINGS = {
    "mlm": (32, 1e-3, 48),
    "clm": (16, 1e-4, 32),
    "classification": (32, 1e-4, 64),
    "qa": (16, 2e-4, 128),
}


def sentences(n: int) -> list[str]:
    """The product-review example's generator when available, else a fixed list."""
    try:
        from examples.product_reviews.data import generate

        rows = [t for t in generate(n * 6, seed=0) if t and "nike" in t.lower()]
        return rows[:n]
    except ImportError:
        return [SENTENCES[i % len(SENTENCES)] for i in range(n)]


def rows_for(task: str, n: int) -> list[dict[str, Any]]:
    """The store rows of a task's benchmark."""
    if task == "classification":
        from examples.real_text import reviews

        data = reviews().sample(n, random_state=0)
        return [{"text": t, "gts": y} for t, y in zip(data["text"], data["label"], strict=True)]
    if task == "qa":
        from examples.real_text import headlines
        from examples.support_qa.data import squad_rows

        return squad_rows(headlines(), n)
    return [{"text": t} for t in sentences(n)]


def _precision(task: str) -> dict[str, bool]:
    from trainer.config import TrainingArgs
    from trainer.runner import precision

    fp16, bf16 = precision(TrainingArgs(task=task), cuda=False)
    return {"fp16": fp16, "bf16": bf16}


def _plain_lm(task: str, rows: list[dict], tokenizer: Any, length: int) -> tuple[Any, Any, Any]:
    import datasets
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM
    from transformers import DataCollatorForLanguageModeling as LMCollator

    from trainer.freezing import freeze_below
    from trainer.models import offline_default_dir
    from trainer.offline_clm import offline_clm_dir

    ds = datasets.Dataset.from_list(rows).map(
        lambda b: tokenizer(b["text"], truncation=True, max_length=length),
        batched=True, remove_columns=["text"],
    )  # fmt: skip
    if task == "mlm":
        model = AutoModelForMaskedLM.from_pretrained(offline_default_dir(), use_safetensors=True)
        return model, ds, LMCollator(tokenizer, mlm_probability=0.15)
    model = AutoModelForCausalLM.from_pretrained(offline_clm_dir(), use_safetensors=True)
    freeze_below(model, 10)
    return model, ds, LMCollator(tokenizer, mlm=False)


def _plain_encoder(task: str, rows: list[dict], tokenizer: Any, length: int) -> tuple:
    import datasets
    from transformers import AutoModelForQuestionAnswering as QA
    from transformers import AutoModelForSequenceClassification as Classifier
    from transformers import DataCollatorWithPadding, default_data_collator

    from trainer.offline_encoder import offline_encoder_dir

    folder = offline_encoder_dir()
    if task == "classification":
        names = sorted({r["gts"] for r in rows})
        ds = datasets.Dataset.from_list(rows).map(
            lambda b: {**tokenizer(b["text"], truncation=True, max_length=length),
                       "labels": [names.index(y) for y in b["gts"]]},
            batched=True, remove_columns=["text", "gts"],
        )  # fmt: skip
        model = Classifier.from_pretrained(folder, num_labels=len(names), use_safetensors=True)
        return model, ds, DataCollatorWithPadding(tokenizer)
    ds = datasets.Dataset.from_list(rows).map(
        lambda b: _squad_features(tokenizer, b, length), batched=True,
        remove_columns=["question", "context", "answers"],
    )  # fmt: skip
    return QA.from_pretrained(folder, use_safetensors=True), ds, default_data_collator


def _squad_features(tokenizer: Any, batch: dict, length: int) -> dict:
    """The Hugging Face QA guide's training preprocessing (padding to ``max_length``)."""
    enc = tokenizer(
        batch["question"], batch["context"], truncation="only_second", max_length=length,
        stride=32, return_overflowing_tokens=True, return_offsets_mapping=True,
        padding="max_length",
    )  # fmt: skip
    starts, ends = [], []
    for i, offsets in enumerate(enc.pop("offset_mapping")):
        answer = batch["answers"][enc["overflow_to_sample_mapping"][i]]
        s_char = answer["answer_start"][0]
        e_char = s_char + len(answer["text"][0])
        seq = enc.sequence_ids(i)
        first, last = seq.index(1), len(seq) - 1 - seq[::-1].index(1)
        if offsets[first][0] > s_char or offsets[last][1] < e_char:
            starts.append(0)
            ends.append(0)
            continue
        s = first
        while s <= last and offsets[s][0] <= s_char:
            s += 1
        e = last
        while e >= first and offsets[e][1] >= e_char:
            e -= 1
        starts.append(s - 1)
        ends.append(e + 1)
    enc.pop("overflow_to_sample_mapping")
    return {**enc, "start_positions": starts, "end_positions": ends}


def plain_trainer(task: str, rows: list[dict], steps: int, threads: int) -> dict[str, float]:
    """The hand-written script; returns ``{"plain": train samples/s}``."""
    import torch
    from transformers import AutoTokenizer, Trainer, TrainingArguments

    from trainer.models import resolve_model

    torch.set_num_threads(threads)
    batch, lr, length = SETTINGS[task]
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(None, task=task).name_or_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    build = _plain_lm if task in ("mlm", "clm") else _plain_encoder
    model, ds, collator = build(task, rows, tokenizer, length)
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out, max_steps=steps, per_device_train_batch_size=batch,
            learning_rate=lr, save_strategy="no", report_to="none", use_cpu=True,
            disable_tqdm=True, logging_steps=10_000, **_precision(task),
        )  # fmt: skip
        trainer = Trainer(model=model, args=args, train_dataset=ds, data_collator=collator)
        return {"plain": trainer.train().metrics["train_samples_per_second"]}


def curate_trainer(
    task: str, rows: list[dict], steps: int, threads: int, name: str = "curate", **extra: Any
) -> dict[str, float]:
    """``trainer.start_run`` on a store holding ``rows``; train samples/s of the whole training
    phase (its in-training evaluations included) and of the optimiser steps alone."""
    import pyarrow as pa

    from curate.store import Store
    from trainer.launch import start_run

    batch, lr, length = SETTINGS[task]
    with tempfile.TemporaryDirectory() as root:
        store = Store(root)
        store.write("retraining", pa.Table.from_pylist(rows))
        args = {"task": task, "max_steps": steps, "batch_size": batch, "learning_rate": lr,
                "max_length": length, "num_threads": threads, "eval_fraction": 0.05,
                "max_eval_samples": 32, **extra}  # fmt: skip
        run = start_run(store, args, progress_bar=False)
        if not run.has_model:
            raise RuntimeError(run.error)
        m = run.record["metrics"]
        return {
            f"{name} (train phase)": m["train_samples_per_second"],
            f"{name} (steps only)": m["train_steps_samples_per_second"],
        }


def clm_token_note(rows: list[dict]) -> str:
    """Mean tokens per example of each side: curate's clm prepends the document-start token
    (so a text's first word is learned too), which makes short texts longer to train on."""
    from transformers import AutoTokenizer

    from trainer.offline_clm import offline_clm_dir
    from trainer.tasks.clm import start_ids

    length = SETTINGS["clm"][2]
    tokenizer = AutoTokenizer.from_pretrained(offline_clm_dir())
    texts = [r["text"] for r in rows]
    plain = [len(x) for x in tokenizer(texts, truncation=True, max_length=length)["input_ids"]]
    start = len(start_ids(tokenizer))
    ours = [min(length, start + len(x))
            for x in tokenizer(texts, add_special_tokens=False)["input_ids"]]  # fmt: skip
    a, b = sum(plain) / len(plain), sum(ours) / len(ours)
    return (f"  tokens per example: plain {a:.2f}, curate {b:.2f} (document-start token); "
            f"per token, curate (steps only) / plain = samples ratio x {b / a:.2f}")  # fmt: skip


def configurations(task: str, rows: list[dict], opts: argparse.Namespace) -> list[Callable]:
    """Runs for one task, each ``() -> {name: samples/s}``."""
    steps, threads = opts.steps, opts.threads
    runs = [
        lambda: plain_trainer(task, rows, steps, threads),
        lambda: curate_trainer(task, rows, steps, threads),
    ]
    if task == "mlm":
        runs.append(
            lambda: curate_trainer(task, rows, steps, threads, "stock loss", fast_mlm_loss=False)
        )
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="mlm,clm,classification,qa")
    parser.add_argument("--rows", type=int, default=1200)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    opts = parser.parse_args()
    logging.disable(logging.WARNING)
    started = time.perf_counter()
    print(f"{opts.steps} steps per run, {opts.threads} thread(s), best of {opts.repeats}")
    for task in opts.tasks.split(","):
        rows = rows_for(task, opts.rows)
        runs = configurations(task, rows, opts)
        best: dict[str, float] = {}
        for _ in range(opts.repeats):
            for fn in runs:
                for name, sps in fn().items():
                    best[name] = max(best.get(name, 0.0), sps or 0.0)
        batch = SETTINGS[task][0]
        print(f"{task}: {len(rows)} rows, batch {batch}")
        for name, sps in best.items():
            print(f"  {name:<26} {sps:8.1f} train samples/s   ratio vs plain "
                  f"{sps / best['plain']:.2f}")  # fmt: skip
        if task == "clm":
            print(clm_token_note(rows))
    print(f"target: curate / plain >= 0.95 ({time.perf_counter() - started:.0f}s in all)")


if __name__ == "__main__":
    main()
