"""Judge calibration against hand-computed agreement, Cohen's kappa and its interval."""

from __future__ import annotations

import math

import pytest

from promptloop.gate.calibration import Confusion, Pair, calibrate, confusion_of, kappa


def pairs(pass_good: int, pass_bad: int, fail_good: int, fail_bad: int) -> list[Pair]:
    out = []
    for count, judge, good in (
        (pass_good, True, True),
        (pass_bad, True, False),
        (fail_good, False, True),
        (fail_bad, False, False),
    ):
        out += [Pair(f"c{len(out) + i}", judge, good, "critique", "note") for i in range(count)]
    return out


def test_kappa_and_interval_match_the_hand_computation() -> None:
    # 12 outputs: the judge and the reviewers agree on 6 good and 4 bad, differ on 2.
    # p_o = 10/12, p_e = (7/12)^2 + (5/12)^2 = 74/144, kappa = (46/144) / (70/144) = 46/70.
    # SE = sqrt((20/144) / (12 * (70/144)^2)) = sqrt(2880/58800).
    result = calibrate("tone", pairs(6, 1, 1, 4))
    assert result.confusion == Confusion(6, 1, 1, 4)
    assert result.agreement == pytest.approx(10 / 12)
    assert result.kappa == pytest.approx(46 / 70)
    se = math.sqrt(2880 / 58800)
    assert result.kappa_low == pytest.approx(46 / 70 - 1.959964 * se, abs=1e-6)
    assert result.kappa_high == 1.0  # 1.09 clipped
    assert [(p.judge_passed, p.reviewer_good) for p in result.disagreements] == [
        (True, False),
        (False, True),
    ]


def test_chance_level_and_perfect_agreement() -> None:
    # A judge that passes everything agrees half the time with a 50/50 reviewer: kappa 0.
    assert kappa(confusion_of(pairs(5, 5, 0, 0)))[0] == pytest.approx(0.0)
    k, low, high = kappa(Confusion(3, 0, 0, 3))
    assert (k, low, high) == (pytest.approx(1.0), pytest.approx(1.0), pytest.approx(1.0))
    # Systematic disagreement is below zero.
    assert kappa(Confusion(0, 4, 4, 0))[0] == pytest.approx(-1.0)


def test_kappa_is_undefined_without_labels_or_when_both_never_vary() -> None:
    assert kappa(Confusion(0, 0, 0, 0)) == (None, None, None)
    assert kappa(Confusion(4, 0, 0, 0)) == (None, None, None)
    assert calibrate("tone", []).agreement is None
