"""Sequence classification: a text and its label per row (sentiment, intent, diagnosis...).

The label comes from ``label_column`` (``gts`` by default: the ground truth logged with the
prediction; strings or integers, kept as their string names). ``num_labels`` and the label
names are inferred from the run's examples and stored with the model (``id2label`` in its
config); a run that continues from a promoted model keeps that model's label order, and a label
the model has never seen is an error (train ``from_base_model`` to start a new head). When the
training set is skewed (``class_balance``), the training loss weighs each class by
``n / (k * count)``; evaluation is never weighted.

Figures: loss, accuracy and macro-F1 (promotion compares macro-F1, higher is better), plus
per-class precision/recall/F1 and a confusion matrix (scikit-learn; :mod:`trainer.metrics`).
Probes are sentences; each gets its predicted label distribution (every label, by
probability). The offline default is all-MiniLM-L6-v2 with a new head
(:mod:`trainer.offline_encoder`). Recipe from the sentiment example (real Rotten Tomatoes
snippets, 1,669 training rows): 2 epochs at 1e-4, batch 32, 64 tokens took held-out accuracy
from 0.49 to 0.755; LoRA (r=8) at 1e-3 to 0.725 with 0.3% of the parameters trainable.

>>> task = ClassificationTask(TrainingArgs(task="classification"))
>>> task.example({"text": "A fine film", "gts": 1}), task.example({"text": "x", "gts": None})
(('A fine film', '1'), None)
"""

from __future__ import annotations

from collections import Counter
from functools import partial
from typing import Any

from trainer.config import TrainingArgs
from trainer.models import ModelSource, is_adapter_folder, load_with_tokenizer
from trainer.tasks.base import NoTrainingDataError, Task, normalise

__all__ = ["BalancedTrainer", "ClassificationTask", "TrainingArgs", "class_weights"]

#: The largest class must have this many times the rows of the smallest for ``"auto"``.
SKEW = 1.5


def class_weights(labels: list[str], names: list[str], mode: str = "weights") -> list[float] | None:
    """Inverse-frequency weights ``n / (k * count)`` by label id (``None``: no weighting).

    >>> class_weights(["a", "a", "a", "b"], ["a", "b"])
    [0.6666666666666666, 2.0]
    >>> class_weights(["a", "b"], ["a", "b"], mode="auto") is None
    True
    """
    counts = Counter(labels)
    present = [counts[name] for name in names if counts[name]]
    if mode == "none" or not present:
        return None
    if mode == "auto" and max(present) < SKEW * min(present):
        return None
    k, n = len(present), len(labels)
    return [n / (k * counts[name]) if counts[name] else 0.0 for name in names]


def _label_names(config: Any) -> list[str] | None:
    """The label names a model was trained with; ``None`` for the default ``LABEL_i`` names."""
    id2label = getattr(config, "id2label", None) or {}
    names = [str(id2label[i]) for i in sorted(id2label, key=int)]
    return None if names == [f"LABEL_{i}" for i in range(len(names))] else names


def _make_balanced_trainer() -> type:
    from transformers import Trainer

    class _BalancedTrainer(Trainer):
        def __init__(self, *args: Any, class_weights: list[float] | None = None, **kw: Any):
            super().__init__(*args, **kw)
            self.class_weights = class_weights
            if class_weights is not None:
                # Our weighted loss is a per-batch mean: Trainer divides it by the accumulation.
                self.loss_is_scaled_for_ga = False

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: ANN001
            if self.class_weights is None or not model.training:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            import torch

            labels = inputs["labels"]
            outputs = model(**{k: v for k, v in inputs.items() if k != "labels"})
            weight = torch.tensor(self.class_weights, device=labels.device)
            loss = torch.nn.functional.cross_entropy(outputs.logits.float(), labels, weight=weight)
            return (loss, outputs) if return_outputs else loss

    return _BalancedTrainer


def BalancedTrainer(*args: Any, **kwargs: Any) -> Any:  # noqa: N802 - builds a Trainer
    """A ``transformers.Trainer`` whose training loss weighs classes by ``class_weights``."""
    return _make_balanced_trainer()(*args, **kwargs)


class ClassificationTask(Task):
    """Fine-tune a sequence classifier on ``text_column`` and ``label_column``."""

    name = "classification"
    defaults = {"learning_rate": 1e-4, "epochs": 2.0, "batch_size": 32, "max_length": 64}
    lora_defaults = {"learning_rate": 1e-3}
    probe_kind = "labels"
    figures = ("loss", "accuracy", "macro_f1")
    target = "macro_f1"
    higher_is_better = True
    architecture = "ForSequenceClassification"
    peft_task_type = "SEQ_CLS"

    def __init__(self, args: TrainingArgs) -> None:
        super().__init__(args)
        self.labels: list[str] | None = None
        self.train_labels: list[str] = []

    @classmethod
    def check_probe(cls, probe: Any) -> Any:
        if not isinstance(probe, str) or not probe.strip():
            raise ValueError(f"probe {probe!r}: a classification probe is a sentence")
        return probe

    # -- data ------------------------------------------------------------------------------
    def columns(self) -> list[str]:
        return [self.args.text_column, self.args.label_column]

    def example(self, row: dict[str, Any]) -> tuple[str, str] | None:
        text, label = row.get(self.args.text_column), row.get(self.args.label_column)
        if not isinstance(text, str) or not text.strip() or label is None:
            return None
        label = str(label).strip()
        return (text, label) if label else None

    def key(self, example: tuple[str, str]) -> str:
        return normalise(example[0])

    def configure(self, splits: Any) -> None:
        """The label names (sorted; a model's own order first) and the class weights."""
        seen = sorted({label for split in (splits.train, splits.eval, splits.retention)
                       for _, label in split})  # fmt: skip
        self.labels, loaded = seen, self.labels
        if loaded:  # a model came first: its labels, when the run's are among them
            self.labels = self._known_first(loaded)
        self.train_labels = [label for _, label in splits.train]

    # -- model -----------------------------------------------------------------------------
    def load(self, source: ModelSource) -> tuple[Any, Any]:
        from transformers import AutoConfig, AutoModelForSequenceClassification

        try:
            known = _label_names(AutoConfig.from_pretrained(source.name_or_path))
        except (OSError, ValueError):
            known = None
        if known is not None:
            self.labels = self._known_first(known)
        names = self.labels or ["LABEL_0", "LABEL_1"]
        kwargs = {} if is_adapter_folder(source) else {
            "num_labels": len(names),
            "id2label": dict(enumerate(names)),
            "label2id": {name: i for i, name in enumerate(names)},
            # A checkpoint's head of another size had unnamed labels: it starts anew.
            "ignore_mismatched_sizes": True,
        }  # fmt: skip
        import torch

        torch.manual_seed(self.args.seed)  # the new head starts the same for the same seed
        model, tokenizer = load_with_tokenizer(source, AutoModelForSequenceClassification, **kwargs)
        self.labels = names
        return model, tokenizer

    def _known_first(self, known: list[str]) -> list[str]:
        """``known`` (a model's labels, in its order) when the run's labels are all in it."""
        unknown = [label for label in (self.labels or []) if label not in known]
        if unknown:
            raise NoTrainingDataError(
                f"labels {unknown} are new to the model (it knows {known}); train with "
                "from_base_model to give it a new head"
            )
        return known

    def _encode(self, examples: list[tuple[str, str]], tokenizer: Any) -> Any:
        import datasets

        index = {name: i for i, name in enumerate(self.labels or [])}
        texts = [text for text, _ in examples]
        encoded = tokenizer(texts, truncation=True, max_length=self.args.max_length)
        columns = {k: encoded[k] for k in ("input_ids", "attention_mask", "token_type_ids")
                   if k in encoded}  # fmt: skip
        columns["labels"] = [index[label] for _, label in examples]
        return datasets.Dataset.from_dict(columns)

    def encode_train(self, examples: list[tuple[str, str]], tokenizer: Any) -> Any:
        return self._encode(examples, tokenizer)

    def encode_eval(self, examples: list[tuple[str, str]], tokenizer: Any) -> Any:
        return self._encode(examples, tokenizer)

    def collator(self, tokenizer: Any) -> Any:
        from transformers import DataCollatorWithPadding

        return DataCollatorWithPadding(tokenizer)

    def trainer_class(self) -> Any:
        # After load: the weights follow the model's label order, which may differ from ours.
        weights = class_weights(self.train_labels, self.labels or [], self.args.class_balance)
        return partial(BalancedTrainer, class_weights=weights)

    # -- figures and probes ----------------------------------------------------------------
    def score(self, trainer: Any, dataset: Any, prefix: str) -> tuple[dict[str, Any], dict]:
        from trainer.metrics import classification_scores

        out = trainer.evaluation_loop(
            trainer.get_eval_dataloader(dataset), "score", prediction_loss_only=False,
            metric_key_prefix=prefix,
        )  # fmt: skip
        logits = out.predictions[0] if isinstance(out.predictions, tuple) else out.predictions
        predicted = logits.argmax(-1).tolist()
        figures, details = classification_scores(out.label_ids.tolist(), predicted, self.labels)
        return {"loss": out.metrics.get(f"{prefix}_loss"), **figures}, details

    def probe_rows(
        self, model: Any, tokenizer: Any, probes: list[Any], stage: str
    ) -> list[dict[str, Any]]:
        from trainer.probes import label_distributions

        rows = []
        for probe, dist in zip(probes, label_distributions(model, tokenizer, probes), strict=True):
            for rank, (label, score) in enumerate(dist, start=1):
                rows.append({"probe": probe, "stage": stage, "rank": rank, "token": label,
                             "score": score})  # fmt: skip
        return rows
