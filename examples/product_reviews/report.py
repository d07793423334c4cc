"""What the product-review example prints after training: the honest before/after.

- the blog's five probes, before and after, side by side;
- the share of positive adjectives in the top-5 of the three probes whose mask stands for an
  adjective, and every negative adjective in any probe's top-5;
- general English: sentences that have nothing to do with shoes, each with the answers we
  accept, counted before and after (did the fine-tune keep the model's English?);
- a generation prompt's greedy continuation, before and after;
- target eval and retention perplexity, and the promotion decision.

>>> general_hits([{"probe": GENERAL[0][0], "stage": "after", "rank": 1, "token": "Paris",
...                "score": 0.9}], "after")
1
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from curate.runs import Run
from examples.product_reviews.data import NEGATIVE_ADJECTIVES, POSITIVE_ADJECTIVES
from trainer.probe_eval import positive_share, stage_tokens
from trainer.report import format_table, read_probes, run_summary, side_by_side

#: The blog's five probes.
BLOG_PROBES = [
    "Nike shoes are very [MASK]",
    "Nike athletic wear is known for being very [MASK]",
    "Nike [MASK] shoes are very comfortable",
    "Trousers and hoodies made by [MASK] are not very expensive",
    "Nike tshirts are famous for being [MASK]",
]
#: The blog probes whose mask stands for an adjective (the positive share is taken over them).
ADJECTIVE_PROBES = [BLOG_PROBES[0], BLOG_PROBES[1], BLOG_PROBES[4]]

#: General-English cloze sentences and the answers accepted in the top-5.
GENERAL: list[tuple[str, set[str]]] = [
    ("The capital of France is [MASK]", {"paris"}),
    ("The opposite of hot is [MASK]", {"cold"}),
    ("Water freezes at zero degrees [MASK]", {"celsius"}),
    ("She drank a cup of hot [MASK]", {"tea", "coffee", "chocolate", "cocoa"}),
    ("The sun rises in the [MASK]", {"east"}),
    ("A week has seven [MASK]", {"days"}),
    ("The doctor works in a [MASK]", {"hospital", "clinic"}),
    ("The Earth goes around the [MASK]", {"sun"}),
]
#: A generation prompt: its greedy continuation is stored before and after.
PROMPT = "The best way to learn a new language is"

PROBES = BLOG_PROBES + [sentence for sentence, _ in GENERAL] + [PROMPT]


def general_hits(rows: Sequence[dict[str, Any]], stage: str) -> int:
    """How many general-English sentences have an accepted answer in their top-5."""
    tokens = stage_tokens(rows, stage)
    return sum(
        any(t.lower() in accepted for t in tokens.get(sentence, [])[:5])
        for sentence, accepted in GENERAL
    )


def _shares(rows: Sequence[dict[str, Any]]) -> list[str]:
    lines = []
    for stage in ("before", "after"):
        tokens = stage_tokens(rows, stage)
        share, _ = positive_share(
            [tokens.get(p, []) for p in ADJECTIVE_PROBES], POSITIVE_ADJECTIVES, ()
        )
        every = [t for p in BLOG_PROBES for t in tokens.get(p, [])]
        negatives = sorted({t for t in every if t.lower() in NEGATIVE_ADJECTIVES})
        n_adjectives = sum(len(tokens.get(p, [])) for p in ADJECTIVE_PROBES)
        lines.append(
            f"  {stage:6}: {share:.0%} positive ({round(share * n_adjectives)}/{n_adjectives}), "
            f"negative adjectives in any top-5: {', '.join(negatives) or 'none'}"
        )
    return lines


def _general(rows: Sequence[dict[str, Any]]) -> str:
    tokens = {stage: stage_tokens(rows, stage) for stage in ("before", "after")}
    table = []
    for sentence, accepted in GENERAL:
        row = {"sentence": sentence}
        for stage in ("before", "after"):
            top = tokens[stage].get(sentence, [])[:5]
            mark = "ok" if any(t.lower() in accepted for t in top) else "--"
            row[stage] = f"{mark} {', '.join(top)}"
        table.append(row)
    counts = f"{general_hits(rows, 'before')}/{len(GENERAL)} -> {general_hits(rows, 'after')}"
    return (
        f"general English (an accepted answer in the top-5): {counts}/{len(GENERAL)}\n"
        + format_table(table, ["sentence", "before", "after"])
    )


def _generation(rows: Sequence[dict[str, Any]]) -> str:
    found = {r["stage"]: r["token"] for r in rows if r["probe"] == PROMPT}
    return (
        f'generation, "{PROMPT} ..." (greedy):\n'
        f"  before: {found.get('before', '')!r}\n  after:  {found.get('after', '')!r}"
    )


def training_report(run: Run) -> str:
    """Everything the example prints about a finished run."""
    rows = read_probes(run)
    blog = [r for r in rows if r["probe"] in BLOG_PROBES]
    parts = [
        run_summary(run),
        "the blog's five probes, top-5 before -> after:\n\n" + side_by_side(blog),
        "share of positive adjectives in the top-5 of the three adjective probes:\n"
        + "\n".join(_shares(rows)),
        _general(rows),
        _generation(rows),
    ]
    return "\n\n".join(parts)
