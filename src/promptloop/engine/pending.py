"""The calls a case will make that the cache cannot answer (``Runner.pending_calls``): what
the forecast counts and what a case holds room for in the budget before it starts."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from promptloop.dataset.cases import Case
from promptloop.evaluators.base import EvalContext, Evaluator, TemplateRenderError
from promptloop.evaluators.judge import JudgeEvaluator
from promptloop.evaluators.promptfoo import AssertionSet
from promptloop.evaluators.promptfoo.core import GradedCall, PromptfooAssertion
from promptloop.evaluators.promptfoo.graded import questions_request
from promptloop.models.base import Message, ModelRequest


@dataclass(frozen=True)
class PendingCalls:
    """The calls one case will make that the cache cannot answer."""

    # The case's answer, None when the cache has it.
    answer: ModelRequest | None
    judges: tuple[ModelRequest, ...]
    # Calls the cache answers: free.
    cached: int
    # The evaluation key of a cached answer (``evaluation_key``): base and head share one.
    key: tuple[object, ...] | None

    @property
    def requests(self) -> tuple[ModelRequest, ...]:
        return ((self.answer,) if self.answer is not None else ()) + self.judges


def judge_requests(
    judges: Sequence[JudgeEvaluator], output: str, case: Case, ctx: EvalContext
) -> tuple[ModelRequest, ...]:
    asked = []
    for judge in judges:
        try:
            asked.append(judge.request(output, case, ctx))
        except TemplateRenderError:
            continue  # a rubric that cannot render is an evaluator error, not a call
    return tuple(asked)


def graded_calls(evaluators: Sequence[Evaluator]) -> tuple[GradedCall, ...]:
    """The model calls a case's promptfoo assertions make on its output (``llm-rubric``,
    ``g-eval``, ``factuality``, ``closedqa``, ``answer-relevance``, ``similar``)."""
    return tuple(
        call
        for e in evaluators
        if isinstance(e, PromptfooAssertion | AssertionSet)
        for call in e.calls
    )


@dataclass(frozen=True)
class GradedRequests:
    """The requests a case's promptfoo assertions send on one output."""

    # Judges' verdicts: the very requests sent, which the cache may answer; each is asked
    # as many times as the judge is sampled.
    judged: tuple[ModelRequest, ...]
    # answer-relevance's questions: the very requests sent, which the cache may answer;
    # asked once whatever the judge's samples.
    asked: tuple[ModelRequest, ...]
    # Embeddings, never cached: each stands for its call in count and size.
    embedded: tuple[ModelRequest, ...]


def graded_requests(
    calls: Sequence[GradedCall], output: str, case: Case, ctx: EvalContext
) -> GradedRequests:
    """The requests those calls send on ``output``."""
    judge_ctx = dataclasses.replace(ctx, tool_calls=())
    judges = [c.judge for c in calls if c.judge is not None]
    return GradedRequests(
        judged=judge_requests(judges, output, case, judge_ctx),
        asked=tuple(
            questions_request(call.model, output, ctx) for call in calls if call.kind == "ask"
        ),
        embedded=tuple(
            ModelRequest(
                model=call.model or ctx.judge_model,
                messages=(Message("user", output),),
                max_tokens=1,  # an embedding answers with no tokens
                api_base=ctx.api_base,
            )
            for call in calls
            if call.kind == "embedding"
        ),
    )
