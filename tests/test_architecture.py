"""The architecture, checked: modules import alone, layers import one way, pieces stay small.

Layers, lowest first: core (signals, batch/columns, store and its reader, table schemas, errors,
config base) <- monitors <- trainer <- framework/CLI <- dashboard. A module may import its own
layer or a lower one; an upward import, even one inside a function, fails here. A new module of
``curate/`` must be placed in :data:`CURATE_LAYERS` (``docs/architecture.md`` says where).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("curate", "monitors", "trainer", "dashboard")
LAYERS = ("core", "monitors", "trainer", "framework", "dashboard")

CURATE_LAYERS = {
    "core": {
        "curate.arrow_values", "curate.batch", "curate.calls", "curate.config_base",
        "curate.datasets_io", "curate.enums", "curate.errors", "curate.locks", "curate.lru",
        "curate.labels", "curate.outcomes", "curate.runs", "curate.schema_guard", "curate.signals", "curate.store",
        "curate.delta_store", "curate.store_reader", "curate.tables", "curate.traffic", "curate.reviews",
        "curate.leases", "curate.delta_mirror", "curate.store_runs",
        "curate.compaction", "curate.compaction_log", "curate.compaction_plan", "curate.retention",
    },
    "framework": {
        "curate", "curate.buffers", "curate.cli", "curate.compat", "curate.config", "curate.failures",
        "curate.framework", "curate.ids", "curate.pipeline", "curate.prometheus", "curate.retrainer", "curate.slack",
        "curate.sinks", "curate.writer", "curate.scale", "curate.process_mode", "curate.process_channel",
        "curate.process_child", "curate.collector", "curate.remote", "curate.delta_retrainer",
    },
}  # fmt: skip


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {
    module_name(p): p
    for pkg in PACKAGES
    for p in sorted((ROOT / pkg).rglob("*.py"))
    if "__pycache__" not in p.parts
}


def layer_of(module: str) -> str | None:
    """The layer of a project module (``None`` for third-party modules)."""
    top = module.split(".")[0]
    if top not in PACKAGES:
        return None
    if top != "curate":
        return top
    for layer, names in CURATE_LAYERS.items():
        for name in names:
            if module == name or (name != "curate" and module.startswith(name + ".")):
                return layer
    raise AssertionError(f"{module} is in no layer: add it to CURATE_LAYERS")


def imports_of(module: str, path: Path) -> set[str]:
    """Every project module ``module`` imports, at top level or inside functions."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in MODULES else base)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.add(node.args[0].value)
    return {m for m in found if m.split(".")[0] in PACKAGES}


def test_every_curate_module_has_a_layer():
    for module in MODULES:
        assert layer_of(module) in LAYERS


def test_layers_import_one_way():
    upward = []
    for module, path in MODULES.items():
        mine = LAYERS.index(layer_of(module))
        for target in sorted(imports_of(module, path)):
            theirs = LAYERS.index(layer_of(target))
            if theirs > mine:
                upward.append(f"{module} ({LAYERS[mine]}) imports {target} ({LAYERS[theirs]})")
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_the_layer_check_sees_imports_inside_functions(tmp_path):
    path = tmp_path / "probe.py"
    path.write_text("def f():\n    from monitors.drift_signals import drift_outlier\n")
    assert imports_of("curate.signals.probe", path) == {"monitors.drift_signals"}


# Third-party packages are loaded once in the parent; each child forks from it with no project
# module loaded, so an import cycle among the project's modules shows as it would in a fresh
# interpreter, at a fraction of the cost of starting one per module.
FORK_IMPORTS = textwrap.dedent(
    """
    import importlib, json, os, sys, traceback
    import numpy, pandas, pyarrow, pyarrow.compute, pyarrow.dataset, pyarrow.parquet, scipy.stats
    import pydantic, rapidfuzz
    project = {packages!r}
    results = {{}}
    for name in {modules!r}:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            loaded = [m for m in sys.modules if m.split(".")[0] in project]
            try:
                assert not loaded, f"project modules already loaded: {{loaded}}"
                importlib.import_module(name)
                message = ""
            except BaseException:
                message = traceback.format_exc(limit=-4)
            os.write(write, message.encode())
            os._exit(0)
        os.close(write)
        chunks = []
        while chunk := os.read(read, 65536):
            chunks.append(chunk)
        os.close(read)
        os.waitpid(pid, 0)
        results[name] = b"".join(chunks).decode()
    print(json.dumps(results))
    """
)


@pytest.mark.slow
def test_every_module_imports_alone_in_a_fresh_interpreter():
    # Streamlit pages run their script on import: they are imported by the app, not alone.
    modules = sorted(m for m in MODULES if not m.startswith(("dashboard.app_pages",)))
    script = FORK_IMPORTS.format(packages=PACKAGES, modules=modules)
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    failed = {m: err for m, err in results.items() if err}
    assert not failed, "\n\n".join(f"import {m}:\n{err}" for m, err in failed.items())
    assert set(results) == set(modules)


def test_the_fresh_import_check_catches_a_cycle(tmp_path):
    pkg = tmp_path / "curate"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from curate.b import B\n")
    (pkg / "a.py").write_text("from curate import B\nA = 1\n")
    (pkg / "b.py").write_text("from curate.a import A\nB = A\n")
    script = FORK_IMPORTS.format(packages=("curate",), modules=["curate.a"])
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "ImportError" in results["curate.a"]


MAX_FILE_LINES, MAX_FUNCTION_LINES = 400, 50


def test_files_and_functions_stay_small():
    too_big = []
    for module, path in MODULES.items():
        source = path.read_text()
        if source.count("\n") > MAX_FILE_LINES:
            too_big.append(f"{module}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_big.append(f"{module}.{node.name}: {length} lines")
    assert not too_big, "split these along a seam:\n" + "\n".join(too_big)


def test_only_the_reader_knows_segment_and_run_file_names():
    offenders = []
    for module, path in MODULES.items():
        if module.startswith(("dashboard", "trainer")):
            text = path.read_text()
            for needle in ("part-*.parquet", "run.json", '"part-"', "'part-'"):
                if needle in text:
                    offenders.append(f"{module} mentions {needle}")
    assert not offenders, "\n".join(offenders)
