from __future__ import annotations

import dataclasses

import pytest

from promptloop.gate.pairing import AveragedCase, Comparison, compare, confirm
from promptloop.gate.policy import (
    Decision,
    GateCheck,
    GatePolicy,
    cases_to_confirm,
    combine_decisions,
    decide,
)
from promptloop.gate.stats import cases_to_detect_drop, regression_power


def rec(
    case_id: str,
    passed: float,
    *,
    error: bool = False,
    critical: bool = False,
    errored_repeats: int = 0,
) -> AveragedCase:
    return AveragedCase(
        case_id=case_id,
        passed=passed,
        score=passed,
        error=error,
        critical=critical,
        errored_repeats=errored_repeats,
    )


def suite(
    n: int, *, both_pass: int, broken: int, fixed: int
) -> tuple[list[AveragedCase], list[AveragedCase]]:
    """n cases: ``both_pass`` pass on both sides, then ``broken``, then ``fixed``; the
    rest fail on both sides."""
    base, head = [], []
    for i in range(n):
        if i < both_pass:
            b, h = 1.0, 1.0
        elif i < both_pass + broken:
            b, h = 1.0, 0.0
        elif i < both_pass + broken + fixed:
            b, h = 0.0, 1.0
        else:
            b, h = 0.0, 0.0
        base.append(rec(f"c{i}", b))
        head.append(rec(f"c{i}", h))
    return base, head


def _check(verdict: Decision, name: str) -> GateCheck:
    return next(c for c in verdict.checks if c.name == name)


def _figures(comparison: Comparison) -> tuple[str, str]:
    def fmt(x: float) -> str:
        return f"{x:.1f}".replace("-", "−")

    return fmt(comparison.delta_pp.lo), fmt(comparison.delta_pp.hi)


def test_significant_regression_beyond_the_allowance_fails_with_figures() -> None:
    base, head = suite(200, both_pass=130, broken=20, fixed=2)
    comparison = compare(base, head, seed=0)
    verdict = decide(comparison, head, GatePolicy(max_regression_pp=5.0))
    assert verdict.status == "fail"
    lo, hi = _figures(comparison)
    assert verdict.reason.startswith(
        "Head breaks 20 cases and fixes 2 cases; pass rate fell 9.0 pp"
    )
    assert f"95% CI {lo} to {hi}" in verdict.reason
    assert "one-sided p<0.001" in verdict.reason
    assert verdict.reason.endswith("beyond the 5.0 pp allowed.")
    assert [c.name for c in verdict.checks] == ["regression"]


def test_large_but_noisy_drop_is_inconclusive() -> None:
    # 40 cases: breaks 4, fixes 1 → −7.5 pp, one-sided p = P(X >= 4 | n=5) = 6/32.
    base, head = suite(40, both_pass=20, broken=4, fixed=1)
    comparison = compare(base, head)
    assert comparison.p_worse == pytest.approx(6 / 32)
    verdict = decide(comparison, head, GatePolicy())
    assert verdict.status == "inconclusive"
    assert "pass rate fell 7.5 pp" in verdict.reason
    assert "p=0.19" in verdict.reason
    assert "not significant at 95%" in verdict.reason
    # Plainly: too few cases, and how many would do, by the same exact test.
    assert verdict.plain == (
        "The pass rate fell 7.5 points, but 40 cases are too few to tell that from noise; "
        "about 100 cases would detect a 10-point drop."
    )
    assert "too few cases to decide; about 100 cases would detect" in verdict.reason


def test_the_power_estimate_is_the_gate_rule_own_power() -> None:
    """At the estimate the rule catches a 10-point drop about 80% of the time, and a
    fifth fewer cases are not enough; more noise needs more cases."""
    n = cases_to_detect_drop(10, 5, 0.05, noise=0.0)
    assert n is not None and 50 < n < 90
    assert regression_power(n, 10, 5, 0.05, 0.0) >= 0.8 > regression_power(n - 1, 10, 5, 0.05, 0.0)
    assert regression_power(int(n * 0.8), 10, 5, 0.05, 0.0) < 0.8
    noisy = cases_to_detect_drop(10, 5, 0.05, noise=0.1)
    assert noisy is not None and noisy > 2 * n
    assert cases_to_detect_drop(5, 5, 0.05) is None  # a drop at the allowance never fails


def test_significant_drop_within_the_allowance_passes() -> None:
    # −3 pp, p = 1/64: real but allowed.
    base, head = suite(200, both_pass=150, broken=6, fixed=0)
    comparison = compare(base, head)
    assert comparison.p_worse < 0.05
    verdict = decide(comparison, head, GatePolicy(max_regression_pp=5.0))
    assert verdict.status == "pass"
    assert "fell 3.0 pp" in verdict.reason
    assert verdict.reason.endswith("within the 5.0 pp allowed.")
    # A tighter allowance turns the same data into a failure.
    assert decide(comparison, head, GatePolicy(max_regression_pp=2.0)).status == "fail"


def test_improvement_passes_and_says_so() -> None:
    base, head = suite(100, both_pass=50, broken=1, fixed=9)
    verdict = decide(compare(base, head), head, GatePolicy())
    assert verdict.status == "pass"
    assert "Head breaks 1 case and fixes 9 cases; pass rate rose 8.0 pp" in verdict.reason


def test_stricter_confidence_needs_stronger_evidence() -> None:
    # 100 cases: breaks 9, fixes 2 → −7 pp, one-sided p ≈ 0.033.
    base, head = suite(100, both_pass=50, broken=9, fixed=2)
    comparison = compare(base, head)
    assert 0.01 < comparison.p_worse < 0.05
    assert decide(comparison, head, GatePolicy(confidence=0.95)).status == "fail"
    assert decide(comparison, head, GatePolicy(confidence=0.99)).status == "inconclusive"


def test_nothing_paired_is_inconclusive() -> None:
    comparison = compare([rec("a", 1.0)], [rec("b", 1.0)])
    verdict = decide(comparison, [rec("b", 1.0)], GatePolicy())
    assert verdict.status == "inconclusive"
    assert "No case could be paired" in verdict.reason


def test_a_critical_case_that_breaks_fails_even_when_the_suite_improves() -> None:
    base, head = suite(100, both_pass=50, broken=0, fixed=10)
    base.append(rec("refund-policy", 1.0, critical=True))
    head.append(rec("refund-policy", 0.0, critical=True))
    verdict = decide(compare(base, head), head, GatePolicy())
    assert verdict.status == "fail"
    assert verdict.reason == "Head breaks 1 critical case: refund-policy (100.0% → 0.0%)."
    assert _check(verdict, "regression").status == "pass"


def test_critical_cases_that_hold_pass_and_already_failing_ones_are_not_blamed() -> None:
    base = [rec("a", 1.0, critical=True), rec("b", 0.0, critical=True)]
    head = [rec("a", 1.0, critical=True), rec("b", 0.0, critical=True)]
    verdict = decide(compare(base, head), head, GatePolicy())
    assert _check(verdict, "critical").status == "pass"
    assert verdict.status == "pass"


def test_without_a_baseline_a_failing_critical_case_fails() -> None:
    head = [rec("a", 1.0), rec("must-refuse", 2 / 3, critical=True)]
    verdict = decide(None, head, GatePolicy())
    assert verdict.status == "fail"
    assert "must-refuse (66.7%)" in verdict.reason
    assert "a critical case must pass" in verdict.reason and "head" not in verdict.reason
    ok = decide(None, [rec("must-refuse", 1.0, critical=True)], GatePolicy())
    assert ok.status == "pass"
    assert "All 1 critical cases pass" in ok.reason


def _head(passes: int, n: int) -> list[AveragedCase]:
    return [rec(f"c{i}", 1.0 if i < passes else 0.0) for i in range(n)]


def test_below_the_threshold_fails_whatever_the_number_of_cases() -> None:
    """The plain rule (the default): a threshold is a bar, as in a test runner."""
    for passes, n in ((1, 3), (75, 100)):
        verdict = decide(None, _head(passes, n), GatePolicy(threshold=0.8))
        assert verdict.status == "fail"
        assert verdict.reason.endswith("is below the threshold of 80.0%.")
        assert verdict.reason.startswith("The pass rate")
    assert decide(None, _head(80, 100), GatePolicy(threshold=0.8)).status == "pass"


STATISTICAL = GatePolicy(min_pass_rate=0.8, threshold_rule="statistical")


def test_minimum_pass_rate_fails_when_confidently_below() -> None:
    verdict = decide(None, _head(60, 100), STATISTICAL)
    assert verdict.status == "fail"
    assert verdict.reason.startswith("The pass rate 60.0% over 100 cases (95% upper bound")
    assert verdict.reason.endswith("is below the threshold of 80.0%.")


def test_minimum_pass_rate_is_inconclusive_when_below_but_within_noise() -> None:
    verdict = decide(None, _head(75, 100), STATISTICAL)
    assert verdict.status == "inconclusive"
    assert "75.0%" in verdict.reason and "80.0%" in verdict.reason
    assert "within noise" in verdict.reason
    # Said plainly, with how many cases would decide; the bound stays in the reason.
    assert verdict.plain is not None and "upper bound" not in verdict.plain
    assert "100 cases are too few to tell that from noise" in verdict.plain
    assert "about 180 cases would show whether it is really below" in verdict.plain


def test_too_few_cases_counts_as_a_fail_when_the_project_says_so() -> None:
    policy = dataclasses.replace(STATISTICAL, inconclusive="fail")
    verdict = decide(None, _head(75, 100), policy)
    assert verdict.status == "fail"
    assert verdict.reason.endswith("Too few cases to decide count as a fail (gate.inconclusive).")


def test_minimum_pass_rate_met_and_suite_threshold_takes_precedence() -> None:
    head = _head(85, 100)
    assert decide(None, head, STATISTICAL).status == "pass"
    verdict = decide(None, head, dataclasses.replace(STATISTICAL, threshold=0.95))
    assert verdict.status == "fail"
    assert "threshold of 95.0%" in verdict.reason


def test_minimum_pass_rate_ignores_errored_cases_and_handles_none_ran() -> None:
    head = [*_head(9, 10), rec("x", 0.0, error=True)]
    check = _check(
        decide(None, head, GatePolicy(min_pass_rate=0.5, on_error="ignore")), "min_pass_rate"
    )
    assert check.status == "pass"
    assert "90.0% over 10 cases" in check.reason
    none_ran = decide(
        None, [rec("x", 0.0, error=True)], GatePolicy(min_pass_rate=0.5, on_error="ignore")
    )
    assert none_ran.status == "inconclusive"


@pytest.mark.parametrize(
    ("on_error", "status"), [("fail", "fail"), ("neutral", "inconclusive"), ("ignore", "pass")]
)
def test_on_error_policies(on_error: str, status: str) -> None:
    base, head = suite(50, both_pass=40, broken=0, fixed=0)
    base[0] = rec("c0", 1.0, error=True)
    head[1] = rec("c1", 0.0, error=True)
    head[2] = rec("c2", 1.0, errored_repeats=1)
    verdict = decide(compare(base, head), head, GatePolicy(on_error=on_error))  # type: ignore[arg-type]
    assert verdict.status == status
    errors = _check(verdict, "errors")
    assert errors.status == status
    assert "3 case runs hit an infrastructure error (2 on head, 1 on base)" in errors.reason
    if status != "pass":
        assert verdict.reason == errors.reason


def test_errors_do_not_hide_a_regression_under_neutral() -> None:
    base, head = suite(200, both_pass=130, broken=20, fixed=2)
    head[-1] = rec(head[-1].case_id, 0.0, error=True)
    verdict = decide(compare(base, head), head, GatePolicy(on_error="neutral"))
    assert verdict.status == "fail"
    assert "Head breaks 20 cases" in verdict.reason
    assert _check(verdict, "errors").status == "inconclusive"


def test_no_baseline_and_no_minimum_passes_with_an_explanation() -> None:
    verdict = decide(None, _head(3, 4), GatePolicy(), suite="triage")
    said = "The suite passes 75.0% of 4 cases; no threshold is set, so there is nothing to gate on."
    assert verdict == Decision("pass", said, (), "triage", said)


def test_checks_carry_the_suite_name() -> None:
    verdict = decide(None, _head(1, 2), GatePolicy(min_pass_rate=0.1), suite="triage")
    assert all(c.suite == "triage" for c in verdict.checks)
    assert verdict.suite == "triage"


def _v(status: str, suite: str) -> Decision:
    return Decision(status, f"{suite} says {status}.", (), suite)  # type: ignore[arg-type]


def test_combine_decisions_fail_beats_inconclusive_beats_pass() -> None:
    assert combine_decisions([]).status == "pass"
    assert combine_decisions([_v("pass", "a"), _v("pass", "b")]).reason == "All 2 suites pass."
    mixed = combine_decisions([_v("pass", "a"), _v("inconclusive", "b"), _v("pass", "c")])
    assert mixed.status == "inconclusive"
    assert mixed.reason == "1 of 3 suites is inconclusive; b: b says inconclusive."
    failing = combine_decisions(
        [_v("inconclusive", "a"), _v("fail", "b"), _v("fail", "c"), _v("pass", "d")]
    )
    assert failing.status == "fail"
    assert failing.reason == "2 of 4 suites fail; b: b says fail."
    single = combine_decisions([_v("fail", "only")])
    assert single.reason == "only says fail."


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="confidence"):
        GatePolicy(confidence=1.0)
    with pytest.raises(ValueError, match="max_regression_pp"):
        GatePolicy(max_regression_pp=-1)
    with pytest.raises(ValueError, match="min_pass_rate"):
        GatePolicy(min_pass_rate=80)


def test_with_repeats_the_gate_weighs_how_far_cases_moved() -> None:
    # 100 cases run 3 times: 8 go 3/3 → 0/3, 4 go 0/3 → 1/3. Δ = −6.7 pp. By signs alone
    # (8 worse, 4 better) nothing is significant; by size it is: exact sign-flip
    # p = (16 + 40) / 4096.
    base = [rec(f"c{i}", 1.0 if i < 60 else 0.0) for i in range(100)]
    head = [
        rec(f"c{i}", 0.0 if i < 8 else (1 / 3 if 60 <= i < 64 else b.passed))
        for i, b in enumerate(base)
    ]
    comparison = compare(base, head, seed=0)
    assert (comparison.broken_count, comparison.fixed_count) == (8, 4)
    assert comparison.mcnemar_p > 0.3
    assert comparison.p_worse == pytest.approx(56 / 4096, abs=0.006)
    verdict = decide(comparison, head, GatePolicy())
    assert verdict.status == "fail"
    assert "Head breaks 8 cases and fixes 4 cases; pass rate fell 6.7 pp" in verdict.reason


def _confirmed(
    comparison: Comparison,
    runs: dict[str, tuple[list[float], list[float]]],
) -> Comparison:
    """Confirm ``comparison`` with extra runs per case id: (base runs, head runs)."""
    firsts = {p.case_id: p for p in comparison.pairs}

    def averaged(side: str, fresh_only: bool) -> list[AveragedCase]:
        out = []
        for case_id, (base_runs, head_runs) in runs.items():
            pair = firsts[case_id]
            first = pair.base if side == "base" else pair.head
            assert first is not None
            extra = base_runs if side == "base" else head_runs
            values = extra if fresh_only else [first.passed, *extra]
            out.append(rec(case_id, sum(values) / len(values), critical=pair.critical))
        return out

    width = {len(b) for b, _ in runs.values()}
    return confirm(
        comparison,
        averaged("base", False),
        averaged("head", False),
        averaged("base", True),
        averaged("head", True),
        runs=width.pop() if width else 0,
    )


def test_cases_to_confirm_are_the_changed_ones_when_head_looks_worse() -> None:
    base, head = suite(20, both_pass=10, broken=3, fixed=1)
    comparison = compare(base, head)
    assert cases_to_confirm(comparison, GatePolicy()) == ["c10", "c11", "c12", "c13"]
    assert cases_to_confirm(comparison, GatePolicy(confirm_runs=0)) == []


def test_when_head_looks_better_only_broken_critical_cases_are_confirmed() -> None:
    base, head = suite(20, both_pass=10, broken=1, fixed=3)
    base.append(rec("refund", 1.0, critical=True))
    head.append(rec("refund", 0.0, critical=True))
    comparison = compare(base, head)
    assert comparison.delta_pp.estimate > 0
    assert cases_to_confirm(comparison, GatePolicy()) == ["refund"]
    # A shard sees part of the suite, so it confirms every change.
    assert cases_to_confirm(comparison, GatePolicy(), always=True) == [
        "c10",
        "c11",
        "c12",
        "c13",
        "refund",
    ]


def test_confirmation_turns_a_noisy_drop_into_a_confirmed_fail() -> None:
    # 100 cases, 9 broken and 3 fixed on the first look: −6 pp, p ≈ 0.07, inconclusive.
    base, head = suite(100, both_pass=50, broken=9, fixed=3)
    first = compare(base, head)
    assert decide(first, head, GatePolicy()).status == "inconclusive"
    # Re-run twice: the 9 breaks hold, the 3 fixes were noise.
    runs = {f"c{i}": ([1.0, 1.0], [0.0, 0.0]) for i in range(50, 59)}
    runs |= {f"c{i}": ([0.0, 0.0], [0.0, 0.0]) for i in range(59, 62)}
    comparison = _confirmed(first, runs)
    assert comparison.confirmation is not None and comparison.confirmation.complete
    # Broken cases keep −1; each fixed one becomes (1 + 0 + 0)/3 − 0 = 1/3.
    assert comparison.confirmation.delta_pp == pytest.approx(100 * (-9 + 3 / 3) / 100)
    verdict = decide(comparison, head, GatePolicy())
    assert verdict.status == "fail"
    assert "pass rate fell 6.0 pp" in verdict.reason
    assert (
        "re-running the 12 changed cases 2 more times on each side confirms an 8.0 pp drop"
        in verdict.reason
    )


def test_confirmation_clears_a_drop_made_by_noise() -> None:
    base, head = suite(100, both_pass=50, broken=10, fixed=2)
    first = compare(base, head)
    assert decide(first, head, GatePolicy()).status == "fail"
    # On fresh runs the ten "broken" cases pass on head as often as on base.
    runs = {f"c{i}": ([1.0, 1.0], [1.0, 1.0]) for i in range(50, 62)}
    comparison = _confirmed(first, runs)
    verdict = decide(comparison, head, GatePolicy())
    assert verdict.status == "pass"
    # Each changed case keeps a third of its first-look move: (−10 + 2) / 3 over 100 cases.
    assert comparison.confirmation is not None
    assert comparison.confirmation.delta_pp == pytest.approx(-8 / 3)
    assert "confirms a 2.7 pp drop" in verdict.reason
    assert verdict.reason.endswith("within the 5.0 pp allowed.")


def test_an_incomplete_confirmation_does_not_speak_for_the_suite() -> None:
    base, head = suite(100, both_pass=50, broken=10, fixed=2)
    first = compare(base, head)
    # Only one of the twelve changed cases was re-run (say a critical one).
    comparison = _confirmed(first, {"c50": ([1.0, 1.0], [1.0, 1.0])})
    assert comparison.confirmation is not None and not comparison.confirmation.complete
    verdict = decide(comparison, head, GatePolicy())
    assert verdict.status == decide(first, head, GatePolicy()).status == "fail"
    assert "re-running" not in verdict.reason


def test_a_critical_break_is_forgiven_only_by_its_fresh_runs() -> None:
    base, head = suite(40, both_pass=30, broken=0, fixed=0)
    base.append(rec("refund", 1.0, critical=True))
    head.append(rec("refund", 0.0, critical=True))
    first = compare(base, head)
    assert decide(first, head, GatePolicy()).status == "fail"
    cleared = _confirmed(first, {"refund": ([1.0, 1.0], [1.0, 1.0])})
    assert _check(decide(cleared, head, GatePolicy()), "critical").status == "pass"
    # One fresh failure on head out of two, none on base: still broken.
    held = _confirmed(first, {"refund": ([1.0, 1.0], [1.0, 0.0])})
    verdict = decide(held, head, GatePolicy())
    assert verdict.status == "fail" and "refund" in verdict.reason


def test_errors_while_confirming_count_as_infrastructure_errors() -> None:
    base, head = suite(20, both_pass=10, broken=3, fixed=0)
    first = compare(base, head)
    runs = {f"c{i}": ([1.0, 1.0], [0.0, 0.0]) for i in range(10, 13)}
    comparison = _confirmed(first, runs)
    assert comparison.confirmation is not None
    errored = dataclasses.replace(
        comparison,
        confirmation=dataclasses.replace(comparison.confirmation, errored_runs=2),
    )
    verdict = decide(errored, head, GatePolicy(on_error="neutral"))
    assert _check(verdict, "errors").reason.startswith(
        "2 case runs hit an infrastructure error (0 on head, 0 on base, 2 while confirming)"
    )
