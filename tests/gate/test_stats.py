from __future__ import annotations

import math
import random
import statistics

import pytest

from promptloop.gate import stats
from promptloop.gate.stats import (
    discordant_counts,
    mcnemar_exact,
    mcnemar_one_sided,
    normal_quantile,
    paired_bootstrap_ci,
    sign_flip_p_worse,
    wilson_interval,
)


@pytest.mark.parametrize(
    ("b", "c", "expected"),
    [
        (0, 5, 2 * 1 / 32),  # both tails: P(X=0) doubled
        (5, 0, 2 * 1 / 32),
        (1, 9, 2 * (1 + 10) / 1024),
        (2, 8, 2 * (1 + 10 + 45) / 1024),
        (3, 3, 1.0),  # doubled tail exceeds 1, capped
        (0, 1, 1.0),
        (0, 0, 1.0),
    ],
)
def test_mcnemar_exact_matches_hand_computed_binomial_sums(b: int, c: int, expected: float) -> None:
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12)


def test_mcnemar_exact_is_symmetric_and_close_to_the_chi_square_for_many_pairs() -> None:
    assert mcnemar_exact(40, 60) == mcnemar_exact(60, 40)
    # Continuity-corrected chi-square approximation, 1 degree of freedom.
    chi2 = (abs(40 - 60) - 1) ** 2 / 100
    approx = math.erfc(math.sqrt(chi2 / 2))
    assert mcnemar_exact(40, 60) == pytest.approx(approx, abs=0.003)


def test_mcnemar_exact_handles_thousands_of_pairs_without_overflow() -> None:
    p = mcnemar_exact(5000, 5300)
    assert 0.0 < p < 0.01
    assert mcnemar_exact(5000, 5000) == 1.0


@pytest.mark.parametrize(
    ("b", "c", "expected"),
    [
        (5, 0, 1 / 32),  # all five discordant pairs went the bad way
        (0, 5, 1.0),
        (3, 1, (4 + 1) / 16),  # P(X >= 3) for n = 4
        (1, 9, 1 - 1 / 1024),  # P(X >= 1) for n = 10
        (0, 0, 1.0),
    ],
)
def test_mcnemar_one_sided_is_the_upper_binomial_tail(b: int, c: int, expected: float) -> None:
    assert mcnemar_one_sided(b, c) == pytest.approx(expected, rel=1e-12)


def test_one_sided_tails_overlap_by_exactly_the_observed_point_mass() -> None:
    b, c = 7, 4
    point = math.comb(11, 7) / 2**11
    assert mcnemar_one_sided(b, c) + mcnemar_one_sided(c, b) == pytest.approx(1 + point)


def test_negative_counts_are_rejected() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        mcnemar_exact(-1, 3)
    with pytest.raises(ValueError, match="non-negative"):
        mcnemar_one_sided(2, -1)


def test_discordance_of_fractional_deltas_counts_signs_and_ignores_rounding_ties() -> None:
    deltas = [-1.0, -1 / 3, 0.0, 1e-12, 2 / 3 - 1 / 3 - 1 / 3, 1 / 3, 1.0, 0.5]
    assert discordant_counts(deltas) == (2, 3)


def test_normal_quantile() -> None:
    assert normal_quantile(0.975) == pytest.approx(1.959964, abs=1e-6)
    assert normal_quantile(0.5) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError):
        normal_quantile(1.0)


@pytest.mark.parametrize(
    ("successes", "n", "lo", "hi"),
    [
        # Published Wilson 95% intervals (z = 1.96).
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (5, 10, 0.2366, 0.7634),
        (81, 263, 0.2553, 0.3662),
    ],
)
def test_wilson_interval_known_values(successes: int, n: int, lo: float, hi: float) -> None:
    got_lo, got_hi = wilson_interval(successes, n)
    assert got_lo == pytest.approx(lo, abs=1e-4)
    assert got_hi == pytest.approx(hi, abs=1e-4)


def test_wilson_interval_edges_and_fractional_successes() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    narrow = wilson_interval(5, 10, confidence=0.80)
    wide = wilson_interval(5, 10, confidence=0.99)
    assert wide[0] < narrow[0] < 0.5 < narrow[1] < wide[1]
    # Fractional successes (means over repeats) sit between their integer neighbours.
    assert wilson_interval(5, 10)[0] < wilson_interval(5.5, 10)[0] < wilson_interval(6, 10)[0]
    with pytest.raises(ValueError, match="between 0 and n"):
        wilson_interval(11, 10)
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(1, 10, confidence=1.0)


def test_bootstrap_is_deterministic_by_seed() -> None:
    rng = random.Random(1)
    deltas = [rng.choice([-1.0, 0.0, 0.0, 1.0]) for _ in range(150)]
    first = paired_bootstrap_ci(deltas, seed=3, n_resamples=500)
    assert paired_bootstrap_ci(deltas, seed=3, n_resamples=500) == first
    assert paired_bootstrap_ci(deltas, seed=4, n_resamples=500) != first
    mean, lo, hi = first
    assert mean == pytest.approx(statistics.fmean(deltas))
    assert lo < mean < hi


def test_bootstrap_degenerate_inputs() -> None:
    assert paired_bootstrap_ci([0.5, 0.5, 0.5]) == (0.5, 0.5, 0.5)
    assert paired_bootstrap_ci([-1.0]) == (-1.0, -1.0, -1.0)
    with pytest.raises(ValueError, match="at least one"):
        paired_bootstrap_ci([])
    with pytest.raises(ValueError, match="n_resamples"):
        paired_bootstrap_ci([1.0, 0.0], n_resamples=0)


def test_bootstrap_interval_covers_the_true_mean_about_as_often_as_promised() -> None:
    # Differences in {-1, 0, 1} with true mean -0.1.
    rng = random.Random(11)
    true_mean = 0.25 - 0.35
    trials = 200
    covered = 0
    for trial in range(trials):
        deltas = [
            -1.0 if u < 0.35 else (1.0 if u < 0.60 else 0.0)
            for u in (rng.random() for _ in range(80))
        ]
        _, lo, hi = paired_bootstrap_ci(deltas, confidence=0.90, n_resamples=400, seed=trial)
        covered += lo <= true_mean <= hi
    # Nominal 90%; the binomial spread over 200 trials is about ±4 points.
    assert 0.80 <= covered / trials <= 0.97


def test_large_inputs_use_the_normal_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(5)
    deltas = [rng.choice([-1.0, 0.0, 0.0, 1.0, 0.5]) for _ in range(3000)]
    boot = paired_bootstrap_ci(deltas, n_resamples=1000, seed=2)
    monkeypatch.setattr(stats, "NORMAL_APPROX_ABOVE", 1000)
    mean, lo, hi = paired_bootstrap_ci(deltas, n_resamples=1000, seed=2)
    half = 1.959964 * statistics.stdev(deltas) / math.sqrt(len(deltas))
    assert (lo, hi) == pytest.approx((mean - half, mean + half), abs=1e-6)
    # And it agrees with what resampling gives, to a small part of the width.
    width = boot[2] - boot[1]
    assert abs(lo - boot[1]) < 0.1 * width
    assert abs(hi - boot[2]) < 0.1 * width


def test_sign_flip_equals_exact_mcnemar_when_every_case_ran_once() -> None:
    deltas = [-1.0] * 9 + [1.0] * 2 + [0.0] * 30
    assert sign_flip_p_worse(deltas) == pytest.approx(mcnemar_one_sided(9, 2), rel=1e-12)
    assert sign_flip_p_worse([0.0, 0.0]) == 1.0
    assert sign_flip_p_worse([]) == 1.0


def test_sign_flip_with_unequal_sizes_estimates_the_exact_randomization_p_value() -> None:
    # Sizes {1, 1, 1, 1/3, 2/3}; observed total -1-1-1+1/3-2/3 = -10/3. Of the 32 sign
    # patterns, only all-negative (-4) and the observed one reach -10/3 or below.
    deltas = [-1.0, -1.0, -1.0, 1 / 3, -2 / 3]
    p = sign_flip_p_worse(deltas, n_resamples=20000, seed=1)
    assert p == pytest.approx(2 / 32, abs=0.006)
    assert sign_flip_p_worse(deltas, n_resamples=500, seed=2) == sign_flip_p_worse(
        deltas, n_resamples=500, seed=2
    )
    # The mirror image is an improvement: nothing says head is worse.
    assert sign_flip_p_worse([-d for d in deltas], n_resamples=2000) > 0.9


def test_sign_flip_weighs_how_far_cases_moved() -> None:
    # Same signs (5 worse, 2 better), but the worse moves are large and the better small:
    # the sign test cannot tell, the sign-flip test can.
    lopsided = [-1.0] * 5 + [1 / 3] * 2
    balanced = [-1 / 3] * 5 + [1.0] * 2
    assert sign_flip_p_worse(lopsided, seed=3) < 0.05 < mcnemar_one_sided(5, 2)
    assert sign_flip_p_worse(balanced, seed=3) > 0.5


def test_holm_adjusts_step_down_and_keeps_the_input_order() -> None:
    adjusted = stats.holm_adjusted([0.04, 0.01, 0.5])
    # Sorted 0.01, 0.04, 0.5 → 3 * 0.01, max(0.03, 2 * 0.04), max(0.08, 0.5).
    assert adjusted == pytest.approx([0.08, 0.03, 0.5])
    assert stats.holm_adjusted([0.6, 0.7]) == pytest.approx([1.0, 1.0])
    assert stats.holm_adjusted([]) == []
