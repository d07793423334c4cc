"""SQuAD-format rows built from real Guardian headlines (how: below), for the support-QA example.

Each **context** is a digest of ``per_context`` consecutive real headlines, each ended with a
full stop. One headline of it is the subject, and two question templates ask about it:

- ``Which headline mentions "<cue>"?`` where the cue is a word of five letters or more that
  occurs in the subject and in no other headline of the digest; the answer is the whole
  subject headline;
- ``What follows "<first three words>"?``; the answer is the rest of the subject headline.

The answer text is taken from the context itself and its ``answer_start`` is located by offset
(``context.find``), then checked (``context[start:start + len(text)] == text``), so every span
is exact. The questions are templates; the contexts and answers are real text nobody here wrote.

>>> rows = squad_rows(["Alpha beta gamma delta epsilon", "Zeta theta iota kappa lambda"], 2, 2)
>>> r = rows[0]; r["context"][r["answers"]["answer_start"][0]:].startswith(r["answers"]["text"][0])
True
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

_WORD = re.compile(r"[A-Za-z]{5,}")


def _sentence(headline: str) -> str:
    return headline.rstrip(" .!?;:") + "."


def _cue(subject: str, others: Sequence[str], rng: random.Random) -> str | None:
    taken = {w.lower() for other in others for w in _WORD.findall(other)}
    cues = [w for w in dict.fromkeys(_WORD.findall(subject)) if w.lower() not in taken]
    return rng.choice(cues) if cues else None


def _row(context: str, question: str, answer: str) -> dict:
    start = context.find(answer)
    assert start >= 0 and context[start : start + len(answer)] == answer
    return {"question": question, "context": context,
            "answers": {"text": [answer], "answer_start": [start]}}  # fmt: skip


def _questions(context: str, subject: str, others: Sequence[str], rng: random.Random) -> list:
    rows = []
    cue = _cue(subject, others, rng)
    if cue is not None:
        rows.append(_row(context, f'Which headline mentions "{cue}"?', subject))
    words = subject.split()
    if len(words) >= 6:
        lead = " ".join(words[:3])
        rest = subject[subject.index(lead) + len(lead) :].strip()
        if rest and context.count(lead) == 1:
            rows.append(_row(context, f'What follows "{lead}"?', rest))
    return rows


def squad_rows(headlines: Sequence[str], n: int, per_context: int = 4, seed: int = 0) -> list[dict]:
    """Up to ``n`` SQuAD rows (``question``, ``context``, ``answers``) over ``headlines``."""
    rng = random.Random(seed)
    rows: list[dict] = []
    for at in range(0, len(headlines) - per_context + 1, per_context):
        group = [_sentence(h) for h in headlines[at : at + per_context]]
        context = " ".join(group)
        subject = rng.choice(group)
        others = [g for g in group if g != subject]
        rows += _questions(context, subject.rstrip("."), others, rng)
        if len(rows) >= n:
            break
    return rows[:n]
