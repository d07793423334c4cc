"""Reference profiles: build, save/load, merge, and the `curate profile` command."""

from __future__ import annotations

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
