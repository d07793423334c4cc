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
