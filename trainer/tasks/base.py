"""The task interface: everything a fine-tuning task declares, so nothing else branches on it.

A task says which store columns it reads and how a row becomes a training example
(:meth:`Task.example`), how examples are tokenised, batched (the data collator) and scored
(:meth:`Task.score`: the figures it reports, the one that decides promotion and whether higher
is better), how its probes are checked and answered (:attr:`Task.probe_kind`), which model
class it loads and the PEFT task type of its LoRA adapters. The run loop
(:mod:`trainer.runner`), the data selection (:mod:`trainer.data`), promotion, the reports, the
CLI and the dashboard read those declarations (a run records them as ``task_info``).

>>> from trainer.tasks import get_task
>>> get_task("mlm").name, get_task("mlm").info()["target"]
('mlm', 'perplexity')
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from trainer.config import MASK_MARKERS, TrainingArgs
from trainer.models import ModelSource

#: What a task's probe rows mean, for the reports and the dashboard.
PROBE_KINDS = {
    "mask": "top-k fills of the [MASK] of a sentence",
    "mask_or_prompt": "top-k fills of a [MASK], or a prompt's greedy continuation",
    "labels": "the predicted label distribution of a sentence",
    "answers": "the top-k answer spans of a question over a context",
}


class NoTrainingDataError(ValueError):
    """The snapshot holds no usable row (all null/empty, or a needed column is missing)."""


def normalise(text: str) -> str:
    """The form two texts are compared in: lower case, single spaces, no edge spaces.

    >>> normalise("  Nike   SHOES are good ")
    'nike shoes are good'
    """
    return " ".join(text.lower().split())


@dataclass
class PreparedData:
    """Tokenised datasets ready for ``transformers.Trainer`` (``retention`` may be ``None``)."""

    train: Any
    eval: Any
    retention: Any = None


class Task(ABC):
    """One kind of fine-tuning (masked LM, classification, ...).

    Class attributes a task sets: ``name``; ``defaults`` (training arguments whose default is
    the task's, see :mod:`trainer.config`) and ``lora_defaults`` (the same, with ``peft``);
    ``probe_kind`` (a key of :data:`PROBE_KINDS`); ``figures`` (what :meth:`score` reports,
    ``"loss"`` first), ``target`` (the figure promotion compares) and ``higher_is_better``;
    ``architecture`` (the suffix of the ``transformers`` class it trains, how a saved model's
    task is recognised); ``peft_task_type`` (``peft.TaskType`` name, ``None``: none);
    ``cpu_bf16`` (mixed precision pays off on a CPU with native bf16).
    """

    name: ClassVar[str]
    defaults: ClassVar[dict[str, Any]] = {}
    lora_defaults: ClassVar[dict[str, Any]] = {}
    probe_kind: ClassVar[str] = "mask"
    figures: ClassVar[tuple[str, ...]] = ("loss", "perplexity")
    target: ClassVar[str] = "perplexity"
    higher_is_better: ClassVar[bool] = False
    architecture: ClassVar[str] = "ForMaskedLM"
    peft_task_type: ClassVar[str | None] = None
    cpu_bf16: ClassVar[bool] = False

    def __init__(self, args: TrainingArgs) -> None:
        self.args = args

    # -- declarations ----------------------------------------------------------------------
    @classmethod
    def check_probe(cls, probe: Any) -> Any:
        """A probe as this task takes it (raises ``ValueError`` naming what is wrong).

        >>> from trainer.tasks.mlm import MaskedLMTask
        >>> MaskedLMTask.check_probe("a [MASK] day")
        'a [MASK] day'
        """
        if not isinstance(probe, str) or not any(m in probe for m in MASK_MARKERS):
            raise ValueError(
                f"probe {probe!r} has no mask; write [MASK] or {{mask}} where the model "
                "should fill in a word"
            )
        return probe

    def info(self) -> dict[str, Any]:
        """What a run records about its task (``task_info``), read by reports and dashboard."""
        return {
            "task": self.name,
            "probe_kind": self.probe_kind,
            "figures": list(self.figures),
            "target": self.target,
            "higher_is_better": self.higher_is_better,
        }

    # -- data ------------------------------------------------------------------------------
    def columns(self) -> list[str]:
        """The store columns one example is made of."""
        return [self.args.text_column]

    def example(self, row: dict[str, Any]) -> Any | None:
        """The training example of a store row, or ``None`` when the row is not usable."""
        value = row.get(self.args.text_column)
        return value if isinstance(value, str) and value.strip() else None

    def key(self, example: Any) -> str:
        """What makes two examples the same (held-out examples are never trained on)."""
        return normalise(example)

    def configure(self, splits: Any) -> None:
        """Learn from the run's examples what the model needs before it loads (labels...).

        The language-model tasks need nothing: they return at once.
        """
        return None

    # -- model -----------------------------------------------------------------------------
    @abstractmethod
    def load(self, source: ModelSource) -> tuple[Any, Any]:
        """Load ``(model, tokenizer)`` from a resolved source."""

    @abstractmethod
    def encode_train(self, examples: list[Any], tokenizer: Any) -> Any:
        """The training examples as a tokenised ``datasets.Dataset``."""

    @abstractmethod
    def encode_eval(self, examples: list[Any], tokenizer: Any) -> Any:
        """Evaluation examples as a tokenised ``datasets.Dataset`` scored the same every time."""

    def prepare(self, splits: Any, tokenizer: Any) -> PreparedData:
        """Tokenise a run's :class:`~trainer.data.TextSplits`."""
        retention = self.encode_eval(splits.retention, tokenizer) if splits.retention else None
        return PreparedData(
            self.encode_train(splits.train, tokenizer),
            self.encode_eval(splits.eval, tokenizer),
            retention,
        )

    @abstractmethod
    def collator(self, tokenizer: Any) -> Any:
        """The data collator for training batches (and pre-processed eval batches)."""

    def trainer_class(self) -> Any:
        """What builds this task's ``transformers.Trainer`` (a class or a partial of one)."""
        from transformers import Trainer

        return Trainer

    # -- figures and probes ----------------------------------------------------------------
    def score(self, trainer: Any, dataset: Any, prefix: str) -> tuple[dict[str, Any], dict]:
        """``(figures, details)`` of the trainer's model on ``dataset``: loss and perplexity."""
        from trainer.history import perplexity

        loss = trainer.evaluate(eval_dataset=dataset, metric_key_prefix=prefix)[f"{prefix}_loss"]
        return {"loss": loss, "perplexity": perplexity(loss)}, {}

    def probe(self, model: Any, tokenizer: Any, stage: str) -> list[dict[str, Any]]:
        """Probe rows of the configured probes for ``probes.parquet``."""
        if not self.args.probes:
            return []
        return self.probe_rows(model, tokenizer, self.args.probes, stage)

    def probe_rows(
        self, model: Any, tokenizer: Any, probes: list[Any], stage: str
    ) -> list[dict[str, Any]]:
        """``{probe, stage, rank, token, score[, context]}`` rows; tasks without probes: none."""
        return []
