"""Concept-drift detectors over a stream of per-row errors, one module per detector.

Importing the package fills :data:`DETECTORS`; the import order below is the registry's order,
which is the order of a concept-drift check's metric rows (DDM's before ADWIN's).
"""

from monitors.detectors.base import DETECTORS, Detection, DriftDetector
from monitors.detectors.ddm import DDM

# isort: split
from monitors.detectors.adwin import ADWIN

__all__ = ["ADWIN", "DDM", "DETECTORS", "Detection", "DriftDetector"]
