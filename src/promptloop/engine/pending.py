"""The calls a case will make that the cache cannot answer (``pending_calls``), asking no
model: what the forecast counts and what a case holds room for in the budget before it
starts."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from promptloop.dataset.cases import Case
from promptloop.engine.evaluation import evaluation_key
from promptloop.engine.requests import CaseDraw, CaseRequests
from promptloop.evaluators.base import EvalContext, Evaluator, TemplateRenderError
from promptloop.evaluators.judge import JudgeEvaluator
from promptloop.evaluators.promptfoo import AssertionSet
from promptloop.evaluators.promptfoo.core import (
    GradedCall,
    PromptfooAssertion,
    as_text,
    promptfoo_output,
)
from promptloop.evaluators.promptfoo.graded import questions_request
from promptloop.models.base import Message, ModelRequest, ModelResponse, with_calls
from promptloop.models.budget import CHARS_PER_TOKEN
from promptloop.models.cache import CachingClient
from promptloop.models.model_map import output_cap


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


def pending_calls(
    draw: CaseDraw, requests: CaseRequests, cache: CachingClient | None
) -> PendingCalls:
    """The calls ``draw`` will make that ``cache`` cannot answer: its answer, then each LLM
    judge's first attempt and each promptfoo grader's calls (on the cached answer as the
    grader sees it, its transforms run, or on an answer of ``max_tokens`` not known yet)."""
    request = requests.answer_request(draw)
    answer = _peek(cache, request)
    case = draw.case
    evaluators = draw.plan.evaluators_for(case)[0]
    judges = [e for e in evaluators if isinstance(e, JudgeEvaluator)]
    graders = _graders(evaluators)
    samples = 1 if draw.second_look is None else draw.second_look.judge_samples
    if answer is None:
        unknown = "x" * (CHARS_PER_TOKEN * output_cap(request))
        ctx = requests.eval_context(draw)
        each = [call for grader in graders for call in grader.calls]
        sent = _promptfoo_requests(each, unknown, case, ctx)
        judged = (_judge_requests(judges, unknown, case, ctx) + sent.judged) * samples
        return PendingCalls(request, judged + sent.asked + sent.embedded, 0, None)
    ctx = requests.eval_context(draw, answer)
    output = with_calls(answer.text, answer.tool_calls)
    sent, unsure = _graded_requests(graders, answer, case, ctx)
    judged = _judge_requests(judges, output, case, ctx) + sent.judged
    judged_later = tuple(r for r in judged if _peek(cache, r) is None)
    asked_later = tuple(r for r in sent.asked if _peek(cache, r) is None)
    cached = 1 + len(judged) + len(sent.asked) - len(judged_later) - len(asked_later)
    calls = (
        (judged_later + unsure.judged) * samples
        + asked_later
        + unsure.asked
        + sent.embedded
        + unsure.embedded
    )
    return PendingCalls(None, calls, cached, evaluation_key(draw.plan, answer.text, case, ctx))


def transforms_output(draw: CaseDraw) -> bool:
    """Whether ``pending_calls(draw, ...)`` may run a config's transforms: user code, each
    bounded by the scripts' time limit, which an event loop had better run in a thread."""
    return any(g.transforms for g in _graders(draw.plan.evaluators_for(draw.case)[0]))


def _peek(cache: CachingClient | None, request: ModelRequest) -> ModelResponse | None:
    """The cache's answer to ``request``, asking no model (None without a cache)."""
    return cache.peek(request) if cache is not None else None


def _judge_requests(
    judges: Sequence[JudgeEvaluator], output: str, case: Case, ctx: EvalContext
) -> tuple[ModelRequest, ...]:
    asked = []
    for judge in judges:
        try:
            asked.append(judge.request(output, case, ctx))
        except TemplateRenderError:
            continue  # a rubric that cannot render is an evaluator error, not a call
    return tuple(asked)


def _graders(
    evaluators: Sequence[Evaluator | PromptfooAssertion],
) -> tuple[PromptfooAssertion, ...]:
    """A case's promptfoo assertions that call a model on its output (``llm-rubric``,
    ``g-eval``, ``factuality``, ``closedqa``, ``answer-relevance``, ``similar``), those
    inside an ``assert-set`` too: each grades the output after its own transforms."""
    found: list[PromptfooAssertion] = []
    for e in evaluators:
        if isinstance(e, AssertionSet):
            found.extend(_graders(e.members))
        elif isinstance(e, PromptfooAssertion) and e.calls:
            found.append(e)
    return tuple(found)


def _graded_requests(
    graders: Sequence[PromptfooAssertion], answer: ModelResponse, case: Case, ctx: EvalContext
) -> tuple[_PromptfooRequests, _PromptfooRequests]:
    """The requests ``graders`` send on the cached ``answer``, each built from the answer
    as its grader sees it: as promptfoo shows it (tool calls included), transformed as the
    run transforms it (through the run's memo, ``ctx.transforms``: the grade reuses the
    result, so each transform runs once). Second, those of graders whose transform failed
    here: a later run's may not, so they count as calls the cache cannot answer, the
    forecast's safe side."""
    shown = promptfoo_output(answer.text, answer.tool_calls)
    sure: list[_PromptfooRequests] = []
    unsure: list[_PromptfooRequests] = []
    for grader in graders:
        try:
            seen = as_text(grader.transformed(shown, case, ctx))
        except Exception:  # a transform's failure or a result JSON cannot carry, as in the run
            unsure.append(_promptfoo_requests(grader.calls, as_text(shown), case, ctx))
            continue
        sure.append(_promptfoo_requests(grader.calls, seen, case, ctx))
    return _joined(sure), _joined(unsure)


@dataclass(frozen=True)
class _PromptfooRequests:
    """The requests a case's promptfoo assertions send on one output."""

    # Judges' verdicts: the very requests sent, which the cache may answer; each is asked
    # as many times as the judge is sampled.
    judged: tuple[ModelRequest, ...]
    # answer-relevance's questions: the very requests sent, which the cache may answer;
    # asked once whatever the judge's samples.
    asked: tuple[ModelRequest, ...]
    # Embeddings, never cached: each stands for its call in count and size.
    embedded: tuple[ModelRequest, ...]


def _joined(parts: Sequence[_PromptfooRequests]) -> _PromptfooRequests:
    return _PromptfooRequests(
        judged=tuple(r for p in parts for r in p.judged),
        asked=tuple(r for p in parts for r in p.asked),
        embedded=tuple(r for p in parts for r in p.embedded),
    )


def _promptfoo_requests(
    calls: Sequence[GradedCall], output: str, case: Case, ctx: EvalContext
) -> _PromptfooRequests:
    """The requests those calls send on ``output``."""
    judge_ctx = dataclasses.replace(ctx, tool_calls=())
    judges = [c.judge for c in calls if c.judge is not None]
    return _PromptfooRequests(
        judged=_judge_requests(judges, output, case, judge_ctx),
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
