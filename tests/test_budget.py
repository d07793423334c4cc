"""An EDGE_CASE ``budget``: exactly the top ``n`` selected rows per window, nothing lost.

Windows are tumbling windows of logged rows (or of time), across ``log()`` calls and writer
batches; ``flush()`` closes the open one early. Every test also checks the accounting
invariant ``rows_logged == edge_cases + quarantined + rows_not_selected``.
"""

from __future__ import annotations

import numpy as np
import pytest
import real_corpora
from hypothesis import given, settings
from hypothesis import strategies as st

from curate import Framework, Signal
from curate.batch import Batch
from curate.errors import ConfigError
from curate.scale.curation import batch_config
from curate.store_reader import StoreReader
from curate.tables import display_name
from monitors.budget import Budget, TopN
from monitors.edge_case import EdgeCaseCheck


def expected(scores, candidates, window: int, n: int, descending=False, start=0) -> list[int]:
    """Brute force: per window of ``window`` consecutive ids, the ``n`` best candidates."""
    keys = np.where(np.isnan(scores), np.inf, -scores if descending else scores)
    keep: list[int] = []
    for lo in range(start, len(scores), window):
        idx = np.flatnonzero(candidates[lo : lo + window]) + lo
        keep += idx[np.lexsort((idx, keys[idx]))[:n]].tolist()
    return sorted(keep)


def budget(n=5, by=None, order="ascending", window=50) -> dict:
    return {"n": n, "by": by if by is not None else Signal.margin(), "order": order,
            "window": window}  # fmt: skip


def check_accounting(stats: dict, logged: int) -> None:
    assert stats["rows_logged"] == logged
    assert stats["edge_cases"] + stats["quarantined"] + stats["rows_not_selected"] == logged


def probabilities(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet(np.ones(3), size=n)


def margins(p: np.ndarray) -> np.ndarray:
    top = np.sort(p, axis=1)
    return top[:, -1] - top[:, -2]


def kept_ids(root) -> list[int]:
    reader = StoreReader(root)
    return sorted(reader.read("retraining", ["id"]).column("id").to_pylist())


# -- the config --------------------------------------------------------------------------------


def test_budget_config_is_validated_with_messages():
    formula = Signal.margin() < 0.5
    cfg = EdgeCaseCheck(signal_formulae=formula, budget=budget(window="1h"))
    assert (cfg.budget.n, cfg.budget.order, cfg.budget.window) == (5, "ascending", "1h")
    bad = [
        ({**budget(), "n": 0}, "greater than 0"),
        ({**budget(), "order": "up"}, "'ascending' or 'descending'"),
        ({k: v for k, v in budget().items() if k != "order"}, "order"),
        ({**budget(), "by": "margin"}, "budget.by must be a numeric Signal"),
        ({**budget(), "window": "5 weeks"}, "window must be a positive row count"),
        ({**budget(), "top": 3}, "unknown key 'top'"),
    ]
    for value, message in bad:
        with pytest.raises(ValueError, match=message):
            EdgeCaseCheck(signal_formulae=formula, budget=value)


def test_batch_mode_refuses_a_budget():
    check = {"type": "edge_case", "signal_formulae": Signal.margin() < 0.5, "budget": budget()}
    with pytest.raises(ConfigError, match=r"checks\[0\]: an edge_case budget"):
        batch_config({"checks": [check]})


# -- the top-n keeper --------------------------------------------------------------------------


@st.composite
def streams(draw):
    sizes = draw(st.lists(st.integers(0, 40), min_size=1, max_size=8))
    total = sum(sizes)
    scores = np.array(
        draw(st.lists(st.one_of(st.floats(0, 1), st.just(np.nan), st.sampled_from([0.25, 0.5])),
                      min_size=total, max_size=total)), dtype=np.float64,
    )  # fmt: skip
    candidates = np.array(draw(st.lists(st.booleans(), min_size=total, max_size=total)), bool)
    return sizes, scores, candidates, draw(st.integers(1, 6)), draw(st.integers(1, 60))


@settings(max_examples=120, deadline=None)
@given(streams(), st.sampled_from(["ascending", "descending"]))
def test_top_n_keeps_exactly_the_best_n_of_each_row_window(stream, order):
    sizes, scores, candidates, n, window = stream
    top = TopN(Budget(n=n, by=Signal.margin(), order=order, window=window))
    got, first = [], 0
    for size in sizes:
        ids = np.arange(first, first + size)
        b = Batch.from_log(ids, ids, {"x": ids.tolist()})
        closed, held = top.offer(b, candidates[ids], scores[ids], "why", {"s": scores[ids]})
        for w in closed:
            assert w.kept == min(n, w.offered) and w.n == window
            got += w.ids().tolist()
            assert all(
                np.array_equal(r.leaves["s"], scores[r.batch.ids], equal_nan=True) for r in w.rows
            )
        assert sum(len(c.keys) for c in top._chunks) <= n  # memory: n rows at most
        assert not (held & ~candidates[ids]).any()
        first += size
    last = top.flush()
    got += last.ids().tolist() if last is not None else []
    assert top.flush() is None
    want = expected(scores, candidates, window, n, descending=order == "descending")
    assert sorted(got) == want


def test_time_windows_close_when_a_later_window_starts():
    top = TopN(Budget(n=1, by=Signal.margin(), order="descending", window="1s"))
    ts = np.array([0, 400_000, 1_200_000, 1_300_000, 3_000_000])  # windows 0, 0, 1, 1, 3
    scores = np.array([0.1, 0.7, 0.9, 0.2, 0.5])
    first, _ = top.offer(Batch.from_log(np.arange(3), ts[:3], {"x": [0, 1, 2]}),
                         np.ones(3, bool), scores[:3], "why", {})  # fmt: skip
    assert [w.ids().tolist() for w in first] == [[1]]
    assert (first[0].start, first[0].end) == (0, 1_000_000)
    later, _ = top.offer(Batch.from_log(np.arange(3, 5), ts[3:], {"x": [3, 4]}),
                         np.ones(2, bool), scores[3:], "why", {})  # fmt: skip
    assert [w.ids().tolist() for w in later] == [[2]]
    assert top.flush().ids().tolist() == [4]


# -- end to end --------------------------------------------------------------------------------

SIZES = (7, 50, 13, 61, 29, 40, 30)  # 230 rows: windows span calls and writer batches


@pytest.mark.parametrize("strict", [False, True])
def test_framework_keeps_the_n_smallest_margins_per_window(tmp_path, strict):
    p = probabilities(sum(SIZES))
    formula = Signal.margin() < 0.8
    checks = [{"type": "edge_case", "signal_formulae": formula, "budget": budget()}]
    with Framework({"checks": checks, "retraining_folder": tmp_path, "strict": strict}) as fw:
        first = 0
        for size in SIZES:
            fw.log(inputs={"x": list(range(first, first + size))}, outputs=p[first : first + size])
            first += size
        stats = fw.stats()
    m = margins(p)
    want = expected(m, m < 0.8, 50, 5)
    assert kept_ids(tmp_path) == want and len(want) == 5 * 5  # four windows and the rest
    table = StoreReader(tmp_path).read("retraining").to_pandas()
    assert (table.reasons.map(list) == [[str(formula)]] * len(table)).all()
    np.testing.assert_allclose(table["signal.margin_outputs"], m[table.id])
    field = StoreReader(tmp_path).read("retraining").schema.field("signal.margin_outputs")
    assert display_name(field) == "margin(outputs)"
    metrics = StoreReader(tmp_path).read("metrics").to_pandas()
    edge = metrics[metrics.metric == "edge_cases"]
    assert edge.value.tolist() == [5.0] * 5 and edge.n.tolist() == [50] * 4 + [30]
    skipped = metrics[metrics.metric == "budget_skipped"].value.sum()
    assert skipped == int((m < 0.8).sum()) - len(want)
    check_accounting(stats, sum(SIZES))
    assert stats["rows_not_selected"] == sum(SIZES) - len(want)


def test_flush_closes_the_open_window_and_the_next_rows_start_a_fresh_one(tmp_path):
    p = probabilities(100, seed=1)
    checks = [{"type": "edge_case", "signal_formulae": Signal.margin() <= 1.0,
               "budget": budget(n=3, window=40)}]  # fmt: skip
    with Framework({"checks": checks, "retraining_folder": tmp_path}) as fw:
        fw.log(inputs={"x": list(range(30))}, outputs=p[:30])
        fw.flush()  # rows 0-29: a partial window, written now
        assert kept_ids(tmp_path) == expected(margins(p[:30]), np.ones(30, bool), 40, 3)
        fw.log(inputs={"x": list(range(30, 100))}, outputs=p[30:])
        stats = fw.stats()
    m, everything = margins(p), np.ones(100, bool)
    want = expected(m[:30], everything[:30], 40, 3)
    want += [30 + i for i in expected(m[30:], everything[30:], 40, 3)]  # windows 30-69, 70-99
    assert kept_ids(tmp_path) == sorted(want)
    check_accounting(stats, 100)


def test_quarantined_rows_and_other_checks_rows_do_not_use_the_budget(tmp_path):
    p = probabilities(120, seed=2)
    texts = [None if i % 7 == 0 else ("nike" if i % 5 == 0 else "puma") for i in range(120)]
    budgeted = {"type": "edge_case", "signal_formulae": Signal.margin() < 0.9,
                "budget": budget(n=4, window=60), "name": "uncertain"}  # fmt: skip
    checks = [
        budgeted,
        {"type": "edge_case", "signal_formulae": Signal.contains("nike")},
        {"type": "data_integrity", "integrity_type": "non_null",
         "measurable_args": {"feature_name": "text"}},
    ]  # fmt: skip
    with Framework({"checks": checks, "retraining_folder": tmp_path}) as fw:
        for lo in range(0, 120, 25):
            fw.log(inputs={"text": texts[lo : lo + 25]}, outputs=p[lo : lo + 25])
        stats = fw.stats()
    m = margins(p)
    null = np.array([t is None for t in texts])
    nike = np.array([t == "nike" for t in texts])
    want = sorted(set(expected(m, (m < 0.9) & ~null & ~nike, 60, 4)) | set(np.flatnonzero(nike)))
    ids = kept_ids(tmp_path)
    assert ids == want and len(ids) == len(set(ids))  # each row once
    check_accounting(stats, 120)
    assert stats["quarantined"] == int(null.sum())


def test_two_budgets_never_write_a_row_twice(tmp_path):
    p = probabilities(90, seed=3)
    checks = [
        {"type": "edge_case", "signal_formulae": Signal.margin() < 0.7, "budget": budget(n=5)},
        {"type": "edge_case", "signal_formulae": Signal.entropy() > 0.5, "name": "entropy",
         "budget": budget(n=5, by=Signal.entropy(), order="descending")},
    ]  # fmt: skip
    with Framework({"checks": checks, "retraining_folder": tmp_path}) as fw:
        fw.log(inputs={"x": list(range(90))}, outputs=p)
        stats = fw.stats()
    ids = kept_ids(tmp_path)
    assert len(ids) == len(set(ids)) and len(ids) <= 2 * 5 * 2
    assert set(expected(margins(p), margins(p) < 0.7, 50, 5)) <= set(ids)  # the first is exact
    check_accounting(stats, 90)


def test_a_failing_ranking_signal_ranks_its_rows_last_and_is_reported(tmp_path):
    def broken(batch):
        raise RuntimeError("ranking service down")

    by = Signal.arrow("rank", broken)
    checks = [{"type": "edge_case", "signal_formulae": Signal.margin() < 2,
               "budget": budget(n=3, by=by, window=10)}]  # fmt: skip
    with Framework({"checks": checks, "retraining_folder": tmp_path}) as fw:
        fw.log(inputs={"x": list(range(25))}, outputs=probabilities(25))
        stats = fw.stats()
    assert "budget signal rank" in stats["last_error"] and "rank last" in stats["last_error"]
    assert kept_ids(tmp_path) == [0, 1, 2, 10, 11, 12, 20, 21, 22]  # ties: the earliest rows
    check_accounting(stats, 25)


# -- real text ----------------------------------------------------------------------------------


@pytest.mark.skipif(not real_corpora.available(), reason=real_corpora.SKIP_REASON)
def test_real_reviews_keep_the_most_suspect_labels_per_window(tmp_path):
    pytest.importorskip("sklearn")
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    df = real_corpora.reviews().sample(1600, random_state=1).reset_index(drop=True)
    classes = sorted(df.category.unique())
    labels = df.category.map({c: i for i, c in enumerate(classes)}).to_numpy()
    vectorizer = TfidfVectorizer(min_df=2).fit(df.text[:800])
    model = LogisticRegression(max_iter=300).fit(vectorizer.transform(df.text[:800]), labels[:800])
    live = df[800:].reset_index(drop=True)
    p, y = model.predict_proba(vectorizer.transform(live.text)), labels[800:]
    assert p.shape == (800, len(classes))
    issue = Signal.label_issue()
    checks = [{"type": "edge_case", "signal_formulae": issue > 0.5,
               "budget": budget(n=10, by=issue, order="descending", window=250)}]  # fmt: skip
    with Framework({"checks": checks, "retraining_folder": tmp_path}) as fw:
        for lo in range(0, 800, 100):
            chunk = live[lo : lo + 100]
            fw.log(inputs={"text": chunk.text.tolist()}, outputs=p[lo:lo + 100],
                   gts=y[lo:lo + 100])  # fmt: skip
        stats = fw.stats()
    scores = 1 - p[np.arange(800), y]
    want = expected(scores, scores > 0.5, 250, 10, descending=True)
    assert kept_ids(tmp_path) == want and len(want) == 40  # three windows of 250, then 50
    table = StoreReader(tmp_path).read("retraining").to_pandas().sort_values("id")
    assert table.text.tolist() == live.text[want].tolist()
    np.testing.assert_allclose(table["signal.label_issue_outputs_gts"], scores[want])
    check_accounting(stats, 800)
