"""Run every benchmark and write one report, ``benchmarks/RESULTS.md``.

Each ``bench_*.py`` script runs in its own process (so one's memory or threads cannot colour
another's figures); the report gives the machine, each script's full output, and a summary of
every line that states a target, so a reader sees at a glance what is met and what is not.

    python benchmarks/run_all.py              # everything, default sizes
    python benchmarks/run_all.py --quick      # smaller sizes, for a smoke run
    python benchmarks/run_all.py --only log drift
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Extra arguments for --quick runs (each script keeps its own defaults otherwise).
QUICK_ARGS = {
    "log": ["--rows", "100000", "--one-row-calls", "20000", "--memory-rows", "200000",
            "--repeat", "1"],
    "memory": ["--rows", "1000000", "--every", "250000"],
    "dashboard": ["--rows", "100000", "--edge-cases", "10000", "--windows", "50"],
    "drift": ["--windows", "5"],
    "batch": ["--rows", "200000"],
}  # fmt: skip


def machine_facts() -> list[str]:
    """CPU, cores, memory, load and library versions of the machine running the benchmarks."""
    import psutil

    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = []
    for name in ("numpy", "pyarrow", "pandas", "torch", "transformers", "datasets", "streamlit"):
        try:
            versions.append(f"{name} {__import__(name).__version__}")
        except ImportError:
            continue
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"- date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- CPU: {cpu}; {psutil.cpu_count(logical=True)} logical cores",
        f"- memory: {psutil.virtual_memory().total / 2**30:.1f} GiB",
        f"- load average at start: {load}",
        f"- Python {platform.python_version()} on {platform.system()} {platform.release()}",
        f"- {', '.join(versions)}",
    ]


def run_one(script: Path, extra: list[str], timeout: float) -> tuple[str, float, int]:
    """Run one benchmark script; return its output, wall time and exit code."""
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, str(script), *extra],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"},
        )
        out, code = proc.stdout + (("\n" + proc.stderr) if proc.returncode else ""), proc.returncode
    except subprocess.TimeoutExpired as exc:
        out, code = f"{exc.stdout or ''}\n(timed out after {timeout:.0f} s)", 124
    return out.strip(), time.perf_counter() - started, code


# Lines that state a target, or a headline figure a reader compares with one.
TARGET = re.compile(r"target|ratio|ms/window|peak RSS", re.IGNORECASE)
NOISE = re.compile(r"^(curate alert|WARNING|INFO|Generating|Map|Filter|\s*\d+%\|)")


def summary_lines(output: str) -> list[str]:
    """The lines of a benchmark's output that state a figure against its target."""
    return [
        line.strip()
        for line in output.splitlines()
        if TARGET.search(line) and not NOISE.match(line)
    ]


def report(results: list[tuple[str, str, float, int]], quick: bool) -> str:
    """The Markdown report."""
    lines = ["# Benchmark results", ""]
    lines.append(
        "Written by `make bench` (`python benchmarks/run_all.py`"
        + (" --quick" if quick else "")
        + "). Every ratio compares figures measured in the same run, against the in-run "
        "baseline each script names; absolute times depend on the machine and its load."
    )
    lines += ["", "## Machine", "", *machine_facts(), "", "## Targets at a glance", ""]
    lines += ["| benchmark | figure vs target |", "| --- | --- |"]
    for name, output, _, code in results:
        found = summary_lines(output) or [f"(no target line; exit code {code})"]
        for line in found:
            lines.append(f"| {name} | {line.replace('|', '/')} |")
    for name, output, secs, code in results:
        lines += ["", f"## {name}", "", f"`benchmarks/bench_{name}.py`, {secs:.0f} s, exit {code}"]
        kept = "\n".join(line for line in output.splitlines() if not NOISE.match(line))
        lines += ["", "```", kept, "```"]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--only", nargs="+", help="names such as log drift memory")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per benchmark")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()
    scripts = sorted(HERE.glob("bench_*.py"))
    results = []
    for script in scripts:
        name = script.stem.removeprefix("bench_")
        if args.only and name not in args.only:
            continue
        print(f"running {script.name} ...", flush=True)
        extra = QUICK_ARGS.get(name, []) if args.quick else []
        output, secs, code = run_one(script, extra, args.timeout)
        print(f"  {secs:.0f} s, exit {code}", flush=True)
        results.append((name, output, secs, code))
    args.out.write_text(report(results, args.quick))
    print(f"wrote {args.out}")
    return 0 if all(code == 0 for *_, code in results) else 1


if __name__ == "__main__":
    sys.exit(main())
