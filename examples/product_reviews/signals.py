"""The example's signals: is Nike mentioned, is a product mentioned, is the sentiment positive.

``nike`` is written as a plain Python batch function, the way UpTrain users write signals; the
other two are built-in, vectorised signals.

>>> import numpy as np
>>> from curate.batch import Batch
>>> b = Batch.from_log(np.arange(3), np.zeros(3, np.int64), {"text": [
...     "Nike shoes are very comfortable", "Hoodies made by Nike are not very expensive", None]})
>>> (nike & product & positive).evaluate(b).tolist()
[True, True, False]
"""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc

from curate import Signal
from examples.product_reviews.data import NEGATIVE_ADJECTIVES, POSITIVE_ADJECTIVES, PRODUCTS


def nike_present(inputs, outputs, gts=None, extra_args=None):
    """True where the text mentions Nike (a plain Python signal function)."""
    return [t is not None and "nike" in t.lower() for t in inputs["text"]]


def _words(words: list[str]) -> str:
    return r"(?i)\b(" + "|".join(sorted(set(words), key=len, reverse=True)) + r")\b"


_POSITIVE = _words(POSITIVE_ADJECTIVES)
_NEGATIVE = _words(NEGATIVE_ADJECTIVES)
_NEGATION = r"(?i)\b(not|never|hardly)\b"


def sentiment_score(batch) -> np.ndarray:
    """+1 positive, -1 negative, 0 neutral or unknown; "not very expensive" counts as positive."""
    text = batch.column("input_feature", "text")

    def hits(pattern: str) -> np.ndarray:
        found = pc.match_substring_regex(text, pattern).fill_null(False)
        return found.to_numpy(zero_copy_only=False)

    pos, neg, negated = hits(_POSITIVE), hits(_NEGATIVE), hits(_NEGATION)
    score = pos.astype(float) - neg.astype(float)
    return np.where(negated, -score, score)


nike = Signal("Is 'Nike' text present?", nike_present)
product = Signal.matches(_words(PRODUCTS + ["athletic wear", "wear"]))
sentiment = Signal.arrow("sentiment", sentiment_score)
positive = sentiment > 0
