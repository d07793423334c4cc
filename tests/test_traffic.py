"""The traffic sample: bounded, uniform over every logged row, mergeable across writers."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from curate import Framework, Signal
from curate.batch import Batch
from curate.store import Store
from curate.traffic import KEY_COLUMN, TRAFFIC_TABLE, Reservoir


def _batch(start: int, n: int) -> Batch:
    ids = np.arange(start, start + n)
    return Batch.from_log(ids, np.zeros(n, np.int64), {"text": [f"row {i}" for i in ids]})


def _feed(store: Store, reservoir: Reservoir, start: int, n: int, chunk: int = 1000) -> None:
    for first in range(start, start + n, chunk):
        rows = reservoir.offer(_batch(first, min(chunk, start + n - first)))
        if rows is not None:
            store.write(TRAFFIC_TABLE, rows)


def _expected_bottom(seed: int, starts_and_sizes: list[tuple[int, int]], chunk: int, k: int):
    """The ids the sample must hold: the k smallest keys the writer's generator drew."""
    rng = np.random.default_rng(seed)
    keys, ids = [], []
    for start, n in starts_and_sizes:
        for first in range(start, start + n, chunk):
            size = min(chunk, start + n - first)
            keys.append(rng.random(size))
            ids.append(np.arange(first, first + size))
    keys, ids = np.concatenate(keys), np.concatenate(ids)
    return set(ids[np.argsort(keys)[:k]].tolist())


def test_sample_is_the_bottom_k_of_the_keys_and_grows_logarithmically(tmp_path):
    store = Store(tmp_path / "s")
    reservoir = Reservoir(store, size=200, seed=7)
    _feed(store, reservoir, 0, 20_000)
    sample = store.traffic_sample()
    assert sample.num_rows == 200
    assert set(sample.column("id").to_pylist()) == _expected_bottom(7, [(0, 20_000)], 1000, 200)
    keys = sample.column(KEY_COLUMN).to_pylist()
    assert keys == sorted(keys)
    written = store.count(TRAFFIC_TABLE)
    # about size * (1 + ln(N / size)) rows are ever written: ~1,121 here, not 20,000
    assert 200 < written < 200 * (1 + np.log(20_000 / 200)) * 1.5


def test_sample_is_uniform_over_the_stream(tmp_path):
    store = Store(tmp_path / "s")
    _feed(store, Reservoir(store, size=2_000, seed=1), 0, 100_000, chunk=5_000)
    ids = np.array(store.traffic_sample().column("id").to_pylist())
    counts = np.histogram(ids, bins=10, range=(0, 100_000))[0]
    # each tenth of the stream holds about 200 rows (chi-square, 9 dof, p ~ 0.001 at 27.9)
    chi2 = ((counts - 200) ** 2 / 200).sum()
    assert chi2 < 27.9, counts


def test_writers_merge_into_one_uniform_sample(tmp_path):
    store = Store(tmp_path / "s")
    a, b = Reservoir(store, size=300, seed=1), Reservoir(store, size=300, seed=2)
    _feed(store, a, 0, 10_000)
    _feed(store, b, 10_000, 10_000)
    got = set(store.traffic_sample().column("id").to_pylist())
    # the union's bottom-300 by key: recompute both writers' keys
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(2)
    keys = np.concatenate(
        [rng_a.random(1000) for _ in range(10)] + [rng_b.random(1000) for _ in range(10)]
    )
    expected = set(np.argsort(keys)[:300].tolist())
    assert got == expected


def test_a_restarted_writer_starts_from_the_stores_threshold(tmp_path):
    store = Store(tmp_path / "s")
    _feed(store, Reservoir(store, size=100, seed=3), 0, 50_000)
    before = store.count(TRAFFIC_TABLE)
    restarted = Reservoir(store, size=100, seed=4)
    _feed(store, restarted, 50_000, 1_000)
    assert restarted.threshold < 0.01  # not 1.0: it did not start empty
    assert store.count(TRAFFIC_TABLE) - before < 20  # ~100 * 1000/51000 ≈ 2 rows enter


def test_framework_samples_every_logged_row_not_only_edge_cases(tmp_path):
    cfg = {
        "checks": [{"type": "edge_case", "signal_formulae": Signal.contains("nike")}],
        "retraining_folder": tmp_path / "s",
        "traffic_sample": 50,
    }
    texts = ["nike shoes"] * 10 + [f"plain text {i}" for i in range(30)] + [None] * 5
    with Framework(cfg) as fw:
        fw.log(inputs={"text": texts})
    sample = Store(tmp_path / "s").traffic_sample()
    assert sample.num_rows == 45  # fewer rows than the sample size: every one
    assert sorted(sample.column("id").to_pylist()) == list(range(45))
    assert sample.column("text").null_count == 5
    with Framework({**cfg, "retraining_folder": tmp_path / "off", "traffic_sample": 0}) as fw:
        fw.log(inputs={"text": texts})
    assert Store(tmp_path / "off").count(TRAFFIC_TABLE) == 0


def test_rows_of_another_type_are_left_out_not_breaking_the_table(tmp_path):
    store = Store(tmp_path / "s")
    reservoir = Reservoir(store, size=10, seed=0)
    store.write(TRAFFIC_TABLE, reservoir.offer(_batch(0, 3)))
    odd = Batch.from_log(np.arange(3, 6), np.zeros(3, np.int64), {"text": [[1], [2], [3]]})
    rows = reservoir.offer(odd)
    if rows is not None:
        store.write(TRAFFIC_TABLE, rows)
    sample = store.traffic_sample()
    assert pa.types.is_string(sample.schema.field("text").type)
    assert sorted(sample.column("text").drop_null().to_pylist()) == ["row 0", "row 1", "row 2"]


def test_size_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="positive"):
        Reservoir(Store(tmp_path / "s"), size=0)


def test_a_seeded_sample_is_the_same_whatever_the_call_boundaries(tmp_path):
    texts = [f"review {i}" for i in range(600)]
    samples = []
    for n, per_call in enumerate((1, 7, 600)):
        cfg = {"retraining_folder": tmp_path / f"s{n}", "traffic_sample": 40, "traffic_seed": 3}
        with Framework(cfg) as fw:
            for at in range(0, len(texts), per_call):
                fw.log(inputs={"text": texts[at : at + per_call]})
        samples.append(Store(tmp_path / f"s{n}").traffic_sample().column("text").to_pylist())
    assert samples[0] == samples[1] == samples[2] and len(samples[0]) == 40
    other = {"retraining_folder": tmp_path / "other", "traffic_sample": 40, "traffic_seed": 4}
    with Framework(other) as fw:
        fw.log(inputs={"text": texts})
    assert Store(tmp_path / "other").traffic_sample().column("text").to_pylist() != samples[0]
