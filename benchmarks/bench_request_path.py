"""What monitoring costs a service: throughput kept and latency added on the request path.

A simulated service: ``--threads`` request-handler threads (4), each request doing about
``--work-us`` µs (100) of pure-Python work and logging one row (a product review, the demo's
three signals plus a ``non_null`` check). Measured in one run, for each mode:

- ``none``: no logging (the baseline);
- ``thread``: ``Framework(cfg)``, monitoring in a writer thread of the service's process;
- ``process``: ``Framework(cfg, mode="process")``, monitoring in a child process;
- ``remote``: ``Framework({"remote": url})`` logging over HTTP into ``curate serve`` (another
  process on this machine, running the same checks);

and printed as requests/s, the share of the baseline's throughput kept, and p50/p99 request
latency with what each mode adds to the baseline's. The modes run ``--rounds`` times in
turn (none first each round) and each figure is the median over rounds, so a noisy neighbour
moves all modes alike. Goal (issue 16): ``process`` keeps >= 0.95x and adds <= 200 µs p99.

Throughput on a shared machine moves with its neighbours; what a logged call costs the service
does not. ``--per-call`` runs the same handlers and prints, per mode, the CPU time this process
spends per logged call: in ``log()`` itself (the handler threads' ``thread_time``) and in its
other threads (the sender, the receiver, thread mode's writer: the process's CPU time minus
the handlers'), up to the ``flush()`` that makes the last call durable. Each of those µs holds
the GIL, except the system-call part of pipe and socket writes. ``none`` times an empty
stretch where the others call ``log()``: the clocks' own cost, to subtract. At ~100 µs of
work per request, 0.95x leaves about 5 µs per call.

    python benchmarks/bench_request_path.py                 # about a minute
    python benchmarks/bench_request_path.py --seconds 2 --rounds 1   # quicker
    python benchmarks/bench_request_path.py --per-call      # parent CPU µs per logged call
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from curate import Framework, Signal  # noqa: E402
from examples.product_reviews.data import generate  # noqa: E402

MODES = ("none", "thread", "process", "remote")
SERVE_CONFIG = """
import sys
sys.path.insert(0, {root!r})
from benchmarks.bench_request_path import config
config = config("unused")
"""


def config(root: str) -> dict:
    """The demo's checks: Nike mentioned, a product named, a positive adjective; non-null text."""
    nike = Signal.contains("nike")
    return {
        "checks": [
            {"type": "edge_case", "signal_formulae": nike & (Signal.confidence() < 0.6)},
            {"type": "edge_case", "signal_formulae": Signal.contains(["shoes", "hoodie"])},
            {"type": "data_integrity", "integrity_type": "non_null",
             "measurable_args": {"type": "input_feature", "feature_name": "text"}},
        ],
        "retraining_folder": root,
    }  # fmt: skip


def calibrate(work_us: float) -> int:
    """Loop iterations of :func:`work` that take ``work_us`` µs on this machine (best of 5)."""
    n = 1000
    best = min(_time_work(n) for _ in range(5))
    return max(1, int(n * work_us / (best * 1e6)))


def _time_work(n: int) -> float:
    t = time.perf_counter()
    work(n)
    return time.perf_counter() - t


def work(n: int) -> int:
    """Pure-Python work holding the GIL, as a request handler's parsing and business logic."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def serve(fw: Framework | None, texts: list[str], threads: int, iters: int, seconds: float):
    """Run the handlers for ``seconds``; return (requests/s, latencies in µs)."""
    stop = threading.Event()
    latencies: list[list[float]] = [[] for _ in range(threads)]

    def handler(k: int) -> None:
        out, i, clock = latencies[k], k, time.perf_counter
        while not stop.is_set():
            t = clock()
            work(iters)
            if fw is not None:
                fw.log(inputs={"text": [texts[i % len(texts)]]}, outputs=[0.5])
            out.append(clock() - t)
            i += threads

    pool = [threading.Thread(target=handler, args=(k,)) for k in range(threads)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - start
    lat = np.concatenate([np.asarray(x) for x in latencies]) * 1e6
    return len(lat) / elapsed, lat


def serve_measured(fw: Framework | None, texts: list[str], threads: int, iters: int,
                   seconds: float) -> tuple[int, float, float, float]:  # fmt: skip
    """Run the handlers for ``seconds`` and flush; (calls, CPU s in log(), elsewhere, in all).

    "Elsewhere" is this process's CPU time minus the handler threads' own: the background
    threads that carry the calls (and, in thread mode, monitor them), up to the flush. With
    ``fw=None`` the handlers time an empty stretch instead of log(): the clocks' own cost.
    """
    stop = threading.Event()
    counts = [(0, 0.0, 0.0)] * threads  # calls, CPU in log(), handler CPU

    def handler(k: int) -> None:
        cpu, i, n, in_log = time.thread_time, k, 0, 0.0
        begin = cpu()
        while not stop.is_set():
            work(iters)
            t = cpu()
            if fw is not None:
                fw.log(inputs={"text": [texts[i % len(texts)]]}, outputs=[0.5])
            in_log += cpu() - t
            i += threads
            n += 1
        counts[k] = (n, in_log, cpu() - begin)

    pool = [threading.Thread(target=handler, args=(k,)) for k in range(threads)]
    process_start = time.process_time()
    for t in pool:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in pool:
        t.join()
    if fw is not None:
        fw.flush()
    process_cpu = time.process_time() - process_start
    handlers = sum(c[2] for c in counts)
    return sum(c[0] for c in counts), sum(c[1] for c in counts), process_cpu - handlers, process_cpu


def back_to_back(fw: Framework | None, texts: list[str], calls: int) -> float:
    """This process's CPU s for ``calls`` one-row calls from one thread, no work between, up to
    the flush: the cost with no other thread contending for the GIL or the caches."""
    start = time.process_time()
    if fw is not None:
        for i in range(calls):
            fw.log(inputs={"text": [texts[i % len(texts)]]}, outputs=[0.5])
        fw.flush()
    return time.process_time() - start


def per_call(texts: list[str], args: argparse.Namespace, iters: int) -> None:
    """Print this process's CPU µs per request, and per logged call, for each mode (medians).

    ``+CPU/req`` is what a request costs this process more than in ``none`` (work made slower
    by what logging does to caches included); ``log()`` and ``other`` split the call's cost;
    ``alone`` is a call's whole cost logged back to back from one thread (the steadiest figure
    on a shared machine, and a floor: frames are full and caches warm).
    """
    print(f"{'mode':8} {'calls':>8} {'log() µs':>9} {'other µs':>9} {'total µs':>9} "
          f"{'CPU/req µs':>11} {'+CPU/req':>9} {'alone µs':>9}")  # fmt: skip
    base = None
    for mode in args.modes.split(","):
        figures = []
        for _ in range(args.rounds):
            with tempfile.TemporaryDirectory() as root:
                fw, collector = framework(mode, root)
                try:
                    serve(fw, texts, args.threads, iters, 0.3)
                    if fw is not None:
                        fw.flush()
                    calls, in_log, other, cpu = serve_measured(fw, texts, args.threads, iters,
                                                               args.seconds)  # fmt: skip
                    alone = back_to_back(fw, texts, 20_000) / 20_000
                finally:
                    if fw is not None:
                        fw.close()
                    if collector is not None:
                        collector.terminate()
                        collector.wait()
            figures.append((calls, in_log / calls * 1e6, other / calls * 1e6, cpu / calls * 1e6,
                            alone * 1e6))  # fmt: skip
        calls, in_log, other, cpu, alone = (statistics.median(f[i] for f in figures)
                                            for i in range(5))  # fmt: skip
        base = cpu if mode == "none" else base
        extra = f"{cpu - base:+9.1f}" if base is not None else f"{'':>9}"
        print(f"{mode:8} {calls:8.0f} {in_log:9.1f} {other:9.1f} {in_log + other:9.1f} "
              f"{cpu:11.1f} {extra} {alone:9.2f}")  # fmt: skip


def start_collector(root: str) -> tuple[subprocess.Popen, str]:
    """``curate serve`` on a free port, with this benchmark's checks; (process, url)."""
    cfg = Path(root) / "serve_config.py"
    cfg.write_text(SERVE_CONFIG.format(root=str(ROOT)))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "curate.cli", "serve", "--store",
                             f"{root}/store", "--config", str(cfg), "--port", str(port)],
                            env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            urllib.request.urlopen(url + "/health", timeout=1).close()
            return proc, url
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("curate serve did not start")


def framework(mode: str, root: str) -> tuple[Framework | None, subprocess.Popen | None]:
    if mode == "none":
        return None, None
    if mode == "remote":
        proc, url = start_collector(root)
        return Framework({"remote": url}), proc
    return Framework(config(root), mode=mode), None


def run_mode(mode: str, texts: list[str], args: argparse.Namespace, iters: int) -> dict:
    """One measurement of ``mode``: throughput, p50/p99, and the rows the store holds."""
    with tempfile.TemporaryDirectory() as root:
        fw, collector = framework(mode, root)
        try:
            serve(fw, texts, args.threads, iters, 0.3)  # warm-up: caches, id blocks, the child
            if fw is not None:
                fw.flush()
            rps, lat = serve(fw, texts, args.threads, iters, args.seconds)
            stored = fw.stats()["rows_logged"] if fw is not None else 0
        finally:
            if fw is not None:
                fw.close()
            if collector is not None:
                collector.terminate()
                collector.wait()
    return {"rps": rps, "p50": float(np.percentile(lat, 50)),
            "p99": float(np.percentile(lat, 99)), "stored": stored}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--work-us", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--per-call", action="store_true",
                        help="print this process's CPU µs per logged call instead")  # fmt: skip
    args = parser.parse_args()
    modes = args.modes.split(",")
    texts = [t for t in generate(5_000, seed=1) if t is not None]
    iters = calibrate(args.work_us)
    if args.per_call:
        print(f"{args.threads} handler threads, {args.work_us:.0f} µs of work per request, "
              f"{args.rounds} rounds of {args.seconds:.0f} s per mode, medians")  # fmt: skip
        per_call(texts, args, iters)
        return
    print(f"{args.threads} handler threads, {args.work_us:.0f} µs of Python work per request "
          f"({iters} loop iterations), one row logged per request; {args.rounds} rounds of "
          f"{args.seconds:.0f} s per mode, medians")  # fmt: skip
    results: dict[str, list[dict]] = {m: [] for m in modes}
    for _ in range(args.rounds):
        for mode in modes:
            results[mode].append(run_mode(mode, texts, args, iters))
    report(results)


def report(results: dict[str, list[dict]]) -> None:
    """Print one line per mode: medians, and the ratio/difference to ``none``."""
    med = {m: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for m, rs in results.items()}
    base = med.get("none")
    print(f"{'mode':8} {'req/s':>9} {'kept':>6} {'p50 µs':>8} {'p99 µs':>8} "
          f"{'+p50 µs':>8} {'+p99 µs':>8} {'rows stored':>12}")  # fmt: skip
    for mode, m in med.items():
        kept = m["rps"] / base["rps"] if base else float("nan")
        d50 = m["p50"] - base["p50"] if base else float("nan")
        d99 = m["p99"] - base["p99"] if base else float("nan")
        print(f"{mode:8} {m['rps']:9.0f} {kept:6.3f} {m['p50']:8.0f} {m['p99']:8.0f} "
              f"{d50:+8.0f} {d99:+8.0f} {m['stored']:12.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
