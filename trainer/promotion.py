"""The promotion rule: a run's model replaces the current one only when it is better.

A finished run is **promoted** when

- its target eval perplexity (held-out edge cases) fell by at least ``min_improvement`` (a share
  of the starting model's; 0: any fall), and
- its retention perplexity (held-out traffic-sample texts) rose by at most
  ``retention_tolerance`` (a share of the starting model's; 0.10: at most 10% worse).

Otherwise it is **rejected**: its model and figures are kept, but ``latest`` and the next run
ignore it. A retention set that could not be measured (no traffic sample yet) is reported as
such and does not block promotion. Both figures compare the run's model with the model it
started from, on the same texts.

>>> decide({"perplexity_before": 20.0, "perplexity_after": 12.0,
...         "retention_perplexity_before": 30.0, "retention_perplexity_after": 31.0},
...        min_improvement=0.0, retention_tolerance=0.1)["status"]
'promoted'
"""

from __future__ import annotations

from typing import Any


def _target(metrics: dict[str, Any], min_improvement: float) -> tuple[bool, str]:
    before, after = metrics.get("perplexity_before"), metrics.get("perplexity_after")
    if before is None or after is None:
        return False, "target eval perplexity was not measured"
    limit = before * (1 - min_improvement)
    if after < limit:
        return True, f"target perplexity {before:.4g} -> {after:.4g} (needed < {limit:.4g})"
    return False, f"target perplexity did not improve enough: {before:.4g} -> {after:.4g}" + (
        f" (needed < {limit:.4g})"
    )


def _retention(metrics: dict[str, Any], tolerance: float) -> tuple[bool, str]:
    before = metrics.get("retention_perplexity_before")
    after = metrics.get("retention_perplexity_after")
    if before is None or after is None:
        return True, "retention not measured (no traffic sample)"
    limit = before * (1 + tolerance)
    if after <= limit:
        return True, f"retention perplexity {before:.4g} -> {after:.4g} (allowed <= {limit:.4g})"
    return False, (
        f"retention got worse beyond the tolerance: {before:.4g} -> {after:.4g} "
        f"(allowed <= {limit:.4g}, {tolerance:.0%})"
    )


def decide(
    metrics: dict[str, Any], *, min_improvement: float, retention_tolerance: float
) -> dict[str, Any]:
    """``{status, reason, target_ok, retention_ok, ...}`` for a finished run's metrics.

    >>> decide({"perplexity_before": 10.0, "perplexity_after": 11.0},
    ...        min_improvement=0.0, retention_tolerance=0.1)["status"]
    'rejected'
    """
    target_ok, target = _target(metrics, min_improvement)
    retention_ok, retention = _retention(metrics, retention_tolerance)
    promoted = target_ok and retention_ok
    return {
        "status": "promoted" if promoted else "rejected",
        "by": "rule",
        "target_ok": target_ok,
        "retention_ok": retention_ok,
        "target": target,
        "retention": retention,
        "min_improvement": min_improvement,
        "retention_tolerance": retention_tolerance,
        "reason": "; ".join(
            part for part, ok in ((target, target_ok), (retention, retention_ok)) if not ok
        )
        or "target improved and retention held",
    }
