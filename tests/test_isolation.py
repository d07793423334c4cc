"""A failing check costs only its own work: other checks' edge cases are all collected."""

from __future__ import annotations

import itertools

from curate import Framework, Signal
from curate.store_reader import StoreReader


def _flaky() -> Signal:
    calls = itertools.count()

    def fn(inputs, outputs, gts=None, extra_args=None):
        if next(calls) % 2:
            raise RuntimeError("model endpoint timed out")
        return [True] * len(inputs["text"])

    return Signal("flaky", fn)


def test_a_raising_check_does_not_drop_another_checks_edge_cases(tmp_path):
    cfg = {
        "checks": [
            {"type": "edge_case", "signal_formulae": Signal.contains("nike")},
            {"type": "edge_case", "signal_formulae": _flaky(), "name": "flaky"},
        ],
        "retraining_folder": tmp_path / "s",
        "strict": False,
    }
    with Framework(cfg) as fw:
        for k in range(20):
            fw.log(inputs={"text": [f"nike shoes {k} {i}" for i in range(100)]})
            fw.flush()  # one batch per call
        stats = fw.stats()
    assert stats["edge_cases"] == 2000, "every nike row is collected"
    reader = StoreReader(tmp_path / "s")
    quarantine = reader.read("quarantine").to_pandas()
    assert set(quarantine["check"]) == {"flaky"} and len(quarantine) == 1000
    assert quarantine["reason"].str.contains("timed out").all()
    reasons = reader.read("retraining", ["reasons"]).column("reasons").to_pylist()
    assert sum("flaky" in r for r in reasons) == 1000  # where it ran, it selected too


def test_a_failing_integrity_check_still_keeps_its_rows_out(tmp_path):
    def boom(col, **_):
        raise RuntimeError("boom")

    cfg = {
        "checks": [
            {"type": "edge_case", "signal_formulae": Signal.contains("nike")},
            {"type": "data_integrity", "integrity_type": "non_null",
             "measurable_args": {"feature_name": "text"}},
        ],
        "retraining_folder": tmp_path / "s",
    }  # fmt: skip
    with Framework(cfg) as fw:
        fw.monitors[1]._fn = boom  # the check cannot run: its rows cannot be vouched for
        fw.log(inputs={"text": ["nike a", "nike b"]})
        stats = fw.stats()
    assert stats["edge_cases"] == 0 and stats["quarantined"] == 2


def test_integrity_without_quarantine_only_counts(tmp_path):
    cfg = {
        "checks": [
            {"type": "edge_case", "signal_formulae": Signal.contains("nike")},
            {"type": "data_integrity", "integrity_type": "between", "lower": 0, "upper": 1,
             "quarantine": False, "measurable_args": {"feature_name": "score"}},
        ],
        "retraining_folder": tmp_path / "s",
    }  # fmt: skip
    with Framework(cfg) as fw:
        fw.log(inputs={"text": ["nike a", "nike b", "c"], "score": [0.5, 7.0, 9.0]})
        stats = fw.stats()
    assert stats["edge_cases"] == 2, "the out-of-range nike row is still an edge case"
    assert stats["quarantined"] == 0
    metrics = StoreReader(tmp_path / "s").read("metrics").to_pandas()
    violations = metrics[
        (metrics["monitor"] == "data_integrity") & (metrics["metric"] == "violations")
    ]
    assert violations["value"].sum() == 2


# -- leaf-level isolation ------------------------------------------------------------------


def _boom(inputs, outputs, gts=None, extra_args=None):
    raise TimeoutError("model endpoint timed out")


def test_or_with_a_failed_leaf_is_decided_by_the_other_side(tmp_path):
    cfg = {
        "checks": [
            {
                "type": "edge_case",
                "signal_formulae": Signal("boom", _boom) | Signal.contains("nike"),
            }
        ],
        "retraining_folder": tmp_path / "s",
        "strict": False,
    }
    texts = [f"nike {i}" if i % 2 else f"adidas {i}" for i in range(200)]
    with Framework(cfg) as fw:
        fw.log(inputs={"text": texts})
        stats = fw.stats()
    reader = StoreReader(tmp_path / "s")
    kept = reader.read("retraining", ["text", "reasons"]).to_pydict()
    assert stats["edge_cases"] == 100 and all("nike" in t for t in kept["text"])
    assert {r for rs in kept["reasons"] for r in rs} == {
        "boom | contains(text, 'nike') (without boom)"
    }
    quarantine = reader.read("quarantine").to_pandas()
    assert len(quarantine) == 100 and quarantine["row"].str.contains("adidas").all()
    assert quarantine["reason"].str.contains("boom failed.*timed out").all()
    metrics = reader.read("metrics").to_pandas()
    errors = metrics[metrics["metric"] == "monitor_errors"]
    assert errors["value"].sum() == 1 and set(errors["monitor"]) == {"edge_case"}
    assert "signal boom of check" in stats["last_error"]
    assert "failed on rows 0..199" in stats["last_error"]


def test_and_with_a_failed_leaf_is_false_where_the_other_side_is_false(tmp_path):
    formula = Signal("boom", _boom) & Signal.contains("nike")
    cfg = {"checks": [{"type": "edge_case", "signal_formulae": formula}],
           "retraining_folder": tmp_path / "s", "strict": False}  # fmt: skip
    with Framework(cfg) as fw:
        fw.log(inputs={"text": ["nike a", "adidas b", "puma c"]})
        stats = fw.stats()
    quarantine = StoreReader(tmp_path / "s").read("quarantine").to_pandas()
    assert stats["edge_cases"] == 0
    assert len(quarantine) == 1 and "nike a" in quarantine["row"][0], "only the undecidable row"
