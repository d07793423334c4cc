"""The masked-LM loss computed on masked positions only: same number, a fraction of the work.

A masked LM's head (transform + decoder to the whole vocabulary) is applied at every position,
yet the loss only looks at the 15% that were masked. In a small model the head dominates: for
the offline default (hidden 128, vocabulary 30,522) it is about 90% of the multiply-adds. For
architectures whose head is position-wise (BERT, RoBERTa and its relatives, DistilBERT) we run
the encoder, gather the hidden states of the masked positions and apply the head to those only.
The loss is exactly the model's own (mean cross-entropy over the labelled positions); everything
else (optimiser, schedule, precision, accumulation, logging) is the stock ``transformers.Trainer``.
Other architectures, label smoothing or a wrapped (distributed) model use the stock path.

>>> from transformers import BertConfig, BertForMaskedLM
>>> model = BertForMaskedLM(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
...                                    num_attention_heads=2, intermediate_size=32))
>>> split_masked_lm(model) is not None
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from transformers import Trainer

Encoder = Callable[..., Any]
Head = Callable[[torch.Tensor], torch.Tensor]

_ROBERTA_LIKE = {
    "RobertaForMaskedLM": "roberta",
    "XLMRobertaForMaskedLM": "roberta",
    "CamembertForMaskedLM": "roberta",
}


def _distilbert_head(model: Any) -> Head:
    def head(hidden: torch.Tensor) -> torch.Tensor:
        hidden = model.activation(model.vocab_transform(hidden))
        return model.vocab_projector(model.vocab_layer_norm(hidden))

    return head


def split_masked_lm(model: Any) -> tuple[Encoder, Head] | None:
    """``(encoder, position-wise head)`` of a known masked-LM class, else ``None``."""
    name = type(model).__name__
    if name == "BertForMaskedLM":
        return model.bert, model.cls
    if name in _ROBERTA_LIKE:
        return getattr(model, _ROBERTA_LIKE[name]), model.lm_head
    if name == "DistilBertForMaskedLM":
        return model.distilbert, _distilbert_head(model)
    return None


def masked_only_loss(model: Any, inputs: dict[str, Any]) -> torch.Tensor | None:
    """The model's MLM loss with the head applied at masked positions only (None: unsupported).

    >>> from transformers import BertConfig, BertForMaskedLM
    >>> m = BertForMaskedLM(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
    ...                                num_attention_heads=2, intermediate_size=32)).eval()
    >>> ids = torch.tensor([[2, 7, 4, 9, 3]]); labels = torch.tensor([[-100, -100, 8, -100, -100]])
    >>> full = m(input_ids=ids, labels=labels).loss
    >>> torch.allclose(masked_only_loss(m, {"input_ids": ids, "labels": labels}), full)
    True
    """
    parts = split_masked_lm(model)
    if parts is None or "labels" not in inputs:
        return None
    encoder, head = parts
    features = {k: v for k, v in inputs.items() if k != "labels"}
    labels = inputs["labels"]
    hidden = encoder(**features)[0]
    selected = labels != -100
    logits = head(hidden[selected])
    return F.cross_entropy(logits.view(-1, logits.shape[-1]), labels[selected])


class MaskedLMTrainer(Trainer):
    """``transformers.Trainer`` whose loss skips the vocabulary head at unmasked positions."""

    def compute_loss(
        self,
        model: Any,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: Any = None,
    ):
        stock = (
            self.label_smoother is not None
            or self.compute_loss_func is not None
            or model is not self.model
        )
        loss = None if stock else masked_only_loss(model, inputs)
        if loss is None:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        return (loss, {"loss": loss}) if return_outputs else loss
