"""How long clustering edge cases takes, step by step, with MiniLM and with the TF-IDF fallback.

Texts are real (``tests/real_corpora.py``: review snippets, headlines, convention speeches,
Hamlet; about 30,000 of them), repeated and perturbed up to the asked size so that every text
is different (exact duplicates would be embedded once and flatter the figures): each copy drops
one word and appends a word of another text. Steps are those of
:func:`dashboard.clusters.cluster_edge_cases`: embed, reduce (PCA to 50, UMAP to 5), HDBSCAN,
labels (c-TF-IDF and central examples), the 2-D map. MiniLM embedding is timed on
``--embed-rows`` texts at most and scaled linearly to the rest (it is a fixed cost per text);
the other steps run on all the rows, on the embeddings of real texts repeated with their
perturbed copies' own vectors. Prints figures; asserts nothing::

    python benchmarks/bench_clusters.py [--rows 10000 100000] [--embed-rows 20000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import real_corpora as rc  # noqa: E402

from dashboard import clusters, text_embeddings  # noqa: E402


def real_texts() -> np.ndarray:
    """Every real text of the four sources, shuffled."""
    reviews = rc.reviews()
    pools = [reviews.loc[reviews["category"] != "plot", "text"].to_numpy(object),
             rc.headlines(), rc.speeches(), rc.hamlet()]  # fmt: skip
    return rc.shuffled(pd.unique(np.concatenate(pools)), 0)


def perturbed(base: np.ndarray, n: int, seed: int = 0) -> list[str]:
    """``n`` different texts: ``base`` first, then copies with one word dropped and one added."""
    rng = np.random.default_rng(seed)
    out, seen = [], set()
    words = " ".join(base[:5000]).split()
    i = 0
    while len(out) < n:
        text = str(base[i % len(base)])
        if i >= len(base):
            parts = text.split()
            if len(parts) > 2:
                parts.pop(int(rng.integers(len(parts))))
            text = " ".join([*parts, words[int(rng.integers(len(words)))]])
        if text not in seen:
            seen.add(text)
            out.append(text)
        i += 1
    return out


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def steps(texts: list[str], vectors: np.ndarray) -> dict[str, float]:
    """Seconds of each step after embedding, on ``vectors`` of ``texts``."""
    (z, _how), reduce_s = timed(clusters.reduce, vectors)
    labels, hdbscan_s = timed(clusters.find_clusters, z)
    _, terms_s = timed(clusters.label_terms, texts, labels)
    _, examples_s = timed(clusters.central_examples, vectors, labels, texts)
    pick = np.random.default_rng(0).choice(len(z), min(clusters.MAP_ROWS, len(z)), replace=False)
    _, map_s = timed(clusters.projections.project, z[pick], "UMAP", 2)
    found = int(labels.max()) + 1
    print(f"    {found} clusters, {np.mean(labels < 0):.0%} noise")
    return {"reduce": reduce_s, "hdbscan": hdbscan_s, "labels": terms_s + examples_s,
            "map": map_s}  # fmt: skip


def report(name: str, n: int, figures: dict[str, float], projected: bool) -> None:
    total = sum(figures.values())
    parts = ", ".join(f"{k} {v:.1f} s" for k, v in figures.items())
    note = " (embed scaled from a measured sample)" if projected else ""
    print(f"  {name:8s} {n:>7,} rows: {parts}; total {total:.1f} s{note}")


def run(n: int, embed_rows: int, base: np.ndarray) -> None:
    texts = perturbed(base, n)
    print(f"{n:,} texts (mean {np.mean([len(t.split()) for t in texts]):.0f} words)")
    sample = texts[: min(n, embed_rows)]
    vectors, embed_s = timed(clusters.embed, sample)
    per_text = embed_s / len(sample)
    if len(sample) < n:  # perturbed copies sit next to their originals: reuse their vectors
        vectors = np.vstack([vectors[i % len(sample)] for i in range(n)])
        noise = np.random.default_rng(1).normal(0, 0.01, vectors.shape).astype(np.float32)
        vectors = vectors + noise
    print(f"  MiniLM embedding: {per_text * 1000:.2f} ms a text "
          f"({len(sample):,} measured on {text_embeddings.default_threads()} threads)")  # fmt: skip
    report("MiniLM", n, {"embed": per_text * n, **steps(texts, vectors)}, len(sample) < n)
    lsa, lsa_s = timed(text_embeddings.tfidf_embed, texts)
    report("TF-IDF", n, {"embed": lsa_s, **steps(texts, lsa)}, False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--embed-rows", type=int, default=20_000)
    args = parser.parse_args(argv)
    base = real_texts()
    clusters.reduce(np.random.default_rng(0).normal(size=(200, 8)))  # compile UMAP's numba code
    for n in args.rows:
        run(n, args.embed_rows, base)


if __name__ == "__main__":
    main()
