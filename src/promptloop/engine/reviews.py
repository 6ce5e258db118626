"""What the reviewers said about this run's outputs: each suite's verdicts, applied when
the output they judged is the one this run gave."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from promptloop.dataset.feedback import FeedbackRecord, latest_by_output, verdict_for
from promptloop.engine.results import CaseRecord, ReviewRecord, ReviewStatus, SuiteResult
from promptloop.evaluators.human import HumanEvaluator
from promptloop.project.suites import SuitePlan


def with_reviews(suites: Sequence[SuiteResult], plans: Sequence[SuitePlan]) -> list[SuiteResult]:
    """Each suite with its reviewers' verdicts on the cases this run gave."""
    by_name = {p.name: p for p in plans}
    out = []
    for suite in suites:
        plan = by_name.get(suite.name)
        if plan is None or not plan.feedback:
            out.append(suite)
            continue
        counted = any(isinstance(e, HumanEvaluator) for e in plan.evaluators)
        reviews = reviewer_verdicts(suite.cases, plan.feedback, counted=counted)
        out.append(suite.model_copy(update={"reviews": reviews}))
    return out


def reviewer_verdicts(
    cases: Iterable[CaseRecord], records: Sequence[FeedbackRecord], *, counted: bool
) -> list[ReviewRecord]:
    """Per case of the run (its first repeat), the verdict on its output, else the latest
    verdict on an earlier output of it."""
    latest = latest_by_output(records)
    out: list[ReviewRecord] = []
    seen: set[str] = set()
    for case in cases:
        mine = [r for r in latest if r.case == case.id]
        if case.id in seen or not mine:
            continue
        seen.add(case.id)
        same = verdict_for(mine, case.id, case.shown_output)
        record = same or mine[-1]
        status: ReviewStatus = ("applied" if counted else "unused") if same else "changed"
        out.append(
            ReviewRecord(
                case_id=case.id,
                verdict=record.verdict,
                by=record.by,
                note=record.note,
                at=record.at.isoformat(),
                source=record.source,
                status=status,
            )
        )
    return out
