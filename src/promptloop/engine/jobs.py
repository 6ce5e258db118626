"""Running one version of a suite's prompt over its cases, into a ``SuiteResult``.

A job is a suite plus the prompt version to run it with: the head's own prompt, or the
base's as it was at the baseline ref.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from promptloop.dataset.splits import split_of, splits_by_id
from promptloop.engine.outcome import CaseOutcome
from promptloop.engine.results import (
    CaseRecord,
    SuiteResult,
    UsageTotals,
    case_record,
    summarise_evaluators,
)
from promptloop.engine.runner import Runner, gather_or_fail
from promptloop.project.prompts import PromptTemplate
from promptloop.project.suites import SuitePlan

SplitRatios = tuple[float, float, float]


@dataclass
class Job:
    plan: SuitePlan
    variant: str
    source: str
    template: PromptTemplate


def head_job(plan: SuitePlan) -> Job:
    return Job(plan, "head", plan.prompt.source, plan.prompt)


def records_of(
    rows: list[list[CaseOutcome]],
    split_ratios: SplitRatios,
    first_repeat: int = 0,
    plan: SuitePlan | None = None,
) -> list[CaseRecord]:
    """The rows' records, each with the split the suite's whole dataset gives its case."""
    splits = splits_by_id(plan.cases, split_ratios) if plan is not None else {}
    return [
        case_record(
            outcome,
            splits.get(outcome.case.id) or split_of(outcome.case.id, split_ratios),
            first_repeat + index,
        )
        for index, row in enumerate(rows)
        for outcome in row
        if not outcome.not_run
    ]


def suite_result(job: Job, rows: list[list[CaseOutcome]], split_ratios: SplitRatios) -> SuiteResult:
    records = records_of(rows, split_ratios, plan=job.plan)
    plan = job.plan
    return SuiteResult(
        name=plan.name,
        variant="base" if job.variant == "base" else "head",
        prompt_path=plan.prompt.path,
        prompt_sha256=hashlib.sha256(job.source.encode()).hexdigest(),
        model=plan.model,
        threshold=plan.threshold,
        cases=records,
        not_run=sum(1 for row in rows for outcome in row if outcome.not_run),
        evaluators=summarise_evaluators(records),
        usage=UsageTotals.of_records(records),
    )


async def run_jobs(
    runner: Runner, jobs: Sequence[Job], repeat: int, split_ratios: SplitRatios
) -> tuple[list[SuiteResult], list[SuiteResult]]:
    """Run every job at once (the runner's limiter bounds the calls in flight); return the
    head suites and the base suites, each in the jobs' order."""
    outputs = await gather_or_fail(
        runner.run_suite(job.plan, prompt=job.template, variant=job.variant, repeat=repeat)
        for job in jobs
    )
    head: list[SuiteResult] = []
    base: list[SuiteResult] = []
    for job, rows in zip(jobs, outputs, strict=True):
        (base if job.variant == "base" else head).append(suite_result(job, rows, split_ratios))
    return head, base
