"""Fine-tuning only the top of a model: embeddings and lower transformer blocks frozen.

Training the top ``n`` blocks (and what follows them: the final norm, the head unless it is
tied to the frozen input embeddings) changes what the model says in context while its lower
layers, where most general language knowledge sits, stay as they were. It is also cheaper: the
backward pass stops at the lowest trained block, and the optimiser holds fewer weights.

>>> from transformers import LlamaConfig, LlamaForCausalLM
>>> model = LlamaForCausalLM(LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32,
...     num_hidden_layers=4, num_attention_heads=2, num_key_value_heads=1))
>>> freeze_below(model, 1), trainable_share(model) < 0.5
(4, True)
"""

from __future__ import annotations

from typing import Any

_BLOCK_LISTS = ("layers", "h", "layer", "blocks")


def transformer_blocks(model: Any) -> Any:
    """The ``ModuleList`` of the model's transformer blocks (the longest known one)."""
    import torch

    found = None
    for name, module in model.named_modules():
        is_blocks = isinstance(module, torch.nn.ModuleList)
        is_blocks = is_blocks and name.rsplit(".", 1)[-1] in _BLOCK_LISTS
        if is_blocks and (found is None or len(module) > len(found)):
            found = module
    if found is None:
        raise ValueError(f"cannot find the transformer blocks of {type(model).__name__}")
    return found


def freeze_below(model: Any, top: int) -> int:
    """Freeze the input embeddings and every block but the top ``top``; returns the block count.

    A model with ``top`` blocks or fewer is left wholly trainable.
    """
    blocks = transformer_blocks(model)
    if top >= len(blocks):
        return len(blocks)
    for param in model.get_input_embeddings().parameters():
        param.requires_grad_(False)
    for block in list(blocks)[: len(blocks) - top]:
        for param in block.parameters():
            param.requires_grad_(False)
    return len(blocks)


def trainable_share(model: Any) -> float:
    """The share of the model's parameters that training updates."""
    params = list(model.parameters())
    total = sum(p.numel() for p in params)
    return sum(p.numel() for p in params if p.requires_grad) / total if total else 0.0
