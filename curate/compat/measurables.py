"""UpTrain's measurables: the value a check looks at, computed from a call's inputs and outputs.

A measurable is UpTrain's ``measurable_args`` dict. :class:`Measurable` computes it on the
UpTrain-style arguments of one ``log()`` call (``inputs`` a dict of numpy arrays with the rows'
``id``, ``outputs``, ``gts``), exactly as UpTrain 0.2 does, and names it as UpTrain does.

>>> import numpy as np
>>> mae = Measurable({"type": "MAE"})
>>> mae.compute({}, np.array([1.0, 2.0]), np.array([1.5, 2.0])).tolist(), mae.name
([0.5, 0.0], 'MAE')
>>> Measurable({"type": "input_feature", "feature_name": "x"}).compute({"x": np.array([3])})
array([3])
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from curate.enums import MeasurableType as MT
from curate.errors import ConfigError

_CONDITIONS: dict[str, Callable[[Any, Any], Any]] = {
    "<=": operator.le, "leq": operator.le, "<": operator.lt, "le": operator.lt,
    ">=": operator.ge, "geq": operator.ge, ">": operator.gt, "ge": operator.gt,
    "==": operator.eq, "eq": operator.eq,
}  # fmt: skip


def _kind(args: dict[str, Any]) -> str:
    kind = args.get("type")
    kind = getattr(kind, "value", kind)
    try:
        return MT(kind).value
    except ValueError:
        valid = ", ".join(m.value for m in MT)
        raise ConfigError(f"unknown measurable type {kind!r}; valid types: {valid}") from None


class Measurable:
    """One UpTrain measurable, validated when built so a wrong key fails at configuration."""

    def __init__(self, args: dict[str, Any]) -> None:
        self.args = dict(args)
        self.kind = _kind(self.args)
        if self.kind == MT.GRAMMAR_SCORE:
            raise ConfigError(
                "MeasurableType.GRAMMAR_SCORE asks OpenAI's chat API for a score per row; curate "
                "makes no network calls from the log path: compute the score in a Signal and use "
                "MeasurableType.CUSTOM"
            )
        required = {
            MT.INPUT_FEATURE: "feature_name", MT.FEATURE_CONCAT: "feat_name_list",
            MT.CUSTOM: "signal_formulae", MT.CONDITION_ON_INPUT: "condition_args",
            MT.CONDITION_ON_PREDICTION: "condition_args", MT.SCALAR_FROM_EMBEDDING: "idx",
            MT.DISTANCE: "base",
        }.get(self.kind)  # fmt: skip
        if required and required not in self.args:
            raise ConfigError(f"measurable {self.kind!r} needs the key {required!r}")
        self._ref_value: Any = None
        if self.kind in (MT.CONDITION_ON_INPUT, MT.CONDITION_ON_PREDICTION):
            self._condition = _condition(self.args["condition_args"])

    @property
    def needs_ground_truth(self) -> bool:
        """True for errors against labels (accuracy, MAE, MAPE, hit rate)."""
        return self.kind in (MT.ACCURACY, MT.MAE, MT.MAPE, MT.REC_HIT_RATE, MT.GROUND_TRUTH)

    @property
    def name(self) -> str:
        """UpTrain's column name of the measurable (shown in plots and alerts)."""
        a = self.args
        return {
            MT.INPUT_FEATURE: str(a.get("feature_name")),
            MT.PREDICTION: "prediction",
            MT.GROUND_TRUTH: "gts",
            MT.IDENTIFIER: "id",
            MT.FEATURE_CONCAT: "concat_" + "_".join(a.get("feat_name_list", [])),
            MT.CUSTOM: str(a.get("signal_formulae")),
            MT.ACCURACY: "Accuracy",
            MT.MAE: "MAE",
            MT.MAPE: "MAPE",
            MT.REC_HIT_RATE: "Hit-Rate",
            MT.CONDITION_ON_INPUT: f"Condition({a.get('feature_name')}, {a.get('condition_args')})",
            MT.CONDITION_ON_PREDICTION: f"Condition(prediction, {a.get('condition_args')})",
            MT.SCALAR_FROM_EMBEDDING: (
                f"Scalar [Index: {a.get('idx')}] from Embedding: "
                f"{(a.get('extract_from') or {}).get('feature_name')}"
            ),
            MT.DISTANCE: f"Distance {(a.get('base') or {}).get('feature_name')} {a.get('reference')}",
        }[MT(self.kind)]

    def compute(
        self, inputs: dict[str, Any], outputs: Any = None, gts: Any = None, extra: Any = None
    ) -> Any:
        """The measurable's values for one call, as UpTrain computes them."""
        a, kind = self.args, self.kind
        if kind == MT.INPUT_FEATURE:
            return inputs[a["feature_name"]]
        if kind == MT.PREDICTION:
            return outputs
        if kind == MT.GROUND_TRUTH:
            return gts
        if kind == MT.IDENTIFIER:
            return inputs.get("id")
        if kind == MT.FEATURE_CONCAT:
            return np.transpose([inputs[x] for x in a["feat_name_list"]])
        if kind == MT.CUSTOM:
            return _custom(a["signal_formulae"], inputs, outputs, gts, extra)
        if kind in (MT.ACCURACY, MT.MAE, MT.MAPE, MT.REC_HIT_RATE):
            return _error(kind, outputs, gts)
        if kind == MT.CONDITION_ON_INPUT:
            return self._condition(inputs[a["feature_name"]])
        if kind == MT.CONDITION_ON_PREDICTION:
            return self._condition(outputs)
        if kind == MT.SCALAR_FROM_EMBEDDING:
            # UpTrain indexes the batch axis here (``values[idx]``), not the embedding's.
            return inputs[a["extract_from"]["feature_name"]][a["idx"]]
        return self._distance(inputs)

    def from_record(self, record: dict[str, Any]) -> Any:
        """The measurable of one reference record (UpTrain's ``extract_val_from_training_data``)."""
        if self.kind == MT.INPUT_FEATURE:
            return record[self.args["feature_name"]]
        if self.kind == MT.FEATURE_CONCAT:
            return [record[x] for x in self.args["feat_name_list"]]
        if self.kind == MT.SCALAR_FROM_EMBEDDING:
            return record[self.args["extract_from"]["feature_name"]][self.args["idx"]]
        if self.kind == MT.CUSTOM:
            fake = {k: np.array([v]) for k, v in record.items()}
            return _custom(self.args["signal_formulae"], fake, None, None, {})
        if self.kind == MT.PREDICTION:
            return record
        raise ConfigError(f"a reference dataset cannot give measurable {self.kind!r}")

    def _distance(self, inputs: dict[str, Any]) -> dict[str, Any]:
        from curate.compat.distances import distances

        base = np.asarray(inputs[self.args["base"]["feature_name"]], dtype=float)
        if self._ref_value is None:
            self._ref_value = base
        out = distances(self.args.get("distance_types", []), base, self._ref_value)
        if self.args.get("reference") == "running":
            self._ref_value = base
        return out


def _condition(condition: dict[str, Any]) -> Callable[[Any], Any]:
    if "formulae" in condition:
        op = _CONDITIONS.get(condition["formulae"])
        if op is None:
            raise ConfigError(f"condition formulae {condition['formulae']!r} is not supported")
        return lambda x: op(np.asarray(x), condition["threshold"])
    if "func" in condition:
        return condition["func"]
    raise ConfigError("condition_args needs 'formulae' (with 'threshold') or 'func'")


def _error(kind: str, outputs: Any, gts: Any) -> np.ndarray:
    if kind == MT.REC_HIT_RATE:
        return np.array([1 if gt in outputs[i] else 0 for i, gt in enumerate(gts)])
    gts, outputs = np.asarray(gts), np.asarray(outputs)
    if kind == MT.ACCURACY and outputs.ndim == gts.ndim + 1 and outputs.shape[-1] > 1:
        outputs = outputs.argmax(axis=-1)  # class probabilities: the predicted class
    outputs = np.reshape(outputs, gts.shape)
    if kind == MT.ACCURACY:
        return np.equal(outputs, gts)
    diff = np.abs(outputs.astype(float) - gts.astype(float))
    if kind == MT.MAE:
        return np.squeeze(diff)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 100 * np.squeeze(diff / np.abs(gts.astype(float)))


def _custom(formula: Any, inputs: dict[str, Any], outputs: Any, gts: Any, extra: Any) -> Any:
    from curate.compat.signals import call_signal

    return call_signal(formula, inputs, outputs, None, extra)
