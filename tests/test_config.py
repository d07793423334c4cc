"""The UpTrain-style dict configuration and its error messages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from curate import Config, ConfigError, Framework, MeasurableType, Monitor, Signal
from curate.config import _registry
from monitors.edge_case import EdgeCaseCheck
from monitors.integrity import IntegrityCheck

NIKE = Signal.contains("nike")


def uptrain_style(folder) -> dict:
    """The configuration from the design document, with enums as UpTrain users write it."""
    product = Signal.contains(["shoes", "sneakers"])
    positive = Signal.contains(["durable", "great"])
    return {
        "checks": [
            {"type": Monitor.EDGE_CASE, "signal_formulae": NIKE & product & positive},
            {
                "type": Monitor.DATA_INTEGRITY,
                "measurable_args": {
                    "type": MeasurableType.INPUT_FEATURE,
                    "feature_name": "text",
                },
                "integrity_type": "non_null",
            },
        ],
        "retraining_folder": str(folder),
        "retrain_after": 1000,
    }


def test_uptrain_style_config_works_unchanged(tmp_path):
    cfg = Config.load(uptrain_style(tmp_path))
    assert isinstance(cfg.checks[0], EdgeCaseCheck)
    assert isinstance(cfg.checks[1], IntegrityCheck)
    assert cfg.checks[1].measurable_args.type is MeasurableType.INPUT_FEATURE
    assert cfg.retraining_folder == Path(tmp_path) and cfg.retrain_after == 1000
    with Framework(uptrain_style(tmp_path)) as fw:
        ids = fw.log(inputs={"text": ["nike shoes are very durable", None, "adidas"]})
        stats = fw.stats()
    assert list(ids) == [0, 1, 2]
    assert (stats["edge_cases"], stats["quarantined"], stats["rows_logged"]) == (1, 1, 3)


def test_strings_and_enums_are_the_same_check_types():
    a = Config.load({"checks": [{"type": "edge_case", "signal_formulae": NIKE}]})
    b = Config.load({"checks": [{"type": Monitor.EDGE_CASE, "signal_formulae": NIKE}]})
    assert a.checks[0].type == b.checks[0].type == "edge_case"


def test_keyword_overrides_and_config_objects():
    cfg = Config.load({"checks": [{"type": "edge_case", "signal_formulae": NIKE}]}, strict=True)
    assert cfg.strict
    again = Config.load(cfg, batch_size=10)
    assert again.batch_size == 10 and again.strict and again.checks[0].signal_formulae is NIKE
    assert Config.load(None).checks == []


def valid_keys(model) -> str:
    return ", ".join(sorted(model.model_fields))


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"checks": [], "retrain_afer": 10},
            "unknown key 'retrain_afer'; valid keys: " + valid_keys(Config),
        ),
        (
            {"checks": [{"type": "edge_case", "signal_formulae": NIKE, "dedup": "exact"}]},
            "checks[0] (edge_case): unknown key 'dedup'; valid keys: " + valid_keys(EdgeCaseCheck),
        ),
        (
            {
                "checks": [
                    {
                        "type": "data_integrity",
                        "integrity_type": "non_null",
                        "measurable_args": {"type": "input_feature", "feature": "text"},
                    }
                ]
            },
            "checks[0] (data_integrity): measurable_args: unknown key 'feature'; "
            "valid keys: feature_name, type",
        ),
        (
            {"checks": [{"type": "data_integrity", "integrity_type": "non_null", "windw": 5}]},
            "unknown key 'windw'; valid keys: " + valid_keys(IntegrityCheck),
        ),
    ],
)
def test_unknown_keys_are_errors_that_name_the_key_and_list_valid_ones(config, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        Config.load(config)


def test_unknown_check_type_names_it_and_lists_the_registered_ones():
    registered = ", ".join(_registry())
    assert "edge_case" in registered and "data_integrity" in registered
    for kind in ("edge_cas", "EDGE_CASE", None):
        check = {"type": kind, "signal_formulae": NIKE}
        with pytest.raises(ConfigError) as info:
            Config.load({"checks": [{"type": "edge_case", "signal_formulae": NIKE}, check]})
        assert f"checks[1]: unknown check type {kind!r}; valid types: {registered}" in str(
            info.value
        )


def test_unknown_integrity_type_lists_the_valid_ones():
    with pytest.raises(ConfigError) as info:
        Config.load({"checks": [{"type": "data_integrity", "integrity_type": "non_nul"}]})
    message = str(info.value)
    assert "checks[0] (data_integrity): integrity_type" in message
    for valid in ("non_null", "between", "in_set", "z_score", "duplicate"):
        assert repr(valid) in message


@pytest.mark.parametrize(
    ("check", "message"),
    [
        (
            {"integrity_type": "between", "lower": 1},
            "integrity_type 'between' needs the key 'upper'",
        ),
        ({"integrity_type": "less_than"}, "integrity_type 'less_than' needs the key 'threshold'"),
        ({"integrity_type": "between", "lower": 2, "upper": 1}, "lower (2.0) is above upper (1.0)"),
        ({"integrity_type": "dtype", "dtype": "text"}, "dtype must be one of int, float"),
        ({"integrity_type": "non_null", "window": "5x"}, "window must be a positive row count"),
        ({"integrity_type": "non_null", "window": 0}, "window must be a positive row count"),
        ({"integrity_type": "non_null", "alert_ratio": 2}, "alert_ratio: Input should be less"),
        ({"integrity_type": "z_score"}, "integrity_type 'z_score' needs the key 'reference'"),
    ],
)
def test_integrity_check_values_are_validated(check, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        Config.load({"checks": [{"type": "data_integrity", **check}]})


def test_z_score_reference_is_read_at_construction(tmp_path):
    bad = {"type": "data_integrity", "integrity_type": "z_score", "reference": {"mean": 1}}
    with pytest.raises(ValueError, match="z_score reference needs 'mean' and 'std'"):
        Framework({"checks": [bad], "retraining_folder": tmp_path})


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"checks": [{"type": "edge_case", "signal_formulae": "nike"}]},
         "signal_formulae must be a Signal or a formula of signals, got str"),
        ({"checks": [{"type": "edge_case"}]}, "checks[0] (edge_case): signal_formulae: Field required"),
        ({"checks": {"type": "edge_case"}}, "checks must be a list of check dicts, got dict"),
        ({"checks": ["edge_case"]}, "checks[0] must be a dict, got str"),
        ({"retrain_after": 0}, "retrain_after: Input should be greater than 0"),
        ({"batch_size": "many"}, "batch_size: Input should be a valid integer"),
        ({"on_retrain": print, "training_args": {}}, "give either on_retrain or training_args"),
        ({"checks": [{"type": "edge_case", "signal_formulae": NIKE, "dedupe": "fuzzy",
                      "fuzzy_threshold": 0}]}, "fuzzy_threshold: Input should be greater than 0"),
    ],
)  # fmt: skip
def test_other_config_errors_say_what_was_expected(config, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        Config.load(config)


def test_config_errors_raise_at_framework_construction(tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'retrain_afer'"):
        Framework({"retraining_folder": tmp_path, "retrain_afer": 3})
    assert not (tmp_path / "retraining").exists()  # nothing created for a bad config
