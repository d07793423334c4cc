"""curate: monitor what production sends a model, curate edge cases, retrain on them.

>>> from curate import Framework, Signal, Monitor, MeasurableType
>>> Monitor.EDGE_CASE.value, MeasurableType.INPUT_FEATURE.value
('edge_case', 'input_feature')
"""

from curate.config import Config
from curate.enums import MeasurableType, Monitor
from curate.errors import ConfigError, CurateError, LogInputError, SignalError, StoreError
from curate.framework import Framework
from curate.signals import Signal, signal

__all__ = [
    "Config",
    "ConfigError",
    "CurateError",
    "Framework",
    "LogInputError",
    "MeasurableType",
    "Monitor",
    "Signal",
    "SignalError",
    "StoreError",
    "signal",
]
__version__ = "0.1.0"
