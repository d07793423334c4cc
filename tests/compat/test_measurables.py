"""UpTrain's measurables, computed on one call's arguments as UpTrain 0.2 computed them."""

from __future__ import annotations

import numpy as np
import pytest

import curate as uptrain
from curate import ConfigError
from curate.compat.measurables import Measurable

MT = uptrain.MeasurableType
INPUTS = {"a": np.array([1.0, 5.0, 3.0]), "b": np.array([2.0, 2.0, 2.0]),
          "emb": np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), "id": np.array([7, 8, 9])}  # fmt: skip


def test_columns_and_derived_values():
    assert Measurable({"type": MT.FEATURE_CONCAT, "feat_name_list": ["a", "b"]}).compute(
        INPUTS
    ).tolist() == [[1.0, 2.0], [5.0, 2.0], [3.0, 2.0]]
    cond = {"type": MT.CONDITION_ON_INPUT, "feature_name": "a",
            "condition_args": {"formulae": "geq", "threshold": 3}}  # fmt: skip
    assert Measurable(cond).compute(INPUTS).tolist() == [False, True, True]
    pred = {"type": MT.CONDITION_ON_PREDICTION, "condition_args": {"func": lambda x: x * 2}}
    assert Measurable(pred).compute(INPUTS, np.array([1, 2, 3])).tolist() == [2, 4, 6]
    # UpTrain indexes the batch here, not the embedding: row ``idx`` of the call.
    scalar = {"type": MT.SCALAR_FROM_EMBEDDING, "idx": 1, "extract_from": {"feature_name": "emb"}}
    assert Measurable(scalar).compute(INPUTS).tolist() == [0.0, 1.0]
    assert Measurable({"type": MT.IDENTIFIER}).compute(INPUTS).tolist() == [7, 8, 9]


def test_errors_against_labels():
    out, gts = np.array([1.0, 2.0, 4.0]), np.array([1.0, 4.0, 2.0])
    assert Measurable({"type": MT.MAE}).compute({}, out, gts).tolist() == [0.0, 2.0, 2.0]
    assert Measurable({"type": MT.MAPE}).compute({}, out, gts).tolist() == [0.0, 50.0, 100.0]
    probs = np.array([[0.9, 0.1], [0.2, 0.8]])
    assert Measurable({"type": MT.ACCURACY}).compute({}, probs, np.array([0, 0])).tolist() == [
        True,
        False,
    ]
    hits = Measurable({"type": MT.REC_HIT_RATE}).compute({}, [["x", "y"], ["z"]], ["y", "y"])
    assert hits.tolist() == [1, 0] and Measurable({"type": "MAE"}).needs_ground_truth


def test_custom_and_distance():
    size = uptrain.Signal(
        "size", lambda inputs, outputs, gts=None, extra_args=None: inputs["a"] * 2
    )
    custom = Measurable({"type": MT.CUSTOM, "signal_formulae": size})
    assert custom.compute(INPUTS).tolist() == [2.0, 10.0, 6.0] and custom.name == "size"
    dist = Measurable({"type": MT.DISTANCE, "base": {"feature_name": "emb"},
                       "reference": "running", "distance_types": ["l2_distance", "norm_ratio"]})  # fmt: skip
    first = dist.compute(INPUTS)
    assert first["l2_distance"].tolist() == [0.0, 0.0, 0.0]
    moved = {**INPUTS, "emb": INPUTS["emb"] * 2}
    assert dist.compute(moved)["norm_ratio"].tolist() == pytest.approx([2.0, 2.0, 2.0])


def test_bad_measurables_fail_at_configuration():
    with pytest.raises(ConfigError, match="unknown measurable type 'nope'"):
        Measurable({"type": "nope"})
    with pytest.raises(ConfigError, match="needs the key 'feature_name'"):
        Measurable({"type": MT.INPUT_FEATURE})
    with pytest.raises(ConfigError, match="not supported"):
        Measurable({"type": MT.CONDITION_ON_INPUT, "feature_name": "a",
                    "condition_args": {"formulae": "~"}})  # fmt: skip
