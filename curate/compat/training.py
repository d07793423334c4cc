"""UpTrain's retraining: once more than ``retrain_after`` edge cases are in, ``training_func`` runs.

UpTrain 0.2 built ``<folder>/<version>/training_dataset.json`` from the edge cases (after
``data_transformation_func``, labelled from the ``annotation_method``'s master file, merged with
``orig_training_file`` where each edge case counts five times), called
``training_func(path, "version_<version>")``, compared the old and new models on the golden
test set with ``inference_func``, and moved to the next version. :func:`retrain_uptrain_style`
does the same in curate's background run (the run record keeps the accuracies).

>>> records_for_training([{"text": '"hi"', "id": "3", "output": "null", "gt": "1",
...                        "reasons": '"x"'}])
[{'text': 'hi', 'id': 3, 'output': None, 'gt': 1}]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from curate.compat.names import AnnotationMethod
from curate.compat.views import smart_records
from curate.errors import ConfigError


def records_for_training(rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    """smart_data records decoded back to values, without the reasons (UpTrain's retraining rows)."""
    return [{k: json.loads(v) for k, v in r.items() if k != "reasons"} for r in rows]


def _annotate(records: list[dict[str, Any]], method: dict[str, Any]) -> list[dict[str, Any]]:
    kind = method.get("method")
    if kind not in (
        AnnotationMethod.MASTER_FILE,
        AnnotationMethod.MASTER_FILE.value,
        "MASTER_FILE",
    ):
        raise ConfigError(f"annotation_method {kind!r}: only AnnotationMethod.MASTER_FILE exists")
    args = method.get("args") or {}
    key = args.get("matching_key", "id")
    master = {m[key]: m["gt"] for m in json.loads(Path(args["master_file"]).read_text())}
    return [{**r, "gt": master[r[key]]} for r in records]


def retrain_uptrain_style(run: Any, store: Any, version: int, training: dict[str, Any],
                          evaluation: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """Build the version's training file from the run's snapshot and call ``training_func``."""
    folder = store.root / str(version)
    folder.mkdir(parents=True, exist_ok=True)
    rows = records_for_training(smart_records(store.read("retraining", files=run.snapshot)))
    transform = training.get("data_transformation_func")
    if transform is not None:
        rows = [transform(r) for r in rows]
    (folder / "cleaned_dataset.json").write_text(json.dumps(rows, default=str))
    if training.get("annotation_method"):
        rows = _annotate(rows, training["annotation_method"])
    (folder / "annotated_dataset.json").write_text(json.dumps(rows, default=str))
    original = training.get("orig_training_file")
    merged = json.loads(Path(original).read_text()) if original else []
    merged += rows * 5
    path = folder / "training_dataset.json"
    path.write_text(json.dumps(merged, default=str))
    training["training_func"](str(path), f"version_{version}")
    metrics: dict[str, Any] = {"uptrain_version": version, "edge_cases": len(rows)}
    golden, infer = evaluation.get("golden_testing_dataset"), evaluation.get("inference_func")
    if golden and infer:
        if original:
            training["training_func"](original, f"version_{version - 1}")
        metrics["old_model_accuracy"] = infer(golden, f"version_{version - 1}")
        metrics["retrained_model_accuracy"] = infer(golden, f"version_{version}")
    return metrics
