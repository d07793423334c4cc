"""LoRA adapters (``peft``) for every task, and saving a run's model with or without them.

With ``training_args.peft`` a run freezes the model and trains low-rank adapters on its
attention projections (``target_modules="auto"``: those ``peft`` knows for the architecture;
for an architecture it does not know, every linear layer of the transformer blocks) plus, whole,
every module the checkpoint lacked (a new classification or QA head, a pooler: ``peft``'s
``modules_to_save``), which would otherwise be drawn anew at each load. A model
loaded from an adapter folder keeps training its own adapters. The run saves the adapters apart
from the base model: ``adapter_config.json`` (which names the base model's folder),
``adapter_model.safetensors``, the base model's ``config.json`` (label names and all) and the
tokenizer; ``merge`` saves the merged full model instead. :func:`trainer.models.load_pretrained`
loads either.

>>> from transformers import BertConfig, BertForSequenceClassification
>>> tiny = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
...                   intermediate_size=32)
>>> model = with_lora(BertForSequenceClassification(tiny), PeftArgs(r=2), "SEQ_CLS")
>>> trainable, total = parameter_counts(model); trainable < total
True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trainer.config import PeftArgs, TrainingArgs
from trainer.freezing import freeze_below

#: Module names that are heads, not blocks (never given adapters by the fallback).
_HEADS = ("classifier", "qa_outputs", "lm_head", "cls", "score", "pooler")


def is_peft_model(model: Any) -> bool:
    """True for a model wrapped with ``peft`` adapters."""
    return hasattr(model, "peft_config") and hasattr(model, "get_base_model")


def _targets(model: Any, spec: str | list[str]) -> list[str] | None:
    """``None`` lets ``peft`` choose for a known architecture; else the fallback's names."""
    if spec != "auto":
        return list(spec)
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as known

    if getattr(model.config, "model_type", None) in known:
        return None
    import torch

    names = {
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and not any(h in name.split(".") for h in _HEADS)
    }
    return sorted(names)


def with_lora(model: Any, args: PeftArgs, task_type: str | None) -> Any:
    """``model`` wrapped in fresh LoRA adapters (an adapter model is returned as it is)."""
    if is_peft_model(model):
        return model
    from peft import LoraConfig, TaskType, get_peft_model

    config = LoraConfig(
        r=args.r,
        lora_alpha=args.alpha,
        lora_dropout=args.dropout,
        target_modules=_targets(model, args.target_modules),
        task_type=TaskType[task_type] if task_type else None,
        modules_to_save=list(getattr(model, "curate_new_modules", [])) or None,
    )
    return get_peft_model(model, config)


def prepare_model(model: Any, args: TrainingArgs, task_type: str | None) -> Any:
    """The model a run trains: with LoRA adapters (``peft``), or with its lower blocks frozen
    (``train_layers``), or whole."""
    if args.peft is not None:
        return with_lora(model, args.peft, task_type)
    if is_peft_model(model):  # adapters from an earlier run, trained on as they are
        return model
    if args.train_layers:
        freeze_below(model, args.train_layers)
    return model


def parameter_counts(model: Any) -> tuple[int, int]:
    """``(trainable, total)`` parameters (each shared tensor counted once)."""
    seen: set[int] = set()
    trainable = total = 0
    for param in model.parameters():
        if id(param) in seen:
            continue
        seen.add(id(param))
        total += param.numel()
        trainable += param.numel() if param.requires_grad else 0
    return trainable, total


def save_model(model: Any, tokenizer: Any, folder: Path, merge: bool = False) -> None:
    """``save_pretrained`` the model (adapters apart, or merged when ``merge``) and tokenizer."""
    if is_peft_model(model) and merge:
        model = model.merge_and_unload()
    model.save_pretrained(folder)
    if is_peft_model(model):
        base = model.get_base_model()
        base.config.architectures = [type(base).__name__]
        base.config.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
