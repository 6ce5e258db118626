"""Evaluating a case's answer: every evaluator of the case on it, a crashing evaluator as
that case's error, a judge whose provider kept failing as an infrastructure error, and one
evaluation per identical output (``SharedEvaluations``), so base and head cannot get
different verdicts on the same answer."""

from __future__ import annotations

import asyncio
import dataclasses
import json

from promptloop.dataset.cases import Case
from promptloop.engine.tally import FailureRecorder
from promptloop.errors import PromptloopError
from promptloop.evaluators.base import EvalContext, EvalResult, Evaluator, sees_prompt
from promptloop.models.base import Usage
from promptloop.models.stop import RunStopped
from promptloop.project.suites import SuitePlan

# A case's evaluations, and its judge infrastructure error.
Evaluated = tuple[tuple[EvalResult, ...], str | None]


def evaluation_key(
    plan: SuitePlan, output: str, case: Case, ctx: EvalContext
) -> tuple[object, ...]:
    """Everything an evaluation depends on: the output (its text and its tool calls, checked
    against the tools offered) and the case, the judge's seed and temperature, and the
    prompt only when an evaluator is shown it (``show_prompt``)."""
    evaluators, _threshold = plan.evaluators_for(case)
    shown = ctx.prompt_text if any(sees_prompt(e) for e in evaluators) else None
    calls = (ctx.tool_calls, json.dumps(ctx.tools, sort_keys=True)) if ctx.tool_calls else None
    return (
        plan.name,
        case.id,
        output,
        calls,
        ctx.seed,
        ctx.judge_temperature,
        ctx.judge_samples,
        shown,
    )


class SharedEvaluations:
    """A run's evaluations by what they depend on (``evaluation_key``): an output that is
    byte-identical under base and head is evaluated once."""

    def __init__(self) -> None:
        self._tasks: dict[tuple[object, ...], asyncio.Task[Evaluated]] = {}

    async def evaluate(
        self, plan: SuitePlan, output: str, case: Case, ctx: EvalContext
    ) -> Evaluated:
        """The case's evaluations and its judge infrastructure error, computed once per
        identical output: a later side that produced the same output gets the same
        results, with zero usage (the calls were paid once)."""
        key = evaluation_key(plan, output, case, ctx)
        task = self._tasks.get(key)
        # A task of an earlier event loop (the optimizer runs one per round) may never finish.
        if task is None or task.get_loop() is not asyncio.get_running_loop():
            task = asyncio.ensure_future(_evaluate_case(plan, output, case, ctx))
            self._tasks[key] = task
            first = True
        else:
            first = False
        # Shielded: one side being cancelled must not cancel the other side's evaluation.
        evaluations, error = await asyncio.shield(task)
        if not first:
            evaluations = tuple(dataclasses.replace(e, usage=Usage()) for e in evaluations)
        return evaluations, error


async def _evaluate_case(plan: SuitePlan, output: str, case: Case, ctx: EvalContext) -> Evaluated:
    judge = FailureRecorder(ctx.judge)
    judged = dataclasses.replace(ctx, judge=judge)
    evaluators, _threshold = plan.evaluators_for(case)
    evaluations = await asyncio.gather(
        *(_evaluate_safely(e, output, case, judged) for e in evaluators)
    )
    # A judge whose provider kept failing is an infrastructure error, like a failed
    # generation: counting it as a fail would blame the prompt (and could fake a regression).
    error = f"judge call failed: {judge.failures[0]}" if judge.failures else None
    return tuple(evaluations), error


async def _evaluate_safely(
    evaluator: Evaluator, output: str, case: Case, ctx: EvalContext
) -> EvalResult:
    """An evaluator that raises is reported as an evaluator error on that case only."""
    try:
        return await evaluator.evaluate(output, case, ctx)
    except (RunStopped, PromptloopError):
        raise  # the run is stopping, or a judge model failed its preflight: not this case's
    except Exception as exc:  # one broken evaluator must not abort the run
        return EvalResult.errored(
            evaluator.name,
            f"evaluator crashed: {type(exc).__name__}: {exc}",
            weight=evaluator.weight,
        )
