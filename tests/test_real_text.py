"""DATA_DRIFT on real text: same-corpus windows stay quiet, a change of source is flagged.

Reference: 3,000 Rotten Tomatoes snippets of a shuffled corpus of 13,891; same-corpus windows
are *other* snippets of the same shuffle (disjoint from the reference), so they are exactly
what production looks like when nothing drifted: about 9% of their words are missing from the
reference vocabulary, and a finite window never matches the reference exactly. Changes of
source: Guardian headlines, sentences of the 2012 convention speeches, lines of Hamlet.

Categorical columns made from the same rows: the film's name (1,449 films, about ten rows
each: a flat long tail), and the first word and first two words of each text (Zipf-like
tails, mostly values seen once). Data: :mod:`real_corpora` (skipped without the package).
Every check here is deterministic (fixed seeds).
"""

from __future__ import annotations

import tempfile

import numpy as np
import pytest
import real_corpora as rc

from curate.batch import Batch
from curate.store import Store
from monitors.base import MonitorContext
from monitors.drift import DataDriftConfig, DataDriftMonitor
from monitors.profile import build_profile

pytestmark = pytest.mark.skipif(not rc.available(), reason=rc.SKIP_REASON)

ALPHA, TOL = 0.05, 0.03  # as tests/test_drift.py: 3 binomial sd over 200 windows is 0.046
REF_ROWS = 3000
TEXT_METHODS = ["js", "oov", "psi", "length", "empty"]
CAT_METHODS = ["js", "psi", "chi2"]
CTX = MonitorContext(Store(tempfile.mkdtemp()))


def monitor(profile, column, window, **kw) -> DataDriftMonitor:
    cfg = {"type": "data_drift", "reference_dataset": profile, "window": window,
           "measurable_args": {"type": "input_feature", "feature_name": column}, **kw}  # fmt: skip
    return DataDriftMonitor(DataDriftConfig.model_validate(cfg), CTX)


def run(mon: DataDriftMonitor, values, column: str):
    n = len(values)
    batch = Batch.from_log(np.arange(n), np.arange(n) * 1000, {column: np.asarray(values, object)})
    res = mon.process(batch)
    return res.metrics, res.alerts


def verdicts(metrics: list[dict]) -> dict[str, list[dict]]:
    """Verdict rows (those with a threshold) by method."""
    out: dict[str, list[dict]] = {}
    for row in metrics:
        if row["threshold"] is not None:
            out.setdefault(row["check"], []).append(row)
    return out


def flagged(rows: list[dict]) -> int:
    return sum(r["flagged"] for r in rows)


def windows_of(values: np.ndarray, size: int, most: int = 25) -> np.ndarray:
    return values[: size * min(most, len(values) // size)]


@pytest.fixture(scope="module")
def reviews_split():
    texts = rc.shuffled(rc.reviews()["text"].to_numpy(object), seed=0)
    return texts[:REF_ROWS], texts[REF_ROWS:]


@pytest.fixture(scope="module")
def text_profile(reviews_split):
    return build_profile({"t": reviews_split[0]}, kinds={"t": "text"})


# -- text ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("window, expected_windows", [(100, 25), (500, 21), (1000, 10)])
def test_same_corpus_text_windows_are_not_flagged(text_profile, reviews_split, window,
                                                  expected_windows):  # fmt: skip
    auto = monitor(text_profile, "t", window)
    assert auto.methods == ("js", "oov")
    metrics, alerts = run(monitor(text_profile, "t", window, method=TEXT_METHODS), windows_of(
        reviews_split[1], window), "t")  # fmt: skip
    by = verdicts(metrics)
    assert {m: len(rows) for m, rows in by.items()} == dict.fromkeys(TEXT_METHODS, expected_windows)
    assert {m: flagged(rows) for m, rows in by.items()} == dict.fromkeys(TEXT_METHODS, 0)
    assert alerts == []
    # the distances sit well under their (minimum-effect) thresholds, not just under them
    assert max(r["value"] for r in by["js"]) < 0.6 * by["js"][0]["threshold"]


def test_random_same_corpus_windows_rarely_flag(text_profile, reviews_split):
    """200 windows of 200 rows drawn at random from the other snippets (overlapping draws)."""
    rng = np.random.default_rng(1)
    rest = reviews_split[1]
    values = np.concatenate([rest[rng.choice(len(rest), 200, replace=False)] for _ in range(200)])
    by = verdicts(run(monitor(text_profile, "t", 200, method=TEXT_METHODS), values, "t")[0])
    assert all(len(rows) == 200 for rows in by.values())
    assert {m: flagged(by[m]) for m in ("js", "psi", "length", "empty")} == dict.fromkeys(
        ("js", "psi", "length", "empty"), 0
    )
    assert flagged(by["oov"]) <= 2  # the calibration aims at 1e-4 per window, real data ~1e-3


def test_logging_the_reference_itself_is_not_flagged(text_profile, reviews_split):
    ref = reviews_split[0]
    rng = np.random.default_rng(2)
    for values in (ref, ref[rng.integers(0, len(ref), 20 * 500)]):  # itself, then resampled
        by = verdicts(run(monitor(text_profile, "t", 500, method=TEXT_METHODS), values, "t")[0])
        assert {m: flagged(rows) for m, rows in by.items()} == dict.fromkeys(TEXT_METHODS, 0)


@pytest.mark.parametrize("source", ["headlines", "speeches", "hamlet"])
@pytest.mark.parametrize("window", [500, 1000])
def test_change_of_source_is_flagged_in_every_window(text_profile, source, window):
    values = windows_of(getattr(rc, source)(), window)
    mon = monitor(text_profile, "t", window)  # the default: js and oov
    by = verdicts(run(mon, values, "t")[0])
    n = len(values) // window
    assert len(by["js"]) == n >= 4
    assert flagged(by["js"]) == n, [round(r["value"], 3) for r in by["js"]]
    if source != "speeches":  # speeches use everyday words: their OOV share barely moves
        assert flagged(by["oov"]) == n


def test_alert_names_the_words_that_moved(text_profile):
    metrics, alerts = run(monitor(text_profile, "t", 1000), rc.headlines()[:1000], "t")
    js = next(a for a in alerts if a["check"] == "js")
    assert "(minimum effect; same-size reference samples score below" in js["message"]
    changes = js["message"].split("most changed: ")[1]
    assert "'uk' 0.0% → " in changes and "'the' 5.1% → " in changes, changes
    oov = next(a for a in alerts if a["check"] == "oov")
    assert "'covid' 0.0% → " in oov["message"], oov["message"]
    assert {m["check"] for m in metrics if m["flagged"]} == {"js", "oov"}


# -- long-tailed categorical columns from the same rows ------------------------------------------


def categorical(name: str, rows) -> np.ndarray:
    if name == "movie":
        return rows["movie_name"].to_numpy(object)
    return rc.first_words(rows["text"].to_numpy(object), 1 if name == "first word" else 2)


@pytest.fixture(scope="module")
def shuffled_reviews():
    df = rc.reviews()
    return df.iloc[np.random.default_rng(0).permutation(len(df))].reset_index(drop=True)


@pytest.mark.parametrize("name", ["movie", "first word", "first two words"])
@pytest.mark.parametrize("window", [100, 500])
def test_same_corpus_categorical_windows_are_not_flagged(shuffled_reviews, name, window):
    values = categorical(name, shuffled_reviews)
    profile = build_profile({"c": values[:REF_ROWS]}, kinds={"c": "categorical"})
    assert monitor(profile, "c", window).methods == ("js",)
    metrics, _ = run(monitor(profile, "c", window, method=CAT_METHODS),
                     windows_of(values[REF_ROWS:], window), "c")  # fmt: skip
    by = verdicts(metrics)
    assert len(by["js"]) >= 20
    assert flagged(by["js"]) == flagged(by["psi"]) == 0
    assert flagged(by["chi2"]) <= 2  # a 5% test: its rate is checked over 200 windows below
    itself = verdicts(
        run(monitor(profile, "c", window, method=CAT_METHODS), values[:REF_ROWS], "c")[0]
    )
    assert flagged(itself["js"]) == flagged(itself["psi"]) == 0  # logging the reference itself


@pytest.mark.parametrize("name", ["movie", "first word", "first two words"])
def test_chi2_false_alarms_within_alpha_on_real_categories(shuffled_reviews, name):
    """A 1,000-row reference (``auto`` picks chi2): 10 shuffles x 20 windows of 500 rows."""
    values = categorical(name, shuffled_reviews)
    flags = []
    for seed in range(10):
        v = rc.shuffled(values, seed)
        profile = build_profile({"c": v[:1000]}, kinds={"c": "categorical"})
        mon = monitor(profile, "c", 500, seed=seed)
        assert mon.methods == ("chi2",)
        flags += [r["flagged"] for r in verdicts(run(mon, v[1000:11_000], "c")[0])["chi2"]]
    assert len(flags) == 200 and np.mean(flags) <= ALPHA + TOL, np.mean(flags)


@pytest.mark.parametrize("name", ["first word", "first two words"])
def test_categorical_change_of_source_is_flagged(shuffled_reviews, name):
    values = categorical(name, shuffled_reviews)
    profile = build_profile({"c": values[:REF_ROWS]}, kinds={"c": "categorical"})
    shifted = rc.first_words(rc.headlines(), 1 if name == "first word" else 2)
    metrics, alerts = run(monitor(profile, "c", 500), windows_of(shifted, 500), "c")
    js = verdicts(metrics)["js"]
    assert len(js) == 8 and flagged(js) == 8
    assert "most changed: " in alerts[0]["message"]
