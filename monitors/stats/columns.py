"""Old name of :mod:`monitors.stats.column_profile` (and :mod:`monitors.stats.embedding`).

Kept only so imports not yet moved keep working (``monitors/drift_signals.py``); import from the
new modules, and delete this file once nothing imports it.
"""

from monitors.stats.column_profile import (
    COLUMN_TYPES,
    MAX_WORDS,
    CategoricalProfile,
    ColumnProfile,
    EmbeddingProfile,
    NumericProfile,
    ProfileOptions,
    TextProfile,
    build_column,
    numeric_values,
)
from monitors.stats.embedding import embedding_matrix

__all__ = [
    "COLUMN_TYPES",
    "MAX_WORDS",
    "CategoricalProfile",
    "ColumnProfile",
    "EmbeddingProfile",
    "NumericProfile",
    "ProfileOptions",
    "TextProfile",
    "build_column",
    "embedding_matrix",
    "numeric_values",
]
