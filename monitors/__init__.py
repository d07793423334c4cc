"""Monitors: one module per check kind, the statistics and detectors they use.

Importing the package registers the signal constructors this layer provides to the core
(``Signal.drift_outlier``).
"""

from monitors import drift_signals as _drift_signals  # noqa: F401
