"""UpTrain 0.2 configs, recognised and translated into curate's config plus UpTrain settings.

:func:`is_uptrain` tells an UpTrain config from a native one by what only UpTrain has (a
top-level key such as ``logging_args``, an UpTrain-only check type, measurable or check key);
:func:`translate` turns it into a native config dict, whose UpTrain checks run as
``uptrain_*`` monitors, and the :class:`Plan` of what the Framework does around them.

>>> plan = translate({"checks": [{"type": "data_integrity", "integrity_type": "non_null",
...     "measurable_args": {"type": "input_feature", "feature_name": "text"}}],
...     "retrain_after": 10000000000, "logging_args": {"st_logging": True}})
>>> [c["type"] for c in plan.config["checks"]], plan.config["retraining_folder"]
(['uptrain_data_integrity'], 'uptrain_smart_data')
>>> is_uptrain({"checks": [], "retrain_after": 10}), is_uptrain({"retrain": False})
(False, True)
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curate.compat.calls import Shared
from curate.compat.names import NATIVE_MEASURABLES, Statistic, Visual
from curate.errors import ConfigError

log = logging.getLogger("curate")

UPTRAIN_KEYS = frozenset({
    "logging_args", "evaluation_args", "license_args", "data_identifier", "retrain", "data_id",
    "feat_name_list", "cluster_visualize_func", "use_cache", "run_background_log_consumer",
    "running_ee",
})  # fmt: skip
TRAINING_KEYS = frozenset({"orig_training_file", "annotation_method", "training_func",
                           "data_transformation_func"})  # fmt: skip
NATIVE_KEYS = frozenset({"checks", "retraining_folder", "retrain_after", "training_args",
                         "on_retrain", "strict", "batch_size", "flush_interval",
                         "max_pending_rows", "traffic_sample", "traffic_seed",
                         "alert_sinks"})  # fmt: skip
_NATIVE_KINDS = {"edge_case", "data_integrity", "data_drift", "concept_drift"}
_UPTRAIN_INTEGRITY = {"equal_to", "minus_one", "grammar_check"}
_DETECTOR_KEYS = {"warm_start", "warn_threshold", "alarm_threshold", "clock", "max_buckets",
                  "min_window_length", "grace_period"}  # fmt: skip
_DRIFT_KEYS = {"is_embedding", "initial_skip", "emd_threshold", "num_buckets", "outlier_idxs",
               "do_low_density_check", "hover_label_args", "save_edge_cases", "outlier_data"}  # fmt: skip
#: UpTrain check types that run as curate monitors of UpTrain's semantics.
MONITORS = {
    "data_integrity": "uptrain_data_integrity", "concept_drift": "uptrain_concept_drift",
    "accuracy": "uptrain_accuracy", "custom_monitor": "uptrain_custom_monitor",
    "feature_drift": "uptrain_feature_drift", "popularity_bias": "uptrain_popularity_bias",
}  # fmt: skip


def _value(x: Any) -> Any:
    return getattr(x, "value", x)


def _uptrain_check(check: dict[str, Any]) -> bool:
    kind, keys = _value(check.get("type")), set(check)
    measurable = check.get("measurable_args") or {}
    if (
        kind not in _NATIVE_KINDS
        or _value(measurable.get("type", "input_feature")) not in NATIVE_MEASURABLES
    ):
        return True
    if kind == "data_integrity":
        z_threshold = check.get("integrity_type") == "z_score" and "threshold" in check
        return (check.get("integrity_type") in _UPTRAIN_INTEGRITY or z_threshold
                or bool(keys & {"outliers_alert_thres", "reference_dataset"}))  # fmt: skip
    if kind == "concept_drift":
        return bool(keys & _DETECTOR_KEYS)
    if kind == "data_drift":
        ref = check.get("reference_dataset")
        return bool(keys & _DRIFT_KEYS) or (isinstance(ref, str) and ref.endswith(".json"))
    return False


def is_uptrain(cfg: Any) -> bool:
    """Whether a config dict uses anything only UpTrain 0.2 has."""
    if not isinstance(cfg, dict):
        return False
    if set(cfg) & UPTRAIN_KEYS:
        return True
    training = cfg.get("training_args")
    if isinstance(training, dict) and set(training) & TRAINING_KEYS:
        return True
    checks = cfg.get("checks") or []
    return any(isinstance(c, dict) and _uptrain_check(c) for c in checks)


@dataclass
class Plan:
    """A translated UpTrain config: the native config and what the Framework does around it."""

    config: dict[str, Any]
    shared: Shared
    log_data: bool = True
    slack_webhook_url: str | None = None
    id_column: str = "id"
    retrain_after: int | None = None
    training: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    visuals: list[dict[str, Any]] = field(default_factory=list)
    needs_labels: bool = False


def translate(cfg: dict[str, Any]) -> Plan:
    """Translate an UpTrain config (raises :class:`ConfigError` for what cannot run)."""
    cfg = dict(cfg)
    logging_args = dict(cfg.get("logging_args") or {})
    shared = Shared()
    plan = Plan(config={}, shared=shared)
    plan.log_data = bool(logging_args.get("log_data", True))
    plan.slack_webhook_url = logging_args.get("slack_webhook_url") or cfg.get("slack_webhook_url")
    plan.id_column = cfg.get("data_id") or cfg.get("data_identifier") or "id"
    features = cfg.get("feat_name_list")
    checks = []
    for i, check in enumerate(cfg.get("checks") or []):
        checks += _check(i, check, features, plan)
    native = {k: v for k, v in cfg.items() if k in NATIVE_KEYS}
    native["checks"] = checks
    native.setdefault("retraining_folder", "uptrain_smart_data")
    _training(cfg, native, plan)
    plan.config = native
    return plan


def _training(cfg: dict[str, Any], native: dict[str, Any], plan: Plan) -> None:
    """UpTrain's retraining: ``training_func`` after more than ``retrain_after`` edge cases."""
    training = cfg.get("training_args")
    native.pop("retrain_after", None)
    if isinstance(training, dict) and not set(training) & TRAINING_KEYS:
        if cfg.get("retrain", True) and cfg.get("retrain_after") is not None:
            native["retrain_after"] = cfg["retrain_after"]
        return  # curate's own training_args: curate's trainer runs
    native.pop("training_args", None)
    plan.training = dict(training or {})
    plan.evaluation = dict(cfg.get("evaluation_args") or {})
    if cfg.get("retrain", True) and plan.training.get("training_func") is not None:
        # UpTrain retrains once it holds more than retrain_after edge cases.
        plan.retrain_after = int(cfg.get("retrain_after", 100_000_000_000)) + 1


def _check(i: int, check: Any, features: list[str] | None, plan: Plan) -> list[dict[str, Any]]:
    if not isinstance(check, dict):
        return [check]
    kind = _value(check.get("type"))
    if kind in {v.value for v in Visual}:
        plan.visuals.append(check)
        return []
    if kind in {s.value for s in Statistic}:
        log.warning("curate: checks[%d]: UpTrain statistic %r is not computed by curate", i, kind)
        return []
    if kind == "output_comparison":
        raise ConfigError(
            f"checks[{i}]: output_comparison runs a speech-to-text model (faster-whisper) and "
            "ROUGE inside log(); curate has no such model: compare outputs in a Signal instead"
        )
    if kind == "data_drift":
        return [_data_drift(i, check)]
    if kind not in MONITORS:
        return [{**check, "type": kind}]
    if kind in ("data_integrity", "feature_drift") and "measurable_args" not in check:
        if not features:
            raise ConfigError(f"checks[{i}] ({kind}): give measurable_args or feat_name_list")
        return [s for f in features for s in _check(i, {**check, "measurable_args": {
            "type": "input_feature", "feature_name": f}}, None, plan)]  # fmt: skip
    monitor = MONITORS[kind]
    if monitor in ("uptrain_concept_drift", "uptrain_accuracy") or (
        kind == "custom_monitor" and check.get("need_gt")
    ):
        plan.needs_labels = True
    return [{"type": monitor, "check": check, "shared": plan.shared}]


def _data_drift(i: int, check: dict[str, Any]) -> dict[str, Any]:
    """UpTrain's DATA_DRIFT as curate's (curate's statistics; see docs/uptrain.md)."""
    out = {k: copy.copy(v) for k, v in check.items() if k not in _DRIFT_KEYS}
    out["type"] = "data_drift"
    measurable = dict(check.get("measurable_args") or {})
    if _value(measurable.get("type", "input_feature")) not in NATIVE_MEASURABLES:
        raise ConfigError(
            f"checks[{i}] (data_drift): measurable {measurable.get('type')!r} is not a logged "
            "column; curate's drift checks read input features, predictions or labels"
        )
    out["measurable_args"] = measurable
    if check.get("is_embedding"):
        out["kind"] = "embedding"
    if "initial_skip" in check:
        out["window"] = int(check["initial_skip"])
    if "num_buckets" in check:
        out["bins"] = int(check["num_buckets"])
    ref = check.get("reference_dataset")
    if isinstance(ref, str) and ref.endswith(".json"):
        out["reference_dataset"] = _json_reference(ref, measurable.get("feature_name"))
    ignored = sorted(set(check) & _DRIFT_KEYS - {"is_embedding", "initial_skip", "num_buckets"})
    if ignored:
        log.warning("curate: checks[%d] (data_drift): UpTrain's %s not used by curate's drift "
                    "statistics", i, ", ".join(ignored))  # fmt: skip
    return out


def _json_reference(path: str, feature: str | None) -> Any:
    """An UpTrain JSON reference (records, or ``{"data": [...]}``) as a pyarrow table."""
    import pyarrow as pa

    data = json.loads(Path(path).read_text())
    records = data.get("data", data) if isinstance(data, dict) else data
    if isinstance(records, dict):
        return pa.table(records)
    if feature is None:
        return pa.Table.from_pylist(records)
    return pa.table({feature: [r.get(feature) for r in records]})
