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


def evaluate(trainer: Any, task: Any, data: PreparedData) -> dict[str, Any]:
    """The task's figures of the trainer's model on the target eval and retention sets.

    ``{"eval": figures, "retention": figures or None, "details": {...}}``: figures such as
    ``{"loss", "perplexity"}`` (:meth:`trainer.tasks.Task.score`), ``None`` for no retention
    set; details (a confusion matrix...) keyed by set.
    """
    target, details = task.score(trainer, data.eval, "eval")
    out: dict[str, Any] = {"eval": target, "retention": None, "details": {"eval": details}}
    if data.retention is not None and len(data.retention):
        out["retention"], details = task.score(trainer, data.retention, "retention")
        out["details"]["retention"] = details
    return out


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
    before = evaluate(trainer, task, data)
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
    after = evaluate(trainer, task, data)
    _timed(timings, "eval_after", started)
    started = time.monotonic()
    probes += _probe(trainer, task, "after")
    _timed(timings, "probe_after", started)
    return {"before": before, "after": after, "probes": probes, "train_metrics": train_metrics}


def metric_name(figure: str, retention: bool) -> str:
    """The run record's name of a figure: ``loss`` is ``eval_loss`` (or ``retention_loss``).

    >>> metric_name("loss", False), metric_name("loss", True), metric_name("f1", True)
    ('eval_loss', 'retention_loss', 'retention_f1')
    """
    if retention:
        return f"retention_{figure}"
    return "eval_loss" if figure == "loss" else figure


def figures(outcome: dict[str, Any], names: tuple[str, ...] = ("loss", "perplexity")) -> dict:
    """Target and retention figures, before and after, as the run record keeps them.

    >>> f = figures({"before": {"eval": {"loss": 1.0, "perplexity": 2.718}, "retention": None},
    ...              "after": {"eval": {"loss": 0.5, "perplexity": 1.649}, "retention": None}})
    >>> f["perplexity_before"], f["eval_loss_after"], f["retention_perplexity_after"]
    (2.718, 0.5, None)
    """
    out: dict[str, float | None] = {}
    for stage in ("before", "after"):
        for which in ("eval", "retention"):
            values = outcome[stage][which] or {}
            for name in names:
                out[f"{metric_name(name, which == 'retention')}_{stage}"] = values.get(name)
    return out


def details(outcome: dict[str, Any]) -> dict[str, Any]:
    """The non-scalar figures (confusion matrices, per-class scores) by stage and set.

    >>> details({"before": {"details": {"eval": {}}}, "after": {"details": {"eval": {}}}})
    {}
    """
    out = {}
    for stage in ("before", "after"):
        found = {k: v for k, v in (outcome[stage].get("details") or {}).items() if v}
        if found:
            out[stage] = found
    return out
