"""One shared contract for every registered monitor kind (River style).

The kinds come from ``monitors.base.REGISTRY`` after ``curate.config._registry()`` imported every
monitor module. Each kind declares its own check configs in ``_unit_test_params()`` (a classmethod
on the monitor class itself); every test below runs with every config it yields. A kind without
one fails :func:`test_every_kind_declares_unit_test_params`, so a new monitor module needs no
edit here.
"""

from __future__ import annotations

import numpy as np
import pytest

from curate import Framework
from curate.batch import Batch
from curate.config import _registry
from curate.store import ALERTS_SCHEMA, METRICS_SCHEMA, QUARANTINE_SCHEMA, Store
from curate.tables import alerts_table, metrics_table
from monitors.base import MonitorContext, MonitorResult

KINDS = sorted(_registry())


def declares_params(cls: type) -> bool:
    """Whether the class itself (not a base it inherits from) declares its test configs."""
    return "_unit_test_params" in vars(cls)


def configs_of(kind: str) -> list[dict]:
    """The kind's own test configs, each with its ``type``."""
    return [{"type": kind, **params} for params in _registry()[kind]._unit_test_params()]


CASES = [
    pytest.param(kind, i, id=f"{kind}-{i}")
    for kind in KINDS
    if declares_params(_registry()[kind])
    for i in range(len(configs_of(kind)))
]


def config_for(kind: str, i: int) -> dict:
    return configs_of(kind)[i]


def make_batch(first: int, n: int, shift: float = 0.0) -> Batch:
    rng = np.random.default_rng(first)
    p = rng.uniform(0, 1, n)
    labels = (p > 0.5).astype(int)
    labels[: n // 4] ^= 1  # some errors for the concept drift detectors
    texts = [None if i % 11 == 0 else ("nike shoes" if i % 2 else "adidas") for i in range(n)]
    scores = rng.normal(shift, 1, n)
    scores[::13] = np.nan
    return Batch.from_log(
        np.arange(first, first + n),
        np.arange(first, first + n, dtype=np.int64) * 1000,
        {"text": texts, "score": scores},
        outputs=np.stack([p, 1 - p], axis=1),
        gts=labels,
        identifiers=[f"r{i}" for i in range(first, first + n)],
    )


def build(kind: str, i: int, tmp_path):
    cls = _registry()[kind]
    config = cls.config_model.model_validate(config_for(kind, i))
    return cls(config, MonitorContext(store=Store(tmp_path / "store")))


def check_result(result: MonitorResult, n: int | None) -> None:
    assert isinstance(result, MonitorResult)
    for mask in (result.edge_mask, result.violations):
        if mask is not None:
            assert n is not None, "flush() results carry no row masks"
            assert isinstance(mask, np.ndarray) and mask.dtype == bool and mask.shape == (n,)
    for values in result.leaves.values():
        assert len(values) == n
    for rows in result.released:
        assert rows.reason and len(rows.batch)
        assert all(len(v) == len(rows.batch) for v in rows.leaves.values())
    if result.metrics:
        table = metrics_table(result.metrics)
        assert table.schema.equals(METRICS_SCHEMA)
        assert all(isinstance(r["metric"], str) and r["metric"] for r in result.metrics)
        assert all(r["n"] >= 0 for r in result.metrics)
    if result.alerts:
        assert alerts_table(result.alerts).schema.equals(ALERTS_SCHEMA)
        assert all(r["message"] for r in result.alerts)
    for q in result.quarantine:
        assert q.schema.equals(QUARANTINE_SCHEMA)
        assert q.num_rows and all(q.column("check").to_pylist())


def test_the_core_kinds_are_registered():
    assert {"edge_case", "data_integrity", "data_drift", "concept_drift"} <= set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_declares_unit_test_params(kind):
    cls = _registry()[kind]
    assert declares_params(cls), (
        f"monitor kind {kind!r} ({cls.__module__}.{cls.__name__}) declares no "
        "@classmethod _unit_test_params() of its own: yield at least one check config"
    )
    configs = configs_of(kind)
    assert configs, f"monitor kind {kind!r}: _unit_test_params() yielded no config"
    for params in cls._unit_test_params():
        assert isinstance(params, dict) and "type" not in params, (kind, params)


def test_a_kind_inheriting_its_params_is_caught():
    class NoParams(_registry()["edge_case"]):
        kind = "no_params"

    assert hasattr(NoParams, "_unit_test_params") and not declares_params(NoParams)


@pytest.mark.parametrize("kind", KINDS)
def test_class_attributes(kind):
    cls = _registry()[kind]
    assert cls.kind == kind
    assert cls.config_model.model_fields["type"].default == kind
    assert cls.__doc__ and cls.config_model.__doc__


@pytest.mark.parametrize("kind, i", CASES)
def test_config_is_valid_and_rejects_unknown_keys_by_name(kind, i):
    model = _registry()[kind].config_model
    model.model_validate(config_for(kind, i))
    with pytest.raises(ValueError, match="unknown key 'not_an_option'; valid keys: .*type"):
        model.model_validate({**config_for(kind, i), "not_an_option": 1})


@pytest.mark.parametrize("kind, i", CASES)
def test_process_and_flush_return_well_formed_results(kind, i, tmp_path):
    monitor = build(kind, i, tmp_path)
    assert isinstance(monitor.name, str) and monitor.name
    produced_metrics = 0
    for k, n in enumerate([1, 30, 90, 17]):
        batch = make_batch(k * 1000, n, shift=3.0 * (k >= 2))
        before = repr(batch.stored_table().to_pylist())  # repr: NaN == NaN
        result = monitor.process(batch)
        check_result(result, n)
        if result.deferred:  # the pipeline settles it once it knows the rows' violations
            settled, held = monitor.settle(batch, result, np.ones(n, dtype=bool))
            check_result(settled, None)
            assert held.dtype == bool and held.shape == (n,)
            assert not (held & ~result.edge_mask).any(), "only candidates are held"
            produced_metrics += len(settled.metrics)
        assert repr(batch.stored_table().to_pylist()) == before, "monitors must not modify batches"
        produced_metrics += len(result.metrics)
    flushed = monitor.flush()
    check_result(flushed, None)
    produced_metrics += len(flushed.metrics)
    assert produced_metrics > 0, "every monitor reports something per window"
    check_result(monitor.flush(), None)  # a second flush is harmless
    monitor.close()


def comparable(result: MonitorResult) -> tuple:
    metrics = sorted(
        (r["metric"], r["check"], r["column"], r["n"], round(r["value"], 9))
        for r in result.metrics
        if not np.isnan(r["value"])
    )
    masks = tuple(None if m is None else m.tolist() for m in (result.edge_mask, result.violations))
    quarantine = [q.drop_columns(["ts"]).to_pylist() for q in result.quarantine]
    return metrics, masks, quarantine


@pytest.mark.parametrize("kind, i", CASES)
def test_same_stream_gives_the_same_results(kind, i, tmp_path):
    a, b = build(kind, i, tmp_path / "a"), build(kind, i, tmp_path / "b")
    for k, n in enumerate([25, 60]):
        batch = make_batch(k * 100, n)
        assert comparable(a.process(batch)) == comparable(b.process(batch))
    assert comparable(a.flush()) == comparable(b.flush())


@pytest.mark.parametrize("kind, i", CASES)
def test_runs_inside_a_framework_without_errors(kind, i, tmp_path, caplog):
    with Framework({"checks": [config_for(kind, i)], "retraining_folder": tmp_path / "s"}) as fw:
        for k in range(3):
            b = make_batch(k * 100, 50)
            fw.log(
                inputs=b.inputs,
                outputs=b.outputs.column("outputs").to_numpy(),
                gts=b.gts.column("gts").to_pylist(),
                identifiers=b.identifiers.column("identifiers").to_pylist(),
            )
        stats = fw.stats()
    assert stats["last_error"] is None, stats["last_error"]
    assert stats["rows_logged"] == 150
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    metrics = Store(tmp_path / "s").read("metrics").to_pandas()
    assert set(metrics["monitor"]) - {"framework"}, "the monitor wrote metric rows"
