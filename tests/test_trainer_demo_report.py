"""The product-review example's report: positive share, negatives, general English, prompt."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from curate.runs import RunRegistry
from curate.store import Store
from examples.product_reviews.report import ADJECTIVE_PROBES, GENERAL, PROMPT, training_report


def _rows(stage: str, adjectives: list[str], general: list[str], text: str) -> list[dict]:
    rows = []
    for probe in ADJECTIVE_PROBES:
        rows += [{"probe": probe, "stage": stage, "rank": i + 1, "token": t, "score": 0.1}
                 for i, t in enumerate(adjectives)]  # fmt: skip
    for (sentence, _), token in zip(GENERAL, general, strict=False):
        rows.append({"probe": sentence, "stage": stage, "rank": 1, "token": token, "score": 0.5})
    rows.append({"probe": PROMPT, "stage": stage, "rank": 1, "token": text, "score": 0.4})
    return rows


def test_training_report_counts_what_the_issue_asks_for(tmp_path):
    store = Store(tmp_path / "s")
    run = RunRegistry(store).create(snapshot=[], trigger="cli", kind="trainer")
    rows = _rows("before", ["popular", "expensive", "good", "high", "light"], ["Paris"], "to read")
    rows += _rows(
        "after", ["comfortable", "soft", "good", "cozy", "sleek"], ["Paris", "cold"], "go"
    )
    pq.write_table(pa.Table.from_pylist(rows), run.path / "probes.parquet")
    metrics = {"perplexity_before": 600.0, "perplexity_after": 4.0, "eval_samples": 128,
               "retention_perplexity_before": 800.0, "retention_perplexity_after": 9.0,
               "retention_samples": 256, "new_edge_cases": 3000, "replay_traffic": 1300}  # fmt: skip
    promotion = {"status": "promoted", "reason": "target improved and retention held"}
    run.finish(status="promoted", metrics=metrics, promotion=promotion, model_path="runs/x")
    text = training_report(run)
    assert "promoted: target improved and retention held" in text
    assert "before: 20% positive (3/15), negative adjectives in any top-5: expensive" in text
    assert "after : 100% positive (15/15), negative adjectives in any top-5: none" in text
    assert f"general English (an accepted answer in the top-5): 1/{len(GENERAL)} -> 2/" in text
    assert "retention perplexity (256 held-out traffic-sample texts): 800.00 -> 9.00" in text
    assert "before: 'to read'" in text and "after:  'go'" in text
