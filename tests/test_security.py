"""Security basics: loopback by default, no pickle/eval, safetensors only, paths stay in the store."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from curate.cli import build_parser
from curate.errors import StoreError
from curate.runs import RunRegistry
from curate.store import Store

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["curate", "monitors", "trainer", "dashboard", "examples"]

# Calls that would run code from stored or configured data.
FORBIDDEN_CALLS = {
    ("pickle", "load"),
    ("pickle", "loads"),
    ("torch", "load"),
    ("pd", "read_pickle"),
    ("pandas", "read_pickle"),
    ("joblib", "load"),
    ("dill", "load"),
    ("yaml", "load"),
}
FORBIDDEN_NAMES = {"eval", "exec"}
# mode="process" pickles calls between a Framework and the child process it started itself,
# over an anonymous pipe nobody else holds (as multiprocessing does): never stored data, never
# the network. The collector (curate serve), which does take the network, is not among them.
# The Spark recipe unpickles the results of the map step its own job ran on the executors,
# which Spark feeds the pickled map function itself (cloudpickle): what an executor could send
# back, it could already run.
OWN_PIPE = {"curate/process_channel.py", "curate/process_child.py", "curate/process_mode.py",
            "curate/scale/spark.py"}  # fmt: skip
PICKLE = {("pickle", "load"), ("pickle", "loads")}


def _sources() -> list[Path]:
    return [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]


def _offending_calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    own_pipe = path.relative_to(ROOT).as_posix() in OWN_PIPE
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = (
                [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            )
            banned = {"dill", "joblib"} if own_pipe else {"pickle", "dill", "joblib"}
            if any(m and m.split(".")[0] in banned for m in modules):
                found.append(f"{path.name}:{node.lineno} imports a pickle library")
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in FORBIDDEN_NAMES:
            found.append(f"{path.name}:{node.lineno} calls {func.id}()")
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and (func.value.id, func.attr) in FORBIDDEN_CALLS
            and not (own_pipe and (func.value.id, func.attr) in PICKLE)
        ):
            found.append(f"{path.name}:{node.lineno} calls {func.value.id}.{func.attr}()")
        for kw in node.keywords:
            if kw.arg in {"allow_pickle", "weights_only", "trust_remote_code"} and (
                isinstance(kw.value, ast.Constant) and kw.value.value is (kw.arg != "weights_only")
            ):
                found.append(f"{path.name}:{node.lineno} passes {kw.arg}={kw.value.value}")
    return found


def test_no_pickle_eval_or_remote_code_anywhere() -> None:
    sources = _sources()
    assert len(sources) > 30, "the scan must see the whole code base"
    offending = [hit for path in sources for hit in _offending_calls(path)]
    assert not offending, offending


def test_what_takes_the_network_never_unpickles() -> None:
    for name in ("curate/collector.py", "curate/remote.py"):
        assert "pickle" not in (ROOT / name).read_text(), name
    assert all((ROOT / name).exists() for name in OWN_PIPE)


def test_the_pickle_beside_the_offline_model_is_never_opened() -> None:
    mentions = [
        p.name
        for p in _sources()
        if "heads.pt" in p.read_text() and "never" not in p.read_text().lower()
    ]
    assert not mentions, f"heads.pt referenced without being excluded: {mentions}"


def test_dashboard_binds_to_loopback_by_default() -> None:
    from dashboard.cli import streamlit_command

    args = build_parser().parse_args(["dashboard", "--store", "x"])
    assert args.host == "127.0.0.1"
    cmd = streamlit_command(args)
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"


@pytest.mark.parametrize("escape", ["..", "../etc", "/etc/passwd", "runs/../../x"])
def test_store_paths_cannot_escape_the_root(tmp_path: Path, escape: str) -> None:
    store = Store(tmp_path / "s")
    with pytest.raises(StoreError, match="escapes the store root"):
        store.path(escape)


def test_run_ids_cannot_reach_outside_the_store(tmp_path: Path) -> None:
    runs = RunRegistry(Store(tmp_path / "s"))
    (tmp_path / "run.json").write_text("{}")
    with pytest.raises(StoreError):
        runs.get("../..")


def test_models_are_saved_as_safetensors_only() -> None:
    source = "\n".join(p.read_text() for p in (ROOT / "trainer").rglob("*.py"))
    assert "save_pretrained" in source
    assert "safe_serialization=False" not in source
    assert "use_safetensors=False" not in source
