"""drift_outlier: a leaf signal true for rows from drifted regions."""

from __future__ import annotations

import numpy as np
import pytest

from curate.batch import Batch
from curate.signals import Signal
from monitors.drift_signals import drift_outlier
from monitors.profile import build_profile

RNG = np.random.default_rng(0)
REF = {
    "x": RNG.normal(size=10_000),
    "c": RNG.choice(["red", "green", "blue"], 10_000),
    "t": np.array(["nike shoes are very comfortable", "the size fits well"] * 5000),
    "e": list(RNG.normal(size=(10_000, 4))),
}


def batch(**cols):
    n = len(next(iter(cols.values())))
    return Batch.from_log(np.arange(n), np.zeros(n, np.int64), cols)


def test_numeric_outside_range_or_quantiles():
    b = batch(x=[0.0, 2.5, 10.0, -10.0, None])
    assert drift_outlier(REF, "x", tail=0).evaluate(b).tolist() == [False, False, True, True, False]
    q = drift_outlier(REF, "x", tail=0.01).evaluate(b).tolist()  # 1% tails: |x| > ~2.33
    assert q == [False, True, True, True, False]


def test_unseen_categories():
    b = batch(c=["red", "purple", None, "blue"])
    assert drift_outlier(REF, "c").evaluate(b).tolist() == [False, True, False, False]


def test_text_with_new_words():
    b = batch(
        t=["nike shoes fits well", "new zoomx pegasus", "the size fits well zoomx x y z w v", ""]
    )
    sig = drift_outlier(REF, "t")
    assert sig.evaluate(b).tolist() == [False, True, True, False]
    assert drift_outlier(REF, "t", oov_cutoff=0.5).evaluate(b).tolist() == [
        False,
        True,
        True,
        False,
    ]
    assert drift_outlier(REF, "t", oov_cutoff=0.7).evaluate(b).tolist() == [
        False,
        True,
        False,
        False,
    ]


def test_far_embeddings():
    b = batch(e=[list(RNG.normal(size=4)), [50.0, 50, 50, 50], None])
    assert drift_outlier(REF, "e").evaluate(b).tolist() == [False, True, False]


def test_composes_and_loads_saved_profiles(tmp_path):
    path = build_profile(REF, ["x", "t"]).save(tmp_path / "ref.profile")
    sig = drift_outlier(str(path), "t") & ~Signal.arrow("short", lambda b: b.ids == 0)
    assert "drift_outlier(t)" in str(sig)
    b = batch(t=["zoomx", "zoomx", "nike shoes"])
    assert sig.evaluate(b).tolist() == [False, True, False]


def test_parameter_errors():
    with pytest.raises(ValueError, match="tail"):
        drift_outlier(REF, "x", tail=0.7)
    with pytest.raises(ValueError, match="oov_cutoff"):
        drift_outlier(REF, "t", oov_cutoff=1.5)
    with pytest.raises(ValueError, match="kind='text'"):
        drift_outlier(build_profile(REF, ["c"]), "c", kind="text")
