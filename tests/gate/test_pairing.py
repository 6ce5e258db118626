from __future__ import annotations

import pytest

from promptloop.dataset.cases import Case
from promptloop.engine.outcome import CaseOutcome
from promptloop.engine.results import case_record
from promptloop.evaluators.base import EvalResult
from promptloop.gate.pairing import AveragedCase, compare
from promptloop.gate.stats import mcnemar_exact, mcnemar_one_sided, wilson_interval
from promptloop.gate.verdicts import pair_records


def rec(
    case_id: str, passed: float, score: float | None = None, *, error: bool = False
) -> AveragedCase:
    return AveragedCase(
        case_id=case_id, passed=passed, score=passed if score is None else score, error=error
    )


def test_every_kind_of_change_is_classified() -> None:
    base = [
        rec("fixed", 0.0),
        rec("broken", 1.0),
        rec("same-pass", 1.0),
        rec("same-fail", 0.0),
        rec("err-head", 1.0),
        rec("err-base", 0.0, error=True),
        rec("removed", 1.0),
    ]
    head = [
        rec("fixed", 1.0),
        rec("broken", 0.0),
        rec("same-pass", 1.0),
        rec("same-fail", 0.0),
        rec("err-head", 0.0, error=True),
        rec("err-base", 1.0),
        rec("added", 1.0),
    ]
    result = compare(base, head, seed=1)
    kinds = {p.case_id: p.kind for p in result.pairs}
    assert kinds == {
        "fixed": "fixed",
        "broken": "broken",
        "same-pass": "unchanged",
        "same-fail": "unchanged",
        "err-head": "errored",
        "err-base": "errored",
        "added": "added",
        "removed": "removed",
    }
    # Head order first, then what only the base had.
    assert [p.case_id for p in result.pairs][-1] == "removed"
    assert result.paired == 4
    assert (result.count("fixed"), result.count("broken"), result.count("errored")) == (1, 1, 2)
    assert (result.base_errors, result.head_errors) == (1, 1)
    assert [p.case_id for p in result.of_kind("added")] == ["added"]
    # Pass rates over the four paired cases only.
    assert result.base_pass_rate.estimate == pytest.approx(2 / 4)
    assert result.head_pass_rate.estimate == pytest.approx(2 / 4)
    assert (result.base_pass_rate.lo, result.base_pass_rate.hi) == pytest.approx(
        wilson_interval(2, 4)
    )
    assert result.delta_pp.estimate == pytest.approx(0.0)
    assert result.pairs[0].pass_delta == 1.0
    assert next(p for p in result.pairs if p.kind == "added").pass_delta is None


def test_aggregate_delta_counts_and_p_values() -> None:
    # 30 cases: 10 broken, 2 fixed, 18 unchanged.
    base = [rec(f"c{i}", 1.0 if i < 10 or i >= 12 else 0.0) for i in range(30)]
    head = [rec(f"c{i}", 0.0 if i < 10 else 1.0) for i in range(30)]
    result = compare(base, head, confidence=0.9, seed=7)
    assert (result.broken_count, result.fixed_count) == (10, 2)
    assert result.mcnemar_p == pytest.approx(mcnemar_exact(10, 2))
    assert result.p_worse == pytest.approx(mcnemar_one_sided(10, 2))
    expected_pp = (2 - 10) / 30 * 100
    assert result.delta_pp.estimate == pytest.approx(expected_pp)
    assert result.delta_pp.lo < expected_pp < result.delta_pp.hi < 0
    assert result.delta_pp.confidence == 0.9
    assert result.head_pass_rate.estimate - result.base_pass_rate.estimate == pytest.approx(
        expected_pp / 100
    )
    # Same seed, same intervals.
    again = compare(base, head, confidence=0.9, seed=7)
    assert again.delta_pp == result.delta_pp
    assert again.score_delta == result.score_delta


def test_score_delta_is_paired() -> None:
    base = [rec(f"c{i}", 1.0, score=0.5) for i in range(20)]
    head = [rec(f"c{i}", 1.0, score=0.7) for i in range(20)]
    result = compare(base, head)
    assert result.score_delta.estimate == pytest.approx(0.2)
    assert result.score_delta.lo == pytest.approx(0.2)
    assert result.delta_pp.estimate == 0.0
    assert result.mcnemar_p == 1.0


def test_fractional_pass_rates_are_fixed_or_broken_by_sign() -> None:
    base = [rec("a", 1.0), rec("b", 1 / 3), rec("c", 2 / 3)]
    head = [rec("a", 2 / 3), rec("b", 2 / 3), rec("c", 2 / 3)]
    result = compare(base, head)
    assert [p.kind for p in result.pairs] == ["broken", "fixed", "unchanged"]
    assert (result.broken_count, result.fixed_count) == (1, 1)


def test_nothing_paired_gives_an_uninformative_interval() -> None:
    result = compare([rec("a", 1.0)], [rec("b", 1.0)])
    assert result.paired == 0
    assert (result.delta_pp.lo, result.delta_pp.hi) == (-100.0, 100.0)
    assert result.mcnemar_p == 1.0


def test_duplicate_case_ids_are_rejected() -> None:
    with pytest.raises(ValueError, match="'a' appears twice"):
        compare([rec("a", 1.0), rec("a", 0.0)], [rec("a", 1.0)])


def test_passed_outside_unit_interval_is_rejected() -> None:
    with pytest.raises(ValueError, match="passed must be in"):
        rec("a", 1.5)


def _outcome(
    case: Case,
    passed: bool,
    *,
    score: float | None = None,
    error: str | None = None,
    reason: str = "",
) -> CaseOutcome:
    evaluations = (EvalResult("equals", passed, 1.0 if passed else 0.0, reason),) if reason else ()
    return CaseOutcome(
        case=case,
        output=None if error else ("ok" if passed else "bad"),
        passed=passed,
        score=(1.0 if passed else 0.0) if score is None else score,
        evaluations=evaluations,
        error=error,
    )


def records_from_outcomes(
    outcomes: list[CaseOutcome], critical_tags: set[str]
) -> list[AveragedCase]:
    """What a run does with its outcomes: results.json records, averaged per case."""
    return pair_records([case_record(o, "train") for o in outcomes], critical_tags)


def test_records_from_outcomes_average_repeats_within_a_case() -> None:
    a = Case(id="a", vars={}, tags=("critical",))
    b = Case(id="b", vars={})
    c = Case(id="c", vars={})
    outcomes = [
        _outcome(a, True),
        _outcome(b, False, error="timeout"),
        _outcome(a, False, score=0.4, reason="expected `billing`, got `tech`"),
        _outcome(c, True, score=0.9),
        _outcome(a, True),
        _outcome(b, False, error="timeout"),
        _outcome(c, False, error="rate limited"),
        _outcome(c, False, score=0.3, reason="too long"),
    ]
    records = records_from_outcomes(outcomes, critical_tags={"critical"})
    assert [r.case_id for r in records] == ["a", "b", "c"]
    ra, rb, rc = records
    assert ra.passed == pytest.approx(2 / 3)
    assert ra.score == pytest.approx((1.0 + 0.4 + 1.0) / 3)
    assert ra.critical and not rb.critical
    assert ra.reason == "equals: expected `billing`, got `tech`"
    assert ra.output == "bad"
    assert (ra.repeats, ra.errored_repeats, ra.error) == (3, 0, False)
    # Every repeat errored: the case is errored, not failed.
    assert rb.error and rb.errored_repeats == 2 and rb.reason == "timeout"
    # One errored repeat of three: averaged over the two that ran.
    assert not rc.error
    assert rc.passed == pytest.approx(1 / 2)
    assert rc.score == pytest.approx((0.9 + 0.3) / 2)
    assert rc.errored_repeats == 1


def test_records_feed_compare_and_critical_breaks_are_listed() -> None:
    a = Case(id="a", vars={}, tags=("must",))
    b = Case(id="b", vars={})
    base = records_from_outcomes([_outcome(a, True), _outcome(b, True)], critical_tags={"must"})
    head = records_from_outcomes([_outcome(a, False), _outcome(b, True)], critical_tags={"must"})
    result = compare(base, head)
    assert [p.case_id for p in result.critical_broken] == ["a"]
