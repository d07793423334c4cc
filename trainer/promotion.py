"""The promotion rule: a run's model replaces the current one only when it is better.

Each task names the figure that decides (``Task.target``: perplexity for the language models,
macro-F1 for classification, F1 for QA) and whether higher is better. A finished run is
**promoted** when

- that figure on the target eval set (held-out edge cases) improved by at least
  ``min_improvement`` (a share of the starting model's; 0: any improvement), and
- on the retention set (held-out traffic-sample examples) it got worse by at most
  ``retention_tolerance`` (a share of the starting model's; 0.10: at most 10% worse).

Otherwise it is **rejected**: its model and figures are kept, but ``latest`` and the next run
ignore it. A retention set that could not be measured (no traffic sample yet, or none of its
rows has what the task needs, such as a label) is reported as such and does not block
promotion. Both figures compare the run's model with the model it started from, on the same
examples.

>>> decide({"perplexity_before": 20.0, "perplexity_after": 12.0,
...         "retention_perplexity_before": 30.0, "retention_perplexity_after": 31.0},
...        min_improvement=0.0, retention_tolerance=0.1)["status"]
'promoted'
>>> decide({"macro_f1_before": 0.4, "macro_f1_after": 0.7}, min_improvement=0.0,
...        retention_tolerance=0.1, target="macro_f1", higher_is_better=True)["target"]
'target macro_f1 0.4 -> 0.7 (needed > 0.4)'
"""

from __future__ import annotations

from typing import Any


def _improved(before: float, after: float, share: float, higher: bool) -> tuple[bool, float, str]:
    if higher:
        limit = before * (1 + share)
        return after > limit, limit, ">"
    limit = before * (1 - share)
    return after < limit, limit, "<"


def _target(
    metrics: dict[str, Any], name: str, min_improvement: float, higher: bool
) -> tuple[bool, str]:
    before, after = metrics.get(f"{name}_before"), metrics.get(f"{name}_after")
    if before is None or after is None:
        return False, f"target eval {name} was not measured"
    ok, limit, sign = _improved(before, after, min_improvement, higher)
    if ok:
        return True, f"target {name} {before:.4g} -> {after:.4g} (needed {sign} {limit:.4g})"
    return False, (
        f"target {name} did not improve enough: {before:.4g} -> {after:.4g} "
        f"(needed {sign} {limit:.4g})"
    )


def _retention(
    metrics: dict[str, Any], name: str, tolerance: float, higher: bool
) -> tuple[bool, str]:
    before = metrics.get(f"retention_{name}_before")
    after = metrics.get(f"retention_{name}_after")
    if before is None or after is None:
        return True, "retention not measured (no usable traffic-sample rows)"
    limit = before * (1 - tolerance) if higher else before * (1 + tolerance)
    ok = after >= limit if higher else after <= limit
    sign = ">=" if higher else "<="
    if ok:
        return True, f"retention {name} {before:.4g} -> {after:.4g} (allowed {sign} {limit:.4g})"
    return False, (
        f"retention got worse beyond the tolerance: {name} {before:.4g} -> {after:.4g} "
        f"(allowed {sign} {limit:.4g}, {tolerance:.0%})"
    )


def decide(
    metrics: dict[str, Any],
    *,
    min_improvement: float,
    retention_tolerance: float,
    target: str = "perplexity",
    higher_is_better: bool = False,
) -> dict[str, Any]:
    """``{status, reason, target_ok, retention_ok, ...}`` for a finished run's metrics.

    >>> decide({"perplexity_before": 10.0, "perplexity_after": 11.0},
    ...        min_improvement=0.0, retention_tolerance=0.1)["status"]
    'rejected'
    """
    target_ok, target_text = _target(metrics, target, min_improvement, higher_is_better)
    retention_ok, retention = _retention(metrics, target, retention_tolerance, higher_is_better)
    promoted = target_ok and retention_ok
    return {
        "status": "promoted" if promoted else "rejected",
        "by": "rule",
        "metric": target,
        "higher_is_better": higher_is_better,
        "target_ok": target_ok,
        "retention_ok": retention_ok,
        "target": target_text,
        "retention": retention,
        "min_improvement": min_improvement,
        "retention_tolerance": retention_tolerance,
        "reason": "; ".join(
            part for part, ok in ((target_text, target_ok), (retention, retention_ok)) if not ok
        )
        or "target improved and retention held",
    }
