"""Before and after: target eval, retention and probes around one ``Trainer.train()``.

The same tokenised sets are scored before and after training, so the figures compare. When
the model is to be saved in bfloat16 its weights are rounded to bfloat16 *before* the after
evaluation, so the after figures and probes are those of the model that is saved.

>>> round_to_dtype.__name__
'round_to_dtype'
"""

from __future__ import annotations

import time
from typing import Any

from trainer.history import perplexity
from trainer.tasks.base import PreparedData


def round_to_dtype(model: Any, dtype: Any) -> None:
    """Round every parameter to ``dtype`` in place, keeping the parameter's own dtype.

    >>> import torch
    >>> layer = torch.nn.Linear(1, 1); _ = layer.weight.data.fill_(1.0 + 2**-12)
    >>> round_to_dtype(layer, torch.bfloat16); layer.weight.item(), layer.weight.dtype
    (1.0, torch.float32)
    """
    import torch

    with torch.no_grad():
        for param in model.parameters():
            param.copy_(param.to(dtype).to(param.dtype))


def evaluate(trainer: Any, data: PreparedData) -> dict[str, float | None]:
    """``{eval_loss, retention_loss}`` of the trainer's model (``None``: no retention set)."""
    target = trainer.evaluate()["eval_loss"]
    retention = None
    if data.retention is not None and len(data.retention):
        scores = trainer.evaluate(eval_dataset=data.retention, metric_key_prefix="retention")
        retention = scores["retention_loss"]
    return {"eval_loss": target, "retention_loss": retention}


def _timed(timings: dict[str, float], name: str, started: float) -> None:
    timings[name] = round(time.monotonic() - started, 3)


def _probe(trainer: Any, task: Any, stage: str) -> list[dict[str, Any]]:
    # Probes run in the precision the run trains and evaluates in: on a CPU with native bf16
    # that is about three times faster, and the top-k came out the same in our checks.
    import torch

    device = "cuda" if trainer.args.device.type == "cuda" else "cpu"
    with torch.autocast(device, dtype=torch.bfloat16, enabled=bool(trainer.args.bf16)):
        return task.probe(trainer.model, trainer.processing_class, stage)


def before_train_after(
    trainer: Any,
    task: Any,
    data: PreparedData,
    timings: dict[str, float],
    save_dtype: Any = None,
) -> dict[str, Any]:
    """Evaluate and probe, train, (round to ``save_dtype``,) evaluate and probe again."""
    started = time.monotonic()
    before = evaluate(trainer, data)
    _timed(timings, "eval_before", started)
    started = time.monotonic()
    probes = _probe(trainer, task, "before")
    _timed(timings, "probe_before", started)
    started = time.monotonic()
    train_metrics = trainer.train().metrics
    _timed(timings, "train", started)
    if save_dtype is not None:
        round_to_dtype(trainer.model, save_dtype)
    started = time.monotonic()
    after = evaluate(trainer, data)
    _timed(timings, "eval_after", started)
    started = time.monotonic()
    probes += _probe(trainer, task, "after")
    _timed(timings, "probe_after", started)
    return {"before": before, "after": after, "probes": probes, "train_metrics": train_metrics}


def figures(outcome: dict[str, Any]) -> dict[str, float | None]:
    """Target and retention loss and perplexity, before and after, as the run record keeps them.

    >>> f = figures({"before": {"eval_loss": 1.0, "retention_loss": None},
    ...              "after": {"eval_loss": 0.5, "retention_loss": None}})
    >>> round(f["perplexity_before"], 3), f["retention_perplexity_after"]
    (2.718, None)
    """
    out: dict[str, float | None] = {}
    for stage in ("before", "after"):
        losses = outcome[stage]
        out[f"eval_loss_{stage}"] = losses["eval_loss"]
        out[f"perplexity_{stage}"] = perplexity(losses["eval_loss"])
        out[f"retention_loss_{stage}"] = losses["retention_loss"]
        out[f"retention_perplexity_{stage}"] = perplexity(losses["retention_loss"])
    return out
