"""Real review text logged with a model's predictions and the reviews' labels, for signal analysis.

The model is a small sentiment lexicon (no download): P(fresh) rises with the positive words of
a review and falls with the negative ones. Ground truth is the review's Rotten Tomatoes label
(fresh = 1, rotten = 0); plot summaries have none, so precision counts only the reviews.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import real_corpora as rc

from curate import Framework, Signal

POSITIVE = ("good", "great", "best", "fun", "funny", "beautiful", "brilliant", "charming",
            "delight", "enjoy", "love", "moving", "smart", "wonderful", "perfect", "fine")  # fmt: skip
NEGATIVE = ("bad", "dull", "boring", "worst", "mess", "stupid", "tedious", "fails", "flat",
            "lame", "awful", "waste", "predictable", "silly", "tired", "pointless")  # fmt: skip
HEDGES = r"\b(but|though|although|however|yet)\b"

#: Four predicates: a hedge with low confidence, or a negation, or a long text.
REVIEW_FORMULA = (
    Signal.matches(HEDGES) & (Signal.confidence() < 0.8)
    | Signal.contains(["n't", " not ", "never"]) & (Signal.margin() < 0.3)
    | (Signal.length() > 400)
)


def lexicon_probabilities(texts: list[str]) -> np.ndarray:
    """``[P(rotten), P(fresh)]`` per text from counts of positive and negative words."""
    words = [re.findall(r"[a-z']+", t.lower()) for t in texts]
    pos = np.array([sum(w in POSITIVE for w in ws) for ws in words], dtype=np.float64)
    neg = np.array([sum(w in NEGATIVE for w in ws) for ws in words], dtype=np.float64)
    n = np.array([len(ws) for ws in words], dtype=np.float64)
    # Longer texts lean fresh a little: the probabilities are not a handful of values.
    fresh = 1.0 / (1.0 + np.exp(-(0.3 + 1.2 * (pos - neg) + 0.01 * (n - 20))))
    return np.stack([1.0 - fresh, fresh], axis=1)


def review_rows(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` real reviews and plot summaries, shuffled: ``text``, ``probs``, ``label``."""
    df = rc.reviews().sample(n=n, random_state=seed).reset_index(drop=True)
    probs = lexicon_probabilities(df["text"].tolist())
    label = df["category"].map({"fresh": 1, "rotten": 0})  # plot summaries: no label
    return pd.DataFrame({"text": df["text"], "probs": list(probs),
                         "label": label.astype("Int64")})  # fmt: skip


def review_store(root: Path, n: int = 3000, window: int = 500, calls: int = 7) -> pd.DataFrame:
    """Log ``n`` real reviews through a Framework in ``calls`` log() calls; the rows logged."""
    rows = review_rows(n)
    cfg = {
        "checks": [{"type": "edge_case", "signal_formulae": REVIEW_FORMULA,
                    "name": "hedged or negated reviews", "analysis_window": window}],
        "retraining_folder": str(root),
    }  # fmt: skip
    with Framework(cfg) as fw:
        for part in np.array_split(np.arange(n), calls):
            chunk = rows.iloc[part]
            labels = [None if pd.isna(v) else int(v) for v in chunk["label"]]
            fw.log(inputs={"text": chunk["text"].tolist()},
                   outputs=np.stack(chunk["probs"].to_list()), gts=labels)  # fmt: skip
    return rows
