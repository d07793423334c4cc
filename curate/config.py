"""The Framework's configuration: the UpTrain-style dict, validated, or the typed models.

>>> from curate.signals import Signal
>>> cfg = Config.load({"checks": [{"type": "edge_case",
...                                "signal_formulae": Signal.contains("nike")}],
...                    "retraining_folder": "curate_data", "retrain_after": 1000})
>>> cfg.retrain_after, type(cfg.checks[0]).__name__
(1000, 'EdgeCaseCheck')
>>> Config.load({"checks": [], "retrain_afer": 10})
Traceback (most recent call last):
...
curate.errors.ConfigError: invalid config: unknown key 'retrain_afer'; valid keys: alert_sinks, batch_size, checks, ...
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from curate.config_base import StrictModel
from curate.delta_store import store_root
from curate.errors import ConfigError
from curate.retention import parse_retention
from curate.sinks.spec import SPECS, SinkSpec


def _registry() -> dict[str, type]:
    # Importing the monitor modules registers them; the config sees monitors only through here.
    import monitors.edge_case  # noqa: F401
    import monitors.integrity  # noqa: F401
    from monitors.base import REGISTRY

    # UpTrain 0.2's checks, run with UpTrain's semantics (curate.compat) under "uptrain_<kind>".
    compat = ("curate.compat.integrity", "curate.compat.concept_drift", "curate.compat.custom")
    for optional in ("monitors.drift", "monitors.concept_drift", *compat):
        try:
            __import__(optional)
        except ImportError:
            continue
    return REGISTRY


def parse_check(check: Any, index: int) -> Any:
    """Validate one entry of ``checks`` with the model of its ``type``."""
    registry = _registry()
    if not isinstance(check, dict):
        models = tuple(m.config_model for m in registry.values())
        if isinstance(check, models):
            return check
        raise ValueError(f"checks[{index}] must be a dict, got {type(check).__name__}")
    if "type" not in check:
        raise ValueError(f"checks[{index}]: missing key 'type'; valid types: {', '.join(registry)}")
    kind = check.get("type")
    kind = getattr(kind, "value", kind)
    if not isinstance(kind, str) or kind not in registry:
        raise ValueError(
            f"checks[{index}]: unknown check type {kind!r}; valid types: {', '.join(registry)}"
        )
    model = registry[kind].config_model
    try:
        return model.model_validate({**check, "type": kind})
    except ValidationError as exc:
        raise ValueError(f"checks[{index}] ({kind}): {format_errors(exc)}") from None


def parse_sink(spec: Any, index: int) -> SinkSpec:
    """Validate one entry of ``alert_sinks`` with the model of its ``type``.

    >>> parse_sink({"type": "pager", "url": "https://x.org"}, 0)
    Traceback (most recent call last):
    ...
    ValueError: alert_sinks[0]: unknown sink type 'pager'; valid types: webhook, callback, slack
    """
    if isinstance(spec, SinkSpec):
        return spec
    valid = ", ".join(SPECS)
    if not isinstance(spec, dict):
        raise ValueError(f"alert_sinks[{index}] must be a dict, got {type(spec).__name__}")
    if "type" not in spec:
        raise ValueError(f"alert_sinks[{index}]: missing key 'type'; valid types: {valid}")
    kind = spec["type"]
    if not isinstance(kind, str) or kind not in SPECS:
        raise ValueError(f"alert_sinks[{index}]: unknown sink type {kind!r}; valid types: {valid}")
    try:
        return SPECS[kind].model_validate(spec)
    except ValidationError as exc:
        raise ValueError(f"alert_sinks[{index}] ({kind}): {format_errors(exc)}") from None


class Config(StrictModel):
    """Everything a :class:`~curate.framework.Framework` needs.

    ``retrain_after`` counts edge cases since the last training run; reaching it starts
    ``on_retrain`` (a callable given the new :class:`~curate.runs.Run`) or, when
    ``training_args`` is set, the trainer in a background process.
    """

    checks: list[Any] = Field(default_factory=list)
    #: A local folder, or an object-storage URI (``s3://...``: a Delta store, ``docs/store.md``).
    retraining_folder: Path | str = Path("curate_data")
    retrain_after: int | None = Field(None, gt=0)
    training_args: dict[str, Any] | None = None
    on_retrain: Callable[..., Any] | None = None
    strict: bool = False
    #: Where monitoring runs: ``"thread"``, a writer thread of this process (notebooks, tests),
    #: or ``"process"``, a child process (``curate.process_mode``), which leaves this process's
    #: GIL to the request threads of a service.
    mode: Literal["thread", "process"] = "thread"
    #: Log into a collector (``curate serve``, ``curate.remote``) instead of a store of our own:
    #: ``"http://host:port"``. Its own config's checks run there.
    remote: str | None = None
    batch_size: int = Field(20_000, gt=0)
    flush_interval: float = Field(1.0, gt=0)
    max_pending_rows: int = Field(500_000, gt=0)
    #: Rows kept in the uniform sample of all traffic (``curate.traffic``); 0 keeps none.
    traffic_sample: int = Field(20_000, ge=0)
    #: Seeds the traffic sample's random keys, for a sample that is the same on every run of
    #: the same stream (tests, demos); ``None``: fresh randomness. Give each writer its own.
    traffic_seed: int | None = None
    #: Where new alerts go besides the store (``curate.sinks.spec``): webhook, callback, slack.
    alert_sinks: list[Any] = Field(default_factory=list)
    #: Serve Prometheus metrics (``curate.prometheus``) on this port while the Framework is open;
    #: ``None``: no endpoint; 0: any free port (``fw.metrics_server.port`` says which).
    prometheus_port: int | None = None
    #: The address it listens on: loopback, unless you mean other hosts to reach it.
    prometheus_addr: str = "127.0.0.1"
    #: How long tables keep rows, e.g. ``{"metrics": "90d", "quarantine": "30d"}``: what
    #: ``curate compact`` expires (``curate.retention``); tables not named keep everything.
    retention: dict[str, str] = Field(default_factory=dict)

    @field_validator("checks", mode="before")
    @classmethod
    def _checks(cls, value: Any) -> list[Any]:
        if not isinstance(value, list | tuple):
            raise ValueError(f"checks must be a list of check dicts, got {type(value).__name__}")
        return [parse_check(c, i) for i, c in enumerate(value)]

    @field_validator("alert_sinks", mode="before")
    @classmethod
    def _alert_sinks(cls, value: Any) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list | tuple):
            raise ValueError(
                f"alert_sinks must be a list of sink dicts, got {type(value).__name__}"
            )
        return [parse_sink(s, i) for i, s in enumerate(value)]

    @field_validator("retention", mode="before")
    @classmethod
    def _retention(cls, value: Any) -> dict[str, str]:
        try:
            return parse_retention(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("prometheus_port", mode="before")
    @classmethod
    def _prometheus_port(cls, value: Any) -> int | None:
        if value is None:
            return None
        # bool is an int to pydantic; "9100" from an environment variable is a port.
        number = value if isinstance(value, int) and not isinstance(value, bool) else None
        if isinstance(value, str) and value.strip().isdigit():
            number = int(value)
        if number is None or not 0 <= number <= 65535:
            raise ValueError(
                "prometheus_port must be a port number from 0 to 65535 (0: any free port) or "
                f"None, got {value!r}"
            )
        return number

    @field_validator("training_args", mode="before")
    @classmethod
    def _training_args(cls, value: Any) -> Any:
        if value is None:
            return None
        try:
            from trainer.config import TrainingArgs
        except ImportError:  # the trainer is optional for monitoring-only installs
            return dict(value)
        if isinstance(value, TrainingArgs):
            return value.model_dump()
        try:
            return TrainingArgs.model_validate(value).model_dump(exclude_unset=True)
        except ValidationError as exc:
            raise ValueError(format_errors(exc)) from None

    @model_validator(mode="after")
    def _retraining(self) -> Config:
        if self.on_retrain is not None and self.training_args is not None:
            raise ValueError("give either on_retrain or training_args, not both")
        if self.remote is not None and not self.remote.startswith(("http://", "https://")):
            raise ValueError(f"remote: give the collector as http://host:port, not {self.remote!r}")
        if self.remote is not None and (
            self.strict
            or self.retrain_after
            or self.training_args
            or self.alert_sinks
            or self.prometheus_port is not None
        ):
            raise ValueError(
                "remote: the collector holds the store, so training, alert sinks, Prometheus "
                "and strict mode are configured on the collector (curate serve --config), not "
                "on a replica that logs into it"
            )
        if self.strict and self.mode == "process":
            raise ValueError(
                "mode: strict=True processes each call in the caller's thread, so it cannot "
                "run in another process; use mode='thread' (the default) with strict=True"
            )
        return self

    @classmethod
    def load(cls, config: Config | dict[str, Any] | None = None, **overrides: Any) -> Config:
        """A validated config from a dict (or a Config), with keyword overrides.

        Raises :class:`~curate.errors.ConfigError` naming each wrong key and what was expected.
        """
        if isinstance(config, Config):
            # Validated entries as they are: a dump would turn them back into dicts to check again.
            kept = {"checks": config.checks, "alert_sinks": config.alert_sinks}
            data = {**config.model_dump(), **kept, **overrides}
        else:
            data = {**(config or {}), **overrides}
        if "retraining_folder" in data and isinstance(data["retraining_folder"], str | os.PathLike):
            try:
                data["retraining_folder"] = store_root(data["retraining_folder"])
            except ConfigError as exc:
                raise ConfigError(f"invalid config: retraining_folder: {exc}") from None
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(f"invalid config: {format_errors(exc)}") from None


def format_errors(exc: ValidationError) -> str:
    """pydantic errors as ``key.path: message`` lines, without pydantic's boilerplate."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        # Messages from our own validators may already start with a more precise path.
        parts.append(f"{loc}: {msg}" if loc and not msg.startswith(loc) else msg)
    return "; ".join(parts)
