"""The run loop: train one recorded run and write everything it produces in its folder.

``runs/<run_id>/`` after a finished run::

    (the run record)    status (promoted|rejected), promotion, metrics, timings, base_model,
                        starts_from, model_path, error
    training_args.json  the validated TrainingArgs the run used
    model/              model + tokenizer (``save_pretrained``: safetensors), renamed into place;
                        with ``peft``: the LoRA adapters and the base model's config instead
    history.parquet     step, epoch, loss, eval_loss, perplexity, learning_rate
    probes.parquet      probe, stage (before|after), rank, token, score, context (QA only)
    train.log           the worker's log (background runs)

A run starts from the latest promoted run's model (same configured ``model``) or the base
model, trains on the examples :mod:`trainer.data` selects, measures the task's figures on
target eval and retention before and after, and is promoted or rejected by
:mod:`trainer.promotion` on the figure its task names. Nothing here depends on the task: the
task object (:mod:`trainer.tasks`) declares columns, preparation, figures and probes, and the
record keeps its declarations as ``task_info`` for the reports and the dashboard. Any exception is
recorded in the run record as ``failed`` with the error and a traceback summary; files of
earlier runs are never touched, and a partial model is never left under ``model/``. Training
reads only the segments listed in the run's record, so rows written while it trains count
toward the next run.

Entry points: :func:`train_run` (train an existing run, in this process; the worker uses it),
:func:`start_run` (take the store's training lock, snapshot, create the run and train it here
or in a background worker).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import sys
import tempfile
import time
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curate.runs import Run
from curate.store import Store
from trainer.config import TrainingArgs
from trainer.data import select_examples
from trainer.evaluation import before_train_after, details, figures
from trainer.freezing import trainable_share
from trainer.history import HistoryCallback
from trainer.lora import parameter_counts, prepare_model, save_model
from trainer.models import DEFAULT_ALIASES, OFFLINE_DEFAULTS, ModelSource, resolve_model
from trainer.promotion import decide
from trainer.tasks import Task, get_task, task_class

log = logging.getLogger("trainer")

PROBES_SCHEMA = pa.schema(
    [
        ("probe", pa.string()),
        ("stage", pa.string()),
        ("rank", pa.int32()),
        ("token", pa.string()),
        ("score", pa.float64()),
        ("context", pa.string()),
    ]
)


def _iso_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def model_spec(args: TrainingArgs) -> str:
    """The configured model with every alias of the task's offline default normalised."""
    if args.model in DEFAULT_ALIASES:
        return OFFLINE_DEFAULTS[args.task] if args.model in (None, "", "default") else args.model
    return str(args.model)


def starting_model(store: Store, run: Run, args: TrainingArgs) -> tuple[ModelSource, Run | None]:
    """What ``run`` fine-tunes, and the promoted run it comes from (``None``: the base model).

    Continual fine-tuning starts from the latest promoted run when that run was trained from
    the same configured ``model`` and ``from_base_model`` is false; rejected runs are skipped.
    """
    if not args.from_base_model:
        for previous in reversed(store.runs()):
            if previous.run_id == run.run_id or not previous.is_promoted:
                continue
            path = store.path(previous.record["model_path"])
            if previous.record.get("model_spec") == model_spec(args) and path.is_dir():
                return ModelSource(str(path), previous.run_id, True), previous
            break
    return resolve_model(args.model, store, task=args.task), None


def cpu_has_bf16() -> bool:
    """True when this CPU computes bf16 natively (AVX512-BF16 or AMX)."""
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def precision(args: TrainingArgs, cuda: bool) -> tuple[bool, bool]:
    """``(fp16, bf16)`` with ``"auto"`` resolved: bf16 where the GPU has it, else fp16 on a
    GPU; on a CPU bf16 for a task that gains from it (``clm``) when the CPU has native bf16,
    else full precision."""
    import torch

    bf16_ok = (cuda and torch.cuda.is_bf16_supported()) or (
        not cuda and task_class(args.task).cpu_bf16 and cpu_has_bf16()
    )
    bf16 = bf16_ok if args.bf16 == "auto" else bool(args.bf16)
    fp16 = (cuda and not bf16) if args.fp16 == "auto" else bool(args.fp16)
    return fp16, bf16


def cpu_threads(args: TrainingArgs) -> int:
    """Threads for CPU training: ``num_threads``, or half the cores (at least one)."""
    return args.num_threads or max(1, (os.cpu_count() or 1) // 2)


def training_arguments(args: TrainingArgs, out_dir: str, n_train: int, progress_bar: bool):
    """``transformers.TrainingArguments`` for a run: no checkpoints, no hub, no reporting."""
    import torch
    from transformers import TrainingArguments

    cuda = args.device != "cpu" and torch.cuda.is_available()
    fp16, bf16 = precision(args, cuda)
    per_epoch = max(1, -(-n_train // (args.batch_size * args.gradient_accumulation_steps)))
    total = args.max_steps or max(1, int(per_epoch * args.epochs))
    return TrainingArguments(
        output_dir=out_dir,
        num_train_epochs=args.epochs,
        max_steps=args.max_steps or -1,
        learning_rate=args.learning_rate,
        weight_decay=args.weight_decay,
        warmup_steps=args.warmup_ratio,
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=args.batch_size * 2,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        eval_strategy="steps",
        eval_steps=args.eval_steps or max(1, total // 4),
        logging_steps=args.logging_steps or max(1, total // 50),
        save_strategy="no",
        report_to="none",
        seed=args.seed,
        data_seed=args.seed,
        fp16=fp16,
        bf16=bf16,
        use_cpu=not cuda,
        remove_unused_columns=False,
        prediction_loss_only=True,
        disable_tqdm=not progress_bar,
        dataloader_num_workers=0,
    )


@contextmanager
def _timed(timings: dict[str, float], name: str):
    start = time.monotonic()
    try:
        yield
    finally:
        timings[name] = round(time.monotonic() - start, 3)


def _write_parquet(path: Path, table: pa.Table) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def save_dtype(args: TrainingArgs, trained_bf16: bool) -> Any:
    """The dtype to save weights in: ``None`` keeps float32 (see ``TrainingArgs.save_dtype``)."""
    import torch

    if args.save_dtype == "bfloat16" or (args.save_dtype == "auto" and trained_bf16):
        return torch.bfloat16
    return None


def _save_model(model: Any, tokenizer: Any, run: Run, dtype: Any, merge: bool) -> Path:
    """Save to a temporary folder in the run, then rename it to ``model/`` (never partial)."""
    final = run.path / "model"
    tmp = run.path / ".tmp-model"
    shutil.rmtree(tmp, ignore_errors=True)
    if dtype is not None:
        model.to(dtype)
    save_model(model, tokenizer, tmp, merge)
    os.replace(tmp, final)
    return final


def _describe(exc: BaseException) -> str:
    lines = traceback.format_exception(exc)
    # The header line says it is a traceback; the last frames say where.
    summary = "".join(lines[:1] + lines[1:][-5:]).strip()
    return f"{type(exc).__name__}: {exc}\n{summary}"


def train_run(store: Store, run: Run, *, progress_bar: bool | None = None) -> Run:
    """Train ``run`` (already created, its lock held by this process) and record the outcome.

    Never raises for a failed run: the error is recorded (``run.status == "failed"``, the
    message in ``run.error``). ``KeyboardInterrupt``/``SystemExit`` are recorded, then re-raised.
    """
    timings: dict[str, float] = {}
    try:
        run.update(status="running", started_at=_iso_now(), pid=os.getpid())
        with _timed(timings, "total"):
            args = TrainingArgs.model_validate(run.record.get("config") or {})
            bar = progress_bar if progress_bar is not None else sys.stderr.isatty()
            results = _train(store, run, args, timings, bar)
        run.finish(timings=timings, **results)
        reason = results["promotion"]["reason"]
        log.info("run %s %s in %.1fs: %s", run.run_id, run.status, timings["total"], reason)
    except BaseException as exc:
        log.error("run %s failed: %s", run.run_id, exc, exc_info=True)
        run.finish(error=_describe(exc), timings=timings)
        if not isinstance(exc, Exception):
            raise
    return run


def _load(store: Store, run: Run, task: Task, timings: dict[str, float]) -> tuple:
    """``(model, tokenizer, splits)``: the examples first, as they tell the model its labels."""
    args = task.args
    source, previous = starting_model(store, run, args)
    run.update(
        base_model=source.label,
        base_model_path=source.name_or_path,
        model_spec=model_spec(args),
        starts_from=previous.run_id if previous is not None else None,
        task_info=task.info(),
    )
    with _timed(timings, "select_data"):
        splits = select_examples(run, task, previous)
        task.configure(splits)
    with _timed(timings, "load_model"):
        model, tokenizer = task.load(source)
        model = prepare_model(model, args, task.peft_task_type)
    return model, tokenizer, splits


def _train(
    store: Store, run: Run, args: TrainingArgs, timings: dict[str, float], progress_bar: bool
) -> dict[str, Any]:
    import torch

    torch.set_num_threads(cpu_threads(args))
    task = get_task(args.task, args)
    model, tokenizer, splits = _load(store, run, task, timings)
    with _timed(timings, "prepare_data"):
        data = task.prepare(splits, tokenizer)
    history = HistoryCallback(run)
    with tempfile.TemporaryDirectory(prefix="curate-trainer-") as out_dir:
        trainer = _hf_trainer(task, model, tokenizer, data, history, args, out_dir, progress_bar)
        dtype = save_dtype(args, trainer.args.bf16)
        outcome = before_train_after(trainer, task, data, timings, dtype)
    metrics = {**figures(outcome, task.figures), **_counts(trainer, outcome, data, splits, dtype)}
    metrics["train_steps_samples_per_second"] = _steps_throughput(outcome, history)
    promotion = decide(
        metrics,
        min_improvement=args.min_improvement,
        retention_tolerance=args.retention_tolerance,
        target=task.target,
        higher_is_better=task.higher_is_better,
    )
    with _timed(timings, "save"):
        _save_model(model, tokenizer, run, dtype, args.peft is not None and args.peft.merge)
        _write_parquet(run.path / "history.parquet", history.table())
        probes = pa.Table.from_pylist(outcome["probes"], PROBES_SCHEMA)
        _write_parquet(run.path / "probes.parquet", probes)
        store.write_json(f"runs/{run.run_id}/training_args.json", args.model_dump())
    return {
        "status": promotion["status"],
        "promotion": promotion,
        "metrics": metrics,
        "eval_details": details(outcome),
        "model_path": f"runs/{run.run_id}/model",
    }


def _steps_throughput(outcome: dict[str, Any], history: HistoryCallback) -> float | None:
    """Training samples per second of the optimiser steps alone (in-training evals excluded)."""
    train = outcome["train_metrics"]
    runtime, rate = train.get("train_runtime"), train.get("train_samples_per_second")
    if not runtime or not rate or runtime <= history.eval_seconds:
        return None
    return round(rate * runtime / (runtime - history.eval_seconds), 3)


def _counts(trainer: Any, outcome: dict[str, Any], data: Any, splits: Any, dtype: Any) -> dict:
    import torch

    train_metrics = outcome["train_metrics"]
    args = trainer.args
    trainable, total = parameter_counts(trainer.model)
    return {
        **splits.counts,
        "train_samples": len(data.train),
        "eval_samples": len(data.eval),
        "retention_samples": len(data.retention) if data.retention is not None else 0,
        "train_loss": train_metrics.get("train_loss"),
        "train_samples_per_second": train_metrics.get("train_samples_per_second"),
        "train_steps": trainer.state.global_step,
        "epochs": trainer.state.epoch,
        "cpu_threads": torch.get_num_threads(),
        "precision": "bf16" if args.bf16 else "fp16" if args.fp16 else "fp32",
        "device": str(args.device),
        "saved_dtype": "bfloat16" if dtype is not None else "float32",
        "trainable_share": round(trainable_share(trainer.model), 4),
        "trainable_parameters": trainable,
        "total_parameters": total,
    }


def _hf_trainer(
    task: Any,
    model: Any,
    tokenizer: Any,
    data: Any,
    history: HistoryCallback,
    args: TrainingArgs,
    out_dir: str,
    progress_bar: bool,
) -> Any:
    """The task's ``transformers.Trainer`` for this run (no checkpoints, no hub, no reports)."""
    from transformers import PrinterCallback

    trainer = task.trainer_class()(
        model=model,
        args=training_arguments(args, out_dir, len(data.train), progress_bar),
        data_collator=task.collator(tokenizer),
        train_dataset=data.train,
        eval_dataset=data.eval,
        processing_class=tokenizer,
        callbacks=[history],
    )
    if not progress_bar:  # HistoryCallback logs progress; skip the raw dict printer
        trainer.remove_callback(PrinterCallback)
    return trainer
