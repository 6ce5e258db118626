"""Run cases: hold room in the budget for each, call the model, evaluate, never let one case
sink the run.

Everything here is async and bounded by the client's concurrency limiter, so all cases of
all suites can be scheduled at once. Progress is reported as events (``progress``); the CLI
decides how to draw them. A case's requests are built in ``requests``, its answer evaluated
in ``evaluation``, and what it will call, before it calls, reckoned in ``pending``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Iterable, Sequence
from typing import Any, TypeVar

from promptloop.dataset.cases import Case
from promptloop.engine.evaluation import SharedEvaluations
from promptloop.engine.outcome import CaseOutcome
from promptloop.engine.pending import pending_calls, transforms_output
from promptloop.engine.progress import Answered, CaseFinished, ProgressCallback
from promptloop.engine.requests import (
    CaseDraw,
    CaseRequests,
    RunSettings,
    SecondLook,
    render_case,
)
from promptloop.engine.tally import RunEmbedder, Tally, TallyingClient
from promptloop.evaluators.base import combine
from promptloop.models.base import ModelCallError, ModelClient
from promptloop.models.budget import Budget, Hold, Refusal, current_hold, worst_cost
from promptloop.models.cache import CachingClient
from promptloop.models.factory import build_client
from promptloop.models.model_map import output_cap, price_tokens
from promptloop.models.preflight import ModelUse
from promptloop.models.stop import RunStopped, StopSignal
from promptloop.project.conversations import check_conversations
from promptloop.project.loaded import LoadedConfig
from promptloop.project.prompts import PromptTemplate
from promptloop.project.rendering import check_variables
from promptloop.project.suites import SuitePlan


class Runner:
    """Runs a suite's cases through one client (cached, retried, bounded and counted in
    ``tally``), each inside its hold on the budget, until ``stop`` is asked for."""

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
        embed = RunEmbedder(
            self.tally, budget, api_base=settings.api_base, timeout_s=settings.timeout_s
        )
        self.requests = CaseRequests(settings, self._client, embed)
        # The cache the forecast and the budget's holds ask, calling no model.
        self.cache = client if isinstance(client, CachingClient) else None
        self.budget = budget
        self._progress = progress
        self.stop = stop or StopSignal()
        self._evaluations = SharedEvaluations()

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
                self._unless_stopped(CaseDraw(plan, case, messages, r, second_look), variant)
                for case, messages in zip(chosen, rendered, strict=True)
            ]
            for r in range(first_repeat, first_repeat + repeat)
        ]
        return await gather_or_fail(gather_or_fail(row) for row in per_repeat)

    async def _unless_stopped(self, draw: CaseDraw, variant: str) -> CaseOutcome:
        """The case's outcome, or "not run" once the run is stopping or its calls do not fit
        the budget: half a case (an answer without its judge, say) is no result."""
        not_run = CaseOutcome(case=draw.case, output=None, passed=False, score=0.0, not_run=True)
        hold = None if self.stop.requested else await self._hold(draw)
        if self.stop.requested or isinstance(hold, Refusal):
            return not_run
        token = current_hold.set(hold)
        try:
            return await self._run_case(draw, variant)
        except RunStopped:
            return not_run
        finally:
            current_hold.reset(token)
            if hold is not None and self.budget is not None:
                self.budget.release(hold)

    async def _hold(self, draw: CaseDraw) -> Hold | Refusal | None:
        """Room in the budget for every call the case will make, before it makes one."""
        if self.budget is None:
            return None
        if transforms_output(draw):  # a config's code, under its own time limit
            pending = await asyncio.to_thread(pending_calls, draw, self.requests, self.cache)
        else:
            pending = pending_calls(draw, self.requests, self.cache)
        requests = pending.requests
        if not requests:
            return None  # answered wholly from the cache: free, whatever is left
        usd = sum(worst_cost(r, price_tokens, output_cap) for r in requests)
        return await self.budget.hold(len(requests), usd)

    async def _run_case(self, draw: CaseDraw, variant: str) -> CaseOutcome:
        plan, case = draw.plan, draw.case
        started = time.perf_counter()
        try:
            response = await self._client.complete(self.requests.answer_request(draw))
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
        ctx = self.requests.eval_context(draw, response)
        evaluations, error = await self._evaluations.evaluate(plan, response.text, case, ctx)
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

    def _emit(self, suite: str, variant: str, outcome: CaseOutcome) -> None:
        if self._progress is not None:
            self._progress(CaseFinished(suite, variant, outcome.status, outcome.cached))


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


T = TypeVar("T")


async def gather_or_fail(coroutines: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
    """Every result, in order. The first to raise (a model that cannot be called, say) ends
    the others before it is raised: ``asyncio.gather`` would leave them running, to raise
    again while the event loop shuts down, as a traceback under the one-line error."""
    tasks: list[asyncio.Task[T]] = []
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(c) for c in coroutines]
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]
