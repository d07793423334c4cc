"""How the dashboard names things: checks by their ``name``, signal columns by their leaf.

Edge cases carry their check's formula text in ``reasons``; the store's latest Framework
recorded each check's name beside that text (``framework.json``). Signal columns are named by a
slug of their leaf; the leaf's own text is the column's display name (field metadata).

>>> import tempfile
>>> from pathlib import Path
>>> check_names(Path(tempfile.mkdtemp())), signal_labels(Path(tempfile.mkdtemp()))
({}, {})
"""

from __future__ import annotations

from pathlib import Path

from curate.store_reader import StoreReader
from curate.tables import SIGNAL_PREFIX, display_name
from dashboard.cache import table_schema


def check_names(root: Path) -> dict[str, str]:
    """``{reason: name}`` of the edge-case checks the store's latest Framework recorded: the
    reason is the formula text edge cases carry in ``reasons``."""
    names = {}
    for check in StoreReader(root).settings().get("checks") or []:
        if isinstance(check, dict) and check.get("reason") and check.get("name"):
            names[str(check["reason"])] = str(check["name"])
    return names


def signal_labels(root: Path) -> dict[str, str]:
    """``{column: label}`` of the retraining set's signal columns: the leaf's text where the
    column keeps it, else the column name without ``signal.``."""
    labels = {}
    for field in table_schema(root, "retraining"):
        if field.name.startswith(SIGNAL_PREFIX):
            shown = display_name(field)
            labels[field.name] = shown if shown != field.name else field.name[len(SIGNAL_PREFIX) :]
    return labels
