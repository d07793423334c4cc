"""Concept-drift detectors over a stream of per-row errors, one module per detector."""

from monitors.detectors.adwin import ADWIN
from monitors.detectors.ddm import DDM

__all__ = ["ADWIN", "DDM"]
