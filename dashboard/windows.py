"""Drift windows as the drift page picks and draws them: every tested window of a column, its
verdicts, and the summary its statistics were computed from.

A DATA_DRIFT check writes, per closed window, one metrics row per statistic; the first of them
carries the window's summary as JSON in the ``summary`` column (``docs/store.md``): the bins
the statistics compared, with reference and window counts. Bounds alone do not identify a
window: two processes may close windows with the same bounds, and row windows filled by one
``log()`` call all have that call's timestamp. A window's rows are written together, so
:func:`drift_rows` numbers windows in the order rows were written, per column and writer: a
window ends where the bounds change or a statistic repeats. Windows written before summaries
existed have none; the page says so instead of drawing something else.

>>> import tempfile, pathlib
>>> drift_windows(pathlib.Path(tempfile.mkdtemp()), "text").empty
True
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from curate.enums import MonitorKind
from dashboard.cache import memo, read_table

DRIFT = MonitorKind.DATA_DRIFT.value
_COLUMNS = ["window_start", "window_end", "writer", "monitor", "check", "column", "metric",
            "value", "threshold", "flagged", "n", "summary"]  # fmt: skip
WINDOW_COLUMNS = ["window", "window_start", "window_end", "writer", "n", "rows", "flagged",
                  "alarms", "has_summary"]  # fmt: skip
# Summaries are parsed only for the window drawn; the picker needs just their row count.
_ROWS = re.compile(r'"rows":(\d+)')


class WindowKey(NamedTuple):
    """Which window: its column and its number (:func:`drift_rows`)."""

    column: str
    window: int


def number_windows(df: pd.DataFrame) -> np.ndarray:
    """A window number for each row (the position of the window's first row), rows in the
    order they were written.

    >>> df = pd.DataFrame({"column": ["x"] * 4, "writer": ["w"] * 4, "window_start": [0] * 4,
    ...                    "window_end": [1] * 4, "check": ["js", "oov", "js", "oov"],
    ...                    "metric": ["js", "oov_rate", "js", "oov_rate"]})
    >>> number_windows(df).tolist()
    [0, 0, 2, 2]
    """
    ids = np.empty(len(df), np.int64)
    open_windows: dict[tuple, tuple[tuple, set, int]] = {}
    cols = ["column", "writer", "window_start", "window_end", "check", "metric"]
    for i, (column, writer, start, end, check, metric) in enumerate(df[cols].itertuples(False)):
        state = open_windows.get((column, writer))
        if state is None or state[0] != (start, end) or (check, metric) in state[1]:
            state = ((start, end), set(), i)
            open_windows[(column, writer)] = state
        state[1].add((check, metric))
        ids[i] = state[2]
    return ids


@memo(["metrics"])
def drift_rows(root: Path) -> pd.DataFrame:
    """Every drift metrics row with its writer, summary text and ``window`` number, oldest
    window first.

    >>> import tempfile
    >>> list(drift_rows(Path(tempfile.mkdtemp())).columns) == [*_COLUMNS, "window"]
    True
    """
    table = read_table(root, "metrics", _COLUMNS)
    if table.num_rows:
        table = table.filter(pc.equal(table["monitor"], DRIFT))
    df = table.to_pandas()
    df["window"] = number_windows(df)
    order = ["window_end", "window_start", "window"]
    return df.sort_values(order, kind="stable").reset_index(drop=True)


def _parse(text: Any) -> dict[str, Any] | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _summary_text(g: pd.DataFrame) -> str | None:
    texts = [t for t in g["summary"] if isinstance(t, str) and t]
    return texts[0] if texts else None


@memo(["metrics"])
def drift_windows(root: Path, column: str) -> pd.DataFrame:
    """One row per tested window of ``column``, oldest first: bounds, writer, values tested
    (``n``: words for text), ``rows`` (from the summary; ``None`` without one), ``flagged``
    (any verdict drifted), ``alarms`` (the methods that drifted) and ``has_summary`` (false for
    windows written before summaries were kept; :func:`window_summary` reads one).

    >>> import tempfile
    >>> list(drift_windows(Path(tempfile.mkdtemp()), "x").columns) == WINDOW_COLUMNS
    True
    """
    df = drift_rows(root)
    df = df[df["column"] == column]
    if df.empty:
        return pd.DataFrame(columns=WINDOW_COLUMNS)
    rows = []
    for window, g in df.groupby("window", sort=False):
        verdicts = g[g["threshold"].notna()]
        flagged = verdicts["flagged"].fillna(False).astype(bool)
        text = _summary_text(g)
        rows_match = _ROWS.search(text) if text else None
        first = g.iloc[0]
        rows.append({"window": window, "window_start": first["window_start"],
                     "window_end": first["window_end"], "writer": first["writer"],
                     "n": int(g["n"].max()),
                     "rows": int(rows_match.group(1)) if rows_match else None,
                     "flagged": bool(flagged.any()),
                     "alarms": sorted(verdicts.loc[flagged, "check"].unique()),
                     "has_summary": text is not None})  # fmt: skip
    out = pd.DataFrame(rows, columns=WINDOW_COLUMNS)
    order = ["window_end", "window_start", "window"]
    return out.sort_values(order, kind="stable").reset_index(drop=True)


def window_verdicts(root: Path, key: WindowKey) -> pd.DataFrame:
    """The statistics of one window: ``check``, ``metric``, ``value``, ``threshold``,
    ``flagged`` and ``n`` (auxiliary rows, such as a test's statistic, have no threshold).

    >>> import tempfile
    >>> window_verdicts(Path(tempfile.mkdtemp()), WindowKey("x", 0)).empty
    True
    """
    df = drift_rows(root)
    mask = (df["column"] == key.column) & (df["window"] == key.window)
    cols = ["check", "metric", "value", "threshold", "flagged", "n"]
    return df.loc[mask, cols].reset_index(drop=True)


@memo(["metrics"])
def window_summary(root: Path, key: WindowKey) -> dict[str, Any] | None:
    """The summary one window's statistics were computed from (``docs/store.md``), or ``None``
    for a window written before summaries were kept.

    >>> import tempfile
    >>> window_summary(Path(tempfile.mkdtemp()), WindowKey("x", 0)) is None
    True
    """
    df = drift_rows(root)
    rows = df[(df["column"] == key.column) & (df["window"] == key.window)]
    return _parse(_summary_text(rows)) if not rows.empty else None


def default_window(windows: pd.DataFrame) -> int:
    """The window shown first: the latest that drifted, else the latest (row position).

    >>> default_window(pd.DataFrame({"flagged": [True, False, True, False]}))
    2
    >>> default_window(pd.DataFrame({"flagged": [False, False]}))
    1
    """
    flagged = [i for i, f in enumerate(windows["flagged"]) if f]
    return flagged[-1] if flagged else len(windows) - 1
