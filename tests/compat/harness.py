"""Run a ported UpTrain example under UpTrain 0.2 or under curate, and read what it produced.

An example is a script in ``tests/compat/examples/`` written as UpTrain code (``import
uptrain``). :func:`run_example` executes it in a folder of its own, with that line as written
(UpTrain) or as ``import curate as uptrain`` (curate): the only change. Runs under Python 3.10
with UpTrain's dependencies as well as in curate's environment, so it uses only the standard
library, numpy and pandas.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
EXAMPLES = ("masked_lm_blog", "zscore", "concept_drift_ddm", "concept_drift_adwin", "ride_time",
            "fraud_custom_monitor", "edge_cases_pushups")  # fmt: skip
EXPECTED = HERE / "expected.json"
UPTRAIN_IMPORT = "import uptrain\n"
CURATE_IMPORT = "import curate as uptrain\n"


def source(name: str, library: str) -> str:
    """The example's code, importing ``library`` ("uptrain" or "curate") as ``uptrain``."""
    text = (HERE / "examples" / f"{name}.py").read_text()
    assert text.count(UPTRAIN_IMPORT) == 1, f"{name}: expected one {UPTRAIN_IMPORT!r} line"
    return text if library == "uptrain" else text.replace(UPTRAIN_IMPORT, CURATE_IMPORT)


def run_example(name: str, library: str, workdir: Path) -> tuple[dict, str]:
    """Execute the example in ``workdir``; its globals and what it printed."""
    code = compile(source(name, library), str(HERE / "examples" / f"{name}.py"), "exec")
    namespace: dict = {"__name__": f"example_{name}"}
    out = io.StringIO()
    old = Path.cwd()
    os.chdir(workdir)
    try:
        with contextlib.redirect_stdout(out):
            exec(code, namespace)
    finally:
        os.chdir(old)
    return namespace, out.getvalue()


def edge_case_ids(folder: Path) -> list:
    """The ``id`` of each row of ``<folder>/1/smart_data.csv`` (UpTrain's JSON cells), sorted."""
    path = folder / "1" / "smart_data.csv"
    if not path.exists():
        return []
    frame = pd.read_csv(path, dtype=str)
    return sorted(json.loads(v) for v in frame["id"])


def drift_times(alerts: list[str]) -> list[int]:
    """The ``[Time: N]`` of each concept-drift alert, in order."""
    out = []
    for a in alerts:
        if "[Time: " in a:
            out.append(int(a.split("[Time: ")[1].split("]")[0]))
    return out
