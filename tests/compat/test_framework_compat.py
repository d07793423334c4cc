"""UpTrain's calls, keys and names on curate's Framework; native configs unchanged."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import curate as uptrain
from curate import ConfigError
from curate.compat.framework import Framework
from curate.compat.translate import is_uptrain, translate
from curate.framework import Framework as NativeFramework
from curate.store_reader import StoreReader


def nike(inputs, outputs, gts=None, extra_args=None):
    return [t is not None and "nike" in t for t in inputs["text"]]


def edge(formula=None) -> dict:
    return {"type": uptrain.Monitor.EDGE_CASE,
            "signal_formulae": uptrain.Signal("nike", nike) if formula is None else formula}  # fmt: skip


def integrity(kind: str, feature: str = "x", **keys) -> dict:
    return {"type": uptrain.Monitor.DATA_INTEGRITY, "integrity_type": kind, **keys,
            "measurable_args": {"type": uptrain.MeasurableType.INPUT_FEATURE,
                                "feature_name": feature}}  # fmt: skip


def uptrain_cfg(tmp_path, *checks, **keys) -> dict:
    return {"checks": list(checks), "retraining_folder": str(tmp_path / "smart"),
            "logging_args": {"st_logging": True}, **keys}  # fmt: skip


def test_a_native_config_is_the_native_framework(tmp_path):
    cfg = {"checks": [edge()], "retraining_folder": tmp_path, "retrain_after": 5}
    with uptrain.Framework(cfg) as fw:
        assert isinstance(fw, NativeFramework) and not fw.uptrain
        assert fw.log(inputs={"text": ["nike", "adidas"]}) == range(0, 2)
        assert [m.kind for m in fw.monitors] == ["edge_case"]
    assert not (tmp_path / "1").exists() and not (tmp_path / "README.md").exists()


def test_uptrain_configs_are_recognised():
    assert not is_uptrain({"checks": [integrity("greater_than", threshold=1)]})
    assert is_uptrain({"checks": [integrity("minus_one")]})
    assert is_uptrain({"checks": [integrity("z_score", threshold=2)]})
    assert is_uptrain({"checks": [{"type": "concept_drift", "algorithm": "DDM", "warm_start": 9}]})
    assert is_uptrain({"checks": [{"type": "accuracy"}]})
    assert is_uptrain({"checks": [], "training_args": {"training_func": print}})
    assert not is_uptrain({"checks": [], "training_args": {"task": "mlm"}})


def test_cfg_dict_ids_and_version(tmp_path):
    with Framework(cfg_dict=uptrain_cfg(tmp_path, edge())) as fw:
        assert fw.uptrain and fw.version == 1
        assert fw.log(inputs={"text": ["nike a", "b"]}) == [0, 1]
        assert fw.log(inputs={"text": ["c"]}) == [2]
        given = fw.log(inputs={"text": ["nike d"], "id": [70]})
        assert isinstance(given, np.ndarray) and given.tolist() == [70]
        frame = pd.DataFrame({"text": ["nike e", "f"]}, index=[5, 6])
        assert fw.log(inputs=frame).tolist() == [5, 6]
        fw.flush()
        table = fw.store.read("retraining")
    assert sorted(table.column("identifiers").to_pylist()) == [0, 5, 70]
    assert "id" in table.column_names and "inputs.id" not in table.column_names


def test_smart_data_csv_and_load_dataset(tmp_path):
    cfg = uptrain_cfg(tmp_path, edge(), integrity("non_null", "text"), retrain_after=10**10)
    with Framework(cfg) as fw:
        for text in ["nike shoes", None, "adidas", "nike caps"]:
            fw.log(inputs={"text": [text]}, outputs=None)
        fw.flush()
        csv = tmp_path / "smart" / "1" / "smart_data.csv"
        frame = pd.read_csv(csv, dtype=str)
    assert list(frame.columns) == ["text", "id", "output", "gt", "reasons"]
    assert [json.loads(v) for v in frame["text"]] == ["nike shoes", "nike caps"]
    assert [json.loads(v) for v in frame["id"]] == [0, 3]
    assert json.loads(frame["reasons"][0]) == "Signal-nike"
    datasets = pytest.importorskip("datasets")
    ds = datasets.load_dataset(str(tmp_path / "smart"), split="train")
    assert sorted(ds["text"]) == ["nike caps", "nike shoes"]


def test_late_labels_in_native_and_uptrain_configs(tmp_path):
    native = {
        "checks": [{"type": "concept_drift", "window": 4}],
        "retraining_folder": tmp_path / "n",
    }
    with uptrain.Framework(native) as fw:
        fw.log(inputs={"x": [1, 2, 3, 4]}, outputs=[1, 0, 1, 1], identifiers=["a", "b", "c", "d"])
        assert fw.log(identifiers=["a", "b", "c", "d"], gts=[1, 1, 1, 1]) == ["a", "b", "c", "d"]
        fw.flush()
        acc = fw.store.read("metrics").to_pandas().query("metric == 'accuracy'")["value"]
    assert acc.tolist() == [0.75]
    check = {"type": uptrain.Monitor.ACCURACY, "measurable_args": {"type": "accuracy"}}
    with Framework(uptrain_cfg(tmp_path, check)) as fw:
        ids = fw.log(inputs={"x": [1, 2]}, outputs=[1, 0])
        fw.log(identifiers=ids, gts=[1, 1])
        fw.flush()
        assert fw.monitors[0].total / fw.monitors[0].count == 0.5


def test_extra_and_signal_extra_args_reach_the_function(tmp_path):
    seen = []

    def fn(inputs, outputs, gts=None, extra_args=None):
        seen.append(dict(extra_args))
        return [extra_args["k"] == extra_args["want"]] * len(inputs["text"])

    formula = uptrain.Signal("k", fn, extra_args={"want": 1})
    with Framework(uptrain_cfg(tmp_path, edge(formula))) as fw:
        fw.log(inputs={"text": ["a"]}, extra={"k": 1})
        fw.flush()
        assert fw.stats()["edge_cases"] == 1
    assert seen[-1] == {"k": 1, "want": 1}


def test_model_signals(tmp_path):
    conf = uptrain.Signal(uptrain.ModelSignal.BINARY_ENTROPY_CONFIDENCE, is_model_signal=True)
    every = uptrain.Signal(uptrain.ModelSignal.PASS_ALL, is_model_signal=True)
    with Framework(uptrain_cfg(tmp_path, edge((conf < 0.8) & every))) as fw:
        fw.log(inputs={"text": ["a", "b", "c"]}, outputs=[0.9, 0.4, 0.1])
        fw.flush()
        assert sorted(fw.store.read("retraining").column("identifiers").to_pylist()) == [1]
    with pytest.raises(TypeError, match="no model signal"):
        uptrain.Signal("not one", is_model_signal=True)


@pytest.mark.parametrize(
    "kind, keys, flagged",
    [
        ("greater_than", {"threshold": 1}, [0, 3]),  # UpTrain: value < threshold is the issue
        ("less_than", {"threshold": 1}, [2]),
        ("equal_to", {"threshold": 2}, [2]),
        ("minus_one", {}, [3]),
        ("non_null", {}, [4]),
    ],
)
def test_integrity_types_have_uptrain_s_semantics(tmp_path, kind, keys, flagged):
    with Framework(uptrain_cfg(tmp_path, integrity(kind, **keys))) as fw:
        fw.log(inputs={"x": [0, 1, 2, -1, None]})
        fw.flush()
        q = fw.store.read("quarantine")
    assert sorted(json.loads(r)["identifiers"] for r in q.column("row").to_pylist()) == flagged


def test_grammar_check_rows_are_edge_cases(tmp_path):
    score = uptrain.Signal("score", lambda inputs, outputs, gts=None, extra_args=None: inputs["s"])
    check = {"type": "data_integrity", "integrity_type": "grammar_check", "threshold": 60,
             "measurable_args": {"type": uptrain.MeasurableType.CUSTOM, "signal_formulae": score}}  # fmt: skip
    with Framework(uptrain_cfg(tmp_path, check)) as fw:
        fw.log(inputs={"s": [90, 10, 70, 40]})
        fw.flush()
        table = fw.store.read("retraining")
        assert fw.store.count("quarantine") == 0
    assert sorted(table.column("s").to_pylist()) == [10, 40]
    assert table.column("reasons").to_pylist()[0] == ["Data Integrity Issue, Type: grammar_check"]


def test_z_score_against_a_json_reference(tmp_path):
    ref = tmp_path / "ref.json"
    ref.write_text(json.dumps({"data": [{"x": v} for v in [9.0, 10.0, 11.0] * 10]}))
    check = integrity("z_score", threshold=2, reference_dataset=str(ref))
    with Framework(uptrain_cfg(tmp_path, check)) as fw:
        fw.log(inputs={"x": [10.0, 12.0, 9.5, 30.0]})
        fw.flush()
        assert (fw.monitors[0].num_issues, fw.monitors[0].count) == (2, 4)


def test_integrity_without_measurable_args_uses_feat_name_list(tmp_path):
    cfg = uptrain_cfg(tmp_path, {"type": "data_integrity", "integrity_type": "non_null"},
                      feat_name_list=["a", "b"])  # fmt: skip
    with Framework(cfg) as fw:
        assert [m.name for m in fw.monitors] == ["non_null(a)", "non_null(b)"]
    with pytest.raises(ConfigError, match="feat_name_list"):
        Framework(uptrain_cfg(tmp_path, {"type": "data_integrity", "integrity_type": "non_null"}))


def test_what_cannot_run_is_refused_by_name(tmp_path):
    with pytest.raises(ConfigError, match="faster-whisper"):
        Framework(uptrain_cfg(tmp_path, {"type": uptrain.Monitor.OUTPUT_COMPARISON}))
    grammar = {"type": "data_integrity", "integrity_type": "grammar_check", "threshold": 1,
               "measurable_args": {"type": uptrain.MeasurableType.GRAMMAR_SCORE}}  # fmt: skip
    with pytest.raises(ConfigError, match="OpenAI"):
        Framework(uptrain_cfg(tmp_path, grammar))
    with pytest.raises(ConfigError, match="integrity_type 'between'"):
        Framework(uptrain_cfg(tmp_path, integrity("between")))
    native = {"checks": [{"type": "data_integrity", "integrity_type": "non_null",
                          "measurable_args": {"type": "MAE"}}], "retraining_folder": tmp_path}  # fmt: skip
    with pytest.raises(ConfigError, match="UpTrain-style checks only"):
        NativeFramework(native)


def test_statistics_are_reported_and_visuals_kept(tmp_path, caplog):
    checks = [{"type": uptrain.Statistic.DISTANCE}, {"type": uptrain.Visual.UMAP, "x": 1}]
    with caplog.at_level(logging.WARNING, logger="curate"):
        plan = translate(uptrain_cfg(tmp_path, *checks))
    assert plan.config["checks"] == [] and plan.visuals == [checks[1]]
    assert "statistic 'distance' is not computed" in caplog.text


def test_data_drift_keys_and_a_json_reference(tmp_path, caplog):
    ref = tmp_path / "ref.json"
    rng = np.random.default_rng(0)
    ref.write_text(json.dumps([{"x": float(v)} for v in rng.normal(0, 1, 400)]))
    check = {"type": uptrain.Monitor.DATA_DRIFT, "reference_dataset": str(ref),
             "measurable_args": {"type": "input_feature", "feature_name": "x"},
             "initial_skip": 200, "emd_threshold": 1, "is_embedding": False}  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="curate"):
        fw = Framework(uptrain_cfg(tmp_path, check))
    assert "emd_threshold" in caplog.text
    fw.log(inputs={"x": rng.normal(3, 1, 400)})
    fw.close()
    alerts = StoreReader(tmp_path / "smart").read("alerts").to_pandas()
    assert (alerts["monitor"] == "data_drift").any()


def test_uptrain_retraining_calls_training_func_and_bumps_the_version(tmp_path):
    calls = []
    master = tmp_path / "master.json"
    master.write_text(json.dumps([{"id": i, "gt": i % 2} for i in range(10)]))
    orig = tmp_path / "orig.json"
    orig.write_text(json.dumps([{"text": "old", "id": -1, "gt": 0}]))
    training = {
        "training_func": lambda path, version: calls.append((path, version)),
        "orig_training_file": str(orig),
        "annotation_method": {"method": uptrain.AnnotationMethod.MASTER_FILE,
                              "args": {"master_file": str(master)}},
    }  # fmt: skip
    cfg = uptrain_cfg(tmp_path, edge(), retrain_after=2, training_args=training)
    with Framework(cfg) as fw:
        fw.log(inputs={"text": ["nike a", "nike b", "nike c", "d"]})
        fw.flush()
        run = fw.wait_for_training(timeout=30)
        assert run.status == "succeeded" and fw.version == 2
    path, version = calls[0]
    assert version == "version_1" and path.endswith("/1/training_dataset.json")
    data = json.loads(Path(path).read_text())
    assert len(data) == 1 + 3 * 5 and {d["gt"] for d in data[1:]} == {0, 1}
