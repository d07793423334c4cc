"""``training_args``: the trainer's part of the user configuration, validated by pydantic.

Every key is optional. ``learning_rate``, ``epochs``, ``batch_size`` and ``max_length`` default
per task (each task module's ``defaults``, :func:`task_defaults`), to the recipe tuned for that
task's offline default on its example:

- ``mlm`` (the tiny SPLADE masked LM): 6 epochs at learning rate 1e-3, batch 32, at most 48
  tokens, 15% token masking. Fewer epochs leave the top-5 of some probe sentences unstable
  across seeds; 6 epochs were stable on every seed tried.
- ``clm`` (SmolLM2-135M): the top 10 of its 30 blocks trained (embeddings and lower blocks
  frozen), 1 epoch at learning rate 1e-4, batch 16, at most 32 tokens. On the example this kept
  every general-English check we ran (8/8), where the whole model at 5e-5 lost two of them, and
  trained 2.8x faster.
- ``classification`` and ``qa`` (all-MiniLM-L6-v2 with a new head): see their task modules.

All: linear decay, 6% warm-up, weight decay 0.01, one CPU thread per two cores. Unknown keys
are errors that name the key and list the valid ones.

>>> args = TrainingArgs.model_validate({"epochs": 2, "probes": ["Nike shoes are very [MASK]"]})
>>> args.task, args.epochs, args.top_k, args.learning_rate
('mlm', 2.0, 5, 0.001)
>>> TrainingArgs(task="clm").learning_rate, TrainingArgs(task="clm").train_layers
(0.0001, 10)
>>> TrainingArgs.model_validate({"epoch": 2})
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for TrainingArgs
  Value error, unknown key 'epoch'; valid keys: ...
...
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from curate.config_base import StrictModel

#: Markers a probe sentence may use for the masked position (resolved per tokenizer).
MASK_MARKERS = ("[MASK]", "{mask}", "<mask>")

Precision = bool | Literal["auto"]


class PeftArgs(StrictModel):
    """LoRA adapters instead of full fine-tuning (the ``peft`` package).

    ``target_modules`` ``"auto"`` takes the attention projections ``peft`` knows for the
    model's architecture (BERT: query and value). The adapters are saved apart from the base
    model (``adapter_config.json``, ``adapter_model.safetensors``); ``merge`` saves the merged
    full model instead.

    >>> PeftArgs().r, PeftArgs(target_modules=["query"]).target_modules
    (8, ['query'])
    """

    method: Literal["lora"] = "lora"
    r: int = Field(8, gt=0, le=1024)
    alpha: float = Field(16, gt=0)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: Literal["auto"] | list[str] = "auto"
    merge: bool = False


def task_defaults(task: str, lora: bool = False) -> dict[str, Any]:
    """The training arguments whose default depends on ``task`` (and on LoRA).

    >>> task_defaults("clm")["train_layers"], task_defaults("classification", lora=True)["learning_rate"]
    (10, 0.001)
    """
    from trainer.tasks import task_class  # the tasks declare their defaults

    cls = task_class(task)
    return {**cls.defaults, **(cls.lora_defaults if lora else {})}


class TrainingArgs(StrictModel):
    """How a training run fine-tunes the model.

    ``model`` is ``None`` (the task's embedded offline default), a Hugging Face hub name such
    as ``"distilbert-base-uncased"``, or a local folder written by ``save_pretrained``. Runs
    continue from the latest promoted run's model trained from the same ``model`` unless
    ``from_base_model`` is true.

    >>> TrainingArgs(model="distilbert-base-uncased", max_steps=10).max_steps
    10
    """

    #: ``mlm``, ``clm``, ``classification`` or ``qa`` (one module each in ``trainer/tasks/``).
    task: str = "mlm"
    model: str | None = None
    text_column: str = "text"
    #: Classification: the label of each row (``gts``: the ground truth logged with the
    #: prediction); labels may be strings or integers, their names are kept with the model.
    label_column: str = "gts"
    #: Classification: ``"auto"`` weighs the loss by inverse class frequency when the largest
    #: class has at least 1.5x the rows of the smallest; ``"weights"`` always; ``"none"`` never.
    class_balance: Literal["auto", "weights", "none"] = "auto"
    #: Train (and hold out target eval) only on edge cases a reviewer accepted or relabelled
    #: (``curate.reviews``); rejected edge cases are left out with or without it.
    require_review: bool = False
    #: QA (SQuAD format): question, context and answers (``{"text": [...], "answer_start":
    #: [...]}``, or the answer text alone, found in the context) columns.
    question_column: str = "question"
    context_column: str = "context"
    answers_column: str = "answers"
    #: QA: tokens shared by consecutive windows of a context longer than ``max_length``.
    doc_stride: int = Field(64, gt=0)
    max_answer_length: int = Field(30, gt=0)
    #: LoRA adapters (``{"method": "lora", "r": 8, "alpha": 16, "target_modules": "auto"}``).
    peft: PeftArgs | None = None
    epochs: float | None = Field(None, gt=0)
    max_steps: int | None = Field(None, gt=0)
    learning_rate: float | None = Field(None, gt=0, lt=1)
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(0.06, ge=0, lt=1)
    batch_size: int | None = Field(None, gt=0)
    gradient_accumulation_steps: int = Field(1, gt=0)
    max_length: int | None = Field(None, ge=8)
    group_texts: bool = False
    mlm_probability: float = Field(0.15, gt=0, lt=1)
    whole_word_mask: bool = False
    #: Apply the MLM head at masked positions only (same loss, ~5x faster for small models).
    fast_mlm_loss: bool = True
    eval_fraction: float = Field(0.1, gt=0, lt=1)
    max_eval_samples: int | None = Field(512, gt=0)
    #: Traffic-sample rows held out to measure retention (what the model keeps of ordinary
    #: traffic); 0 measures none.
    retention_samples: int = Field(256, ge=0)
    #: Share of the training rows that are replayed: traffic-sample rows and edge cases that
    #: earlier promoted runs trained on, beside the edge cases new since then. 0.3 measured on
    #: the example: retention perplexity 861 -> 9.0 (71 without replay), target 4.47 (4.27).
    replay_fraction: float = Field(0.3, ge=0, lt=1)
    #: Promotion: the task's target figure (perplexity; macro-F1 for classification, F1 for
    #: qa) must improve by at least this share of the starting model's...
    min_improvement: float = Field(0.0, ge=0, lt=1)
    #: ...and on retention may get worse by at most this share of the starting model's.
    retention_tolerance: float = Field(0.10, ge=0)
    seed: int = 42
    fp16: Precision = "auto"
    #: ``"auto"``: bf16 on a GPU that has it, and for ``clm`` on a CPU with native bf16
    #: (AVX512-BF16 or AMX), where mixed precision roughly halves the step time.
    bf16: Precision = "auto"
    #: The saved model's weights; ``"auto"``: bfloat16 when the run trained in bf16 (the model
    #: is rounded before its "after" evaluation, so the figures are the saved model's).
    save_dtype: Literal["auto", "float32", "bfloat16"] = "auto"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    #: CPU threads for training; ``None``: half the cores (at least 1), leaving the rest to
    #: the monitored process (on a busy 2-core machine 2 threads run ~10x slower than 1).
    num_threads: int | None = Field(None, gt=0)
    logging_steps: int | None = Field(None, gt=0)
    eval_steps: int | None = Field(None, gt=0)
    #: Mask sentences; for ``clm`` also generation prompts (no mask: greedy continuation); for
    #: ``classification`` any sentence; for ``qa`` ``{"question", "context"}`` (or a string
    #: ``"question || context"``).
    probes: list[str | dict[str, str]] = Field(default_factory=list)
    top_k: int = Field(5, gt=0, le=100)
    max_new_tokens: int = Field(20, gt=0, le=200)
    from_base_model: bool = False
    #: Fine-tune only the top N transformer blocks (embeddings and lower blocks frozen, see
    #: ``trainer.freezing``); 0 (or more than the model has): the whole model. Defaults per task.
    train_layers: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _task_defaults(self) -> TrainingArgs:
        from trainer.tasks import task_class

        try:
            cls = task_class(self.task)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        for key, value in task_defaults(self.task, self.peft is not None).items():
            if getattr(self, key) is None:
                setattr(self, key, value)
        self.probes = [cls.check_probe(probe) for probe in self.probes]
        return self

    def overridden(self, **changes: Any) -> TrainingArgs:
        """A validated copy with ``changes`` applied (``None`` values are ignored).

        >>> TrainingArgs().overridden(epochs=1, model=None).epochs
        1.0
        """
        data = self.model_dump()
        data.update({k: v for k, v in changes.items() if v is not None})
        return TrainingArgs.model_validate(data)
