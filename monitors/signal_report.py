"""Signal analysis read back from a store: per-window and total tables of every EDGE_CASE check.

The analysis (:mod:`monitors.signal_analysis`) writes each window's counts as JSON in the
``summary`` column of the window's first metrics row. This module reads those rows (through
:class:`curate.store_reader.StoreReader`), sums windows exactly into totals and builds pandas
frames of them; ``curate signals --store DIR`` prints :func:`format_report`.

* ``windows`` and ``totals``: one row per check, (window,) and leaf; the formula's own row comes
  first, with ``leaf`` :data:`FORMULA_LABEL`. Shares: ``coverage``, ``overlap`` (true together
  with another predicate), ``marginal`` (selected only because of it), ``unknown``, all of the
  window's ``rows``; ``precision`` of the ``labelled`` rows it selects (mispredicted share),
  ``marginal_precision`` of the labelled rows it alone made the formula select. Counts:
  ``true``, ``marginal_rows``, ``labelled``.
* ``overlaps`` and ``total_overlaps``: long frames of the ``L x L`` matrices, ``leaf``,
  ``other``, ``both`` (rows where both are true) and ``share`` (of the rows).

A check whose formula changed between runs has one group per formula (``formula`` column).

>>> import tempfile
>>> report = read_signal_report(tempfile.mkdtemp())
>>> report.totals.empty, list(report.totals.columns[:4])
(True, ['check', 'formula', 'leaf', 'rows'])
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from curate.enums import MonitorKind
from curate.store_reader import StoreReader
from curate.tables import Metric
from monitors.signal_analysis import FORMULA_COLUMN, WindowCounts

FORMULA_LABEL = "(formula)"
#: The metrics columns the report reads.
COLUMNS = ["ts", "window_start", "window_end", "writer", "monitor", "check", "column", "metric",
           "summary"]  # fmt: skip
_KEY = ["check", "formula"]
LEAF_COLUMNS = ["leaf", "rows", "coverage", "overlap", "marginal", "unknown", "precision",
                "marginal_precision", "true", "marginal_rows", "labelled"]  # fmt: skip
OVERLAP_COLUMNS = ["leaf", "other", "both", "share"]


@dataclass
class SignalReport:
    """The signal analysis of a store's EDGE_CASE checks (see the module docstring)."""

    windows: pd.DataFrame
    totals: pd.DataFrame
    overlaps: pd.DataFrame
    total_overlaps: pd.DataFrame

    def checks(self) -> list[tuple[str, str]]:
        """The ``(check, formula)`` groups, in the order their first window was written."""
        seen = self.totals.drop_duplicates(_KEY)
        return list(zip(seen["check"], seen["formula"], strict=True))


def read_signal_report(root: str | os.PathLike[str]) -> SignalReport:
    """The :class:`SignalReport` of the store at ``root`` (empty frames when it has none)."""
    reader = StoreReader(root)
    table = reader.read("metrics", COLUMNS) if reader.files("metrics") else pa.table({})
    return report_from_table(table)


def report_from_table(table: pa.Table) -> SignalReport:
    """The report of a metrics table (Arrow): its summary rows are picked before pandas sees
    them, so the rest of the table costs no conversion.

    >>> report_from_table(pa.table({})).windows.empty
    True
    """
    if not {"monitor", "metric", "column", "summary"} <= set(table.column_names):
        return report_from_metrics(pd.DataFrame(columns=COLUMNS))
    mask = pc.and_(
        pc.and_(pc.equal(table["monitor"], MonitorKind.EDGE_CASE.value),
                pc.equal(table["metric"], Metric.SIGNAL_COVERAGE)),
        pc.and_(pc.equal(table["column"], FORMULA_COLUMN), pc.is_valid(table["summary"])),
    )  # fmt: skip
    return report_from_metrics(table.filter(pc.fill_null(mask, False)).to_pandas())


def summary_rows(metrics: pd.DataFrame) -> pd.DataFrame:
    """The rows of a metrics frame that carry a signal-analysis window, oldest first.

    >>> summary_rows(pd.DataFrame(columns=COLUMNS)).empty
    True
    """
    if metrics.empty or "summary" not in metrics.columns:
        return pd.DataFrame(columns=COLUMNS)
    mask = (
        (metrics["monitor"] == MonitorKind.EDGE_CASE.value)
        & (metrics["metric"] == Metric.SIGNAL_COVERAGE)
        & (metrics["column"] == FORMULA_COLUMN)
        & metrics["summary"].notna()
    )
    order = [c for c in ("window_end", "ts", "writer") if c in metrics.columns]
    return metrics[mask].sort_values(order, kind="stable")


def report_from_metrics(metrics: pd.DataFrame) -> SignalReport:
    """Build the report from metrics rows with :data:`COLUMNS` (a summary that cannot be read
    is a ``ValueError`` naming the check and window)."""
    windows, overlaps, totals, total_overlaps = [], [], [], []
    sums: dict[tuple[str, str], WindowCounts] = {}
    index: dict[tuple[str, str], int] = {}
    for row in summary_rows(metrics).itertuples(index=False):
        try:
            counts = WindowCounts.from_summary(row.summary)
        except ValueError as exc:
            raise ValueError(f"check {row.check!r}, window ending {row.window_end}: {exc}") from exc
        formula = _formula(row.summary)
        key = (row.check, formula)
        k = index[key] = index.get(key, -1) + 1
        head = {"check": row.check, "formula": formula, "window": k,
                "window_start": row.window_start, "window_end": row.window_end}  # fmt: skip
        windows.append(leaf_table(counts).assign(**head))
        overlaps.append(overlap_table(counts).assign(**head))
        if key in sums:
            sums[key] += counts
        else:
            sums[key] = WindowCounts.from_summary(row.summary)
    for (check, formula), counts in sums.items():
        head = {"check": check, "formula": formula, "windows": index[(check, formula)] + 1}
        totals.append(leaf_table(counts).assign(**head))
        total_overlaps.append(overlap_table(counts).assign(**head))
    win_head = [*_KEY, "window", "window_start", "window_end"]
    return SignalReport(
        _frame(windows, [*win_head, *LEAF_COLUMNS]),
        _frame(totals, [*_KEY, *LEAF_COLUMNS, "windows"]),
        _frame(overlaps, [*win_head, *OVERLAP_COLUMNS]),
        _frame(total_overlaps, [*_KEY, *OVERLAP_COLUMNS]),
    )


def _formula(summary: str) -> str:
    return str(json.loads(summary).get("formula", ""))


def _frame(parts: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]


def _share(count: np.ndarray | int, n: np.ndarray | int) -> np.ndarray:
    count, n = np.asarray(count, dtype=np.float64), np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, count / np.where(n > 0, n, 1), np.nan)


def leaf_table(c: WindowCounts) -> pd.DataFrame:
    """One row for the formula, then one per predicate, of a window's (or a total's) counts.

    >>> c = WindowCounts(("a",), rows=4)
    >>> c.true[:] = 2
    >>> leaf_table(c)[["leaf", "coverage", "precision"]].to_dict("list")
    {'leaf': ['(formula)', 'a'], 'coverage': [0.0, 0.5], 'precision': [nan, nan]}
    """
    nan = np.full(1, np.nan)
    formula = {
        "leaf": [FORMULA_LABEL], "rows": [c.rows], "true": [c.selected],
        "coverage": _share(c.selected, c.rows).reshape(1), "overlap": nan, "marginal": nan,
        "unknown": _share(c.selected_unknown, c.rows).reshape(1),
        "precision": _share(c.selected_wrong, c.selected_labelled).reshape(1),
        "marginal_precision": nan, "marginal_rows": [np.nan],
        "labelled": [c.selected_labelled],
    }  # fmt: skip
    leaves = {
        "leaf": list(c.leaves), "rows": [c.rows] * len(c.leaves), "true": c.true,
        "coverage": _share(c.true, c.rows), "overlap": _share(c.overlap_any, c.rows),
        "marginal": _share(c.marginal, c.rows), "unknown": _share(c.unknown, c.rows),
        "precision": _share(c.wrong, c.labelled),
        "marginal_precision": _share(c.marginal_wrong, c.marginal_labelled),
        "marginal_rows": c.marginal, "labelled": c.labelled,
    }  # fmt: skip
    out = pd.concat([pd.DataFrame(formula), pd.DataFrame(leaves)], ignore_index=True)
    return out[LEAF_COLUMNS]


def overlap_table(c: WindowCounts) -> pd.DataFrame:
    """The ``L x L`` overlap matrix, long: rows where ``leaf`` and ``other`` are both true.

    >>> c = WindowCounts(("a", "b"), rows=2)
    >>> c.overlap[:] = [[2, 1], [1, 1]]
    >>> overlap_table(c)["share"].tolist()
    [1.0, 0.5, 0.5, 0.5]
    """
    k = len(c.leaves)
    leaf = np.repeat(np.array(c.leaves, dtype=object), k)
    other = np.tile(np.array(c.leaves, dtype=object), k)
    both = c.overlap.reshape(-1)
    return pd.DataFrame({"leaf": leaf, "other": other, "both": both,
                         "share": _share(both, c.rows)})  # fmt: skip


def format_report(report: SignalReport, check: str | None = None, window: int | None = None,
                  all_windows: bool = False) -> str:  # fmt: skip
    """The report as text: per check, the leaf table and the overlap matrix of the totals, or
    of window ``window`` (negative: from the latest), or of every window (``all_windows``).

    >>> format_report(read_signal_report("/nonexistent"))
    'no signal analysis in this store yet: EDGE_CASE checks write it per analysis_window rows'
    """
    groups = [g for g in report.checks() if check is None or g[0] == check]
    if not groups:
        if check is not None:
            known = ", ".join(repr(c) for c, _ in report.checks()) or "none"
            raise ValueError(f"no signal analysis for check {check!r}; checks: {known}")
        return (
            "no signal analysis in this store yet: EDGE_CASE checks write it per "
            "analysis_window rows"
        )
    parts = []
    for name, formula in groups:
        mine = (report.windows["check"] == name) & (report.windows["formula"] == formula)
        wins = report.windows[mine]
        n = int(wins["window"].max()) + 1
        head = f"check {name!r}" + ("" if formula == name else f": {formula}")
        parts.append(f"{head}\n{n:,} windows")
        if window is None and not all_windows:
            t = report.totals
            rows = t[(t["check"] == name) & (t["formula"] == formula)]
            o = report.total_overlaps
            parts.append(_block("total", rows, o[(o["check"] == name) & (o["formula"] == formula)]))
            continue
        chosen = range(n) if all_windows else [window if window >= 0 else n + window]
        for k in chosen:
            if not 0 <= k < n:
                raise ValueError(f"check {name!r} has windows 0..{n - 1}; no window {window}")
            o = report.overlaps
            o = o[(o["check"] == name) & (o["formula"] == formula) & (o["window"] == k)]
            rows = wins[wins["window"] == k]
            first = rows.iloc[0]
            title = f"window {k} ({_time(first['window_start'])} to {_time(first['window_end'])})"
            parts.append(_block(title, rows, o))
    return "\n\n".join(parts)


def _block(title: str, rows: pd.DataFrame, overlaps: pd.DataFrame) -> str:
    rows = rows.reset_index(drop=True)
    leaves = [leaf for leaf in rows["leaf"] if leaf != FORMULA_LABEL]
    table = pd.DataFrame({
        "leaf": rows["leaf"],
        "coverage": rows["coverage"].map(_pct),
        "overlap": rows["overlap"].map(_pct),
        "marginal": rows["marginal"].map(_pct),
        "marginal rows": rows["marginal_rows"].map(_count),
        "unknown": rows["unknown"].map(_pct),
        "precision": rows["precision"].map(_pct),
        "labelled": rows["labelled"].map(_count),
    })  # fmt: skip
    tag = {leaf: f"[{i + 1}]" for i, leaf in enumerate(leaves)}
    table["leaf"] = [f"{tag.get(leaf, '   ')} {leaf}" for leaf in table["leaf"]]
    matrix = overlaps.pivot(index="leaf", columns="other", values="share")
    matrix = matrix.reindex(index=leaves, columns=leaves).map(_pct)
    matrix.index = [f"{tag[leaf]} {leaf}" for leaf in leaves]
    matrix.columns = [tag[leaf] for leaf in leaves]
    n = int(rows["rows"].iloc[0])
    return (f"{title}, {n:,} rows\n{_text_table(table)}\n"
            f"overlap (share of rows where both are true):\n{matrix.to_string()}")  # fmt: skip


def _pct(value: float) -> str:
    return "-" if pd.isna(value) else f"{value:.2%}"


def _count(value: float) -> str:
    return "-" if pd.isna(value) else f"{int(value):,}"


def _time(value: object) -> str:
    return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%S UTC")


def _text_table(table: pd.DataFrame) -> str:
    """Columns of strings: the first left-aligned, the others right-aligned."""
    cols = list(table.columns)
    widths = [max(len(c), *(len(v) for v in table[c])) for c in cols]
    lines = []
    for cells in [cols, *table.itertuples(index=False)]:
        first, *rest = cells
        line = [str(first).ljust(widths[0])]
        line += [str(v).rjust(w) for v, w in zip(rest, widths[1:], strict=True)]
        lines.append("  ".join(line).rstrip())
    return "\n".join(lines)
