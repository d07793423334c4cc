"""Masked-language-model fine-tuning on the text column of the retraining set.

The texts come from :mod:`trainer.data` (null and blank rows already dropped). They are tokenised with truncation to ``max_length`` and padded per batch, or, with
``group_texts``, concatenated and cut into ``max_length`` blocks. Training batches are masked on
the fly by ``DataCollatorForLanguageModeling`` (``mlm_probability``, optional whole-word masking);
the eval and retention sets are masked **once** with a fixed seed, so eval loss before and after
training are measured on exactly the same masked tokens and are comparable.

>>> task = MaskedLMTask(TrainingArgs())
>>> task.name
'mlm'
"""

from __future__ import annotations

from itertools import chain
from typing import Any

from trainer.config import TrainingArgs
from trainer.models import ModelSource, load_masked_lm
from trainer.probes import probe_rows
from trainer.tasks.base import Task

__all__ = ["MaskedLMCollator", "MaskedLMTask", "TrainingArgs"]


class MaskedLMCollator:
    """Masks training batches on the fly; pads pre-masked (eval) batches as they are.

    A batch whose examples already carry ``labels`` (the eval set, masked once at preparation)
    is only padded: ``input_ids`` with the pad id, ``attention_mask`` with 0, ``labels`` with
    -100. Any other batch goes through ``DataCollatorForLanguageModeling``.
    """

    def __init__(self, tokenizer: Any, args: TrainingArgs, seed: int | None = None) -> None:
        from transformers import DataCollatorForLanguageModeling

        self.tokenizer = tokenizer
        self.mlm = DataCollatorForLanguageModeling(
            tokenizer,
            mlm=True,
            mlm_probability=args.mlm_probability,
            whole_word_mask=args.whole_word_mask,
            mask_replace_prob=1.0 if args.whole_word_mask else 0.8,
            random_replace_prob=0.0 if args.whole_word_mask else 0.1,
            seed=seed,
        )

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        if "labels" not in features[0]:
            return self.mlm(features)
        import torch

        width = max(len(f["input_ids"]) for f in features)
        pad_id = self.tokenizer.pad_token_id or 0

        def pad(key: str, value: int) -> torch.Tensor:
            rows = [list(f[key]) + [value] * (width - len(f[key])) for f in features]
            return torch.tensor(rows, dtype=torch.long)

        return {
            "input_ids": pad("input_ids", pad_id),
            "attention_mask": pad("attention_mask", 0),
            "labels": pad("labels", -100),
        }


def _ensure_one_label(
    ids: list[int], labels: list[int], original: list[int], special: list[int], tokenizer: Any
) -> None:
    """Mask the first ordinary token of a row that drew no mask, so every row is scored."""
    if any(label != -100 for label in labels):
        return
    for position, is_special in enumerate(special):
        if not is_special:
            labels[position] = original[position]
            ids[position] = tokenizer.mask_token_id
            return


class MaskedLMTask(Task):
    """Fine-tune a masked LM (BERT, DistilBERT, RoBERTa...) on ``args.text_column``."""

    name = "mlm"
    defaults = {"learning_rate": 1e-3, "epochs": 6.0, "batch_size": 32, "max_length": 48}
    lora_defaults = {"learning_rate": 5e-3}

    def load(self, source: ModelSource) -> tuple[Any, Any]:
        return load_masked_lm(source)

    def trainer_class(self) -> type:
        if not self.args.fast_mlm_loss:
            return super().trainer_class()
        from trainer.tasks.mlm_loss import MaskedLMTrainer

        return MaskedLMTrainer

    def collator(self, tokenizer: Any) -> MaskedLMCollator:
        return MaskedLMCollator(tokenizer, self.args, seed=None)

    def probe_rows(
        self, model: Any, tokenizer: Any, probes: list[Any], stage: str
    ) -> list[dict[str, Any]]:
        return probe_rows(model, tokenizer, probes, self.args.top_k, stage)

    # -- data ------------------------------------------------------------------------------
    def _dataset(self, texts: list[str]) -> Any:
        import datasets

        return datasets.Dataset.from_dict({self.args.text_column: list(texts)})

    def encode_train(self, examples: list[str], tokenizer: Any) -> Any:
        return self.tokenize(self._dataset(examples), tokenizer)

    def encode_eval(self, examples: list[str], tokenizer: Any) -> Any:
        return self.mask_once(self.tokenize(self._dataset(examples), tokenizer), tokenizer)

    def tokenize(self, dataset: Any, tokenizer: Any) -> Any:
        """Token ids (plus special-token mask, and offsets for whole-word masking)."""
        args = self.args
        column = args.text_column

        def encode(batch: dict[str, list]) -> dict[str, list]:
            return tokenizer(
                batch[column],
                truncation=not args.group_texts,
                max_length=None if args.group_texts else args.max_length,
                return_special_tokens_mask=True,
                return_offsets_mapping=args.whole_word_mask and not args.group_texts,
            )

        tokenized = dataset.map(encode, batched=True, remove_columns=[column], keep_in_memory=True)
        tokenized = tokenized.remove_columns(
            [c for c in ("token_type_ids",) if c in tokenized.column_names]
        )
        if args.group_texts:
            tokenized = tokenized.map(self._group, batched=True, keep_in_memory=True)
        return tokenized

    def _group(self, batch: dict[str, list]) -> dict[str, list]:
        size = self.args.max_length
        joined = {k: list(chain.from_iterable(batch[k])) for k in batch}
        total = (len(joined["input_ids"]) // size) * size or len(joined["input_ids"])
        return {k: [v[i : i + size] for i in range(0, total, size)] for k, v in joined.items()}

    def mask_once(self, dataset: Any, tokenizer: Any) -> Any:
        """Mask ``dataset`` once with the run's seed; rows gain ``labels`` (-100 = not masked)."""
        collate = MaskedLMCollator(tokenizer, self.args, seed=self.args.seed).mlm

        def mask(batch: dict[str, list]) -> dict[str, list]:
            rows = zip(*batch.values(), strict=True)
            features = [dict(zip(batch, values, strict=True)) for values in rows]
            out = collate(features)
            lengths = [len(ids) for ids in batch["input_ids"]]
            ids = [r[:n] for r, n in zip(out["input_ids"].tolist(), lengths, strict=True)]
            labels = [r[:n] for r, n in zip(out["labels"].tolist(), lengths, strict=True)]
            for row, original, special in zip(
                range(len(ids)), batch["input_ids"], batch["special_tokens_mask"], strict=True
            ):
                _ensure_one_label(ids[row], labels[row], original, special, tokenizer)
            return {
                "input_ids": ids,
                "attention_mask": [[1] * n for n in lengths],
                "labels": labels,
            }

        return dataset.map(
            mask,
            batched=True,
            batch_size=256,
            remove_columns=dataset.column_names,
            keep_in_memory=True,
        )
