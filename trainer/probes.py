"""Probes: what a model predicts for ``[MASK]`` sentences (top-k tokens with scores).

A probe sentence marks the position to fill with ``[MASK]`` or ``{mask}`` (or ``<mask>``).
For a masked LM the marker is replaced by the tokenizer's own mask token, so the same probes
work for BERT-style and RoBERTa-style tokenizers; a causal LM fills it by re-ranking next-token
candidates on the whole sentence (:mod:`trainer.clm_probes`), and takes probes without a mask
as generation prompts. When a sentence has several masks the first one is predicted. A
classifier's probe is a sentence and its answer the label distribution
(:func:`label_distributions`); a QA model's is a question over a context
(:func:`trainer.qa_features.predict_answers`).

>>> resolve_mask_markers("Nike shoes are {mask}", "<mask>")
'Nike shoes are <mask>'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from trainer.config import MASK_MARKERS
from trainer.models import ModelSource, model_task, resolve_model

if TYPE_CHECKING:
    from curate.store_reader import StoreReader

__all__ = [
    "label_distributions",
    "load_model",
    "predict_masks",
    "probe_rows",
    "resolve_mask_markers",
    "resolve_model",
]

Prediction = list[tuple[str, float]]


def resolve_mask_markers(sentence: str, mask_token: str) -> str:
    """Replace every mask marker in ``sentence`` with ``mask_token``."""
    for marker in MASK_MARKERS:
        sentence = sentence.replace(marker, mask_token)
    return sentence


def load_model(
    spec: str | ModelSource | None = None,
    store: StoreReader | None = None,
    task: str | None = None,
) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)`` in eval mode for ``task`` (``None``: the model's own, read
    from its config's architecture; a bare encoder is taken as ``mlm``).

    ``spec`` may be ``None`` (the task's offline default), ``"latest"`` or a run id (with
    ``store``), a local folder (a full model or LoRA adapters) or a hub name.
    """
    from trainer.tasks import get_task

    source = (
        spec if isinstance(spec, ModelSource) else resolve_model(spec, store, task=task or "mlm")
    )
    model, tokenizer = get_task(task or model_task(source)).load(source)
    return model.eval(), tokenizer


def label_distributions(
    model: Any, tokenizer: Any, texts: Sequence[str], batch_size: int = 32
) -> list[Prediction]:
    """Every label with its probability, likeliest first, for each text (a classifier).

    >>> label_distributions.__name__
    'label_distributions'
    """
    import torch

    names = model.config.id2label
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out: list[Prediction] = []
    try:
        for start in range(0, len(texts), batch_size):
            batch = list(texts[start : start + batch_size])
            enc = tokenizer(batch, return_tensors="pt", padding=True, truncation=True).to(device)
            with torch.no_grad():
                probs = model(**enc).logits.float().softmax(-1).tolist()
            for row in probs:
                ranked = sorted(enumerate(row), key=lambda pair: -pair[1])
                out.append([(str(names[i]), float(p)) for i, p in ranked])
    finally:
        model.train(was_training)
    return out


def is_causal(model: Any) -> bool:
    """True for a causal LM (``...ForCausalLM``), which fills masks by re-ranking."""
    return type(model).__name__.endswith("ForCausalLM")


def _token_text(tokenizer: Any, token: str | None, token_id: int) -> str:
    if token is None:  # an id past the tokenizer's vocabulary (padded embedding matrix)
        return f"[{token_id}]"
    text = tokenizer.convert_tokens_to_string([token]).strip()
    return text or token


def predict_masks(
    model: Any,
    tokenizer: Any,
    sentences: Sequence[str],
    top_k: int = 5,
    batch_size: int = 32,
) -> list[Prediction]:
    """Top-``top_k`` ``(token, probability)`` for the first mask of each sentence.

    Runs batched under ``torch.no_grad()`` on the model's device. A causal LM's scores are
    the candidates' shares of the sentence likelihood (:func:`trainer.clm_probes.fill_mask`).

    >>> model, tok = load_model()
    >>> preds = predict_masks(model, tok, ["paris is the [MASK] of france"], top_k=3)
    >>> len(preds[0]), preds[0][0][0]
    (3, 'city')
    """
    if is_causal(model):
        from trainer.clm_probes import fill_mask, split_probe

        for sentence in sentences:
            if split_probe(sentence) is None:
                raise ValueError(f"probe {sentence!r} has no mask; write [MASK] or {{mask}}")
        was_training = model.training
        model.eval()
        try:
            return [fill_mask(model, tokenizer, s, top_k) for s in sentences]
        finally:
            model.train(was_training)
    texts = [resolve_mask_markers(s, tokenizer.mask_token) for s in sentences]
    for original, text in zip(sentences, texts, strict=True):
        if tokenizer.mask_token not in text:
            raise ValueError(f"probe {original!r} has no mask; write [MASK] or {{mask}}")
    was_training = model.training
    model.eval()
    results: list[Prediction] = []
    try:
        for start in range(0, len(texts), batch_size):
            results += _top_k_batch(model, tokenizer, texts[start : start + batch_size], top_k)
    finally:
        model.train(was_training)
    return results


def _top_k_batch(model: Any, tokenizer: Any, texts: list[str], top_k: int) -> list[Prediction]:
    import torch

    device = next(model.parameters()).device
    enc = tokenizer(texts, return_tensors="pt", padding=True, truncation=True).to(device)
    with torch.no_grad():
        logits = model(**enc).logits
    results = []
    for row, ids in enumerate(enc["input_ids"]):
        position = int((ids == tokenizer.mask_token_id).nonzero()[0, 0])
        top = logits[row, position].float().softmax(-1).topk(top_k)
        top_ids = top.indices.tolist()
        tokens = tokenizer.convert_ids_to_tokens(top_ids)
        results.append(
            [
                (_token_text(tokenizer, t, i), float(p))
                for t, i, p in zip(tokens, top_ids, top.values.tolist(), strict=True)
            ]
        )
    return results


def probe_rows(
    model: Any,
    tokenizer: Any,
    probes: Sequence[str],
    top_k: int,
    stage: str,
    max_new_tokens: int = 20,
) -> list[dict[str, Any]]:
    """Long-format rows ``{probe, stage, rank, token, score}`` for ``probes.parquet``.

    A causal LM's generation prompt (no mask) gives one row: its greedy continuation.
    """
    if is_causal(model):
        from trainer.clm_probes import predict_clm

        predictions = predict_clm(model, tokenizer, probes, top_k, max_new_tokens)
    else:
        predictions = predict_masks(model, tokenizer, probes, top_k)
    rows = []
    for probe, preds in zip(probes, predictions, strict=True):
        for rank, (token, score) in enumerate(preds, start=1):
            rows.append(
                {"probe": probe, "stage": stage, "rank": rank, "token": token, "score": score}
            )
    return rows
