"""Paired statistics for comparing two prompts on the same cases (stdlib only).

Repeats: with ``--repeat k`` every case is run k times and the repeats are averaged
*within the case* before any test, so each case contributes one value in [0, 1].
The per-case difference is ``d_i = head_i - base_i``. The exact McNemar test on
binary outcomes is a binomial (sign) test on the discordant pairs; for fractional
values we keep that reading and count discordance by the sign of ``d_i``:
``b = #(d_i < 0)`` (worse on head), ``c = #(d_i > 0)`` (better on head), ties dropped.
With k = 1 this is exactly McNemar's exact test. :func:`discordant_counts` does the
counting so every caller agrees on it.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable, Sequence
from statistics import NormalDist

# Above this many values the percentile bootstrap of a mean and the normal interval
# agree to well under a tenth of the interval's width (the CLT has long taken hold for
# values bounded in [-1, 1]), while resampling would cost n * n_resamples draws.
NORMAL_APPROX_ABOVE = 5000

# Differences this small are ties: means of repeats are sums divided by k and can
# carry rounding noise.
TIE_TOLERANCE = 1e-9


def normal_quantile(p: float) -> float:
    """Inverse CDF of the standard normal distribution."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"quantile probability must be in (0, 1), got {p}")
    return NormalDist().inv_cdf(p)


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def _binomial_tail(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2), computed exactly with integers."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    # Walk the row of Pascal's triangle instead of calling math.comb per term: each
    # step is one multiply and one exact division, so thousands of pairs stay fast.
    term = 1
    total = 1
    for i in range(k):
        term = term * (n - i) // (i + 1)
        total += term
    # Integer true division rounds correctly even when both sides overflow a float.
    return total / (1 << n)


def _check_counts(b: int, c: int) -> None:
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be non-negative, got b={b}, c={c}")


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value.

    ``b`` counts pairs that went pass→fail, ``c`` pairs that went fail→pass; under the
    null hypothesis each discordant pair is equally likely to go either way, so the
    p-value is twice the smaller binomial tail at p = 0.5, capped at 1. Returns 1.0
    when there are no discordant pairs.
    """
    _check_counts(b, c)
    n = b + c
    if n == 0:
        return 1.0
    return min(1.0, 2.0 * _binomial_tail(min(b, c), n))


def mcnemar_one_sided(b: int, c: int) -> float:
    """One-sided exact p-value for "head is worse": P(X >= b), X ~ Binomial(b + c, 1/2).

    A gate only fails on regressions, so this is the test whose size bounds the
    false-fail rate of identical prompts.
    """
    _check_counts(b, c)
    n = b + c
    if n == 0:
        return 1.0
    # By symmetry of Binomial(n, 1/2), P(X >= b) = P(X <= n - b); no cancellation.
    return _binomial_tail(n - b, n)


def sign_flip_p_worse(deltas: Sequence[float], *, n_resamples: int = 4000, seed: int = 0) -> float:
    """One-sided paired randomization (sign-flip) p-value for "head is worse".

    If head and base are exchangeable within each case, every per-case difference is
    as likely to carry either sign, so the observed total ``T = Σ d_i`` is compared
    with ``T* = Σ ±|d_i|`` under random signs: ``p = P(T* <= T)``. When every
    non-zero difference has the same size (cases run once: d in {-1, 0, 1}) this is
    exactly :func:`mcnemar_one_sided` and is computed exactly. With repeats the sizes
    differ (a case going 3/3 → 0/3 weighs more than 3/3 → 2/3, which the plain sign
    test would count alike); then the p-value is estimated from ``n_resamples`` seeded
    random sign draws as ``(1 + hits) / (1 + n_resamples)``, which never understates it.
    """
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    nonzero = [float(d) for d in deltas if abs(d) > TIE_TOLERANCE]
    if not nonzero:
        return 1.0
    sizes: dict[float, int] = {}
    for d in nonzero:
        key = round(abs(d), 9)
        sizes[key] = sizes.get(key, 0) + 1
    if len(sizes) == 1:
        worse, better = discordant_counts(nonzero)
        return mcnemar_one_sided(worse, better)
    observed = math.fsum(nonzero)
    groups = list(sizes.items())
    slack = 1e-7 * len(nonzero)
    rng = random.Random(seed)
    hits = 0
    for _ in range(n_resamples):
        # Within a group of m equal sizes only the number of plus signs matters:
        # the popcount of m random bits is exactly Binomial(m, 1/2).
        total = math.fsum(size * (2 * rng.getrandbits(m).bit_count() - m) for size, m in groups)
        if total <= observed + slack:
            hits += 1
    return (hits + 1) / (n_resamples + 1)


def holm_adjusted(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input order: rejecting every test whose
    adjusted p is below alpha keeps the chance of any false rejection among them at most
    alpha, whatever their dependence."""
    k = len(p_values)
    adjusted = [1.0] * k
    running = 0.0
    for rank, index in enumerate(sorted(range(k), key=lambda i: p_values[i])):
        running = max(running, min(1.0, (k - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def discordant_counts(deltas: Sequence[float]) -> tuple[int, int]:
    """``(b, c)``: cases worse on head (d < 0) and better on head (d > 0); ties ignored."""
    worse = sum(1 for d in deltas if d < -TIE_TOLERANCE)
    better = sum(1 for d in deltas if d > TIE_TOLERANCE)
    return worse, better


def paired_bootstrap_ci(
    deltas: Sequence[float],
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Mean of paired differences and its two-sided percentile-bootstrap interval.

    Returns ``(mean, lo, hi)``. The resampling is driven by ``random.Random(seed)``,
    so the same input and seed always give the same interval. Above
    :data:`NORMAL_APPROX_ABOVE` values the normal interval ``mean ± z·sd/√n`` is
    returned instead: it is what the bootstrap converges to, at no resampling cost.
    """
    _check_confidence(confidence)
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    values = [float(d) for d in deltas]
    n = len(values)
    if n == 0:
        raise ValueError("paired_bootstrap_ci needs at least one difference")
    mean = math.fsum(values) / n
    if n == 1 or max(values) == min(values):
        return mean, mean, mean
    alpha = 1.0 - confidence
    if n > NORMAL_APPROX_ABOVE:
        variance = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
        half = normal_quantile(1.0 - alpha / 2.0) * math.sqrt(variance / n)
        return mean, mean - half, mean + half
    rng = random.Random(seed)
    means = sorted(math.fsum(rng.choices(values, k=n)) / n for _ in range(n_resamples))
    return mean, _percentile(means, alpha / 2.0), _percentile(means, 1.0 - alpha / 2.0)


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default method)."""
    position = q * (len(sorted_values) - 1)
    lower = math.floor(position)
    upper = min(lower + 1, len(sorted_values) - 1)
    weight = position - lower
    return sorted_values[lower] * (1.0 - weight) + sorted_values[upper] * weight


def wilson_interval(successes: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided Wilson score interval for a proportion.

    ``successes`` may be fractional (the sum of per-case mean pass rates when cases are
    repeated); ``n`` is the number of cases. With ``n == 0`` nothing is known: (0, 1).
    """
    _check_confidence(confidence)
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    if n == 0:
        return 0.0, 1.0
    if not 0.0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n={n}, got {successes}")
    z = normal_quantile(1.0 - (1.0 - confidence) / 2.0)
    p = successes / n
    z2 = z * z
    denominator = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denominator
    half = z * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


# How often a power estimate asks the test to catch the effect it is about.
POWER = 0.8
# Beyond this many cases an estimate says "more than" instead of a number.
MOST_CASES = 10_000


def _log_pmf(k: int, n: int, p: float) -> float:
    if p <= 0.0:
        return 0.0 if k == 0 else -math.inf
    if p >= 1.0:
        return 0.0 if k == n else -math.inf
    return (
        math.lgamma(n + 1)
        - math.lgamma(k + 1)
        - math.lgamma(n - k + 1)
        + k * math.log(p)
        + (n - k) * math.log1p(-p)
    )


def _binomial_support(n: int, p: float) -> range:
    """The values of Binomial(n, p) that carry all but a negligible share of its mass."""
    spread = 12.0 * math.sqrt(n * p * (1.0 - p)) + 12.0
    return range(max(0, math.floor(n * p - spread)), min(n, math.ceil(n * p + spread)) + 1)


def _upper_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), each term from the one before it."""
    if p >= 1.0:
        return 1.0
    term = math.exp(_log_pmf(k, n, p))
    ratio = p / (1.0 - p)
    total = 0.0
    for b in range(k, n + 1):
        total += term
        if term < 1e-15 * total and b > n * p:
            break
        term *= (n - b) / (b + 1) * ratio
    return min(total, 1.0)


@functools.lru_cache(maxsize=4096)
def _sign_test_critical(m: int, alpha: float) -> int:
    """The fewest worse-on-head cases among ``m`` discordant ones that the one-sided exact
    test (:func:`mcnemar_one_sided`) calls significant at ``alpha``; ``m + 1`` when none is."""
    lo, hi = 0, m + 1
    while lo < hi:
        mid = (lo + hi) // 2
        if mcnemar_one_sided(mid, m - mid) < alpha:
            hi = mid
        else:
            lo = mid + 1
    return lo


def regression_power(
    n: int, drop_pp: float, allowance_pp: float, alpha: float, noise: float
) -> float:
    """The chance that the gate's regression rule fails a head that is worse by ``drop_pp``
    points on ``n`` cases run once: each case breaks with probability ``drop + noise`` and
    is fixed with probability ``noise`` (the flips an unchanged prompt shows), and the rule
    fails it when the exact sign test rejects at ``alpha`` and the drop exceeds the
    allowance. Confirmation runs and Holm's adjustment are left out: it is an estimate."""
    fixed = min(max(noise, 0.0), 0.49)
    broken = min(fixed + drop_pp / 100.0, 1.0 - fixed)
    moved = broken + fixed
    if moved <= 0.0:
        return 0.0
    share_broken = broken / moved
    power = 0.0
    for m in _binomial_support(n, moved):
        weight = math.exp(_log_pmf(m, n, moved))
        if weight < 1e-12:
            continue
        # Worse-on-head b of m: significant, and b - (m - b) beyond the allowance of n.
        beyond = math.floor((m + allowance_pp * n / 100.0) / 2.0) + 1
        least = max(_sign_test_critical(m, alpha), beyond)
        if least > m:
            continue
        power += weight * _upper_tail(least, m, share_broken)
    return min(power, 1.0)


def cases_to_detect_drop(
    drop_pp: float, allowance_pp: float, alpha: float, noise: float = 0.0
) -> int | None:
    """About how many cases the regression rule needs to catch a ``drop_pp``-point drop
    :data:`POWER` of the time (see :func:`regression_power`); None beyond
    :data:`MOST_CASES`."""
    if drop_pp <= allowance_pp:
        return None

    def enough(n: int) -> bool:
        return regression_power(n, drop_pp, allowance_pp, alpha, noise) >= POWER

    return _least(enough)


def cases_to_show_below(rate: float, minimum: float, confidence: float) -> int | None:
    """About how many cases a pass rate of ``rate`` needs before its one-sided upper bound
    at ``confidence`` (the gate's statistical threshold rule) falls below ``minimum``; None
    when it never does within :data:`MOST_CASES`."""
    if rate >= minimum:
        return None

    def enough(n: int) -> bool:
        return wilson_interval(rate * n, n, 2.0 * confidence - 1.0)[1] < minimum

    return _least(enough)


def _least(enough: Callable[[int], bool]) -> int | None:
    """The least n in [1, MOST_CASES] for which ``enough`` holds, taking it as monotone."""
    hi = 1
    while not enough(hi):
        if hi >= MOST_CASES:
            return None
        hi = min(hi * 2, MOST_CASES)
    lo = hi // 2 + 1 if hi > 1 else 1
    while lo < hi:
        mid = (lo + hi) // 2
        if enough(mid):
            hi = mid
        else:
            lo = mid + 1
    return hi


def about(n: int) -> int:
    """A case count as it is said aloud, rounded up: exact up to 20, then to tens, and
    from a thousand on to two significant figures."""
    if n <= 20:
        return n
    step = 10 if n < 1000 else 10 ** (len(str(n)) - 2)
    return -(-n // step) * step
