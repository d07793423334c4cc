"""Causal-language-model fine-tuning (next-token prediction) on the text column.

Each text is tokenised after the model's document-start token (so its first word is learned
and scored too) and truncated to ``max_length``; batches are padded per batch, or, with
``group_texts``, texts are concatenated and cut into ``max_length`` blocks. Labels are the input
ids (the model shifts them) with padding ignored. Evaluation is deterministic, so loss before and
after training is measured on exactly the same tokens. The offline default is SmolLM2-135M
(:mod:`trainer.offline_clm`). Probes fill ``[MASK]`` by re-ranking next-token candidates on the
whole sentence, and take sentences without a mask as generation prompts
(:mod:`trainer.clm_probes`).

>>> task = CausalLMTask(TrainingArgs(task="clm"))
>>> task.name, task.args.learning_rate
('clm', 0.0001)
"""

from __future__ import annotations

from itertools import chain
from typing import Any

from trainer.clm_probes import start_ids
from trainer.config import TrainingArgs
from trainer.models import ModelSource, load_causal_lm
from trainer.probes import probe_rows
from trainer.tasks.base import Task

__all__ = ["CausalLMTask", "TrainingArgs"]


class CausalLMTask(Task):
    """Fine-tune a causal LM (Llama, GPT-2, SmolLM2...) on ``args.text_column``."""

    name = "clm"
    defaults = {
        "learning_rate": 1e-4,
        "epochs": 1.0,
        "batch_size": 16,
        "max_length": 32,
        "train_layers": 10,
    }
    lora_defaults = {"learning_rate": 1e-3}
    probe_kind = "mask_or_prompt"
    architecture = "ForCausalLM"
    peft_task_type = "CAUSAL_LM"
    cpu_bf16 = True

    @classmethod
    def check_probe(cls, probe: Any) -> Any:
        # A causal LM takes a probe without a mask as a generation prompt.
        if not isinstance(probe, str):
            raise ValueError(f"probe {probe!r} is not a sentence or a prompt")
        return probe

    def load(self, source: ModelSource) -> tuple[Any, Any]:
        return load_causal_lm(source)

    def collator(self, tokenizer: Any) -> Any:
        from transformers import DataCollatorForLanguageModeling

        return DataCollatorForLanguageModeling(tokenizer, mlm=False)

    def probe_rows(
        self, model: Any, tokenizer: Any, probes: list[Any], stage: str
    ) -> list[dict[str, Any]]:
        args = self.args
        return probe_rows(model, tokenizer, probes, args.top_k, stage, args.max_new_tokens)

    def _encode(self, texts: list[str], tokenizer: Any) -> Any:
        import datasets

        start = start_ids(tokenizer)
        limit = self.args.max_length
        group = self.args.group_texts

        def encode(batch: dict[str, list]) -> dict[str, list]:
            ids = tokenizer(batch["text"], add_special_tokens=False)["input_ids"]
            ids = [start + row for row in ids]
            if not group:
                ids = [row[:limit] for row in ids]
            return {"input_ids": ids, "attention_mask": [[1] * len(row) for row in ids]}

        data = datasets.Dataset.from_dict({"text": list(texts)})
        data = data.map(encode, batched=True, remove_columns=["text"], keep_in_memory=True)
        return data.map(self._group, batched=True, keep_in_memory=True) if group else data

    def _group(self, batch: dict[str, list]) -> dict[str, list]:
        size = self.args.max_length
        joined = {k: list(chain.from_iterable(batch[k])) for k in batch}
        total = (len(joined["input_ids"]) // size) * size or len(joined["input_ids"])
        return {k: [v[i : i + size] for i in range(0, total, size)] for k, v in joined.items()}

    def encode_train(self, examples: list[str], tokenizer: Any) -> Any:
        return self._encode(examples, tokenizer)

    def encode_eval(self, examples: list[str], tokenizer: Any) -> Any:
        return self._encode(examples, tokenizer)
