"""Confidence intervals for proportions, written out so ``core`` needs NumPy only.

* :func:`clopper_pearson`: the exact binomial interval (Clopper & Pearson 1934), through
  the regularized incomplete beta function (Lentz's continued fraction, as in Numerical
  Recipes 6.4). Counts may be fractional, which the stratified estimator needs (an
  *effective* count, Korn & Graubard 1998).
* :func:`wilson`: the Wilson score interval (Wilson 1927).
* :func:`hypergeometric`: the exact interval for the number of bad items in a *finite*
  population sampled without replacement (each bound found by bisection on the exact
  hypergeometric tail, every term computed exactly through ``math.comb``-equivalent
  log-gamma sums). This is the interval of a single stratum fully described by its size.

Every function returns fractions in ``[0, 1]`` and takes the two-sided ``level`` (0.95).
"""

from __future__ import annotations

import math

from tracker_annotate.core.errors import ConfigError

_EPS = 1e-15
_TINY = 1e-300


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ConfigError(f"confidence level must be in (0, 1), got {level}")


def normal_quantile(q: float) -> float:
    """The standard normal quantile (inverse CDF) at ``q`` in (0, 1), by bisection on erf."""
    if not 0.0 < q < 1.0:
        raise ConfigError(f"normal quantile needs q in (0, 1), got {q}")
    lo, hi = -40.0, 40.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if 0.5 * (1.0 + math.erf(mid / math.sqrt(2.0))) < q:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-14:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function ``I_x(a, b)`` for ``a, b > 0``."""
    if a <= 0 or b <= 0:
        raise ConfigError(f"betainc needs a, b > 0, got a={a}, b={b}")
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def beta_ppf(q: float, a: float, b: float) -> float:
    """The ``q`` quantile of the Beta(a, b) distribution, by bisection on :func:`betainc`."""
    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if betainc(a, b, mid) < q:
            lo = mid
        else:
            hi = mid
        if hi - lo < _EPS:
            break
    return 0.5 * (lo + hi)


def clopper_pearson(k: float, n: float, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval for a binomial proportion after ``k`` of ``n``.

    ``k`` and ``n`` may be fractional (effective counts); ``0 <= k <= n`` and ``n > 0``.
    """
    _check_level(level)
    if not n > 0 or not 0 <= k <= n:
        raise ConfigError(f"clopper_pearson needs 0 <= k <= n and n > 0, got k={k}, n={n}")
    alpha = 1.0 - level
    lo = 0.0 if k <= 0 else beta_ppf(alpha / 2, k, n - k + 1)
    hi = 1.0 if k >= n else beta_ppf(1 - alpha / 2, k + 1, n - k)
    return lo, hi


def wilson(k: float, n: float, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion after ``k`` of ``n``."""
    _check_level(level)
    if not n > 0 or not 0 <= k <= n:
        raise ConfigError(f"wilson needs 0 <= k <= n and n > 0, got k={k}, n={n}")
    z = normal_quantile(1 - (1 - level) / 2)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def hypergeom_cdf(k: int, population: int, bad: int, n: int) -> float:
    """P(X <= k) for X the bad items in ``n`` draws without replacement from
    ``population`` items of which ``bad`` are bad."""
    lo = max(0, n - (population - bad))
    hi = min(n, bad)
    if k < lo:
        return 0.0
    if k >= hi:
        return 1.0
    log_total = _log_comb(population, n)
    return min(
        1.0,
        sum(
            math.exp(_log_comb(bad, i) + _log_comb(population - bad, n - i) - log_total)
            for i in range(lo, k + 1)
        ),
    )


def hypergeometric(k: int, n: int, population: int, level: float = 0.95) -> tuple[int, int]:
    """Exact interval ``(D_lo, D_hi)`` for the number of bad items in a population of
    ``population`` after ``k`` bad among ``n`` drawn without replacement.

    ``D_hi`` is the largest ``D`` with ``P(X <= k | D) > alpha/2``, ``D_lo`` the smallest
    with ``P(X >= k | D) > alpha/2`` (the test-inversion interval; both tails monotone in
    ``D``, so each bound is a bisection).
    """
    _check_level(level)
    if not 0 <= k <= n <= population:
        raise ConfigError(
            f"hypergeometric needs 0 <= k <= n <= population, got k={k}, n={n}, N={population}"
        )
    half = (1.0 - level) / 2
    # D_hi: P(X <= k | D) decreases with D; largest D with it > half (at least k + (N-n))
    lo, hi = k, population - (n - k)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if hypergeom_cdf(k, population, mid, n) > half:
            lo = mid
        else:
            hi = mid - 1
    d_hi = lo
    # D_lo: P(X >= k | D) = 1 - P(X <= k-1 | D) increases with D; smallest D with it > half
    lo, hi = k, population - (n - k)
    if k == 0:
        return 0, d_hi
    while lo < hi:
        mid = (lo + hi) // 2
        if 1.0 - hypergeom_cdf(k - 1, population, mid, n) > half:
            hi = mid
        else:
            lo = mid + 1
    return lo, d_hi
