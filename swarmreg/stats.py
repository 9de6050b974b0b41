"""Paired comparisons across seeds: an exact signed-rank test, Holm's correction, a bootstrap interval.

Two trainers run on the same seeds see the same data splits, so their test
errors pair by seed.  For the paired differences d (n,) of one comparison:

* :func:`signed_rank_test` — Wilcoxon's signed-rank test, two-sided, its p
  computed exactly by enumerating all 2^m sign patterns of the m non-zero
  differences (mid-ranks for ties, zeros dropped as in Wilcoxon's original
  test), so it stays exact with ties, where a normal approximation would not.
  Its smallest possible p is 2 / 2^m (:func:`p_floor`): with 6 seeds no
  p below 0.031 can be seen, whatever the data.
* :func:`holm` — Holm's (1979) step-down adjustment of a family of p-values,
  which keeps the chance of any false rejection in the family at most α.
* :func:`bootstrap_median` — the median of d with a percentile bootstrap
  interval (seeded: the same numbers every time).

:func:`compare` puts these together for one pair of trainers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["ALPHA", "EXACT_LIMIT", "signed_rank_test", "p_floor", "holm", "bootstrap_median", "Comparison",
           "compare", "adjust"]

#: Significance level of the report's tests (after Holm's correction within a family).
ALPHA = 0.05
#: Up to this many non-zero pairs the null distribution is enumerated exactly (2^m patterns).
EXACT_LIMIT = 20
#: Bootstrap resamples of :func:`bootstrap_median`.
BOOTSTRAP = 10_000


def _differences(d, name: str = "d") -> np.ndarray:
    d = np.asarray(d, dtype=float)
    if d.ndim != 1:
        raise ValueError(f"{name} must be a 1-d array of paired differences, got shape {d.shape}")
    if not np.all(np.isfinite(d)):
        raise ValueError(f"{name} holds non-finite values")
    return d


def _ranks(a: np.ndarray) -> np.ndarray:
    """Mid-ranks (1-based) of a, ties sharing the mean of their ranks."""
    order = np.argsort(a, kind="stable")
    sorted_a = a[order]
    ranks = np.empty(len(a))
    i = 0
    while i < len(a):
        j = i
        while j + 1 < len(a) and sorted_a[j + 1] == sorted_a[i]:
            j += 1
        ranks[order[i:j + 1]] = 0.5 * (i + j) + 1.0
        i = j + 1
    return ranks


def signed_rank_test(d) -> tuple[float, float, int]:
    """Wilcoxon's signed-rank test of "the differences are symmetric about 0", two-sided.

    Parameters
    ----------
    d : array_like, shape (n,)
        Paired differences (finite).

    Returns
    -------
    statistic : float
        W+, the sum of the ranks of |d| over the positive differences (zeros dropped).
    p : float
        The two-sided p-value: the share of the 2^m equally likely sign patterns whose
        W+ lies at least as far from its mean m(m+1)/4 as the observed one.  Exact for
        m <= :data:`EXACT_LIMIT`; beyond, the normal approximation with the tie
        correction.  1.0 when every difference is 0.
    m : int
        The number of non-zero differences the test used.
    """
    d = _differences(d)
    d = d[d != 0]
    m = len(d)
    if m == 0:
        return 0.0, 1.0, 0
    r = _ranks(np.abs(d))
    w = float(r[d > 0].sum())
    mean = r.sum() / 2.0
    if m <= EXACT_LIMIT:
        # all 2^m sums of a subset of the ranks, built one rank at a time
        sums = np.zeros(1)
        for rank in r:
            sums = np.concatenate([sums, sums + rank])
        far = np.abs(sums - mean) >= abs(w - mean) - 1e-9 * max(1.0, mean)
        return w, float(np.count_nonzero(far) / len(sums)), m
    var = float((r ** 2).sum()) / 4.0
    z = abs(w - mean) / math.sqrt(var)
    return w, float(math.erfc(z / math.sqrt(2.0))), m


def p_floor(m: int) -> float:
    """The smallest two-sided p the exact signed-rank test can give with m non-zero pairs: 2 / 2^m."""
    return 1.0 if m <= 0 else min(1.0, 2.0 / 2.0 ** m)


def holm(p) -> np.ndarray:
    """Holm's step-down adjusted p-values of one family.

    Parameters
    ----------
    p : array_like, shape (k,)
        p-values in [0, 1]; NaN entries (no test) are kept as NaN and not counted in k.

    Returns
    -------
    adjusted : ndarray, shape (k,)
        The i-th smallest of the k p-values times (k − i + 1), made non-decreasing in
        that order and capped at 1: reject where adjusted <= α.
    """
    p = np.asarray(p, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"p must be a 1-d array of p-values, got shape {p.shape}")
    ok = np.isfinite(p)
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        raise ValueError("p holds values outside [0, 1]")
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(ok)
    k = len(idx)
    order = idx[np.argsort(p[idx], kind="stable")]
    running = 0.0
    for i, j in enumerate(order):
        running = max(running, min(1.0, (k - i) * p[j]))
        out[j] = running
    return out


def bootstrap_median(d, level: float = 0.95, resamples: int = BOOTSTRAP, seed: int = 0):
    """The median of d and a percentile bootstrap interval for it.

    Parameters
    ----------
    d : array_like, shape (n,)
    level : float
        Coverage of the interval, in (0, 1).
    resamples : int
    seed : int
        The resampling stream (the same seed, the same interval).

    Returns
    -------
    median, low, high : float
    """
    d = _differences(d)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    if len(d) == 0:
        raise ValueError("d is empty")
    rng = np.random.default_rng(seed)
    medians = np.median(d[rng.integers(0, len(d), size=(resamples, len(d)))], axis=1)
    low, high = np.quantile(medians, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return float(np.median(d)), float(low), float(high)


@dataclass
class Comparison:
    """One paired comparison of trainer a against trainer b on one data set (a − b: below 0, a is lower)."""

    dataset: str
    a: str
    b: str
    lam_a: float
    lam_b: float
    n: int                 # pairs (seeds both have)
    median_a: float
    median_b: float
    difference: float      # median of the paired differences a − b
    low: float             # its bootstrap interval
    high: float
    statistic: float       # W+
    p: float               # exact two-sided p
    floor: float           # the smallest p these pairs allow
    adjusted: float = math.nan   # Holm-adjusted within the family

    @property
    def significant(self) -> bool:
        return self.adjusted <= ALPHA

    @property
    def lower(self) -> str | None:
        """The trainer with the lower values, when the test says so and both medians agree; else None."""
        if not self.significant:
            return None
        paired = np.sign(self.difference)
        unpaired = np.sign(self.median_a - self.median_b)
        if paired == 0 or paired != unpaired:
            return None
        return self.a if paired < 0 else self.b


def compare(dataset: str, a: str, b: str, lam_a: float, lam_b: float, x, y) -> Comparison:
    """:class:`Comparison` of paired values x (trainer a) and y (trainer b), shape (n,) each."""
    x, y = _differences(x, "x"), _differences(y, "y")
    if x.shape != y.shape or len(x) < 1:
        raise ValueError(f"x and y must be paired values of one shape, got {x.shape} and {y.shape}")
    d = x - y
    w, p, m = signed_rank_test(d)
    med, low, high = bootstrap_median(d)
    return Comparison(dataset, a, b, lam_a, lam_b, len(d), float(np.median(x)), float(np.median(y)), med, low,
                      high, w, p, p_floor(m))


def adjust(comparisons: list[Comparison]) -> list[Comparison]:
    """Set every comparison's Holm-adjusted p, the list being one family; returns it."""
    for c, q in zip(comparisons, holm([c.p for c in comparisons])):
        c.adjusted = float(q)
    return comparisons
