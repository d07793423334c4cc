"""One shared contract for every registered concept-drift detector (River style).

The detectors come from ``monitors.detectors.DETECTORS``; each declares its own constructor
parameter sets in ``_unit_test_params()`` (a classmethod on the detector class itself) and every
test below runs with every set it yields. A detector without one fails
:func:`test_every_detector_declares_unit_test_params`, so a new detector module needs no edit here.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

from monitors.concept_drift import ConceptDriftConfig
from monitors.detectors import DETECTORS, Detection, DriftDetector

NAMES = list(DETECTORS)


def declares_params(cls: type) -> bool:
    """Whether the class itself (not a base it inherits from) declares its test parameters."""
    return "_unit_test_params" in vars(cls)


CASES = [
    pytest.param(name, params, id=f"{name}-{i}")
    for name, cls in DETECTORS.items()
    if declares_params(cls)
    for i, params in enumerate(cls._unit_test_params())
]


def shifted(seed: int = 4, before: float = 0.1, after: float = 0.5) -> np.ndarray:
    """3000 errors at rate ``before``, then 2000 at rate ``after`` (0/1, as float)."""
    rng = np.random.default_rng(seed)
    return np.r_[rng.random(3000) < before, rng.random(2000) < after].astype(float)


def fed(det: DriftDetector, x: np.ndarray, chunk: int) -> Detection:
    """``x`` fed ``chunk`` values at a time, positions made relative to the whole of ``x``."""
    drifts: list[int] = []
    warnings: list[int] = []
    for start in range(0, len(x), chunk):
        found = det.update(x[start : start + chunk])
        drifts += [start + i for i in found.drifts]
        warnings += [start + i for i in found.warnings]
    return Detection(drifts, warnings)


def state(det: DriftDetector) -> dict:
    return dict(vars(det))


@pytest.mark.parametrize("name", NAMES)
def test_every_detector_declares_unit_test_params(name):
    cls = DETECTORS[name]
    assert declares_params(cls), (
        f"detector {name!r} ({cls.__module__}.{cls.__name__}) declares no "
        "@classmethod _unit_test_params() of its own: yield at least one parameter set"
    )
    params = list(cls._unit_test_params())
    assert params and all(isinstance(p, dict) for p in params), name
    assert {} in params, f"detector {name!r}: include the default parameters ({{}})"


def test_a_detector_inheriting_its_params_is_caught():
    class Copy(DETECTORS["ddm"]):
        pass

    assert hasattr(Copy, "_unit_test_params") and not declares_params(Copy)
    assert "copy" not in DETECTORS  # no ``name`` of its own: not registered


@pytest.mark.parametrize("name", NAMES)
def test_class_attributes(name):
    cls = DETECTORS[name]
    assert issubclass(cls, DriftDetector) and cls.name == name == name.lower()
    assert isinstance(cls.metric, str) and cls.metric
    assert isinstance(cls.binary_input, bool)
    assert cls.__doc__ and cls.update.__doc__ and cls.reset.__doc__


@pytest.mark.parametrize("name", NAMES)
def test_the_check_config_accepts_it_and_builds_it_with_the_defaults(name):
    config = ConceptDriftConfig.model_validate({"type": "concept_drift", "algorithm": name.upper()})
    assert config.algorithm == [name]
    built = DETECTORS[name].from_config(config)
    assert type(built) is DETECTORS[name]
    assert state(built) == state(DETECTORS[name]())


@pytest.mark.parametrize("name, params", CASES)
def test_update_returns_sorted_in_range_positions(name, params):
    x = shifted()
    det = DETECTORS[name](**params)
    for chunk in (1, 7, 500, len(x)):
        det.reset()
        for start in range(0, len(x), chunk):
            part = x[start : start + chunk]
            found = det.update(part)
            assert isinstance(found, Detection)
            for positions in found:
                assert isinstance(positions, list)
                assert all(type(i) is int and 0 <= i < len(part) for i in positions)
                assert positions == sorted(set(positions))
    assert det.update(np.zeros(0)) == Detection([], [])
    assert isinstance(det.estimation, float) and math.isfinite(det.estimation)
    assert isinstance(det.n, int) and det.n >= 0
    for metric, value, n in det.extra_metrics():
        assert isinstance(metric, str) and metric and metric != det.metric
        assert math.isfinite(value) and isinstance(n, int) and n >= 0


@pytest.mark.parametrize("name", NAMES)
def test_no_drift_on_a_long_stationary_stream(name):
    x = (np.random.default_rng(3).random(20_000) < 0.25).astype(float)
    det = DETECTORS[name]()
    assert det.update(x).drifts == []
    assert det.n == 20_000
    assert det.estimation == pytest.approx(x.mean())


@pytest.mark.parametrize("name, params", CASES)
def test_a_clear_shift_is_detected(name, params):
    det = DETECTORS[name](**params)
    drifts = det.update(shifted()).drifts
    assert any(3000 <= i < 3500 for i in drifts), drifts[:5]
    assert det.estimation > 0.3  # it follows the new error rate


@pytest.mark.parametrize("name, params", CASES)
def test_reset_restores_the_initial_state(name, params):
    det = DETECTORS[name](**params)
    det.update(shifted())
    det.reset()
    assert state(det) == state(DETECTORS[name](**params))


@pytest.mark.parametrize("name, params", CASES)
def test_batch_updates_equal_one_value_at_a_time(name, params):
    x = shifted(seed=5)
    whole = DETECTORS[name](**params)
    expected = whole.update(x)
    assert expected.drifts, "the stream has a drift to find"
    for chunk in (1, 3, 250):
        det = DETECTORS[name](**params)
        assert fed(det, x, chunk) == expected, chunk
        assert state(det) == state(whole)


def constructor_parameters(cls: type) -> list[str]:
    sig = inspect.signature(cls.__init__)
    return [p for p in sig.parameters if p != "self"]


@pytest.mark.parametrize("name", NAMES)
def test_bad_parameters_raise_value_error(name):
    cls = DETECTORS[name]
    parameters = constructor_parameters(cls)
    assert parameters, f"detector {name!r} has no parameters to check"
    for parameter in parameters:
        for bad in (0, -1, float("nan")):
            with pytest.raises(ValueError, match=parameter):
                cls(**{parameter: bad})


@pytest.mark.parametrize("name", [n for n in NAMES if DETECTORS[n].binary_input])
def test_binary_detectors_reject_other_values(name):
    with pytest.raises(ValueError, match="0 \\(right\\) or 1"):
        DETECTORS[name]().update([0.0, 1.0, 0.5])
