"""The gate's second look: re-run the cases that changed before deciding that head is worse.

Which cases to re-run is decided from the first look alone (``verdicts.confirmation_plan``),
so the paired test on the confirmed differences stays exact; see ``policy`` for why.

A second look is only worth its calls when it can draw new evidence: the judge is
re-sampled above temperature 0 (``gate.confirm_judge_temperature``) and the model under
test only when its own temperature is above 0. A suite where neither can happen (a
temperature-0 model graded by deterministic checks) is decided on the first look.
"""

from __future__ import annotations

from collections.abc import Sequence

from promptloop.engine.jobs import Job, SplitRatios, records_of
from promptloop.engine.progress import MoreWork, ProgressCallback
from promptloop.engine.requests import SecondLook
from promptloop.engine.results import CaseRecord, SuiteResult, UsageTotals
from promptloop.engine.runner import Runner, gather_or_fail
from promptloop.evaluators.base import asks_a_judge
from promptloop.evaluators.judge import JudgeEvaluator
from promptloop.gate.verdicts import (
    FirstLooks,
    answers_repeated,
    confirmation_plan,
    first_looks,
)
from promptloop.project.config.gate import GateConfig
from promptloop.project.suites import SuitePlan
from promptloop.wording import plural

SuiteKey = tuple[str, str]


async def look_twice(
    runner: Runner,
    jobs: Sequence[Job],
    head: list[SuiteResult],
    base: list[SuiteResult],
    *,
    gate: GateConfig,
    seed: int,
    first_repeat: int,
    split_ratios: SplitRatios,
    always: bool,
    progress: ProgressCallback | None,
) -> tuple[list[SuiteResult], list[SuiteResult], FirstLooks]:
    """Compare the first look; where the gate needs a second one, run it and attach the
    confirmation runs to the suites. ``always`` confirms every change (a shard cannot see
    the whole suite, so it cannot tell whether head looks worse)."""
    looks = first_looks(head, base, gate, seed)
    plan = confirmation_plan(head, looks, gate, always=always)
    plans = {job.plan.name: job.plan for job in jobs}
    first_look_only = {
        name: why for name in plan if (why := no_new_evidence(plans[name])) is not None
    }
    plan = {name: ids for name, ids in plan.items() if name not in first_look_only}
    if first_look_only:
        head = [_first_look_only(s, first_look_only.get(s.name)) for s in head]
        base = [_first_look_only(s, first_look_only.get(s.name)) for s in base]
    if not plan:
        return head, base, looks
    first_look: dict[SuiteKey, SuiteResult] = {(s.name, s.variant): s for s in (*head, *base)}
    confirmed = await _run_confirmation(
        runner,
        jobs,
        plan,
        gate,
        first_repeat,
        split_ratios,
        first_look,
        progress,
    )
    head = [_with_confirmation(s, confirmed.get((s.name, "head"), [])) for s in head]
    base = [_with_confirmation(s, confirmed.get((s.name, "base"), [])) for s in base]
    return head, base, looks


def no_new_evidence(plan: SuitePlan) -> str | None:
    """Why re-running this suite's cases cannot change what the first look saw, or None
    when it can (the model samples, or a judge is re-sampled)."""
    # a case's own checks count too: a promptfoo test's llm-rubric is a judge
    own = (e for checks in plan.case_checks.values() for e in checks.evaluators)
    judged = any(isinstance(e, JudgeEvaluator) or asks_a_judge(e) for e in (*plan.evaluators, *own))
    if plan.temperature > 0 or judged:
        return None
    return (
        "re-running cannot bring new evidence (the model runs at temperature 0 and every "
        "evaluator is deterministic)"
    )


def _first_look_only(suite: SuiteResult, why: str | None) -> SuiteResult:
    return suite if why is None else suite.model_copy(update={"first_look_only": why})


async def _run_confirmation(
    runner: Runner,
    jobs: Sequence[Job],
    plan: dict[str, list[str]],
    gate: GateConfig,
    first_repeat: int,
    split_ratios: SplitRatios,
    first_look: dict[SuiteKey, SuiteResult],
    progress: ProgressCallback | None,
) -> dict[SuiteKey, list[CaseRecord]]:
    """Run the planned cases up to ``gate.confirm_runs`` more times on both sides, one run
    at a time, repeat indices after the first look's so every run is a fresh draw. When no
    judge is re-sampled and a run brings back every answer and verdict unchanged, the
    model is deterministic on these cases despite its temperature, and the remaining runs
    would only repeat it, so they are skipped. (A re-sampled judge that happens to agree
    with itself says nothing about the next sample.)"""
    runs = gate.confirm_runs
    second_look = SecondLook(
        judge_temperature=gate.confirm_judge_temperature, judge_samples=gate.confirm_judge_samples
    )
    wanted = {name: set(ids) for name, ids in plan.items()}
    chosen = [
        (job, [c for c in job.plan.cases if c.id in wanted[job.plan.name]])
        for job in jobs
        if job.plan.name in wanted
    ]
    judged = any(isinstance(e, JudgeEvaluator) for job, _ in chosen for e in job.plan.evaluators)
    per_run = sum(len(cases) for _, cases in chosen)
    cases = sum(len(ids) for ids in plan.values())
    _announce(
        progress,
        MoreWork(
            per_run * runs,
            f"re-running {plural(cases, 'changed case')} {plural(runs, 'more time')} on "
            "each side before the gate decides",
        ),
    )
    collected: dict[SuiteKey, list[CaseRecord]] = {
        (job.plan.name, job.variant): [] for job, _ in chosen
    }
    for index in range(first_repeat, first_repeat + runs):
        outputs = await gather_or_fail(
            runner.run_suite(
                job.plan,
                prompt=job.template,
                cases=cases,
                variant=job.variant,
                repeat=1,
                first_repeat=index,
                second_look=second_look,
            )
            for job, cases in chosen
        )
        repeated = True
        for (job, _), rows in zip(chosen, outputs, strict=True):
            key = (job.plan.name, job.variant)
            records = records_of(rows, split_ratios, index, job.plan)
            collected[key].extend(records)
            repeated = repeated and answers_repeated(first_look[key].cases, records)
        left = first_repeat + runs - index - 1
        if repeated and left and not judged:
            _announce(
                progress,
                MoreWork(
                    -per_run * left,
                    "every answer and verdict came back unchanged (the model is "
                    f"deterministic here), so the {plural(left, 'remaining run')} "
                    f"{'is' if left == 1 else 'are'} skipped",
                ),
            )
            break
    return collected


def _announce(progress: ProgressCallback | None, event: MoreWork) -> None:
    if progress is not None:
        progress(event)


def _with_confirmation(suite: SuiteResult, records: list[CaseRecord]) -> SuiteResult:
    if not records:
        return suite
    return suite.model_copy(
        update={
            "confirmation_runs": records,
            "usage": suite.usage.add(UsageTotals.of_records(records)),
        }
    )
