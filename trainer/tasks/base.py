"""The task interface: what a fine-tuning task must provide to the run loop.

A task knows how to load its model class, tokenise the run's texts (train, target eval and
retention, chosen by :mod:`trainer.data`), batch them (the data collator) and probe a model. The
run loop in :mod:`trainer.runner` does everything else (Trainer, evaluation, promotion, history,
saving, the record).

>>> from trainer.tasks import get_task
>>> get_task("mlm").name
'mlm'
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from trainer.config import TrainingArgs
from trainer.models import ModelSource


class NoTrainingDataError(ValueError):
    """The snapshot holds no usable row (all null/empty, or the text column is missing)."""


@dataclass
class PreparedData:
    """Tokenised datasets ready for ``transformers.Trainer`` (``retention`` may be ``None``)."""

    train: Any
    eval: Any
    retention: Any = None


class Task(ABC):
    """One kind of fine-tuning (masked LM, classification, ...)."""

    name: ClassVar[str]

    def __init__(self, args: TrainingArgs) -> None:
        self.args = args

    @abstractmethod
    def load(self, source: ModelSource) -> tuple[Any, Any]:
        """Load ``(model, tokenizer)`` from a resolved source."""

    @abstractmethod
    def encode_train(self, texts: list[str], tokenizer: Any) -> Any:
        """The training texts as a tokenised ``datasets.Dataset``."""

    @abstractmethod
    def encode_eval(self, texts: list[str], tokenizer: Any) -> Any:
        """Evaluation texts as a tokenised ``datasets.Dataset`` scored the same way every time."""

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

    def trainer_class(self) -> type:
        """The ``transformers.Trainer`` (sub)class that trains this task."""
        from transformers import Trainer

        return Trainer

    def probe(self, model: Any, tokenizer: Any, stage: str) -> list[dict[str, Any]]:
        """Probe rows for ``probes.parquet``; tasks without probes return nothing."""
        return []
