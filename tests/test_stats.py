"""Every drift statistic against scipy (or the textbook formula), on random inputs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats
from scipy.spatial.distance import jensenshannon

from monitors.stats import (
    bin_counts,
    chi2_homogeneity,
    js_distance,
    ks_2samp,
    ks_statistic,
    mmd2_unbiased,
    mmd_test,
    psi,
    quantile_edges,
    wasserstein_sorted,
)
from monitors.stats.mmd import median_bandwidth, rbf_kernel

TOL = 1e-9
SETTINGS = settings(max_examples=60, deadline=None)


def samples(max_size=300):
    """Two float samples, with ties likely (rounded values) half of the time."""
    floats = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
    arr = st.lists(floats, min_size=1, max_size=max_size)
    return st.tuples(arr, arr, st.booleans()).map(
        lambda t: (
            np.round(np.array(t[0]), 0 if t[2] else 6),
            np.round(np.array(t[1]), 0 if t[2] else 6),
        )
    )


def counts(k):
    return st.lists(st.integers(0, 500), min_size=k, max_size=k)


@SETTINGS
@given(samples())
def test_ks_matches_scipy(xy):
    x, y = xy
    ref = np.sort(x)
    d, p = ks_2samp(ref, y)
    expected = stats.ks_2samp(x, y, method="asymp")
    assert abs(d - expected.statistic) <= TOL
    if len(x) == len(y) == 1:  # scipy: NaN (n_e rounds to 0); ours uses n_e = 1
        assert 0.0 <= p <= 1.0
        return
    assert abs(p - expected.pvalue) <= TOL


@SETTINGS
@given(samples())
def test_wasserstein_matches_scipy(xy):
    x, y = xy
    w = wasserstein_sorted(np.sort(x), np.sort(y))
    assert abs(w - stats.wasserstein_distance(x, y)) <= TOL * max(1.0, abs(w))


@SETTINGS
@given(st.integers(2, 12).flatmap(lambda k: st.tuples(counts(k), counts(k))))
def test_chi2_matches_scipy(pq):
    ref, win = np.array(pq[0]), np.array(pq[1])
    stat, p, dof = chi2_homogeneity(ref, win)
    table = np.vstack([ref, win])
    table = table[:, table.sum(0) > 0]
    if table.shape[1] < 2 or (table.sum(1) == 0).any():
        assert (stat, p) == (0.0, 1.0)
        return
    expected = stats.chi2_contingency(table, correction=False)
    assert abs(stat - expected.statistic) <= TOL * max(1.0, stat)
    assert abs(p - expected.pvalue) <= TOL
    assert dof == expected.dof


@SETTINGS
@given(st.integers(1, 30).flatmap(lambda k: st.tuples(counts(k), counts(k))))
def test_js_matches_scipy(pq):
    p, q = np.array(pq[0], float), np.array(pq[1], float)
    if p.sum() == 0 or q.sum() == 0:
        with pytest.raises(ValueError, match="counts"):
            js_distance(p, q)
        return
    assert abs(js_distance(p, q) - jensenshannon(p, q, base=2)) <= TOL


@SETTINGS
@given(
    st.integers(2, 20).flatmap(lambda k: st.tuples(counts(k), counts(k))),
    st.sampled_from([1e-4, 1e-6]),
)
def test_psi_matches_symmetrised_kl(pq, eps):
    p, q = np.array(pq[0], float), np.array(pq[1], float)
    if p.sum() == 0 or q.sum() == 0:
        return
    value = psi(p, q, eps=eps)
    ps, qs = np.maximum(p / p.sum(), eps), np.maximum(q / q.sum(), eps)
    expected = np.sum(special.rel_entr(qs, ps) + special.rel_entr(ps, qs))
    assert np.isfinite(value)
    assert abs(value - expected) <= TOL * max(1.0, expected)


@SETTINGS
@given(samples(max_size=200), st.integers(2, 20))
def test_psi_bins_are_reference_quantiles(xy, bins):
    x, y = xy
    edges = quantile_edges(np.sort(x), bins)
    assert np.all(np.diff(edges) > 0)
    assert np.array_equal(edges, np.unique(np.quantile(x, np.arange(1, bins) / bins)))
    c = bin_counts(y, edges)
    assert c.sum() == len(y)
    assert np.array_equal(c, np.histogram(y, np.r_[-np.inf, edges, np.inf])[0][: len(c)]) or (
        len(edges) == 0
    )


def _mmd2_loops(x, y, bw):
    def k(a, b):
        return np.exp(-np.sum((a - b) ** 2) / (2 * bw**2))

    n, m = len(x), len(y)
    sxx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(n), 2)) / (n * (n - 1))
    syy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    sxy = sum(k(a, b) for a in x for b in y) / (n * m)
    return sxx + syy - 2 * sxy


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 9), st.integers(2, 9), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_mmd_matches_textbook(n, m, dim, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, dim)), rng.normal(0.3, 1.0, size=(m, dim))
    bw = median_bandwidth(np.vstack([x, y]))
    assert abs(mmd2_unbiased(x, y, bw) - _mmd2_loops(x, y, bw)) <= TOL
    stat, p = mmd_test(x, y, bw, n_perm=20, rng=rng)
    assert abs(stat - _mmd2_loops(x, y, bw)) <= TOL
    assert 1 / 21 <= p <= 1.0


def test_rbf_kernel_matches_scipy():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(7, 3)), rng.normal(size=(5, 3))
    from scipy.spatial.distance import cdist

    expected = np.exp(-cdist(a, b, "sqeuclidean") / (2 * 1.7**2))
    assert np.allclose(rbf_kernel(a, b, 1.7), expected, atol=TOL, rtol=0)


def test_ks_statistic_on_sketch_equals_exact_when_sketch_is_the_sample():
    x = np.sort(np.random.default_rng(2).normal(size=500))
    y = np.sort(np.random.default_rng(3).normal(size=300))
    assert ks_statistic(x, y) == pytest.approx(stats.ks_2samp(x, y).statistic, abs=TOL)


# -- one shared set of checks for every statistic (River style) --------------------------------

RNG = np.random.default_rng(7)
_A, _B = np.sort(RNG.normal(size=400)), np.sort(RNG.normal(1.0, 1.0, size=400))
_CA, _CB = np.array([30.0, 50, 20]), np.array([10.0, 20, 70])

STATISTICS = {
    "ks": (lambda a, b: ks_statistic(a, b), (_A, _B)),
    "wasserstein": (wasserstein_sorted, (_A, _B)),
    "psi": (psi, (_CA, _CB)),
    "chi2": (lambda a, b: chi2_homogeneity(a, b)[0], (_CA, _CB)),
    "js": (js_distance, (_CA, _CB)),
    "mmd": (lambda a, b: mmd2_unbiased(a[:, None], b[:, None], 1.0), (_A[:60], _B[:60])),
}


@pytest.mark.parametrize("name", sorted(STATISTICS))
def test_every_statistic_is_zero_on_identical_inputs(name):
    fn, (a, _) = STATISTICS[name]
    assert abs(fn(a, a)) <= 0.02  # unbiased MMD² may be slightly negative


@pytest.mark.parametrize("name", sorted(STATISTICS))
def test_every_statistic_is_symmetric_and_positive_under_change(name):
    fn, (a, b) = STATISTICS[name]
    assert fn(a, b) > 0.05
    assert fn(a, b) == pytest.approx(fn(b, a), rel=1e-9)


@pytest.mark.parametrize("name", sorted(STATISTICS))
def test_every_statistic_is_finite_and_deterministic(name):
    fn, (a, b) = STATISTICS[name]
    assert np.isfinite(fn(a, b)) and fn(a, b) == fn(a, b)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ks_statistic(np.array([]), np.array([1.0])), "non-empty"),
        (lambda: quantile_edges(np.arange(3.0), bins=1), "bins"),
        (lambda: psi(np.array([1.0]), np.array([1.0]), eps=0), "eps"),
        (lambda: psi(np.array([0.0]), np.array([1.0])), "ref_counts"),
        (lambda: js_distance(np.array([1.0]), np.array([1.0, 2.0])), "differ"),
        (lambda: js_distance(np.array([1.0]), np.array([1.0]), base=1), "base"),
        (lambda: chi2_homogeneity(np.array([-1.0, 2]), np.array([1.0, 2])), "non-negative"),
        (lambda: mmd_test(np.zeros((3, 1)), np.zeros((3, 1)), 1.0, n_perm=0), "n_perm"),
        (lambda: rbf_kernel(np.zeros((1, 1)), np.zeros((1, 1)), 0.0), "bandwidth"),
    ],
)
def test_parameters_are_validated_with_messages(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# -- calibration: vectorised statistics, null quantiles, tokenizer, contributors ----------------


@SETTINGS
@given(st.integers(2, 12).flatmap(lambda k: st.tuples(counts(k), counts(k))))
def test_row_statistics_match_the_scalar_ones(pq):
    from monitors.stats.calibrate import js_rows, psi_rows, w1_rows
    from monitors.stats.wasserstein import wasserstein_counts

    p, q = np.array(pq[0], float) + 1, np.array(pq[1], float)  # the reference side non-empty
    if q.sum() == 0:
        return
    assert abs(js_rows(p[None], q[None])[0] - js_distance(p, q)) <= TOL
    assert abs(psi_rows(p[None], q[None])[0] - psi(p, q)) <= TOL * max(1.0, psi(p, q))
    assert abs(w1_rows(p[None], q[None])[0] - wasserstein_counts(p, q)) <= 1e-9


def test_upper_quantile_reads_a_chi_square_tail():
    from monitors.stats.calibrate import upper_quantile

    x = np.random.default_rng(4).chisquare(7, 64) * 0.003  # 64 draws, as the monitors use
    assert upper_quantile(x, 0.999) == pytest.approx(0.003 * stats.chi2.ppf(0.999, 7), rel=0.25)
    assert upper_quantile(np.full(10, 0.2)) == 0.2


def test_multinomial_null_bounds_real_windows():
    """JS of 2,000 windows of a Zipf categorical: none above the calibrated 99.99% quantile."""
    from monitors.stats.calibrate import MultinomialNull, js_rows
    from monitors.stats.verdicts import collapse, supported_bins

    rng = np.random.default_rng(5)
    p = 1.0 / np.arange(1, 201) ** 1.2
    p /= p.sum()
    raw = rng.multinomial(5000, p)
    order = np.argsort(-raw, kind="stable")  # the profile's order: most frequent first
    ref = np.r_[raw[order], 0.0]
    k = supported_bins(ref, 2000)
    q = MultinomialNull(5000).quantile("js", collapse(ref, k), 2000)
    wins = rng.multinomial(2000, p, 2000)[:, order].astype(float)
    values = js_rows(np.tile(collapse(ref, k), (2000, 1)), np.array([collapse(w, k) for w in wins]))
    assert k >= 5 and values.max() < q < 3 * np.quantile(values, 0.99), (k, values.max(), q)


def test_reliable_count_tells_steep_from_flat_frequencies():
    from monitors.stats.verdicts import reliable_count

    rng = np.random.default_rng(6)
    zipf = rng.multinomial(20_000, 1 / np.arange(1, 5001) / np.sum(1 / np.arange(1, 5001)))
    flat = rng.multinomial(3000, np.full(1500, 1 / 1500))  # 1,500 films, ~2 reviews each
    assert reliable_count(zipf) <= 32
    assert reliable_count(flat) > flat.max()  # no film gets a bin of its own
    assert reliable_count(np.array([5000, 3000, 1000])) == 1


_TEXT = st.text(st.sampled_from("ab Z_é'-,.(\u00a0\u2019\t1"), max_size=30)


@SETTINGS
@given(st.lists(st.one_of(st.none(), _TEXT), max_size=20))
def test_tokenizer_fast_paths_equal_the_regex_split(texts):
    import collections

    import pyarrow as pa
    import pyarrow.compute as pc

    from monitors.stats.text import TOKEN_SPLIT, tokenize

    arr = pa.array(texts, pa.string())
    tokens, rows = tokenize(arr)
    pieces = pc.split_pattern_regex(pc.utf8_lower(arr), pattern=TOKEN_SPLIT)
    expected = collections.Counter(
        (i, t) for i, ts in enumerate(pieces.to_pylist()) for t in ts or [] if t
    )
    assert collections.Counter(zip(rows.tolist(), tokens.to_pylist(), strict=True)) == expected


def test_top_counter_stays_bounded_and_keeps_the_frequent():
    import pyarrow as pa

    from monitors.stats.contributors import TopCounter

    c = TopCounter(capacity=10)
    rng = np.random.default_rng(7)
    for _ in range(50):
        c.add(pa.array([f"rare{i}" for i in rng.integers(0, 10_000, 300)] + ["covid"] * 30))
        assert len(c.counts) <= 20
    assert c.items()[0] == ("covid", 1500)
