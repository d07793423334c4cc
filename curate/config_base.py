"""Base models shared by every check's configuration (one pydantic model per monitor kind).

Unknown keys are errors that name the key and list the valid ones, because a misspelt option that
is silently ignored is the worst kind of configuration bug.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from curate.enums import COLUMN_MEASURABLES, MeasurableType


class StrictModel(BaseModel):
    """A pydantic model that rejects unknown keys with a message listing the valid keys.

    >>> class M(StrictModel):
    ...     a: int = 1
    >>> try:
    ...     M.model_validate({"b": 2})
    ... except ValueError as exc:
    ...     print(exc.errors()[0]["msg"])
    Value error, unknown key 'b'; valid keys: a
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, frozen=False)

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            valid = set(cls.model_fields) | {f.alias for f in cls.model_fields.values() if f.alias}
            unknown = [k for k in data if k not in valid]
            if unknown:
                raise ValueError(
                    f"unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(valid))}"
                )
        return data


class MeasurableArgs(StrictModel):
    """What a check measures: ``{"type": MeasurableType.INPUT_FEATURE, "feature_name": "text"}``.

    >>> MeasurableArgs(type="input_feature", feature_name="text").feature_name
    'text'
    """

    type: MeasurableType = MeasurableType.INPUT_FEATURE
    feature_name: str | None = None

    @field_validator("type")
    @classmethod
    def _a_column(cls, value: MeasurableType) -> MeasurableType:
        if value not in COLUMN_MEASURABLES:
            raise ValueError(
                f"measurable {value.value!r} is computed by UpTrain-style checks only; native "
                "checks read input_feature, prediction, ground_truth or identifier"
            )
        return value

    @property
    def label(self) -> str:
        """The column name shown in metrics and on the dashboard."""
        if self.feature_name:
            return self.feature_name
        return {
            MeasurableType.PREDICTION: "outputs",
            MeasurableType.GROUND_TRUTH: "gts",
            MeasurableType.IDENTIFIER: "identifiers",
        }.get(self.type, "input")


class CheckBase(StrictModel):
    """Fields every check accepts. Subclasses add ``type: Literal[<kind>]`` and their own."""

    name: str | None = None
