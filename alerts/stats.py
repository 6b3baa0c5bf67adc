"""Small, exact statistics for detection and report figures (no SciPy needed).

Tests: the binomial upper tail and the normal upper tail (one-sided, only rises matter), and
Benjamini-Hochberg control of the false-discovery rate across the tests of one day or version.
Intervals: Wilson score interval for one proportion, Newcombe's hybrid score interval (his method 10)
for the difference of two independent proportions, and a normal interval for a mean and for the
difference of two means (Welch standard error).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

Z95 = 1.959963984540054  # two-sided 95 % normal quantile


def wilson(x: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval for ``x`` successes out of ``n``; None when ``n`` is 0."""
    if n <= 0:
        return None
    p = x / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    denom = 1 + z2 / n
    return (max(0.0, (centre - half) / denom), min(1.0, (centre + half) / denom))


def newcombe(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> tuple[float, float] | None:
    """Newcombe's hybrid score interval for ``x1/n1 - x2/n2``; None when either ``n`` is 0."""
    a, b = wilson(x1, n1, z), wilson(x2, n2, z)
    if a is None or b is None:
        return None
    p1, p2 = x1 / n1, x2 / n2
    (l1, u1), (l2, u2) = a, b
    d = p1 - p2
    return (d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))


def mean_sd(n: int, total: float, total_sq: float) -> tuple[float, float] | None:
    """Mean and sample standard deviation from a count, a sum and a sum of squares."""
    if n <= 0:
        return None
    mean = total / n
    if n == 1:
        return mean, 0.0
    var = max(0.0, (total_sq - n * mean * mean) / (n - 1))
    return mean, math.sqrt(var)


def mean_ci(mean: float, sd: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Normal-approximation interval for a mean."""
    half = z * sd / math.sqrt(n) if n > 0 else 0.0
    return mean - half, mean + half


def mean_diff_ci(m1: float, s1: float, n1: int, m2: float, s2: float, n2: int,
                 z: float = Z95) -> tuple[float, float]:
    """Normal-approximation interval for ``m1 - m2`` with the Welch standard error."""
    se = math.sqrt(s1 * s1 / n1 + s2 * s2 / n2)
    d = m1 - m2
    return d - z * se, d + z * se


def excludes_zero(interval: tuple[float, float] | None) -> bool:
    """Whether an interval lies wholly above or below zero (a significant difference)."""
    return interval is not None and (interval[0] > 0 or interval[1] < 0)


def binom_sf(x: int, n: int, p: float) -> float:
    """P(X >= x) for X ~ Binomial(n, p); 1.0 whenever x/n is not above p (only rises matter here)."""
    logp, logq = (math.log(p), math.log1p(-p)) if 0.0 < p < 1.0 else (0.0, 0.0)
    return _upper_tail(x, n, p, math.lgamma(n + 1), lambda k: k * logp + (n - k) * logq)


def _upper_tail(x: int, n: int, p: float, base: float, log_weight: Callable[[int], float]) -> float:
    """Sum of exp(base - log k! - log (n-k)! + log_weight(k)) over k >= x, with the edge cases of a rise
    test: 1.0 unless x/n is above p; terms past the mode shrink, so the sum stops when they stop counting."""
    if x <= 0 or p >= 1.0:
        return 1.0
    if x > n or p <= 0.0:
        return 0.0
    if x <= n * p:
        return 1.0
    total = 0.0
    for k in range(x, n + 1):
        term = math.exp(base - math.lgamma(k + 1) - math.lgamma(n - k + 1) + log_weight(k))
        total += term
        if term < total * 1e-12:
            break
    return min(1.0, total)


def norm_sf(z: float) -> float:
    """Upper tail of the standard normal."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def benjamini_hochberg(p_values: Sequence[float], q: float) -> list[bool]:
    """Which of ``p_values`` are discoveries at false-discovery rate ``q`` (Benjamini-Hochberg step-up).

    The largest k with p_(k) <= k q / m sets the cut: every test with a p-value at or below p_(k) is a
    discovery. Valid under independence or positive dependence of the tests (clusters of one stream).
    """
    m = len(p_values)
    if m == 0:
        return []
    order = sorted(range(m), key=lambda i: p_values[i])
    cut = -1.0
    for rank, i in enumerate(order, start=1):
        if p_values[i] <= rank * q / m:
            cut = p_values[i]
    return [p <= cut for p in p_values]


def betabinom_sf(x: int, n: int, p: float, rho: float) -> float:
    """P(X >= x) for X ~ Beta-Binomial(n) with mean share ``p`` and intra-class correlation ``rho``.

    ``rho`` is the overdispersion: Var X = n p (1 - p) (1 + (n - 1) rho). ``rho`` 0 is the binomial.
    Like :func:`binom_sf`, 1.0 whenever x/n is not above p (only rises matter).
    """
    if rho <= 0.0 or not 0.0 < p < 1.0:
        return binom_sf(x, n, p)
    scale = (1.0 - rho) / rho
    a, b = p * scale, (1.0 - p) * scale
    return _upper_tail(x, n, p, math.lgamma(n + 1) - _lbeta(a, b), lambda k: _lbeta(k + a, n - k + b))


def _lbeta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
