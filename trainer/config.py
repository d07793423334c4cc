"""``training_args``: the trainer's part of the user configuration, validated by pydantic.

Every key is optional. The defaults are the recipe tuned for the offline default model on the
product-review example (about 3,000 edge-case sentences): 6 epochs at learning rate 1e-3
(linear decay, 6% warm-up, weight decay 0.01), batch 32, dynamic padding to at most 48 tokens,
15% token masking, one CPU thread per two cores. Fewer epochs leave the top-5 of some probe
sentences unstable across seeds (negative adjectives can appear); 6 epochs were stable on every
seed tried. Unknown keys are errors that name the key and list the valid ones.

>>> args = TrainingArgs.model_validate({"epochs": 2, "probes": ["Nike shoes are very [MASK]"]})
>>> args.task, args.epochs, args.top_k
('mlm', 2.0, 5)
>>> TrainingArgs.model_validate({"epoch": 2})
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for TrainingArgs
  Value error, unknown key 'epoch'; valid keys: ...
...
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from curate.config_base import StrictModel

#: Markers a probe sentence may use for the masked position (resolved per tokenizer).
MASK_MARKERS = ("[MASK]", "{mask}", "<mask>")

Precision = bool | Literal["auto"]


class TrainingArgs(StrictModel):
    """How a training run fine-tunes the model.

    ``model`` is ``None`` (the embedded offline default masked LM), a Hugging Face hub name such
    as ``"distilbert-base-uncased"``, or a local folder written by ``save_pretrained``. Runs
    continue from the latest successful run's model trained from the same ``model`` unless
    ``from_base_model`` is true.

    >>> TrainingArgs(model="distilbert-base-uncased", max_steps=10).max_steps
    10
    """

    task: Literal["mlm"] = "mlm"
    model: str | None = None
    text_column: str = "text"
    epochs: float = Field(6.0, gt=0)
    max_steps: int | None = Field(None, gt=0)
    learning_rate: float = Field(1e-3, gt=0, lt=1)
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(0.06, ge=0, lt=1)
    batch_size: int = Field(32, gt=0)
    gradient_accumulation_steps: int = Field(1, gt=0)
    max_length: int = Field(48, ge=8)
    group_texts: bool = False
    mlm_probability: float = Field(0.15, gt=0, lt=1)
    whole_word_mask: bool = False
    #: Apply the MLM head at masked positions only (same loss, ~5x faster for small models).
    fast_mlm_loss: bool = True
    eval_fraction: float = Field(0.1, gt=0, lt=1)
    max_eval_samples: int | None = Field(512, gt=0)
    seed: int = 42
    fp16: Precision = "auto"
    bf16: Precision = "auto"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    #: CPU threads for training; ``None``: half the cores (at least 1), leaving the rest to
    #: the monitored process (on a busy 2-core machine 2 threads run ~10x slower than 1).
    num_threads: int | None = Field(None, gt=0)
    logging_steps: int | None = Field(None, gt=0)
    eval_steps: int | None = Field(None, gt=0)
    probes: list[str] = Field(default_factory=list)
    top_k: int = Field(5, gt=0, le=100)
    from_base_model: bool = False

    @field_validator("probes")
    @classmethod
    def _probes_have_a_mask(cls, probes: list[str]) -> list[str]:
        for probe in probes:
            if not any(marker in probe for marker in MASK_MARKERS):
                raise ValueError(
                    f"probe {probe!r} has no mask; write [MASK] or {{mask}} where the model "
                    "should fill in a word"
                )
        return probes

    def overridden(self, **changes: Any) -> TrainingArgs:
        """A validated copy with ``changes`` applied (``None`` values are ignored).

        >>> TrainingArgs().overridden(epochs=1, model=None).epochs
        1.0
        """
        data = self.model_dump()
        data.update({k: v for k, v in changes.items() if v is not None})
        return TrainingArgs.model_validate(data)
