"""Extractive QA's features: SQuAD rows to token windows and back to answer spans.

**Examples.** A row is ``question``, ``context`` and ``answers``, the SQuAD format
``{"text": [...], "answer_start": [...]}`` (scalars are taken as one answer) or the answer text
alone (a string, or a list of strings), whose start is found in the context (first occurrence,
then case-insensitively). An answer whose text is not at its ``answer_start`` is looked up the
same way; answers found nowhere are dropped, and a row with none left is not usable.

**Features** (the standard preprocessing): question and context are tokenised together with
``truncation="only_second"``; a context longer than ``max_length`` is cut into windows that
share ``stride`` tokens (``return_overflowing_tokens``), each window a feature. The character
offsets of each token (``return_offsets_mapping``) map the first answer's span to start/end
token positions; a window that does not contain the whole answer points both at the first
token (``[CLS]``: "not in this window"). Evaluation features keep their example's index, the
context's offsets (``-1`` outside the context), the context and the gold answers.

**Answers.** For each example, over all its windows, the ``n_best`` likeliest starts and ends
are paired into spans inside the context (end not before start, at most ``max_answer_length``
tokens), scored by start + end logit; the best distinct span texts are the answers, with their
share of the candidates' softmax as scores.

>>> squad_example({"question": "Who?", "context": "Ask Ada now", "answers": "Ada"},
...               "question", "context", "answers")["answers"]
{'text': ['Ada'], 'answer_start': [4]}
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

#: What the model receives from a feature (the rest is for mapping answers back).
MODEL_KEYS = ("input_ids", "attention_mask", "token_type_ids", "start_positions", "end_positions")


def _locate(context: str, text: str, start: int | None) -> int | None:
    if start is not None and start >= 0 and context[start : start + len(text)] == text:
        return start
    found = context.find(text)
    if found < 0:
        found = context.lower().find(text.lower())
    return found if found >= 0 else None


def _answer_pairs(answers: Any) -> list[tuple[str, int | None]]:
    if isinstance(answers, str):
        return [(answers, None)]
    if isinstance(answers, dict):
        texts, starts = answers.get("text"), answers.get("answer_start")
        texts = texts if isinstance(texts, list) else [texts]
        starts = starts if isinstance(starts, list) else [starts] * len(texts)
        return list(zip(texts, starts + [None] * (len(texts) - len(starts)), strict=False))
    if isinstance(answers, list):
        return [(a, None) for a in answers]
    return []


def squad_example(row: dict[str, Any], question: str, context: str, answers: str) -> dict | None:
    """A normalised ``{question, context, answers}`` example, or ``None`` when not usable."""
    q, c = row.get(question), row.get(context)
    if not (isinstance(q, str) and q.strip() and isinstance(c, str) and c.strip()):
        return None
    texts, starts = [], []
    for text, start in _answer_pairs(row.get(answers)):
        if not isinstance(text, str) or not text.strip():
            continue
        found = _locate(c, text, start if isinstance(start, int) else None)
        if found is not None:
            texts.append(c[found : found + len(text)])
            starts.append(found)
    if not texts:
        return None
    return {"question": q.strip(), "context": c, "answers": {"text": texts, "answer_start": starts}}


def _stride(tokenizer: Any, questions: list[str], max_length: int, stride: int) -> int:
    # The tokenizer refuses a stride as long as the room left for the context.
    longest = max(len(ids) for ids in tokenizer(questions, add_special_tokens=False)["input_ids"])
    room = max_length - longest - tokenizer.num_special_tokens_to_add(pair=True)
    if room < 8:
        raise ValueError(f"max_length {max_length} leaves {room} tokens for the context")
    return max(0, min(stride, room // 2))


def _context_range(sequence_ids: list[int | None]) -> tuple[int, int]:
    first = sequence_ids.index(1)
    last = len(sequence_ids) - 1 - sequence_ids[::-1].index(1)
    return first, last


def _positions(offsets: list, first: int, last: int, start: int, end: int) -> tuple[int, int]:
    """Token positions of the character span ``[start, end)``; ``(0, 0)`` if not all inside."""
    if offsets[first][0] > start or offsets[last][1] < end:
        return 0, 0
    s = first
    while s <= last and offsets[s][1] <= start:
        s += 1
    e = last
    while e >= first and offsets[e][0] >= end:
        e -= 1
    return s, e


def encode_features(
    tokenizer: Any, examples: Sequence[dict], max_length: int, stride: int, keep: bool
) -> dict[str, list]:
    """Token windows of ``examples``; with ``keep`` also what maps logits back to answers."""
    questions = [e["question"] for e in examples]
    contexts = [e["context"] for e in examples]
    enc = tokenizer(
        questions, contexts, truncation="only_second", max_length=max_length,
        stride=_stride(tokenizer, questions, max_length, stride),
        return_overflowing_tokens=True, return_offsets_mapping=True,
    )  # fmt: skip
    out: dict[str, list] = {k: enc[k] for k in MODEL_KEYS[:3] if k in enc}
    out.update(start_positions=[], end_positions=[])
    if keep:
        out.update(example_index=[], offset_mapping=[], context=[], gold=[])
    for i, offsets in enumerate(enc["offset_mapping"]):
        example = examples[enc["overflow_to_sample_mapping"][i]]
        sequence_ids = enc.sequence_ids(i)
        first, last = _context_range(sequence_ids)
        answer = example["answers"]
        start = answer["answer_start"][0]
        s, e = _positions(offsets, first, last, start, start + len(answer["text"][0]))
        out["start_positions"].append(s)
        out["end_positions"].append(e)
        if keep:
            out["example_index"].append(enc["overflow_to_sample_mapping"][i])
            out["offset_mapping"].append(
                [
                    list(o) if sid == 1 else [-1, -1]
                    for o, sid in zip(offsets, sequence_ids, strict=True)
                ]
            )
            out["context"].append(example["context"])
            out["gold"].append(list(answer["text"]))
    return out


def _top(values: Sequence[float], limit: int, n: int) -> list[int]:
    indices = range(min(limit, len(values)))
    return sorted(indices, key=lambda i: -values[i])[:n]


def _candidates(start_logits, end_logits, offsets, context, n_best, max_len) -> list:  # noqa: ANN001
    out = []
    for s in _top(start_logits, len(offsets), n_best):
        for e in _top(end_logits, len(offsets), n_best):
            if offsets[s][0] < 0 or offsets[e][0] < 0 or e < s or e - s + 1 > max_len:
                continue
            text = context[offsets[s][0] : offsets[e][1]]
            out.append((text, float(start_logits[s]) + float(end_logits[e])))
    return out


def best_answers(
    start_logits: Any,
    end_logits: Any,
    features: dict[str, list],
    top_k: int = 1,
    n_best: int = 20,
    max_answer_length: int = 30,
) -> list[list[tuple[str, float]]]:
    """The ``top_k`` answers ``(text, share)`` of each example, in example order."""
    by_example: dict[int, list] = {}
    for i, index in enumerate(features["example_index"]):
        found = _candidates(
            start_logits[i], end_logits[i], features["offset_mapping"][i],
            features["context"][i], n_best, max_answer_length,
        )  # fmt: skip
        by_example.setdefault(index, []).extend(found)
    answers = []
    for index in sorted(by_example):
        ranked: dict[str, float] = {}
        for text, score in sorted(by_example[index], key=lambda c: -c[1]):
            ranked.setdefault(text, score)
        if not ranked:
            answers.append([("", 0.0)])
            continue
        top = max(ranked.values())
        total = sum(math.exp(v - top) for v in ranked.values())
        answers.append([(t, math.exp(v - top) / total) for t, v in list(ranked.items())[:top_k]])
    return answers


def predict_answers(
    model: Any,
    tokenizer: Any,
    pairs: Sequence[dict[str, str]],
    top_k: int = 5,
    max_length: int = 192,
    stride: int = 64,
    max_answer_length: int = 30,
) -> list[list[tuple[str, float]]]:
    """Top-``top_k`` answers for ``{question, context}`` pairs (a QA model, eval mode)."""
    import torch

    examples = [{**p, "answers": {"text": [""], "answer_start": [0]}} for p in pairs]
    features = encode_features(tokenizer, examples, max_length, stride, keep=True)
    device = next(model.parameters()).device
    keys = [k for k in MODEL_KEYS[:3] if k in features]
    was_training = model.training
    model.eval()
    starts, ends = [], []
    try:
        for at in range(0, len(features["input_ids"]), 32):
            batch = tokenizer.pad({k: features[k][at : at + 32] for k in keys}, return_tensors="pt")
            with torch.no_grad():
                out = model(**batch.to(device))
            starts += out.start_logits.float().tolist()
            ends += out.end_logits.float().tolist()
    finally:
        model.train(was_training)
    return best_answers(starts, ends, features, top_k, max_answer_length=max_answer_length)
