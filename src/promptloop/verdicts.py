"""From results to verdicts: pair base and head, compare, and apply the gate policy."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from promptloop.compare import CaseRecord as PairRecord
from promptloop.compare import Comparison, compare
from promptloop.config import GateConfig
from promptloop.gate import GatePolicy, combine_verdicts, decide
from promptloop.gate import Verdict as GateVerdict
from promptloop.results import CaseRecord, RunResult, Verdict


def pair_records(cases: Sequence[CaseRecord], critical_tags: Collection[str]) -> list[PairRecord]:
    """Average repeats within a case; a case errors only when every repeat errored."""
    groups: dict[str, list[CaseRecord]] = {}
    for case in cases:
        groups.setdefault(case.id, []).append(case)
    tags = set(critical_tags)
    records = []
    for case_id, group in groups.items():
        ran = [c for c in group if c.status != "error"]
        critical = any(t in tags for c in group for t in c.tags)
        shown = next((c for c in ran if c.status == "fail"), ran[0] if ran else group[0])
        records.append(
            PairRecord(
                case_id=case_id,
                passed=sum(1.0 for c in ran if c.status == "pass") / len(ran) if ran else 0.0,
                score=sum(c.score for c in ran) / len(ran) if ran else 0.0,
                error=not ran,
                critical=critical,
                output=shown.output,
                reason=shown.reasons,
                repeats=len(group),
                errored_repeats=len(group) - len(ran),
            )
        )
    return records


def comparison_summary(comparison: Comparison) -> dict[str, Any]:
    """The JSON-friendly view of a comparison that reports render."""

    def items(kind: str) -> list[dict[str, Any]]:
        return [
            {
                "case_id": p.case_id,
                "critical": p.critical,
                "base_output": p.base.output if p.base else None,
                "head_output": p.head.output if p.head else None,
                "base_reason": p.base.reason if p.base else "",
                "head_reason": p.head.reason if p.head else "",
                "base_passed": p.base.passed if p.base else None,
                "head_passed": p.head.passed if p.head else None,
            }
            for p in comparison.pairs
            if p.kind == kind
        ]

    return {
        "paired": comparison.paired,
        "base_pass_rate": comparison.base_pass_rate.estimate,
        "head_pass_rate": comparison.head_pass_rate.estimate,
        "delta_pp": comparison.delta_pp.estimate,
        "delta_lo_pp": comparison.delta_pp.lo,
        "delta_hi_pp": comparison.delta_pp.hi,
        "score_delta": comparison.score_delta.estimate,
        "score_delta_lo": comparison.score_delta.lo,
        "score_delta_hi": comparison.score_delta.hi,
        "p_value": comparison.mcnemar_p,
        "p_worse": comparison.p_worse,
        "confidence": comparison.confidence,
        "fixed": items("fixed"),
        "broken": items("broken"),
        "errored": items("errored"),
        "added": items("added"),
        "removed": items("removed"),
        "unchanged": comparison.count("unchanged"),
    }


def _as_result_verdict(verdict: GateVerdict) -> Verdict:
    return Verdict(
        status=verdict.status,
        reason=verdict.reason,
        failed_checks=sorted({c.name for c in verdict.checks if c.status == "fail"}),
    )


def judge_run(result: RunResult, gate: GateConfig, *, seed: int = 0) -> RunResult:
    """Fill in comparisons and verdicts. Pure: returns a new result."""
    base = {s.name: s for s in result.baseline}
    comparisons: dict[str, Any] = {}
    verdicts: dict[str, Verdict] = {}
    gate_verdicts: list[GateVerdict] = []
    for suite in result.suites:
        policy = GatePolicy(
            min_pass_rate=gate.min_pass_rate,
            max_regression_pp=gate.max_regression_pp,
            confidence=gate.confidence,
            critical_tags=tuple(gate.critical_tags),
            on_error=gate.on_error,
            threshold=suite.threshold,
        )
        head_records = pair_records(suite.cases, policy.critical_tags)
        comparison = None
        if suite.name in base:
            base_records = pair_records(base[suite.name].cases, policy.critical_tags)
            comparison = compare(base_records, head_records, confidence=gate.confidence, seed=seed)
            comparisons[suite.name] = comparison_summary(comparison)
        verdict = decide(comparison, head_records, policy, suite=suite.name)
        gate_verdicts.append(verdict)
        verdicts[suite.name] = _as_result_verdict(verdict)
    overall = _as_result_verdict(combine_verdicts(gate_verdicts))
    return result.model_copy(
        update={
            "comparisons": comparisons,
            "verdicts": verdicts,
            "verdict": overall,
        }
    )


def exit_code_for(result: RunResult, gate: GateConfig) -> int:
    """0 pass or inconclusive; 1 a gate failed on the evidence; 3 infrastructure errors decided."""
    verdict = result.verdict
    if verdict is None or verdict.status != "fail":
        return 0
    if verdict.failed_checks and set(verdict.failed_checks) <= {"errors"}:
        return 3
    return 1
