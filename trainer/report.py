"""Plain-text reports of runs and probes (used by the CLI and the example).

>>> print(format_table([{"a": 1, "b": "xy"}], ["a", "b"]))
a  b
-  --
1  xy
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow.parquet as pq

from curate.runs import Run
from trainer.probe_eval import positive_share, stage_tokens


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Left-aligned columns separated by two spaces, with a dashed rule under the header."""
    cells = [[str(c) for c in columns]]
    cells += [["" if r.get(c) is None else str(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = [
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: Any, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _duration(record: dict[str, Any]) -> str:
    start, end = record.get("started_at"), record.get("finished_at")
    if not start or not end:
        return ""
    seconds = (dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)).total_seconds()
    return f"{seconds:.0f}s"


def _change(metrics: dict[str, Any], name: str) -> str:
    before, after = metrics.get(f"{name}_before"), metrics.get(f"{name}_after")
    return "" if before is None else f"{_fmt(before)} -> {_fmt(after)}"


#: What a run recorded before runs kept their task's declarations (the language-model tasks).
_LM_INFO = {"task": "mlm", "figures": ["loss", "perplexity"], "target": "perplexity",
            "probe_kind": "mask", "higher_is_better": False}  # fmt: skip


def task_info(run: Run) -> dict[str, Any]:
    """The run's ``task_info`` (figures, target, probe kind), or the language models' for
    runs recorded before it existed.

    >>> class R:
    ...     record = {"task_info": {"target": "macro_f1"}}
    >>> task_info(R())["target"], task_info(R())["figures"]
    ('macro_f1', ['loss', 'perplexity'])
    """
    return {**_LM_INFO, **(run.record.get("task_info") or {})}


def runs_table(runs: Iterable[Run]) -> str:
    """One line per run: id, status, trigger, rows, base model, the task's target figure on
    target eval and retention before → after."""
    rows = []
    for run in runs:
        rec, metrics = run.record, run.record.get("metrics") or {}
        target = task_info(run)["target"]
        rows.append(
            {
                "run": run.run_id,
                "status": run.status,
                "trigger": rec.get("trigger"),
                "created": (rec.get("created_at") or "")[:19].replace("T", " "),
                "took": _duration(rec),
                "rows": rec.get("snapshot_rows"),
                "from": rec.get("base_model"),
                "task": task_info(run)["task"],
                "target": f"{target} {_change(metrics, target)}" if metrics else "",
                "retention": _change(metrics, f"retention_{target}"),
                "error": (run.error or "").splitlines()[0][:60] if run.error else None,
            }
        )
    columns = ["run", "status", "trigger", "created", "took", "rows", "task", "from", "target"]
    columns.append("retention")
    if any(r["error"] for r in rows):
        columns.append("error")
    return format_table(rows, columns)


def _figure_lines(m: dict[str, Any], figures: Sequence[str]) -> list[str]:
    sets = (
        ("", "target eval", f"{m.get('eval_samples')} held-out edge cases"),
        ("retention_", "retention", f"{m.get('retention_samples')} held-out traffic-sample texts"),
    )
    lines = []
    for prefix, label, count in sets:
        for figure in figures:
            name = f"{prefix}{figure}" if prefix or figure != "loss" else "eval_loss"
            before, after = m.get(f"{name}_before"), m.get(f"{name}_after")
            if figure == "loss" or before is None:
                continue
            change = "" if after is None or not before else f" ({(after - before) / before:+.1%})"
            text = (
                f"{_fmt(before, 4 if before < 10 else 2)} -> {_fmt(after, 4 if before < 10 else 2)}"
            )
            lines.append(f"{label} {figure.replace('_', ' ')} ({count}): {text}{change}")
    return lines


def figures_report(run: Run) -> str:
    """The task's figures on target eval and retention, before → after, with what the
    training set held.

    >>> from curate.runs import Run
    >>> class R:  # a stand-in store-less run
    ...     record = {"metrics": {"perplexity_before": 20.0, "perplexity_after": 10.0,
    ...               "new_edge_cases": 90, "eval_samples": 10}}
    >>> print(figures_report(R()))  # doctest: +NORMALIZE_WHITESPACE
    target eval perplexity (10 held-out edge cases): 20.00 -> 10.00 (-50.0%)
    training rows: 90 new edge cases, 0 replayed from traffic, 0 replayed earlier edge cases
    """
    m = run.record.get("metrics") or {}
    lines = _figure_lines(m, task_info(run)["figures"])
    if m.get("trainable_parameters") and m.get("total_parameters"):
        lines.append(
            f"trainable parameters: {m['trainable_parameters']:,} of {m['total_parameters']:,}"
        )
    lines.append(
        f"training rows: {m.get('new_edge_cases', 0)} new edge cases, "
        f"{m.get('replay_traffic', 0)} replayed from traffic, "
        f"{m.get('replay_edge_cases', 0)} replayed earlier edge cases"
    )
    return "\n".join(lines)


def run_summary(run: Run) -> str:
    """Status, why, the figures and where the model is (for ``curate train`` and the demo)."""
    if not run.has_model:
        return f"{run.run_id} {run.status}: {run.error}"
    promotion = run.record.get("promotion") or {}
    decision = run.record.get("decision")
    why = promotion.get("reason", "")
    if decision:
        why = f"set by hand ({decision.get('reason') or 'no reason given'}); the rule said: {why}"
    took = (run.record.get("timings") or {}).get("train", 0)
    return (
        f"{run.run_id} {run.status}: {why}\n{figures_report(run)}\n"
        f"{took:.0f}s training; model in {run.store.root / run.record['model_path']}"
    )


def read_probes(run: Run) -> list[dict[str, Any]]:
    """The run's ``probes.parquet`` rows (empty when the run stored none)."""
    path = run.path / "probes.parquet"
    return pq.read_table(path).to_pylist() if path.exists() else []


def side_by_side(rows: Sequence[dict[str, Any]], left: str = "before", right: str = "after") -> str:
    """Each probe's top-k of two stages next to each other, ``token (score)``, by rank."""
    blocks = []
    probes = list(dict.fromkeys(r["probe"] for r in rows))
    for probe in probes:
        cells: dict[tuple[str, int], str] = {
            (r["stage"], int(r["rank"])): f"{r['token']} ({r['score']:.3f})"
            for r in rows
            if r["probe"] == probe
        }
        ranks = sorted({rank for _, rank in cells})
        table = [
            {"#": k, left: cells.get((left, k), ""), right: cells.get((right, k), "")}
            for k in ranks
        ]
        blocks.append(f"{probe}\n{format_table(table, ['#', left, right])}")
    return "\n\n".join(blocks)


def share_summary(
    rows: Sequence[dict[str, Any]], positive: Iterable[str], negative: Iterable[str]
) -> str:
    """``positive share before -> after`` (and negatives) over every probe's top-k."""
    positive, negative = set(positive), set(negative)
    parts = []
    for stage in ("before", "after"):
        tokens = list(stage_tokens(rows, stage).values())
        share, n_neg = positive_share(tokens, positive, negative)
        parts.append(f"{stage}: {share:.0%} positive, {n_neg} negative")
    return "share of positive adjectives in the top-k: " + "; ".join(parts)


def probe_report(
    run: Run, positive: Iterable[str] | None = None, negative: Iterable[str] | None = None
) -> str:
    """The run's stored probes side by side, plus the positive share when a lexicon is given."""
    rows = read_probes(run)
    if not rows:
        return f"run {run.run_id} stored no probes"
    text = side_by_side(rows)
    if positive is not None:
        text += "\n\n" + share_summary(rows, positive, negative or ())
    return text
