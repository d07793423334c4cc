"""Probes for a causal LM: fill a ``[MASK]`` by next-token candidates re-ranked on the sentence.

A causal LM has no mask token, so a probe ``"Trousers made by [MASK] are not very expensive"``
is answered in three steps, which make its before/after table read like a masked LM's:

1. **Candidates**: the most likely next tokens after the text before the mask that start a
   word (letters or digits after a space), completed greedily into whole words (at most
   ``max_word_tokens`` tokens, e.g. " comfort" + "able").
2. **Re-ranking**: each candidate is filled in and the whole sentence is scored by its
   log-likelihood under the model, so the words after the mask count too.
3. **Scores**: a softmax of those log-likelihoods over the candidates: the share each word
   takes among them (not a probability over the whole vocabulary).

A probe without a mask is a **generation prompt**: its greedy continuation is stored as one row
(rank 1) with the geometric mean of the generated tokens' probabilities as its score.

>>> split_probe("Nike shoes are very [MASK]")
('Nike shoes are very', '')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trainer.config import MASK_MARKERS

Prediction = list[tuple[str, float]]


def split_probe(sentence: str) -> tuple[str, str] | None:
    """``(text before, text after)`` the first mask marker, stripped; ``None`` without one.

    >>> split_probe("Nike {mask} shoes are good")
    ('Nike', 'shoes are good')
    """
    hits = [(sentence.find(m), m) for m in MASK_MARKERS if m in sentence]
    if not hits:
        return None
    at, marker = min(hits)
    return sentence[:at].strip(), sentence[at + len(marker) :].strip()


def _device(model: Any) -> Any:
    return next(model.parameters()).device


def start_ids(tokenizer: Any) -> list[int]:
    """The token a text starts after: the document separator, else bos or eos (or none).

    Probes add it only before an empty prefix, so a first word gets a probability at all.
    """
    # The document separator models are pre-trained with reads as "a text starts here"; an
    # instruct model's bos (a chat-turn marker) does not.
    separator = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    unk = tokenizer.unk_token_id
    if isinstance(separator, int) and (separator != unk or tokenizer.unk_token == "<|endoftext|>"):
        return [separator]
    for token_id in (tokenizer.bos_token_id, tokenizer.eos_token_id):
        if token_id is not None:
            return [token_id]
    return []


def _encode(tokenizer: Any, text: str) -> list[int]:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return start_ids(tokenizer) + ids if not text or not ids else ids


def _next_token_logprobs(model: Any, sequences: list[list[int]]) -> Any:
    """Log-probabilities of the token after each sequence (right-padded batch)."""
    import torch

    width = max(len(s) for s in sequences)
    ids = torch.zeros((len(sequences), width), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.tensor(seq)
        mask[row, : len(seq)] = 1
    device = _device(model)
    with torch.no_grad():
        logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
    last = torch.tensor([len(s) - 1 for s in sequences], device=device)
    return logits[torch.arange(len(sequences), device=device), last].float().log_softmax(-1)


def sequence_logprobs(model: Any, sequences: list[list[int]], batch_size: int = 32) -> list[float]:
    """Sum of ``log p(token_i | tokens before it)`` over each sequence (first token given)."""
    import torch

    device = _device(model)
    totals: list[float] = []
    for start in range(0, len(sequences), batch_size):
        chunk = sequences[start : start + batch_size]
        width = max(len(s) for s in chunk)
        ids = torch.zeros((len(chunk), width), dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, seq in enumerate(chunk):
            ids[row, : len(seq)] = torch.tensor(seq)
            mask[row, : len(seq)] = 1
        ids, mask = ids.to(device), mask.to(device)
        with torch.no_grad():
            logp = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float().log_softmax(-1)
        picked = logp.gather(-1, ids[:, 1:, None])[..., 0] * mask[:, 1:]
        totals += picked.sum(-1).tolist()
    return totals


def _word_start(piece: str) -> bool:
    return piece[:1].isspace() and piece.strip().isalnum()


def _candidates(model: Any, tokenizer: Any, prefix_ids: list[int], n: int) -> list[list[int]]:
    """Token ids of the ``n`` likeliest next tokens that start a word."""
    logp = _next_token_logprobs(model, [prefix_ids])[0]
    found: list[list[int]] = []
    for token_id in logp.topk(min(len(logp), 20 * n)).indices.tolist():
        piece = tokenizer.decode([token_id])
        if _word_start(piece) or (not prefix_ids and piece.strip().isalnum()):
            found.append([token_id])
            if len(found) == n:
                break
    return found


def _complete_words(
    model: Any, tokenizer: Any, prefix_ids: list[int], words: list[list[int]], steps: int
) -> list[list[int]]:
    """Extend each word greedily while the likeliest next token continues it."""
    open_rows = list(range(len(words)))
    for _ in range(steps):
        if not open_rows:
            break
        logp = _next_token_logprobs(model, [prefix_ids + words[i] for i in open_rows])
        still_open = []
        for row, best in zip(open_rows, logp.argmax(-1).tolist(), strict=True):
            piece = tokenizer.decode([best])
            if piece and not piece[0].isspace() and piece.isalpha():
                words[row] = words[row] + [best]
                still_open.append(row)
        open_rows = still_open
    return words


def fill_mask(
    model: Any,
    tokenizer: Any,
    sentence: str,
    top_k: int = 5,
    n_candidates: int = 30,
    max_word_tokens: int = 3,
) -> Prediction:
    """Top-``top_k`` ``(word, share)`` for the first mask of ``sentence`` (see the module doc)."""
    parts = split_probe(sentence)
    if parts is None:
        raise ValueError(f"probe {sentence!r} has no mask; write [MASK] or {{mask}}")
    before, after = parts
    prefix_ids = tokenizer(before, add_special_tokens=False)["input_ids"] if before else []
    candidates = _candidates(model, tokenizer, prefix_ids or start_ids(tokenizer), n_candidates)
    words = _complete_words(
        model, tokenizer, prefix_ids or start_ids(tokenizer), candidates, max_word_tokens - 1
    )
    texts = list(dict.fromkeys(tokenizer.decode(w).strip() for w in words))
    sentences = [" ".join(p for p in (before, word, after) if p) for word in texts]
    scores = sequence_logprobs(model, [_encode(tokenizer, s) for s in sentences])
    import torch

    shares = torch.tensor(scores).softmax(-1).tolist()
    ranked = sorted(zip(texts, shares, strict=True), key=lambda pair: -pair[1])
    return ranked[:top_k]


def generate(
    model: Any, tokenizer: Any, prompt: str, max_new_tokens: int = 20
) -> tuple[str, float]:
    """Greedy continuation of ``prompt`` and the geometric mean of its tokens' probabilities."""
    import math

    import torch

    ids = torch.tensor([_encode(tokenizer, prompt)], device=_device(model))
    with torch.no_grad():
        out = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            output_scores=True,
            return_dict_in_generate=True,
            pad_token_id=tokenizer.pad_token_id,
        )
    new = out.sequences[0, ids.shape[1] :].tolist()
    logps = [
        float(step[0].float().log_softmax(-1)[token])
        for step, token in zip(out.scores, new, strict=False)
    ]
    mean = math.exp(sum(logps) / len(logps)) if logps else 0.0
    return tokenizer.decode(new, skip_special_tokens=True).strip(), mean


def predict_clm(
    model: Any, tokenizer: Any, sentences: Sequence[str], top_k: int = 5, max_new_tokens: int = 20
) -> list[Prediction]:
    """Per sentence: the mask's top-k words, or ``[(continuation, score)]`` for a prompt."""
    was_training = model.training
    model.eval()
    try:
        results = []
        for sentence in sentences:
            if split_probe(sentence) is None:
                results.append([generate(model, tokenizer, sentence, max_new_tokens)])
            else:
                results.append(fill_mask(model, tokenizer, sentence, top_k))
        return results
    finally:
        model.train(was_training)
