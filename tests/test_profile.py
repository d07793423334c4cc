"""Reference profiles: build, save/load, merge, and the `curate profile` command."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats

from monitors.profile import Profile, as_profile, build_profile, cli, is_profile_file
from monitors.stats.column_profile import ProfileOptions

WORDS = np.array(
    [
        "nike",
        "shoes",
        "are",
        "very",
        "durable",
        "and",
        "comfortable",
        "for",
        "running",
        "the",
        "size",
        "fits",
    ]
)


def _frame(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "i": rng.integers(0, 5, n),
            "c": rng.choice(["red", "green", "blue"], n),
            "t": [" ".join(rng.choice(WORDS, 6)) for _ in range(n)],
            "e": list(rng.normal(size=(n, 4))),
        }
    )


def test_kinds_are_inferred():
    p = build_profile(_frame())
    kinds = {name: col.kind for name, col in p.columns.items()}
    assert kinds == {
        "x": "numeric",
        "i": "categorical",
        "c": "categorical",
        "t": "text",
        "e": "embedding",
    }


def test_save_load_round_trip(tmp_path):
    p = build_profile(_frame())
    path = p.save(tmp_path / "ref.profile")
    assert is_profile_file(path) and not is_profile_file(tmp_path / "nope")
    q = Profile.load(path)
    for name, col in p.columns.items():
        other = q[name]
        for key, value in col.__dict__.items():
            got = other.__dict__[key]
            if isinstance(value, np.ndarray):
                np.testing.assert_allclose(got, value)
            else:
                assert got == value, (name, key)
    assert path.stat().st_size < 200_000


def test_numeric_profile_exact_then_sketch():
    x = np.random.default_rng(1).normal(size=5000)
    exact = build_profile({"x": x})["x"]
    assert exact.exact and np.array_equal(exact.values, np.sort(x))
    assert exact.std == pytest.approx(np.std(x)) and exact.mean == pytest.approx(np.mean(x))
    sk = build_profile({"x": x}, exact_limit=1000, sketch_size=500)["x"]
    assert not sk.exact and len(sk.values) == 500
    # the sketch CDF is within 1/k (+ interpolation) of the exact CDF
    grid = np.linspace(-3, 3, 101)
    cdf_exact = np.searchsorted(np.sort(x), grid, "right") / len(x)
    cdf_sketch = np.searchsorted(sk.values, grid, "right") / len(sk.values)
    assert np.abs(cdf_exact - cdf_sketch).max() <= 2 / 500


def test_merge_is_exact_for_counts_and_moments():
    a, b = _frame(2000, 1), _frame(1500, 2)
    merged = build_profile(a).merge(build_profile(b))
    whole = build_profile(pd.concat([a, b], ignore_index=True))
    for name in ("x", "c", "t", "i"):
        m, w = merged[name], whole[name]
        assert (m.n, m.n_null) == (w.n, w.n_null)
    assert merged["x"].mean == pytest.approx(whole["x"].mean, abs=1e-12)
    assert merged["x"].m2 == pytest.approx(whole["x"].m2, rel=1e-12)
    np.testing.assert_array_equal(merged["x"].values, whole["x"].values)
    assert merged["c"].keys == whole["c"].keys
    np.testing.assert_array_equal(merged["c"].counts, whole["c"].counts)
    assert merged["t"].vocab == whole["t"].vocab
    np.testing.assert_array_equal(merged["t"].length_counts, whole["t"].length_counts)
    assert merged["e"].n == 3500 and merged["e"].sample.shape == (1000, 4)


def test_merged_sketches_stay_close_to_the_truth():
    rng = np.random.default_rng(3)
    xs = [rng.normal(i, 1, 20_000) for i in range(3)]
    opts = {"exact_limit": 1000, "sketch_size": 1000}
    merged = build_profile({"x": xs[0]}, **opts)
    for x in xs[1:]:
        merged = merged.merge(build_profile({"x": x}, **opts))
    allx = np.concatenate(xs)
    d = stats.ks_2samp(allx, merged["x"].values).statistic
    assert d < 0.01


def test_parquet_reference_is_streamed_and_limited_to_columns(tmp_path):
    df = _frame(2000)
    path = tmp_path / "ref.parquet"
    pq.write_table(pa.Table.from_pandas(df.drop(columns=["e"])), path, row_group_size=500)
    p = as_profile(path, ["x", "t"])
    assert set(p.columns) == {"x", "t"}
    assert p["x"].n == 2000
    with pytest.raises(ValueError, match="no column 'zz'"):
        as_profile(path, ["zz"])
    with pytest.raises(ValueError, match="no such file"):
        as_profile(tmp_path / "missing.parquet")


def test_reference_types_accepted(tmp_path):
    df = _frame(500).drop(columns=["e"])
    csv = tmp_path / "ref.csv"
    df.to_csv(csv, index=False)
    import datasets

    for ref in (df, pa.Table.from_pandas(df), csv, datasets.Dataset.from_pandas(df)):
        assert as_profile(ref, ["x"])["x"].n == 500
    with pytest.raises(ValueError, match="reference_dataset must be"):
        as_profile(42)


def test_kind_override_and_bad_options():
    p = build_profile({"c": ["a b c d"] * 10}, kinds={"c": "categorical"})
    assert p["c"].kind == "categorical"
    with pytest.raises(ValueError, match="kind must be one of"):
        build_profile({"c": ["a"]}, kinds={"c": "weird"})
    with pytest.raises(ValueError, match="sketch_size"):
        ProfileOptions(sketch_size=1)
    with pytest.raises(ValueError, match="cannot merge"):
        build_profile({"x": np.arange(50.0)})["x"].merge(build_profile({"x": ["a"]})["x"])


def test_cli_builds_a_profile(tmp_path, capsys):
    src = tmp_path / "ref.parquet"
    pq.write_table(pa.Table.from_pandas(_frame(800).drop(columns=["e"])), src)
    out = tmp_path / "ref.profile"
    assert cli([str(src), "--out", str(out), "--kind", "i=numeric"]) == 0
    text = capsys.readouterr().out
    assert "wrote" in text and "x: numeric" in text
    p = Profile.load(out)
    assert p["i"].kind == "numeric" and p["t"].kind == "text"
    with pytest.raises(SystemExit):
        cli([str(tmp_path / "missing.parquet"), "--out", str(out)])


def _decode(prof, d):
    ids = prof.sample_ids[prof.sample_offsets[d] : prof.sample_offsets[d + 1]]
    return sorted(prof.vocab[i] if i >= 0 else "?" for i in ids)


def test_text_profile_keeps_document_frequencies_and_a_bounded_sample():
    texts = [" ".join(np.random.default_rng(i).choice(WORDS, 1 + i % 9)) for i in range(400)]
    p = build_profile({"t": texts}, kinds={"t": "text"}, doc_sample=50, doc_sample_tokens=150)
    t = p["t"]
    df = {w: sum(w in s.split() for s in texts) for w in t.vocab}
    assert t.doc_freq.tolist() == [df[w] for w in t.vocab]
    docs = len(t.sample_offsets) - 1
    assert 10 <= docs <= 50 and t.sample_offsets[-1] <= 150
    originals = {tuple(sorted(s.split())) for s in texts}
    assert all(tuple(_decode(t, d)) in originals for d in range(docs))
    none = build_profile({"t": texts}, kinds={"t": "text"}, doc_sample=0)["t"]
    assert len(none.sample_offsets) == 1 and none.doc_freq is not None


def test_merged_text_samples_are_proportional_and_remapped():
    a = _frame(3000, 1)["t"].tolist()
    b = [f"{s} zebra" for s in _frame(1000, 2)["t"]]
    merged = build_profile({"t": a}).merge(build_profile({"t": b}))["t"]
    whole = build_profile({"t": a + b})["t"]
    np.testing.assert_array_equal(merged.doc_freq, whole.doc_freq)
    assert merged.expected_oov_rate == whole.expected_oov_rate
    docs = [_decode(merged, d) for d in range(len(merged.sample_offsets) - 1)]
    originals = {tuple(sorted(s.split())) for s in a + b}
    assert len(docs) == 2000 and all(tuple(d) in originals for d in docs)
    assert 0.2 <= np.mean(["zebra" in d for d in docs]) <= 0.3  # 1,000 of 4,000 texts


def test_version_1_profiles_still_load(tmp_path):
    """A file without the text sample columns (written before they existed) loads."""
    path = build_profile(_frame(500).drop(columns=["e"])).save(tmp_path / "new.profile")
    table = pq.read_table(path)
    old = table.select(["column", "kind", "meta", "values", "keys", "counts"])
    metas = [json.loads(m) for m in old.column("meta").to_pylist()]
    for m in metas:
        m.pop("doc_sample", None), m.pop("doc_sample_tokens", None)
    old = old.set_column(2, "meta", pa.array([json.dumps(m) for m in metas]))
    old = old.replace_schema_metadata({b"curate.profile": b'{"format_version": 1}'})
    pq.write_table(old, tmp_path / "old.profile")
    t = Profile.load(tmp_path / "old.profile")["t"]
    assert t.doc_freq is None and t.sample_ids is None and t.sample_offsets is None
    assert t.expected_oov_rate == (t.other_tokens + (t.counts == 1).sum()) / t.total_tokens
    assert t.merge(t).sample_ids is None
