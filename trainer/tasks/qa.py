"""Extractive question answering on SQuAD-format rows: question, context, answers.

Rows become examples and token windows as :mod:`trainer.qa_features` describes (offset
mapping, ``doc_stride`` for contexts longer than ``max_length``). Two examples are the same when
their question and context are (compared lower-cased, whitespace collapsed). Figures: loss
(start/end cross-entropy of the windows), exact match and F1 with the SQuAD normalisation
(:mod:`trainer.metrics`; promotion compares F1, higher is better). Probes are ``{"question",
"context"}`` pairs (or ``"question || context"`` strings); each gets its top-k answer spans.
The offline default is all-MiniLM-L6-v2 with a new QA head (:mod:`trainer.offline_encoder`).
Recipe from the support-QA example (1,500 questions logged, 751 low-confidence edge cases,
128 tokens): 4 epochs at 2e-4, batch 16 took held-out F1 from 0.22 to 0.92 (2 epochs on 900
questions: 0.22 to 0.23). LoRA: 2e-3 (not measured on the example).

>>> QuestionAnsweringTask.check_probe("Who won? || Ada won the race.")
{'question': 'Who won?', 'context': 'Ada won the race.'}
"""

from __future__ import annotations

from typing import Any

from trainer.config import TrainingArgs
from trainer.models import ModelSource, load_with_tokenizer
from trainer.qa_features import (
    MODEL_KEYS,
    best_answers,
    encode_features,
    predict_answers,
    squad_example,
)
from trainer.tasks.base import Task, normalise

__all__ = ["QACollator", "QuestionAnsweringTask", "TrainingArgs"]

#: Separates the question from the context in a probe given as one string.
PROBE_SEPARATOR = "||"


class QACollator:
    """Pads the model's keys of each window; the answer-mapping columns stay out of the batch."""

    def __init__(self, tokenizer: Any) -> None:
        from transformers import DataCollatorWithPadding

        self.pad = DataCollatorWithPadding(tokenizer)

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        return self.pad([{k: f[k] for k in MODEL_KEYS if k in f} for f in features])


class QuestionAnsweringTask(Task):
    """Fine-tune an extractive QA model on question, context and answers columns."""

    name = "qa"
    defaults = {"learning_rate": 2e-4, "epochs": 4.0, "batch_size": 16, "max_length": 192}
    lora_defaults = {"learning_rate": 2e-3}
    probe_kind = "answers"
    figures = ("loss", "exact_match", "f1")
    target = "f1"
    higher_is_better = True
    architecture = "ForQuestionAnswering"
    peft_task_type = "QUESTION_ANS"

    @classmethod
    def check_probe(cls, probe: Any) -> Any:
        if isinstance(probe, str) and PROBE_SEPARATOR in probe:
            question, context = (part.strip() for part in probe.split(PROBE_SEPARATOR, 1))
            probe = {"question": question, "context": context}
        if not (isinstance(probe, dict) and probe.get("question") and probe.get("context")):
            raise ValueError(
                f"probe {probe!r}: a QA probe is {{'question': ..., 'context': ...}} or "
                f"'question {PROBE_SEPARATOR} context'"
            )
        return {"question": str(probe["question"]), "context": str(probe["context"])}

    # -- data ------------------------------------------------------------------------------
    def columns(self) -> list[str]:
        args = self.args
        return [args.question_column, args.context_column, args.answers_column]

    def example(self, row: dict[str, Any]) -> dict | None:
        return squad_example(row, *self.columns())

    def key(self, example: dict) -> str:
        return f"{normalise(example['question'])}\x1f{normalise(example['context'])}"

    # -- model -----------------------------------------------------------------------------
    def load(self, source: ModelSource) -> tuple[Any, Any]:
        import torch
        from transformers import AutoModelForQuestionAnswering

        torch.manual_seed(self.args.seed)  # the new head starts the same for the same seed
        model, tokenizer = load_with_tokenizer(source, AutoModelForQuestionAnswering)
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError(f"model {source.label!r}: QA needs a fast tokenizer (offsets)")
        return model, tokenizer

    def _encode(self, examples: list[dict], tokenizer: Any, keep: bool) -> Any:
        import datasets

        args = self.args
        return datasets.Dataset.from_dict(
            encode_features(tokenizer, examples, args.max_length, args.doc_stride, keep)
        )

    def encode_train(self, examples: list[dict], tokenizer: Any) -> Any:
        return self._encode(examples, tokenizer, keep=False)

    def encode_eval(self, examples: list[dict], tokenizer: Any) -> Any:
        return self._encode(examples, tokenizer, keep=True)

    def collator(self, tokenizer: Any) -> QACollator:
        return QACollator(tokenizer)

    # -- figures and probes ----------------------------------------------------------------
    def score(self, trainer: Any, dataset: Any, prefix: str) -> tuple[dict[str, Any], dict]:
        from trainer.metrics import squad_scores

        out = trainer.evaluation_loop(
            trainer.get_eval_dataloader(dataset), "score", prediction_loss_only=False,
            metric_key_prefix=prefix,
        )  # fmt: skip
        start_logits, end_logits = out.predictions[:2]
        columns = ("example_index", "offset_mapping", "context", "gold")
        features = {c: dataset[c] for c in columns}
        answers = best_answers(
            start_logits, end_logits, features, max_answer_length=self.args.max_answer_length
        )
        gold: dict[int, list[str]] = dict(
            zip(features["example_index"], features["gold"], strict=True)
        )
        figures = squad_scores([a[0][0] for a in answers], [gold[i] for i in sorted(gold)])
        return {"loss": out.metrics.get(f"{prefix}_loss"), **figures}, {}

    def probe_rows(
        self, model: Any, tokenizer: Any, probes: list[Any], stage: str
    ) -> list[dict[str, Any]]:
        args = self.args
        pairs = [self.check_probe(p) for p in probes]
        predictions = predict_answers(
            model, tokenizer, pairs, args.top_k, args.max_length, args.doc_stride,
            args.max_answer_length,
        )  # fmt: skip
        rows = []
        for pair, answers in zip(pairs, predictions, strict=True):
            for rank, (text, score) in enumerate(answers, start=1):
                rows.append({"probe": pair["question"], "context": pair["context"],
                             "stage": stage, "rank": rank, "token": text, "score": score})  # fmt: skip
        return rows
