"""``curate dashboard``: serve the Streamlit app on a store.

``curate.cli`` calls :func:`add_subcommand` on its subparsers; ``python -m dashboard.cli
dashboard --store DIR`` does the same on its own. The app is bound to loopback unless ``--host``
says otherwise. It is read-only unless ``--allow-review`` is given: then the Edge cases page's
Review section may append accept/reject/relabel decisions to the ``reviews`` table (and nothing
else).

>>> args = build_parser().parse_args(["dashboard", "--store", "s"])
>>> streamlit_command(args)[-3:]
['--', '--store', '.../s']
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from curate.delta_mirror import DeltaMirror
from curate.delta_store import is_uri
from curate.store_reader import StoreReader

APP = Path(__file__).with_name("app.py")
REVIEW_ENV = "CURATE_ALLOW_REVIEW"


def add_subcommand(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``dashboard`` (``--store``, ``--host``, ``--port``, ``--allow-review``) on
    ``argparse`` subparsers."""
    parser = subparsers.add_parser("dashboard", help="serve the Streamlit dashboard on a store")
    parser.add_argument("--store", default="curate_data", help="the store folder (curate_data)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8501, help="port (8501)")
    parser.add_argument(
        "--retrain-after",
        type=int,
        help="the Framework's retrain_after, to show progress toward it when the store has none",
    )
    parser.add_argument(
        "--allow-review",
        action="store_true",
        help="let the Edge cases page save review decisions (accept/reject/relabel); "
        "without it the dashboard writes nothing",
    )
    parser.set_defaults(func=run_dashboard)
    return parser


def streamlit_command(args: argparse.Namespace) -> list[str]:
    """The ``streamlit run`` command line for ``args``."""
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP)]
    cmd += ["--server.address", args.host, "--server.port", str(args.port)]
    cmd += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
    cmd += ["--"]
    if getattr(args, "retrain_after", None):
        cmd += ["--retrain-after", str(args.retrain_after)]
    if getattr(args, "allow_review", False):
        cmd += ["--allow-review"]
    cmd += ["--store", _store_arg(args.store)]
    return cmd


def _is_delta(store: str) -> bool:
    return is_uri(store) and not store.lower().startswith("file://")


def _store_arg(store: str) -> str:
    # A Delta store's URI stays as given: the app reads a local copy of it.
    return store if _is_delta(store) else str(StoreReader(store).root)


def _check_store(store: str) -> tuple[str, bool]:
    """The store to show and whether it exists; a Delta store is copied once here, so the first
    page opens on a fresh copy (and an unreachable bucket is reported before serving)."""
    if not _is_delta(store):
        reader = StoreReader(store)
        return str(reader.root), reader.exists()
    versions = DeltaMirror(store, os.environ.get("CURATE_MIRROR") or None).pull()
    return store, any(v is not None for v in versions.values())


def url(host: str, port: int) -> str:
    """The address to open in a browser (``0.0.0.0`` is shown as ``127.0.0.1``)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def run_dashboard(args: argparse.Namespace) -> int:
    """Become the Streamlit server (``exec``): stopping this process stops the server.

    A child process would outlive a ``curate dashboard`` that is terminated, leaving the port
    taken; replacing the process leaves nothing behind.
    """
    store, found = _check_store(args.store)
    if not found:  # a mistyped --store: say so rather than show zeros
        print(f"curate dashboard: no store at {store}", file=sys.stderr)
        return 2
    print(f"curate dashboard: {url(args.host, args.port)} (store {store})", flush=True)
    env = {**os.environ, "CURATE_STORE": str(store)}
    # Only the flag enables writing: an inherited CURATE_ALLOW_REVIEW must not.
    env.pop(REVIEW_ENV, None)
    if getattr(args, "allow_review", False):
        env[REVIEW_ENV] = "1"
        print("curate dashboard: review decisions can be saved (--allow-review)", flush=True)
    cmd = streamlit_command(args)
    os.execvpe(cmd[0], cmd, env)
    return 0  # pragma: no cover - execvpe does not return


def build_parser() -> argparse.ArgumentParser:
    """A parser with only the ``dashboard`` subcommand (``python -m dashboard.cli``)."""
    parser = argparse.ArgumentParser(prog="curate")
    sub = parser.add_subparsers(dest="command", required=True)
    add_subcommand(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m dashboard.cli dashboard --store DIR``."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
