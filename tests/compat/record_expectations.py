"""Record what UpTrain 0.2.0 itself gives on the ported examples into ``expected.json``.

Run with UpTrain's own environment, outside the repository (Python 3.10: river 0.14 has no
wheel for later versions), e.g.::

    python3.10 -m venv /tmp/uptrain-venv
    /tmp/uptrain-venv/bin/pip install --no-deps uptrain==0.2.0
    /tmp/uptrain-venv/bin/pip install river==0.14.0 "pandas<2" "numpy<1.25" "pydantic<2" \\
        "scikit-learn<1.3" "scipy<1.11" plotly json-fix nltk urllib3 vaderSentiment==3.3.2
    /tmp/uptrain-venv/bin/python tests/compat/record_expectations.py [example ...]

Each example runs in a temporary folder. What is recorded: the edge cases' ids (from UpTrain's
``<folder>/1/smart_data.csv``), each integrity check's issue and row counts, each accuracy
check's final mean, and every alert UpTrain raised (its ``Number of edge cases collected``
progress notes left out), in order.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from tests.compat.harness import EXAMPLES, EXPECTED, edge_case_ids, run_example  # noqa: E402

ALERTS: list[str] = []


def _capture_alerts() -> None:
    from uptrain.core.classes.logging import log_handler

    def add_alert(self, alert_name, alert, dashboard_name):
        if alert_name != "Number of edge cases collected":
            ALERTS.append(f"{alert_name}: {alert}")

    log_handler.LogHandler.add_alert = add_alert


def _fix_one_row_integrity() -> None:
    """UpTrain 0.2.0's integrity checks fail on one-row calls (the blog's loop logs one row per
    call): ``np.squeeze`` makes the values 0-d and ``len()`` raises ``len() of unsized
    object``. Its notebook ran on an earlier release. The recorder keeps the values 1-d there,
    nothing else changed, so the blog's loop runs as printed."""
    import types

    import numpy as np
    from uptrain.core.classes.monitors import data_integrity

    proxy = types.SimpleNamespace(**{k: getattr(np, k) for k in dir(np) if not k.startswith("__")})
    proxy.squeeze = lambda a, *args, **kw: np.atleast_1d(np.squeeze(a, *args, **kw))
    data_integrity.np = proxy


def _monitors(framework) -> dict:
    from uptrain.core.classes.monitors import Accuracy, DataIntegrity

    integrity, accuracy = [], []
    for m in framework.check_manager.monitors_to_check:
        if isinstance(m, DataIntegrity):
            integrity.append({"type": m.integrity_type, "column": m.measurable.col_name(),
                              "issues": int(m.num_issues), "rows": int(m.count)})  # fmt: skip
        elif isinstance(m, Accuracy):
            accuracy.append({"column": m.measurable.col_name(),
                             "mean": float(sum(m.abs_err_arr) / len(m.abs_err_arr))})  # fmt: skip
    return {"integrity": integrity, "accuracy": accuracy}


def record(name: str) -> dict:
    """Run one example under UpTrain 0.2 and return what it produced."""
    import uptrain

    ALERTS.clear()
    with tempfile.TemporaryDirectory() as tmp:
        namespace, _ = run_example(name, "uptrain", Path(tmp))
        framework = namespace["framework"]
        folder = Path(tmp) / framework.fold_name
        return {
            "uptrain_version": getattr(uptrain, "__version__", "0.2.0"),
            "rows": int(framework.predicted_count),
            "edge_cases": edge_case_ids(folder),
            **_monitors(framework),
            "alerts": list(ALERTS),
        }


def main(names: list[str]) -> None:
    _capture_alerts()
    _fix_one_row_integrity()
    expected = json.loads(EXPECTED.read_text()) if EXPECTED.exists() else {}
    for name in names or EXAMPLES:
        print(f"recording {name} ...", file=sys.stderr)
        expected[name] = record(name)
        EXPECTED.write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
