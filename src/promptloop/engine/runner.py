"""Run cases: render the prompt, call the model, evaluate, never let one case sink the run.

Everything here is async and bounded by the client's concurrency limiter, so all
cases of all suites can be scheduled at once. Progress is reported as events; the
CLI decides how to draw them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from promptloop.dataset.cases import Case
from promptloop.engine.outcome import CaseOutcome
from promptloop.engine.pending import PendingCalls, graded_calls, graded_requests, judge_requests
from promptloop.engine.tally import FailureRecorder, RunEmbedder, Tally, TallyingClient
from promptloop.errors import PromptloopError
from promptloop.evaluators.base import (
    EvalContext,
    EvalResult,
    Evaluator,
    combine,
    sees_prompt,
)
from promptloop.evaluators.judge import JudgeEvaluator
from promptloop.models.base import (
    ModelCallError,
    ModelClient,
    ModelRequest,
    ModelResponse,
    Usage,
    with_calls,
)
from promptloop.models.budget import (
    CHARS_PER_TOKEN,
    Budget,
    Hold,
    Refusal,
    current_hold,
    worst_cost,
)
from promptloop.models.cache import CachingClient
from promptloop.models.factory import build_client
from promptloop.models.model_map import output_cap, price_tokens
from promptloop.models.preflight import ModelUse
from promptloop.models.stop import RunStopped, StopSignal
from promptloop.project.conversations import check_conversations, history_messages
from promptloop.project.loader import LoadedConfig
from promptloop.project.prompts import PromptTemplate
from promptloop.project.rendering import RenderedPrompt, check_variables, render_prompt
from promptloop.project.suites import SuitePlan


@dataclass(frozen=True)
class CaseFinished:
    suite: str
    variant: str
    status: str
    cached: bool


@dataclass(frozen=True)
class Answered:
    """The model answered a case; its evaluators (and judges) are still to run."""

    suite: str
    variant: str


@dataclass(frozen=True)
class MoreWork:
    """Cases added after the run started (the gate's confirmation runs)."""

    cases: int
    note: str


ProgressEvent = CaseFinished | Answered | MoreWork
ProgressCallback = Callable[[ProgressEvent], None]


@dataclass
class RunSettings:
    judge_model: str
    seed: int = 0
    api_base: str | None = None
    timeout_s: float = 60.0
    judge_attempts: int = 3


@dataclass(frozen=True)
class SecondLook:
    """How the gate's confirmation runs draw evidence the first look did not have.

    The judge is re-sampled at ``judge_temperature`` (a judge at temperature 0 answers an
    identical request identically whatever the seed). The model under test is re-sampled
    only when its own temperature is above 0; otherwise its first-look answer is asked
    for again with the first look's seed, which the cache answers.
    """

    judge_temperature: float
    # A judge verdict is the majority of this many samples.
    judge_samples: int = 1


class Runner:
    def __init__(
        self,
        client: ModelClient,
        settings: RunSettings,
        progress: ProgressCallback | None = None,
        stop: StopSignal | None = None,
        budget: Budget | None = None,
    ) -> None:
        self.tally = Tally()
        self._client: ModelClient = TallyingClient(client, self.tally)
        self._embed = RunEmbedder(
            self.tally, budget, api_base=settings.api_base, timeout_s=settings.timeout_s
        )
        self._cache = client if isinstance(client, CachingClient) else None
        self.budget = budget
        self._settings = settings
        self._progress = progress
        self.stop = stop or StopSignal()
        # Evaluations by what they depend on (see ``evaluation_key``): an output that is
        # byte-identical under base and head gets one evaluation, so its verdict cannot
        # differ between the sides.
        self._shared: dict[tuple[object, ...], asyncio.Task[_Evaluated]] = {}

    @property
    def client(self) -> ModelClient:
        """The runner's client: cached, retried, bounded and counted."""
        return self._client

    async def run_suite(
        self,
        plan: SuitePlan,
        *,
        prompt: PromptTemplate | None = None,
        cases: Sequence[Case] | None = None,
        variant: str = "head",
        repeat: int = 1,
        first_repeat: int = 0,
        second_look: SecondLook | None = None,
    ) -> list[list[CaseOutcome]]:
        """Outcomes per repeat, each list in case order. Repeat indices start at
        ``first_repeat``, so later runs of a case draw fresh samples, not cached ones."""
        template = prompt or plan.prompt
        chosen = list(plan.cases if cases is None else cases)
        check_variables(template, chosen)
        check_conversations(template, chosen)
        # Render every case before the first model call: a template that breaks on one case
        # is the user's to fix, and finding it after half the calls would waste them.
        rendered = [render_case(plan.prompt_for(template, c), c) for c in chosen]
        per_repeat = [
            [
                self._unless_stopped(
                    case,
                    self._run_case(plan, messages, case, variant, r, second_look),
                    functools.partial(self.pending_calls, plan, messages, case, r, second_look),
                )
                for case, messages in zip(chosen, rendered, strict=True)
            ]
            for r in range(first_repeat, first_repeat + repeat)
        ]
        gathered = await asyncio.gather(*(asyncio.gather(*row) for row in per_repeat))
        return [list(row) for row in gathered]

    def generation_request(
        self,
        plan: SuitePlan,
        rendered: RenderedPrompt,
        repeat_index: int,
        second_look: SecondLook | None = None,
    ) -> ModelRequest:
        """The request for a case's answer (the forecast asks the cache for it too)."""
        settings = self._settings
        model_draw = repeat_index
        if second_look is not None and plan.temperature <= 0:
            model_draw = 0
        return ModelRequest(
            model=plan.model,
            messages=rendered.conversation,
            tools=rendered.tools,
            tool_choice=rendered.tool_choice,
            json_schema=plan.json_schema,
            temperature=plan.temperature,
            max_tokens=plan.max_tokens,
            # Repeats must be independent draws; the first keeps the configured seed so
            # a run with repeat=1 shares its cache with every other run.
            seed=settings.seed + model_draw,
            api_base=settings.api_base,
            timeout_s=settings.timeout_s,
        )

    def eval_context(
        self,
        rendered: RenderedPrompt,
        repeat_index: int,
        second_look: SecondLook | None = None,
        response: ModelResponse | None = None,
    ) -> EvalContext:
        """What the evaluators of a case's answer (``response``; None: not known yet) are
        given."""
        settings = self._settings
        return EvalContext(
            judge=self._client,
            judge_model=settings.judge_model,
            prompt_text="\n\n".join(m.content for m in rendered.messages),
            seed=settings.seed + repeat_index,
            api_base=settings.api_base,
            judge_attempts=settings.judge_attempts,
            timeout_s=settings.timeout_s,
            judge_temperature=0.0 if second_look is None else second_look.judge_temperature,
            judge_samples=1 if second_look is None else second_look.judge_samples,
            tool_calls=response.tool_calls if response is not None else (),
            tools=rendered.tools,
            cost_usd=response.usage.cost_usd if response is not None else None,
            latency_ms=None if response is None or response.cached else response.latency_s * 1000,
            embed=self._embed,
        )

    def cached(self, request: ModelRequest) -> ModelResponse | None:
        """The cache's answer to ``request``, asking no model (None without a cache)."""
        return self._cache.peek(request) if self._cache is not None else None

    async def _run_case(
        self,
        plan: SuitePlan,
        rendered: RenderedPrompt,
        case: Case,
        variant: str,
        repeat_index: int,
        second_look: SecondLook | None = None,
    ) -> CaseOutcome:
        request = self.generation_request(plan, rendered, repeat_index, second_look)
        started = time.perf_counter()
        try:
            response = await self._client.complete(request)
        except ModelCallError as exc:
            outcome = CaseOutcome(
                case=case,
                output=None,
                passed=False,
                score=0.0,
                error=f"model call failed: {exc}",
                latency_s=time.perf_counter() - started,
            )
            self._emit(plan.name, variant, outcome)
            return outcome
        if self._progress is not None:
            self._progress(Answered(plan.name, variant))
        ctx = self.eval_context(rendered, repeat_index, second_look, response)
        evaluations, error = await self._evaluations(plan, response.text, case, ctx)
        passed, score = combine(evaluations, plan.evaluators_for(case)[1])
        usage = response.usage
        for e in evaluations:
            usage = usage + e.usage
        outcome = CaseOutcome(
            case=case,
            output=response.text,
            passed=passed and error is None,
            score=score,
            error=error,
            evaluations=tuple(evaluations),
            usage=usage,
            cached=response.cached,
            latency_s=time.perf_counter() - started,
            tool_calls=response.tool_calls,
        )
        self._emit(plan.name, variant, outcome)
        return outcome

    def pending_calls(
        self,
        plan: SuitePlan,
        rendered: RenderedPrompt,
        case: Case,
        repeat_index: int,
        second_look: SecondLook | None = None,
    ) -> PendingCalls:
        """The calls a case will make that the cache cannot answer, asking no model: its
        answer, then each LLM judge's first attempt (on the cached answer, or on an answer
        of ``max_tokens`` not known yet)."""
        request = self.generation_request(plan, rendered, repeat_index, second_look)
        answer = self.cached(request)
        evaluators = plan.evaluators_for(case)[0]
        judges = [e for e in evaluators if isinstance(e, JudgeEvaluator)]
        graded = graded_calls(evaluators)
        samples = 1 if second_look is None else second_look.judge_samples
        if answer is None:
            unknown = "x" * (CHARS_PER_TOKEN * output_cap(request))
            ctx = self.eval_context(rendered, repeat_index, second_look)
            asked = judge_requests(judges, unknown, case, ctx)
            graded_judged, always = graded_requests(graded, unknown, case, ctx)
            judged = (asked + graded_judged) * samples
            return PendingCalls(request, judged + always, 0, None)
        ctx = self.eval_context(rendered, repeat_index, second_look, answer)
        output = with_calls(answer.text, answer.tool_calls)
        asked = judge_requests(judges, output, case, ctx)
        graded_judged, always = graded_requests(graded, answer.text, case, ctx)
        asked += graded_judged
        pending = tuple(r for r in asked if self.cached(r) is None)
        key = evaluation_key(plan, answer.text, case, ctx)
        cached = 1 + len(asked) - len(pending)
        return PendingCalls(None, pending * samples + always, cached, key)

    async def _unless_stopped(
        self,
        case: Case,
        work: Coroutine[Any, Any, CaseOutcome],
        pending: Callable[[], PendingCalls] | None = None,
    ) -> CaseOutcome:
        """The case's outcome, or "not run" once the run is stopping or its calls do not fit
        the budget: half a case (an answer without its judge, say) is no result."""
        hold = None if self.stop.requested else await self._hold(pending)
        if self.stop.requested or isinstance(hold, Refusal):
            work.close()
            return CaseOutcome(case=case, output=None, passed=False, score=0.0, not_run=True)
        token = current_hold.set(hold)
        try:
            return await work
        except RunStopped:
            return CaseOutcome(case=case, output=None, passed=False, score=0.0, not_run=True)
        finally:
            current_hold.reset(token)
            if hold is not None and self.budget is not None:
                self.budget.release(hold)

    async def _hold(self, pending: Callable[[], PendingCalls] | None) -> Hold | Refusal | None:
        """Room in the budget for every call the case will make, before it makes one."""
        if self.budget is None or pending is None:
            return None
        requests = pending().requests
        if not requests:
            return None  # answered wholly from the cache: free, whatever is left
        usd = sum(worst_cost(r, price_tokens, output_cap) for r in requests)
        return await self.budget.hold(len(requests), usd)

    async def _evaluations(
        self, plan: SuitePlan, output: str, case: Case, ctx: EvalContext
    ) -> tuple[tuple[EvalResult, ...], str | None]:
        """The case's evaluations and its judge infrastructure error, computed once per
        identical output: a later side that produced the same output gets the same
        results, with zero usage (the calls were paid once)."""
        key = evaluation_key(plan, output, case, ctx)
        task = self._shared.get(key)
        # A task of an earlier event loop (the optimizer runs one per round) may never finish.
        if task is None or task.get_loop() is not asyncio.get_running_loop():
            task = asyncio.ensure_future(_evaluate_case(plan, output, case, ctx))
            self._shared[key] = task
            first = True
        else:
            first = False
        # Shielded: one side being cancelled must not cancel the other side's evaluation.
        evaluations, error = await asyncio.shield(task)
        if not first:
            evaluations = tuple(dataclasses.replace(e, usage=Usage()) for e in evaluations)
        return evaluations, error

    def _emit(self, suite: str, variant: str, outcome: CaseOutcome) -> None:
        if self._progress is not None:
            self._progress(CaseFinished(suite, variant, outcome.status, outcome.cached))


_Evaluated = tuple[tuple[EvalResult, ...], str | None]


def render_case(template: PromptTemplate, case: Case) -> RenderedPrompt:
    return render_prompt(
        template, case.vars, case_source=case.source, history=history_messages(case)
    )


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


async def _evaluate_case(plan: SuitePlan, output: str, case: Case, ctx: EvalContext) -> _Evaluated:
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


class TemplateScorer:
    """Scores prompt file text on cases: the optimizer's view of the runner."""

    def __init__(self, runner: Runner, plan: SuitePlan) -> None:
        self._runner = runner
        self._plan = plan

    async def score(self, prompt_source: str, cases: Sequence[Case]) -> list[CaseOutcome]:
        template = self._plan.prompt.with_source(prompt_source)
        rows = await self._runner.run_suite(
            self._plan, prompt=template, cases=cases, variant="candidate"
        )
        if any(outcome.not_run for outcome in rows[0]):
            # A prompt scored on part of its cases must not be compared, let alone accepted.
            raise RunStopped
        return rows[0]


def build_runner(
    loaded: LoadedConfig,
    *,
    judge_model: str,
    no_cache: bool = False,
    concurrency: int | None = None,
    progress: ProgressCallback | None = None,
    secrets: Sequence[str] = (),
    stop: StopSignal | None = None,
    preflight: Sequence[ModelUse] = (),
    budget: Budget | None = None,
) -> Runner:
    """A runner with the client the config asks for: cache, retries, concurrency, the
    secrets to mask in answers, the signal that stops it, the models to check before
    the first call that reaches a provider and the budget every call consults."""
    cfg = loaded.config
    cache_dir = None if no_cache or not cfg.cache.enabled else (loaded.root / cfg.cache.dir)
    stop = stop or StopSignal()
    client, _stats = build_client(
        cache_dir=cache_dir,
        redis_url=None if no_cache else cfg.cache.redis_url,
        retries=cfg.retries,
        concurrency=concurrency or cfg.concurrency,
        secrets=secrets,
        stop=stop,
        preflight=preflight,
        api_base=cfg.api_base,
        budget=budget,
    )
    settings = RunSettings(
        judge_model=judge_model,
        seed=cfg.seed,
        api_base=cfg.api_base,
        timeout_s=float(cfg.timeout),
    )
    return Runner(client, settings, progress=progress, stop=stop, budget=budget)
