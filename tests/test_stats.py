"""swarmreg.stats against independent oracles: scipy's exact Wilcoxon test, brute-force sign
enumeration with ties, Holm's definition written out, and the bootstrap's own definition."""

import itertools
import math

import numpy as np
import pytest
from scipy.stats import rankdata, wilcoxon

from swarmreg import stats


@pytest.mark.parametrize("n", [1, 2, 5, 6, 9, 12])
def test_signed_rank_matches_scipy_exact_without_ties(n):
    rng = np.random.default_rng(n)
    for _ in range(20):
        d = rng.standard_normal(n) + 0.4
        w, p, m = stats.signed_rank_test(d)
        ref = wilcoxon(d, method="exact", alternative="two-sided")
        assert m == n
        assert p == pytest.approx(ref.pvalue, rel=1e-12)
        assert w == pytest.approx(float(rankdata(np.abs(d))[d > 0].sum()))


def brute_force_p(d):
    """Two-sided p by listing every sign pattern of the non-zero |d| with mid-ranks."""
    d = np.asarray(d, float)
    d = d[d != 0]
    r = rankdata(np.abs(d))
    w = r[d > 0].sum()
    mean = r.sum() / 2
    sums = [sum(ri for ri, s in zip(r, signs) if s) for signs in itertools.product([0, 1], repeat=len(r))]
    return sum(abs(x - mean) >= abs(w - mean) - 1e-12 for x in sums) / len(sums)


@pytest.mark.parametrize("d", [
    [1.0, 1.0, 2.0, -1.0, 3.0, 3.0],          # ties in |d|
    [0.0, 0.5, -0.5, 0.5, 2.0, 0.0, 1.5],     # zeros and ties across signs
    [2.0, 2.0, 2.0, 2.0],                     # all tied, one sign
    [-1e-3, 4.0, 4.0, -4.0, 0.2, 0.7, 0.7],
])
def test_signed_rank_is_exact_with_ties_and_zeros(d):
    _, p, m = stats.signed_rank_test(d)
    assert m == sum(x != 0 for x in d)
    assert p == pytest.approx(brute_force_p(d), abs=1e-12)


@pytest.mark.parametrize("n", [1, 4, 6, 10])
def test_all_one_sign_gives_the_floor(n):
    d = np.arange(1, n + 1, dtype=float)
    _, p, m = stats.signed_rank_test(d)
    assert p == pytest.approx(stats.p_floor(m)) == pytest.approx(min(1.0, 2.0 / 2 ** n))
    _, p_neg, _ = stats.signed_rank_test(-d)
    assert p_neg == pytest.approx(p)


def test_no_nonzero_difference_gives_p_one():
    assert stats.signed_rank_test([0.0, 0.0, 0.0])[1:] == (1.0, 0)
    assert stats.p_floor(0) == 1.0


def test_large_samples_use_the_normal_approximation_close_to_scipy():
    rng = np.random.default_rng(3)
    d = rng.standard_normal(40) + 0.3
    _, p, _ = stats.signed_rank_test(d)
    ref = wilcoxon(d, method="approx", correction=False).pvalue
    assert p == pytest.approx(ref, rel=1e-9)


def holm_by_definition(p):
    """Holm's adjusted p: for the i-th smallest, max over j <= i of min(1, (k − j + 1)·p_(j))."""
    p = list(p)
    k = len(p)
    order = sorted(range(k), key=lambda i: p[i])
    out = [0.0] * k
    for pos, i in enumerate(order):
        out[i] = max(min(1.0, (k - j) * p[order[j]]) for j in range(pos + 1))
    return out


def test_holm_hand_computed():
    # sorted 0.005, 0.01, 0.03, 0.04 with k = 4: 0.02, 0.03, 0.06, max(0.04, 0.06)
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_matches_its_definition_and_keeps_nan():
    rng = np.random.default_rng(0)
    for k in (1, 2, 7, 15):
        p = rng.uniform(0, 0.2, k)
        assert stats.holm(p) == pytest.approx(holm_by_definition(p))
    out = stats.holm([0.01, np.nan, 0.02])
    assert math.isnan(out[1]) and out[[0, 2]] == pytest.approx([0.02, 0.02])


@pytest.mark.parametrize("bad", [[-0.1], [1.5], [[0.1, 0.2]]])
def test_holm_rejects_what_is_not_a_family_of_p_values(bad):
    with pytest.raises(ValueError, match="p "):
        stats.holm(bad)


def test_bootstrap_median_is_the_median_with_a_seeded_interval():
    d = np.array([0.3, -0.1, 0.5, 0.2, 0.4, 0.1, 0.0, 0.6])
    med, low, high = stats.bootstrap_median(d)
    assert med == pytest.approx(np.median(d))
    assert low <= med <= high
    assert (low, high) == stats.bootstrap_median(d)[1:]  # the same seed, the same interval
    # the interval's ends are values a resampled median can take: midpoints of pairs of the data
    mids = {(a + b) / 2 for a in d for b in d}
    assert any(abs(low - m) < 1e-12 for m in mids) and any(abs(high - m) < 1e-12 for m in mids)
    assert stats.bootstrap_median([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)


def test_bootstrap_interval_covers_the_true_median_about_as_often_as_it_says():
    rng = np.random.default_rng(7)
    hits = 0
    reps = 200
    for i in range(reps):
        d = rng.standard_normal(40) + 1.0
        _, low, high = stats.bootstrap_median(d, resamples=2000, seed=i)
        hits += low <= 1.0 <= high
    assert 0.88 <= hits / reps <= 0.99


def test_compare_pairs_and_the_verdict_needs_the_medians_to_agree():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    y = x + 1.0
    c = stats.adjust([stats.compare("d", "a", "b", 0.1, 0.2, x, y)])[0]
    assert c.difference == -1.0 and c.p == pytest.approx(2 / 2 ** 10) and c.adjusted == pytest.approx(c.p)
    assert c.lower == "a"
    # the same differences in a family of 15 no longer pass Holm's first step at 6 pairs
    six = stats.compare("d", "a", "b", 0.1, 0.2, x[:6], y[:6])
    family = stats.adjust([six] + [stats.compare("d", "a", "b", 0, 0, x[:6], x[:6] + s) for s in
                                   np.linspace(-0.1, 0.1, 14)])
    assert family[0].adjusted > stats.ALPHA and family[0].lower is None
    # paired and unpaired medians disagreeing in sign: a is lower on 13 of 14 seeds, by 0.125, and higher by 8
    # on the one left, which lifts a's median above b's: the test passes, but no side is named
    b = np.arange(14.0)
    a = b - 0.125  # exact in binary, so the 13 differences tie
    a[6] = b[6] + 8.0
    c = stats.adjust([stats.compare("d", "a", "b", 0, 0, a, b)])[0]
    assert c.difference == -0.125 and c.median_a > c.median_b
    assert c.significant and c.adjusted == pytest.approx(2 * 93 / 2 ** 14)
    assert c.lower is None


@pytest.mark.parametrize("x, y, match", [([1.0, 2.0], [1.0], "paired"), ([1.0, np.nan], [1.0, 2.0], "x holds"),
                                         ([[1.0]], [[1.0]], "1-d")])
def test_compare_names_bad_input(x, y, match):
    with pytest.raises(ValueError, match=match):
        stats.compare("d", "a", "b", 0, 0, x, y)
