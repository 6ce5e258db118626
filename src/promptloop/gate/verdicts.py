"""From results to verdicts: pair base and head, compare, and apply the gate policy."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Collection, Sequence

from promptloop.engine.comparison import (
    ChangedCase,
    ComparisonSummary,
    ConfirmationSummary,
    Interval,
)
from promptloop.engine.results import CaseRecord, RunResult, SuiteResult, Verdict
from promptloop.gate.pairing import AveragedCase, ChangeKind, Comparison, compare, confirm
from promptloop.gate.policy import (
    Decision,
    GatePolicy,
    Holm,
    cases_to_confirm,
    combine_decisions,
    decide,
    regression_p,
)
from promptloop.gate.stats import holm_adjusted, wilson_interval
from promptloop.project.config.gate import GateConfig


def pair_records(cases: Sequence[CaseRecord], critical_tags: Collection[str]) -> list[AveragedCase]:
    """Average repeats within a case; a case errors only when every repeat errored."""
    groups: dict[str, list[CaseRecord]] = {}
    for case in cases:
        groups.setdefault(case.id, []).append(case)
    tags = set(critical_tags)
    records = []
    for case_id, group in groups.items():
        group.sort(key=lambda c: c.repeat)
        ran = [c for c in group if c.status != "error"]
        critical = any(t in tags for c in group for t in c.tags)
        shown = next((c for c in ran if c.status == "fail"), ran[0] if ran else group[0])
        passing = next((c for c in ran if c.status == "pass"), None)
        unevaluated = [c for c in group if c.unevaluated]
        records.append(
            AveragedCase(
                case_id=case_id,
                passed=sum(1.0 for c in ran if c.status == "pass") / len(ran) if ran else 0.0,
                score=sum(c.score for c in ran) / len(ran) if ran else 0.0,
                error=not ran,
                critical=critical,
                output=shown.shown_output,
                reason=shown.reasons,
                pass_output=passing.shown_output if passing else None,
                pass_reason=passing.pass_reasons if passing else "",
                outputs=tuple(c.shown_output for c in group),
                repeats=len(group),
                errored_repeats=len(group) - len(ran),
                unevaluated_repeats=len(unevaluated),
                unevaluated_by=tuple(
                    sorted(
                        {
                            e.evaluator
                            for c in unevaluated
                            for e in c.evaluations
                            if e.error is not None and not e.abstained
                        }
                    )
                ),
            )
        )
    return records


def comparison_summary(comparison: Comparison) -> ComparisonSummary:
    """What results.json keeps of a comparison, for the reports to render."""

    def side(record: AveragedCase | None, better: bool) -> tuple[str | None, str]:
        """The run that shows the change: the better side passing, the worse failing."""
        if record is None:
            return None, ""
        if better and record.pass_output is not None:
            return record.pass_output, record.pass_reason
        return record.output, record.reason

    def items(kind: ChangeKind) -> list[ChangedCase]:
        listed = []
        for p in comparison.of_kind(kind):
            base_output, base_reason = side(p.base, kind == "broken")
            head_output, head_reason = side(p.head, kind == "fixed")
            listed.append(
                ChangedCase(
                    case_id=p.case_id,
                    critical=p.critical,
                    base_output=base_output,
                    head_output=head_output,
                    base_reason=base_reason,
                    head_reason=head_reason,
                    base_passed=p.base.passed if p.base else None,
                    head_passed=p.head.passed if p.head else None,
                    output_unchanged=p.output_unchanged,
                )
            )
        return listed

    confirmation = comparison.confirmation
    return ComparisonSummary(
        confirmation=None
        if confirmation is None
        else ConfirmationSummary(
            cases=confirmation.cases,
            runs=confirmation.runs,
            complete=confirmation.complete,
            delta_pp=confirmation.delta_pp,
            broken=confirmation.broken_count,
            fixed=confirmation.fixed_count,
            p_worse=confirmation.p_worse,
            errored_runs=confirmation.errored_runs,
        ),
        paired=comparison.paired,
        look="first",
        outputs_unchanged=sum(1 for p in comparison.pairs if p.output_unchanged),
        first_look_only=comparison.first_look_only,
        base_pass_rate=comparison.base_pass_rate.estimate,
        head_pass_rate=comparison.head_pass_rate.estimate,
        delta_pp=comparison.delta_pp.estimate,
        delta_lo_pp=comparison.delta_pp.lo,
        delta_hi_pp=comparison.delta_pp.hi,
        score_delta=comparison.score_delta.estimate,
        score_delta_lo=comparison.score_delta.lo,
        score_delta_hi=comparison.score_delta.hi,
        p_value=comparison.mcnemar_p,
        p_worse=comparison.p_worse,
        confidence=comparison.confidence,
        fixed=items("fixed"),
        broken=items("broken"),
        errored=items("errored"),
        added=items("added"),
        removed=items("removed"),
        unchanged=comparison.count("unchanged"),
    )


# The reports' tables show every suite's pass rate at this level, whatever the gate's.
SHOWN_CONFIDENCE = 0.95


def pass_rate_interval(suite: SuiteResult) -> Interval | None:
    """The suite's pass rate over the cases that ran (each repeat counted), with its Wilson
    interval; None when no case ran."""
    passed, failed, _ = suite.counts
    n = passed + failed
    if n == 0:
        return None
    lo, hi = wilson_interval(passed, n, SHOWN_CONFIDENCE)
    return Interval(passed / n, lo, hi, SHOWN_CONFIDENCE)


def _with_interval(suite: SuiteResult) -> SuiteResult:
    return suite.model_copy(update={"pass_rate_interval": pass_rate_interval(suite)})


def _as_result_verdict(verdict: Decision) -> Verdict:
    return Verdict(
        status=verdict.status,
        reason=verdict.reason,
        failed_checks=sorted({c.name for c in verdict.checks if c.status == "fail"}),
        plain=verdict.plain,
    )


def _policy(gate: GateConfig, suite: SuiteResult) -> GatePolicy:
    return GatePolicy(
        min_pass_rate=gate.min_pass_rate,
        max_regression_pp=gate.max_regression_pp,
        confidence=gate.confidence,
        critical_tags=tuple(gate.critical_tags),
        on_error=gate.on_error,
        threshold=suite.threshold,
        threshold_rule=gate.threshold_rule,
        inconclusive=gate.inconclusive,
        confirm_runs=gate.confirm_runs,
    )


def _first_look(
    base: SuiteResult, head: SuiteResult, policy: GatePolicy, seed: int
) -> tuple[Comparison, list[AveragedCase]]:
    head_records = pair_records(head.cases, policy.critical_tags)
    base_records = pair_records(base.cases, policy.critical_tags)
    comparison = compare(base_records, head_records, confidence=policy.confidence, seed=seed)
    return comparison, head_records


FirstLooks = dict[str, tuple[Comparison, list[AveragedCase]]]


def first_looks(
    suites: Sequence[SuiteResult], baseline: Sequence[SuiteResult], gate: GateConfig, seed: int
) -> FirstLooks:
    """Per suite with a baseline: its comparison before any confirmation, and its head
    records. Computed once and shared by the confirmation plan and the verdicts."""
    base = {s.name: s for s in baseline}
    return {
        suite.name: _first_look(base[suite.name], suite, _policy(gate, suite), seed)
        for suite in suites
        if suite.name in base
    }


def confirmation_plan(
    suites: Sequence[SuiteResult],
    looks: FirstLooks,
    gate: GateConfig,
    *,
    always: bool = False,
) -> dict[str, list[str]]:
    """Per suite with a baseline, the case ids to re-run before the gate decides."""
    plan: dict[str, list[str]] = {}
    for suite in suites:
        if suite.name not in looks:
            continue
        chosen = cases_to_confirm(looks[suite.name][0], _policy(gate, suite), always=always)
        if chosen:
            plan[suite.name] = chosen
    return plan


def answers_repeated(first_look: Sequence[CaseRecord], again: Sequence[CaseRecord]) -> bool:
    """Whether every record in ``again`` brought back exactly the output and verdict its
    case had on every run of the first look: then the model and judge are deterministic
    on these cases, and more runs would only repeat them. Looks at both sides alike, so
    stopping on it does not favour either."""
    seen: dict[str, set[tuple[str | None, str]]] = {}
    for record in first_look:
        seen.setdefault(record.id, set()).add((record.shown_output, record.status))
    return all(
        record.status != "error" and seen.get(record.id) == {(record.shown_output, record.status)}
        for record in again
    )


def _confirmed(
    comparison: Comparison,
    base: SuiteResult,
    head: SuiteResult,
    policy: GatePolicy,
) -> Comparison:
    runs = [*base.confirmation_runs, *head.confirmation_runs]
    if not runs:
        return comparison
    ids = {r.id for r in runs}
    base_all = pair_records(
        [c for c in (*base.cases, *base.confirmation_runs) if c.id in ids], policy.critical_tags
    )
    head_all = pair_records(
        [c for c in (*head.cases, *head.confirmation_runs) if c.id in ids], policy.critical_tags
    )
    per_case = Counter(r.id for r in runs)
    return confirm(
        comparison,
        base_all,
        head_all,
        pair_records(base.confirmation_runs, policy.critical_tags),
        pair_records(head.confirmation_runs, policy.critical_tags),
        # Both sides ran each confirmed case the same number of times.
        runs=max(per_case.values()) // 2,
        errored_runs=sum(1 for r in runs if r.status == "error"),
    )


def judge_run(
    result: RunResult, gate: GateConfig, *, seed: int = 0, looks: FirstLooks | None = None
) -> RunResult:
    """Fill in the suites' pass-rate intervals, the comparisons and the verdicts. Pure:
    returns a new result. ``looks`` are the first-look comparisons when the caller already
    has them (they depend only on the first-look cases, which confirmation leaves alone)."""
    base = {s.name: s for s in result.baseline}
    if looks is None:
        looks = first_looks(result.suites, result.baseline, gate, seed)
    compared: dict[str, Comparison] = {}
    for suite in result.suites:
        if suite.name in looks:
            comparison = _confirmed(
                looks[suite.name][0], base[suite.name], suite, _policy(gate, suite)
            )
            if suite.first_look_only:
                comparison = dataclasses.replace(comparison, first_look_only=suite.first_look_only)
            compared[suite.name] = comparison
    holm = _holm(compared) if gate.holm else {}
    comparisons: dict[str, ComparisonSummary] = {}
    verdicts: dict[str, Verdict] = {}
    gate_verdicts: list[Decision] = []
    for suite in result.suites:
        policy = _policy(gate, suite)
        paired = compared.get(suite.name)
        if paired is not None:
            head_records = looks[suite.name][1]
            comparisons[suite.name] = comparison_summary(paired)
        else:
            head_records = pair_records(suite.cases, policy.critical_tags)
        verdict = decide(paired, head_records, policy, suite=suite.name, holm=holm.get(suite.name))
        gate_verdicts.append(verdict)
        verdicts[suite.name] = _as_result_verdict(verdict)
    overall = _as_result_verdict(combine_decisions(gate_verdicts))
    return result.model_copy(
        update={
            "suites": [_with_interval(s) for s in result.suites],
            "baseline": [_with_interval(s) for s in result.baseline],
            "comparisons": comparisons,
            "verdicts": verdicts,
            "verdict": overall,
        }
    )


def _holm(compared: dict[str, Comparison]) -> dict[str, Holm]:
    """Holm's step-down over the suites' regression tests, so identical prompts fail the
    gate in at most ``1 - confidence`` of runs however many suites there are."""
    tested = {name: c for name, c in compared.items() if c.paired}
    names = list(tested)
    adjusted = holm_adjusted([regression_p(tested[n]) for n in names])
    return {name: Holm(p, len(names)) for name, p in zip(names, adjusted, strict=True)}


def exit_code_for(result: RunResult, gate: GateConfig) -> int:
    """The documented exit code of a finished run (``cli.base.EXIT_CODES_HELP``): 0 pass or
    inconclusive (``gate.inconclusive: fail`` makes that a fail); 1 the prompt failed a check
    on the cases that could be judged; 2 otherwise, when an evaluator could not judge some
    cases; 3 when only a provider's failures decided."""
    verdict = result.verdict
    if verdict is None or verdict.status != "fail":
        return 0
    failed = set(verdict.failed_checks)
    if not failed or failed - {"errors", "evaluation"}:
        return 1
    return 2 if "evaluation" in failed else 3
