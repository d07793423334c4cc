"""The ``curate`` command line.

``curate stats --store DIR`` prints the store's counts; ``curate profile`` builds a reference
profile; ``curate train``, ``curate runs`` and ``curate probe`` drive the trainer;
``curate dashboard`` serves the Streamlit app; ``curate batch SOURCE --config FILE`` curates an
existing dataset (:mod:`curate.scale.job`); ``curate migrate SOURCE TARGET`` copies a local store
into a Delta store (:mod:`curate.scale.migrate`); ``curate metrics --store DIR --port P`` serves a
store's numbers to Prometheus (:mod:`curate.prometheus`); ``curate compact --store DIR``
merges small segments and drops expired rows (:mod:`curate.compaction`);
``curate signals --store DIR`` prints
what each signal of the EDGE_CASE formulas does (:mod:`monitors.signal_report`); ``curate serve``
runs a collector (:mod:`curate.collector`). Those of other
packages are plugins (the ``curate.commands`` entry points), so the command line never imports a layer above it and a
partial install still has a working CLI.

>>> build_parser().parse_args(["stats", "--store", "x"]).store
'x'
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

#: Entry-point group of the packages that add subcommands (``trainer``, ``dashboard``): each
#: entry is a function given the argparse subparsers object.
PLUGIN_GROUP = "curate.commands"


def _stats(args: argparse.Namespace) -> int:
    from curate.store_reader import StoreReader

    store = StoreReader(args.store)
    if not store.exists():
        raise FileNotFoundError(f"no store at {store.root}")
    out = {"store": str(store.root), **store.summary()}
    print(json.dumps(out, indent=2))
    return 0


def _profile(args: argparse.Namespace) -> int:
    from monitors.profile import cli

    return cli(args.profile_args)


def _batch(args: argparse.Namespace) -> int:
    from curate.scale.job import load_config, run

    summary = run(load_config(args.config), args.source, args.engine, address=args.address,
                  store=args.store, progress=not args.quiet)  # fmt: skip
    print(json.dumps(summary, indent=2))
    return 0


def _add_serve(sub: argparse._SubParsersAction) -> None:
    from curate.collector import add_subcommand

    add_subcommand(sub)


def _add_batch(sub: argparse._SubParsersAction) -> None:
    batch = sub.add_parser(
        "batch", help="curate an existing dataset (Parquet/JSONL/CSV) into a store"
    )
    batch.add_argument("source", help="file, folder or glob: a path or s3://, gs://, abfs:// URI")
    batch.add_argument(
        "--config", required=True, help="config.py (defining config), f.py:NAME or .json"
    )
    batch.add_argument("--store", help="store to write (default: the config's retraining_folder)")
    batch.add_argument("--engine", choices=("local", "ray"), default="local")
    batch.add_argument("--address", help="Ray cluster address (engine ray; default: a local Ray)")
    batch.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    batch.set_defaults(func=_batch)


def _migrate(args: argparse.Namespace) -> int:
    from curate.scale.migrate import migrate, summary_text

    def progress(table: str, segment: str, rows: int) -> None:
        print(f"{table}/{segment}: {rows} rows", file=sys.stderr)

    tables = args.tables.split(",") if args.tables is not None else None
    result = migrate(args.source, args.target, tables=tables,
                     progress=None if args.quiet else progress)  # fmt: skip
    print(json.dumps(result, indent=2) if args.json else summary_text(result))
    return 0


def _add_migrate(sub: argparse._SubParsersAction) -> None:
    migrate = sub.add_parser(
        "migrate", help="copy a local store into a Delta store (resumable; runs stay local)"
    )
    migrate.add_argument("source", help="the local store folder (a Framework's retraining_folder)")
    migrate.add_argument("target", help="the Delta store: s3://, gs://, abfs://... URI or a path")
    migrate.add_argument("--tables", help="comma-separated tables to copy (default: all)")
    migrate.add_argument("--json", action="store_true", help="print the result as JSON")
    migrate.add_argument("-q", "--quiet", action="store_true", help="no line per segment")
    migrate.set_defaults(func=_migrate)


def _metrics(args: argparse.Namespace) -> int:
    import threading

    from curate.prometheus import open_reader, serve_metrics
    from curate.store_reader import StoreReader

    store = open_reader(args.store)
    if isinstance(store, StoreReader) and not store.exists():  # a typo would serve zeros forever
        raise FileNotFoundError(f"no store at {store.root}")
    with serve_metrics(store, args.port, args.addr) as server:
        print(f"curate metrics: serving {store.root} on {server.url}", file=sys.stderr, flush=True)
        threading.Event().wait()  # until Ctrl-C (main() returns 130) or a signal ends us
    return 0


def _signals(args: argparse.Namespace) -> int:
    from curate.store_reader import StoreReader
    from monitors.signal_report import format_report, read_signal_report

    store = StoreReader(args.store)
    if not store.exists():
        raise FileNotFoundError(f"no store at {store.root}")
    every = args.window == "all"
    window = None if args.window is None or every else int(args.window)
    print(format_report(read_signal_report(store.root), args.check, window, all_windows=every))
    return 0


def _window_number(text: str) -> str:
    if text != "all" and not text.lstrip("-").isdigit():
        raise argparse.ArgumentTypeError(f"a window number (-1: the latest) or all, not {text!r}")
    return text


def _add_signals(sub: argparse._SubParsersAction) -> None:
    signals = sub.add_parser(
        "signals", help="what each signal of the edge-case formulas does (coverage, overlap, "
        "marginal, precision)",
    )  # fmt: skip
    signals.add_argument(
        "--store", default="curate_data", help="store folder (default curate_data)"
    )
    signals.add_argument("--check", help="only this EDGE_CASE check (its name)")
    signals.add_argument(
        "--window", nargs="?", const="all", type=_window_number,
        help="per window instead of totals: every window, or window N (-1: the latest)",
    )  # fmt: skip
    signals.set_defaults(func=_signals)


def _compact(args: argparse.Namespace) -> int:
    from curate.compaction import compact

    report = compact(args.store, tables=args.tables, retention=args.retention,
                     target_size=args.target_size, min_age=args.min_age, grace=args.grace,
                     dry_run=args.dry_run)  # fmt: skip
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.text())
    return 0


def _seconds(text: str) -> float:
    if text.replace(".", "", 1).isdigit():
        return float(text)
    from curate.retention import parse_duration

    try:
        return parse_duration(text, "duration") / 1e6
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_compact(sub: argparse._SubParsersAction) -> None:
    compact = sub.add_parser(
        "compact", help="merge small segments and drop expired rows (retention); safe while "
        "writers write",
    )  # fmt: skip
    compact.add_argument(
        "--store", default="curate_data", help="store folder (default curate_data)"
    )
    compact.add_argument("--tables", help="comma-separated tables (default: all)")
    compact.add_argument(
        "--retention", help="e.g. metrics=90d,quarantine=30d (default: the Framework config's)"
    )
    compact.add_argument("--target-size", default="128MiB", help="merged segment size: 128MiB, "
                         "or rows: 500k rows (default 128MiB)")  # fmt: skip
    compact.add_argument("--min-age", type=_seconds, default=60.0,
                         help="leave segments younger than this (seconds or 1m; default 1m)")  # fmt: skip
    compact.add_argument("--grace", type=_seconds, default=600.0, help="delete replaced "
                         "segments this long after (seconds or 10m; default 10m; 0: now)")  # fmt: skip
    compact.add_argument("--dry-run", action="store_true", help="report the plan, change nothing")
    compact.add_argument("--json", action="store_true", help="print the report as JSON")
    compact.set_defaults(func=_compact)


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"a port number from 0 to 65535, not {text!r}")
    return int(text)


def _add_metrics(sub: argparse._SubParsersAction) -> None:
    metrics = sub.add_parser("metrics", help="serve a store's numbers to Prometheus (read-only)")
    metrics.add_argument("--store", default="curate_data", help="store folder or Delta store URI")
    metrics.add_argument(
        "--port", type=_port, required=True, help="port to listen on (0: any free)"
    )
    metrics.add_argument(
        "--addr", default="127.0.0.1", help="address to listen on (default loopback only)"
    )
    metrics.set_defaults(func=_metrics)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="curate",
        description="Monitor model traffic, curate edge cases, retrain on them.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    stats = sub.add_parser("stats", help="counts of a store (rows, edge cases, runs)")
    stats.add_argument("--store", default="curate_data", help="store folder (default curate_data)")
    stats.set_defaults(func=_stats)
    profile = sub.add_parser(
        "profile",
        help="build a reference profile for drift checks (curate profile DATA --out FILE)",
        add_help=False,
    )
    profile.add_argument("profile_args", nargs=argparse.REMAINDER)
    profile.set_defaults(func=_profile)
    _add_batch(sub)
    _add_migrate(sub)
    _add_metrics(sub)
    _add_signals(sub)
    _add_compact(sub)
    _add_serve(sub)
    for entry in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
        try:
            add = entry.load()
        except (ImportError, AttributeError):
            continue  # a package of a partial install
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``curate`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["profile"]:
        # Its own parser, so that `curate profile --help` reaches it.
        return _profile(argparse.Namespace(profile_args=argv[1:]))
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (OSError, ValueError, KeyError) as exc:
        print(f"curate {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
