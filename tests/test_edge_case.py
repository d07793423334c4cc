"""EDGE_CASE: what reaches the retraining set, with which reasons and signal columns."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa

from curate import Signal
from curate.store_reader import StoreReader
from curate.tables import SIGNAL_PREFIX, display_name
from monitors.edge_case import Deduper

REVIEWS = [
    "Nike shoes are great",  # nike, product, positive
    "Nike shoes are awful",  # nike, product
    "Adidas socks are good",  # product, positive
    None,
    "nike hoodies are durable",  # all three
    "the Nike store was great",  # nike, positive
]


def edge(formula, **extra) -> dict:
    return {"type": "edge_case", "signal_formulae": formula, **extra}


def non_null() -> dict:
    return {"type": "data_integrity", "integrity_type": "non_null",
            "measurable_args": {"feature_name": "text"}}  # fmt: skip


def test_formula_rows_reach_the_retraining_set_with_leaf_columns_and_reasons(make_framework, trio):
    nike, product, positive = trio
    formula = nike & product & positive
    fw = make_framework([edge(formula), non_null()])
    fw.log(inputs={"text": REVIEWS}, outputs=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    fw.flush()
    table = fw.store.read("retraining")
    assert table.column("id").to_pylist() == [0, 4]
    assert table.column("text").to_pylist() == [REVIEWS[0], REVIEWS[4]]
    assert table.column("outputs").to_pylist() == [0.1, 0.5]
    assert table.column("reasons").to_pylist() == [[str(formula)]] * 2
    assert str(formula) == "is_nike & is_product & is_positive"
    for leaf in ("is_nike", "is_product", "is_positive"):
        assert table.column(f"signal.{leaf}").to_pylist() == [True, True]
    assert str(table.schema.field("ts").type) == "timestamp[us, tz=UTC]"
    metrics = fw.store.read("metrics").to_pandas()
    assert metrics[metrics.metric == "edge_cases"]["value"].sum() == 2


def test_several_edge_case_checks_list_every_reason_and_numeric_leaves(make_framework):
    nike = Signal.contains("nike")
    low = Signal.confidence() < 0.6
    fw = make_framework([edge(nike), edge(low, name="low confidence")])
    probs = np.array([[0.9, 0.1], [0.5, 0.5], [0.55, 0.45], [0.99, 0.01]])
    fw.log(inputs={"text": ["nike a", "nike b", "adidas", "puma"]}, outputs=probs)
    fw.flush()
    table = fw.store.read("retraining").to_pydict()
    assert table["id"] == [0, 1, 2]
    assert table["reasons"] == [
        ["contains(text, 'nike')"],
        ["contains(text, 'nike')", "confidence(outputs) < 0.6"],
        ["confidence(outputs) < 0.6"],
    ]
    assert table["signal.confidence_outputs"] == [0.9, 0.5, 0.55]
    assert table["signal.contains_text_nike"] == [True, True, False]


def test_signal_columns_are_slugs_that_keep_the_leaf_text_as_display_name(make_framework):
    mixed = Signal("mixed sentiment words", lambda inputs, outputs, gts=None, extra_args=None:
                   ["but" in t for t in inputs["text"]])  # fmt: skip
    twin = Signal("Mixed-sentiment words", lambda inputs, outputs, gts=None, extra_args=None:
                  [True] * len(inputs["text"]))  # fmt: skip
    fw = make_framework([edge(mixed & twin)])
    fw.log(inputs={"text": ["good but pricey", "great"]})
    fw.flush()
    schema = StoreReader(fw.store.root).schema("retraining")
    signals = [f for f in schema if f.name.startswith(SIGNAL_PREFIX)]
    names = sorted(f.name for f in signals)
    assert len(names) == 2 and all(n.startswith("signal.mixed_sentiment_words_") for n in names)
    assert all(re.fullmatch(r"signal\.[0-9a-z_]+", n) for n in names), names
    assert sorted(display_name(f) for f in signals) == ["'Mixed-sentiment words'",
                                                         "'mixed sentiment words'"]  # fmt: skip
    # The names are stable: a second batch writes into the same two columns.
    fw.log(inputs={"text": ["nice but loud"]})
    fw.flush()
    assert (
        sorted(n for n in fw.store.schema("retraining").names if n.startswith("signal.")) == names
    )


def test_rows_that_fail_an_integrity_check_are_never_trained_on(make_framework):
    fw = make_framework([edge(Signal.is_null() | Signal.contains("nike")), non_null()])
    fw.log(inputs={"text": ["nike", None, "x"]})
    fw.flush()
    assert fw.store.read("retraining").column("id").to_pylist() == [0]
    assert fw.store.read("quarantine").column("id").to_pylist() == [1]


def test_exact_dedupe_within_and_across_batches(make_framework):
    fw = make_framework([edge(Signal.contains("nike"), dedupe="exact")])
    fw.log(inputs={"text": ["nike a", "nike a", "nike b", "adidas", "adidas"]})
    fw.flush()
    fw.log(inputs={"text": ["nike b", "nike c", "Nike a"]})
    fw.flush()
    assert fw.store.read("retraining").column("text").to_pylist() == [
        "nike a", "nike b", "nike c", "Nike a",
    ]  # fmt: skip
    metrics = fw.store.read("metrics").to_pandas()
    skipped = metrics[metrics.metric == "duplicates_skipped"]
    assert skipped["value"].tolist() == [1, 1] and set(skipped["column"]) == {"text"}


def test_fuzzy_dedupe_skips_near_duplicates(make_framework):
    fw = make_framework(
        [edge(Signal.contains("nike"), dedupe="fuzzy", fuzzy_threshold=90)],
    )
    fw.log(inputs={"text": ["nike shoes are great", "nike shoes are great!", "nike socks"]})
    fw.flush()
    fw.log(inputs={"text": ["Nike shoes are great", "nike socks are bad", "nike socks."]})
    fw.flush()
    kept = fw.store.read("retraining").column("text").to_pylist()
    # "Nike shoes are great" differs by one capital: ratio 95 >= 90
    assert kept == ["nike shoes are great", "nike socks", "nike socks are bad"]


def test_deduper_memory_is_bounded():
    d = Deduper("exact", 95, memory=2, fuzzy_memory=2)
    assert d.duplicates(pa.array(["a", "b"])).tolist() == [False, False]
    assert d.duplicates(pa.array(["c"])).tolist() == [False]
    assert len(d._known) <= 3
    assert d.duplicates(pa.array(["a", "c"])).tolist() == [False, True]  # "a" was forgotten
    f = Deduper("fuzzy", 90, memory=10, fuzzy_memory=2)
    f.duplicates(pa.array(["alpha one", "beta two", "gamma three"]))
    assert len(f._texts) == 2
    assert f.duplicates(pa.array(["alpha one!", "gamma three!"])).tolist() == [False, True]


def test_dedupe_on_list_and_null_values():
    d = Deduper("exact", 95, memory=10, fuzzy_memory=10)
    assert d.duplicates(pa.array([[1, 2], [1, 2], None, None])).tolist() == [
        False, True, False, True,
    ]  # fmt: skip
