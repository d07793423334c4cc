"""Signal analysis of EDGE_CASE formulas: the stored numbers against a pandas recomputation.

The reference evaluates each formula over the logged rows with pandas' nullable booleans, whose
``& | ^ ~`` follow Kleene's logic (a failed leaf is ``NA``), and recomputes coverage, overlaps,
marginal contributions (the formula re-evaluated with the predicate set to ``False``) and
precision (``argmax(outputs) != gts``) independently of the monitor's code.
"""

from __future__ import annotations

import io
import json
import tempfile
from contextlib import redirect_stdout

import numpy as np
import pandas as pd
import pytest
import real_corpora as rc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from signal_fixtures import REVIEW_FORMULA, review_store

from curate import Signal, cli
from curate.batch import Batch
from curate.errors import ConfigError
from curate.signals.node import BoolOp, Const, Not
from curate.store import Store
from curate.tables import Metric
from monitors import signal_analysis
from monitors.base import MonitorContext
from monitors.edge_case import EdgeCaseCheck, EdgeCaseMonitor
from monitors.prediction_errors import prediction_errors
from monitors.signal_analysis import WindowCounts
from monitors.signal_report import FORMULA_LABEL, read_signal_report, report_from_metrics

CTX = MonitorContext(Store(tempfile.mkdtemp()))
WORDS = ["nike shoes", "great fun", "boring but fine", None, "adidas", "NIKE air", "boom",
         "", "never good", "fine fine"]  # fmt: skip


def flaky_fn(inputs, outputs, gts=None, extra_args=None):
    if any(t == "boom" for t in inputs["text"]):
        raise TimeoutError("endpoint timed out")
    return [x % 2 == 0 for x in inputs["x"]]


def flag_fn(inputs, outputs, gts=None, extra_args=None):
    return [float(x % 3 == 0) for x in inputs["x"]]  # a 0/1 number used as a predicate


FLAKY = Signal("flaky", flaky_fn)
ATOMS = [Signal.contains("nike"), Signal.contains(["fun", "fine"]), Signal.length() > 8,
         Signal.confidence() < 0.7, FLAKY, Signal("flag", flag_fn)]  # fmt: skip


def pandas_predicates(rows: pd.DataFrame, batch_of: np.ndarray) -> dict[str, pd.Series]:
    """Each atom's value per logged row as pandas nullable booleans (``NA``: the leaf failed)."""
    text = rows["text"].astype("string")
    failed = np.isin(batch_of, batch_of[rows["text"].eq("boom").to_numpy()])
    flaky = pd.array(rows["x"] % 2 == 0, dtype="boolean")
    flaky[failed] = pd.NA
    conf = rows["probs"].map(max)
    values = {
        "contains(text, 'nike')": text.str.contains("nike", case=False, regex=False),
        "contains(text, ['fun', 'fine'])": text.str.contains("fun|fine", case=False),
        "length(text) > 8": text.str.len() > 8,
        "confidence(outputs) < 0.7": conf < 0.7,
        "flaky": flaky,
        "flag": rows["x"] % 3 == 0,
    }
    out = {}
    for name, v in values.items():
        s = pd.Series(pd.array(v, dtype="boolean"), index=rows.index)
        out[name] = s if name == "flaky" else s.fillna(False)
    return out


def kleene(node, preds: dict[str, pd.Series], index: pd.Index) -> pd.Series:
    """The formula over pandas nullable booleans (Kleene's logic is pandas' own)."""
    if isinstance(node, BoolOp):
        left, right = kleene(node.left, preds, index), kleene(node.right, preds, index)
        return {"&": left & right, "|": left | right, "^": left ^ right}[node.op]
    if isinstance(node, Not):
        return ~kleene(node.operand, preds, index)
    if isinstance(node, Const):
        return pd.Series(pd.array([bool(node.value)] * len(index), dtype="boolean"), index=index)
    return preds[str(node)]


def pandas_errors(rows: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    labelled = rows["label"].notna()
    pred = rows["probs"].map(lambda p: int(np.argmax(p)))
    wrong = labelled & (pred != rows["label"].fillna(-1))
    return labelled, wrong


def reference(formula, rows: pd.DataFrame, preds: dict[str, pd.Series]) -> dict:
    """The window's counts, recomputed with pandas from the logged rows."""
    names = list(dict.fromkeys(str(n) for n in _atoms(formula)))
    own = {k: v.loc[rows.index] for k, v in preds.items()}
    f = kleene(formula, own, rows.index)
    selected, unknown = f.fillna(False).astype(bool), f.isna()
    p = pd.DataFrame({n: own[n].fillna(False).astype(bool) for n in names})
    u = pd.DataFrame({n: own[n].isna() for n in names})
    labelled, wrong = pandas_errors(rows)
    marginal = {}
    for n in names:
        forced = kleene(formula, {**own, n: pd.Series(False, index=rows.index, dtype="boolean")},
                        rows.index)  # fmt: skip
        marginal[n] = selected & forced.eq(False).fillna(False).astype(bool)
    m = pd.DataFrame(marginal)
    several = p.sum(axis=1) >= 2
    return {
        "rows": len(rows), "leaves": names,
        "overlap": (p.T.astype(int) @ p.astype(int)).to_numpy().tolist(),
        "true": p.sum().tolist(), "unknown": u.sum().tolist(),
        "overlap_any": p[several].sum().tolist(), "marginal": m.sum().tolist(),
        "labelled": p[labelled].sum().tolist(), "wrong": p[wrong].sum().tolist(),
        "marginal_labelled": m[labelled].sum().tolist(), "marginal_wrong": m[wrong].sum().tolist(),
        "selected": int(selected.sum()), "selected_unknown": int(unknown.sum()),
        "selected_labelled": int((selected & labelled).sum()),
        "selected_wrong": int((selected & wrong).sum()),
    }  # fmt: skip


def _atoms(node) -> list:
    if isinstance(node, BoolOp):
        return [*_atoms(node.left), *_atoms(node.right)]
    if isinstance(node, Not):
        return _atoms(node.operand)
    return [] if isinstance(node, Const) else [node]


def as_dict(c: WindowCounts) -> dict:
    out = json.loads(c.summary("f"))
    del out["v"], out["formula"]
    return out


def run_monitor(formula, batches: list[pd.DataFrame], window) -> tuple[list, list[np.ndarray]]:
    cfg = EdgeCaseCheck(type="edge_case", signal_formulae=formula, analysis_window=window)
    mon = EdgeCaseMonitor(cfg, CTX)
    metrics, masks, first = [], [], 0
    for b in batches:
        ids = np.arange(first, first + len(b))
        first += len(b)
        labels = [None if pd.isna(v) else int(v) for v in b["label"]]
        batch = Batch.from_log(ids, ids, {"text": b["text"].tolist(), "x": b["x"].tolist()},
                               outputs=b["probs"].tolist(), gts=labels)  # fmt: skip
        result = mon.process(batch)
        metrics += result.metrics
        masks.append(result.edge_mask)
    metrics += mon.flush().metrics
    return [m for m in metrics if m["metric"].startswith("signal_")], masks


formulas = st.recursive(
    st.sampled_from(ATOMS),
    lambda sub: st.one_of(
        st.tuples(sub, sub).map(lambda t: t[0] & t[1]),
        st.tuples(sub, sub).map(lambda t: t[0] | t[1]),
        st.tuples(sub, sub).map(lambda t: t[0] ^ t[1]),
        sub.map(lambda s: ~s),
        st.tuples(sub, st.booleans()).map(lambda t: t[0] & t[1] if t[1] else t[0] | t[1]),
    ),
    max_leaves=6,
)
row = st.tuples(st.sampled_from(WORDS), st.integers(0, 9), st.sampled_from([0.1, 0.3, 0.5, 0.8]),
                st.sampled_from([None, 0, 1]))  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(formula=formulas, sizes=st.lists(st.integers(1, 9), min_size=1, max_size=6),
       window=st.integers(1, 12), data=st.data())  # fmt: skip
def test_stored_counts_equal_a_pandas_recomputation(formula, sizes, window, data):
    total = sum(sizes)
    cells = data.draw(st.lists(row, min_size=total, max_size=total))
    rows = pd.DataFrame(cells, columns=["text", "x", "p", "label"])
    rows["probs"] = rows["p"].map(lambda p: [p, 1.0 - p])
    rows["label"] = rows["label"].astype("Int64")
    bounds = np.cumsum([0, *sizes])
    batch_of = np.searchsorted(bounds, np.arange(total), side="right") - 1
    batches = [rows.iloc[bounds[i] : bounds[i + 1]] for i in range(len(sizes))]
    metrics, masks = run_monitor(formula, batches, window)
    preds = pandas_predicates(rows, batch_of)
    windows = [rows.iloc[k : k + window] for k in range(0, total, window)]
    summaries = [WindowCounts.from_summary(m["summary"]) for m in metrics if m.get("summary")]
    assert [as_dict(c) for c in summaries] == [reference(formula, w, preds) for w in windows]
    # The rows the monitor selects are the formula's known-true rows of the reference.
    selected = kleene(formula, preds, rows.index).fillna(False).astype(bool).to_numpy()
    assert np.concatenate([m for m in masks if m is not None]).tolist() == selected.tolist()
    # Totals are the sums of the windows; shares are counts over rows.
    report = report_from_metrics(pd.DataFrame(metrics))
    ref = [reference(formula, w, preds) for w in windows]
    totals = report.totals.set_index("leaf")
    assert totals.loc[FORMULA_LABEL, "true"] == sum(r["selected"] for r in ref)
    for j, name in enumerate(ref[0]["leaves"]):
        assert totals.loc[name, "true"] == sum(r["true"][j] for r in ref)
        assert totals.loc[name, "coverage"] == pytest.approx(sum(r["true"][j] for r in ref) / total)
    coverage = [m for m in metrics if m["metric"] == Metric.SIGNAL_COVERAGE and m["column"] == ""]
    assert [m["value"] for m in coverage] == pytest.approx([r["selected"] / r["rows"] for r in ref])


def test_window_boundaries_across_log_calls(make_framework):
    f = Signal.contains("a") | (Signal.length() > 3)
    fw = make_framework([{"type": "edge_case", "signal_formulae": f, "analysis_window": 7}])
    texts = [t for t in ("a", "bbbb", "c", "aa", "dddd", "e") for _ in range(4)][:23]
    start = 0
    for size in (3, 5, 4, 9, 2):
        fw.log(inputs={"text": texts[start : start + size]})
        start += size
    fw.flush()
    report = read_signal_report(fw.store.root)
    formula = report.windows[report.windows["leaf"] == FORMULA_LABEL]
    assert formula["rows"].tolist() == [7, 7, 7, 2]
    s = pd.Series(texts)
    expected = (s.str.contains("a") | (s.str.len() > 3)).groupby(np.arange(23) // 7).sum()
    assert formula["true"].tolist() == expected.tolist()
    total = report.totals.set_index("leaf")
    assert total.loc[FORMULA_LABEL, "rows"] == 23
    assert total.loc["contains(text, 'a')", "true"] == s.str.contains("a").sum()
    # A flush closes the open window early; the next rows start a fresh one.
    fw.log(inputs={"text": ["a"] * 3})
    fw.flush()
    wins = read_signal_report(fw.store.root).windows
    assert wins.loc[wins["leaf"] == FORMULA_LABEL, "rows"].tolist() == [7, 7, 7, 2, 3]


def test_time_windows_close_at_the_hour():
    f = Signal.contains("x") & (Signal.length() > 1)
    cfg = EdgeCaseCheck(type="edge_case", signal_formulae=f, analysis_window="1h")
    mon = EdgeCaseMonitor(cfg, CTX)
    hour = 3600 * 10**6
    ts = np.array([0, 10, hour - 1, hour, hour + 5, 3 * hour])
    texts = ["x", "xx", "y", "xxx", "x", "xy"]
    out = mon.process(Batch.from_log(np.arange(6), ts, {"text": texts})).metrics
    out += mon.flush().metrics
    counts = [WindowCounts.from_summary(m["summary"]) for m in out if m.get("summary")]
    assert [c.rows for c in counts] == [3, 2, 1]
    assert [c.selected for c in counts] == [1, 1, 1]
    starts = [m["window_start"] for m in out if m.get("summary")]
    assert starts == [0, hour, 3 * hour]


def test_failing_leaf_is_unknown_and_counted_apart(make_framework):
    def boom(inputs, outputs, gts=None, extra_args=None):
        raise TimeoutError("model endpoint timed out")

    f = Signal.contains("nike") | Signal("boom", boom)
    fw = make_framework([{"type": "edge_case", "signal_formulae": f, "analysis_window": 100}])
    fw.log(inputs={"text": ["nike", "adidas", "nike air", None]})
    fw.flush()
    total = read_signal_report(fw.store.root).totals.set_index("leaf")
    assert total.loc["boom", "unknown"] == 1.0 and total.loc["boom", "coverage"] == 0.0
    # nike | ? is true where nike is true and unknown elsewhere.
    assert total.loc[FORMULA_LABEL, "coverage"] == 0.5
    assert total.loc[FORMULA_LABEL, "unknown"] == 0.5
    # With nike false the formula would be unknown, not known false: no marginal row.
    assert total.loc["contains(text, 'nike')", "marginal_rows"] == 0
    assert fw.stats()["edge_cases"] == 2


def test_precision_counts_labelled_mispredictions(make_framework):
    f = Signal.confidence() < 0.7
    fw = make_framework([{"type": "edge_case", "signal_formulae": f}])
    probs = [[0.6, 0.4], [0.35, 0.65], [0.55, 0.45], [0.9, 0.1], [0.5, 0.5]]
    gts = [1, 1, None, 0, 0]
    fw.log(inputs={"text": list("abcde")}, outputs=probs, gts=gts)
    fw.flush()
    total = read_signal_report(fw.store.root).totals.set_index("leaf")
    # Selected: rows 0, 1, 2, 4; labelled among them: 0, 1, 4; argmax wrong: row 0 only.
    assert total.loc[FORMULA_LABEL, "labelled"] == 3
    assert total.loc[FORMULA_LABEL, "precision"] == pytest.approx(1 / 3)
    metrics = fw.store.read("metrics").to_pandas()
    row = metrics[(metrics.metric == Metric.SIGNAL_PRECISION) & (metrics.column == "")]
    assert row["value"].tolist() == pytest.approx([1 / 3]) and row["n"].tolist() == [3]


def test_without_ground_truth_there_is_no_precision(make_framework):
    fw = make_framework([{"type": "edge_case", "signal_formulae": Signal.contains("a")}])
    fw.log(inputs={"text": ["a", "b"]}, outputs=[[0.2, 0.8], [0.9, 0.1]])
    fw.flush()
    metrics = fw.store.read("metrics").to_pandas()
    assert not (metrics.metric == Metric.SIGNAL_PRECISION).any()
    assert read_signal_report(fw.store.root).totals["precision"].isna().all()


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.lists(st.sampled_from([0.0, 0.2, 0.5, 0.8]), min_size=1,
                                   max_size=4), st.integers(0, 4) | st.none()),
                min_size=1, max_size=12))  # fmt: skip
def test_prediction_errors_match_numpy_argmax(rows):
    probs, gts = [r[0] for r in rows], [r[1] for r in rows]
    batch = Batch.from_log(np.arange(len(rows)), np.zeros(len(rows), np.int64),
                           {"x": list(range(len(rows)))}, outputs=probs, gts=gts)  # fmt: skip
    labelled, wrong = prediction_errors(batch)
    assert labelled.tolist() == [g is not None for g in gts]
    assert wrong.tolist() == [g is not None and int(np.argmax(p)) != g for p, g in rows]


def test_prediction_errors_of_class_names_and_binary_probabilities():
    b = Batch.from_log(np.arange(3), np.zeros(3, np.int64), {"x": [1, 2, 3]},
                       outputs={"label": ["pos", "neg", None]},
                       gts={"label": ["pos", "pos", "neg"]})  # fmt: skip
    assert [m.tolist() for m in prediction_errors(b)] == [[True, True, False], [False, True, False]]
    b = Batch.from_log(np.arange(3), np.zeros(3, np.int64), {"x": [1, 2, 3]},
                       outputs=[0.2, 0.7, 0.5], gts=[1, 1, 1])  # fmt: skip
    assert prediction_errors(b)[1].tolist() == [True, False, False]
    b = Batch.from_log(
        np.arange(2), np.zeros(2, np.int64), {"x": [1, 2]}, outputs=[3.5, 7.1], gts=[1, 1]
    )  # a regression: no class
    assert prediction_errors(b) is None


@pytest.mark.skipif(not rc.available(), reason=rc.SKIP_REASON)
def test_real_reviews_match_pandas(tmp_path):
    rows = review_store(tmp_path / "store", n=2000, window=300, calls=6)
    report = read_signal_report(tmp_path / "store")
    text = rows["text"].astype("string")
    conf = rows["probs"].map(max)
    margin = rows["probs"].map(lambda p: abs(p[0] - p[1]))
    hedge = text.str.contains(r"\b(?:but|though|although|however|yet)\b")  # case-sensitive
    neg = text.str.contains("n't| not |never", case=False)
    preds = {
        str(REVIEW_FORMULA.left.left.left): hedge,
        str(REVIEW_FORMULA.left.left.right): conf < 0.8,
        str(REVIEW_FORMULA.left.right.left): neg,
        str(REVIEW_FORMULA.left.right.right): margin < 0.3,
        str(REVIEW_FORMULA.right): text.str.len() > 400,
    }
    preds = {k: pd.Series(pd.array(v, dtype="boolean")).fillna(False) for k, v in preds.items()}
    windows = [rows.iloc[k : k + 300] for k in range(0, len(rows), 300)]
    ref = [reference(REVIEW_FORMULA, w, preds) for w in windows]
    got = report.windows
    for k, r in enumerate(ref):
        mine = got[got["window"] == k].set_index("leaf")
        assert mine.loc[FORMULA_LABEL, "true"] == r["selected"]
        assert mine.loc[FORMULA_LABEL, "labelled"] == r["selected_labelled"]
        for j, name in enumerate(r["leaves"]):
            assert mine.loc[name, "true"] == r["true"][j]
            assert mine.loc[name, "marginal_rows"] == r["marginal"][j]
            assert mine.loc[name, "labelled"] == r["labelled"][j]
    total = report.totals.set_index("leaf")
    wrong = sum(r["selected_wrong"] for r in ref) / sum(r["selected_labelled"] for r in ref)
    assert total.loc[FORMULA_LABEL, "precision"] == pytest.approx(wrong)
    assert 0 < total.loc[FORMULA_LABEL, "coverage"] < 1  # the formula selects some reviews
    o = report.total_overlaps
    pair = o[(o["leaf"] == str(REVIEW_FORMULA.left.left.left))
             & (o["other"] == str(REVIEW_FORMULA.right))]  # fmt: skip
    names = list(preds)
    assert pair["both"].item() == int((preds[names[0]] & preds[names[4]]).sum())


def test_cli_prints_totals_and_windows(tmp_path, make_framework, capsys):
    f = Signal.contains("nike") & (Signal.length() > 4) | Signal.contains("air")
    fw = make_framework([{"type": "edge_case", "signal_formulae": f, "name": "shoes",
                          "analysis_window": 4}])  # fmt: skip
    fw.log(inputs={"text": ["nike air", "nike", "air", "nike shoes", "puma", "nike x"]})
    fw.flush()
    root = str(fw.store.root)
    assert cli.main(["signals", "--store", root]) == 0
    out = capsys.readouterr().out
    assert (
        "check 'shoes': contains(text, 'nike') & (length(text) > 4) | contains(text, 'air')" in out
    )
    assert "2 windows" in out and "total, 6 rows" in out
    line = next(x for x in out.splitlines() if x.startswith("[1] contains(text, 'nike')"))
    assert "66.67%" in line  # 4 of 6 rows contain nike
    formula = next(x for x in out.splitlines() if "(formula)" in x)
    assert "66.67%" in formula  # nike air, air, nike shoes, nike x
    assert cli.main(["signals", "--store", root, "--window", "-1"]) == 0
    out = capsys.readouterr().out
    assert "window 1 (" in out and ", 2 rows" in out and "window 0" not in out
    assert cli.main(["signals", "--store", root, "--window"]) == 0
    assert "window 0 (" in capsys.readouterr().out
    assert cli.main(["signals", "--store", root, "--check", "nope"]) == 1
    assert "no signal analysis for check 'nope'; checks: 'shoes'" in capsys.readouterr().err
    assert cli.main(["signals", "--store", str(tmp_path / "none")]) == 1


def test_switched_off_and_bad_windows(make_framework):
    off = {"type": "edge_case", "signal_formulae": Signal.contains("a"), "signal_analysis": False}
    fw = make_framework([off])
    fw.log(inputs={"text": ["a", "b"]})
    fw.flush()
    assert not fw.store.read("metrics").to_pandas()["metric"].str.startswith("signal_").any()
    with pytest.raises((ConfigError, ValueError), match="analysis_window"):
        EdgeCaseCheck.model_validate({"type": "edge_case", "signal_formulae": Signal.contains("a"),
                                      "analysis_window": "5 weeks"})  # fmt: skip


def test_an_analysis_failure_keeps_the_edge_cases(monkeypatch, make_framework):
    def broken(batch):
        raise RuntimeError("labels unreadable")

    monkeypatch.setattr(signal_analysis, "prediction_errors", broken)
    fw = make_framework([{"type": "edge_case", "signal_formulae": Signal.contains("a")}])
    fw.log(inputs={"text": ["a", "b", "a"]})
    fw.flush()
    assert fw.stats()["edge_cases"] == 2
    metrics = fw.store.read("metrics").to_pandas()
    errors = metrics[metrics.metric == Metric.MONITOR_ERRORS]
    assert errors["value"].sum() >= 1
    assert not metrics["metric"].str.startswith("signal_").any()
    strict = EdgeCaseMonitor(EdgeCaseCheck(type="edge_case", signal_formulae=Signal.contains("a")),
                             MonitorContext(CTX.store, strict=True))  # fmt: skip
    with pytest.raises(RuntimeError, match="labels unreadable"):
        strict.process(Batch.from_log(np.arange(1), np.zeros(1, np.int64), {"text": ["a"]}))


def test_summary_that_is_not_one_is_named():
    bad = pd.DataFrame([{"monitor": "edge_case", "check": "c", "column": "",
                         "metric": Metric.SIGNAL_COVERAGE, "summary": "{}", "window_end": 5,
                         "ts": 5, "writer": "w"}])  # fmt: skip
    with pytest.raises(ValueError, match="check 'c', window ending 5: not a signal-analysis"):
        report_from_metrics(bad)


def test_report_of_a_store_without_analysis_is_empty(tmp_path):
    with redirect_stdout(io.StringIO()):
        report = read_signal_report(tmp_path)
    assert report.checks() == [] and report.windows.empty
