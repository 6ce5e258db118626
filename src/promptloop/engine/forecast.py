"""The forecast: what a run will cost, reckoned before its first call, calling no model.

Each case's answer is the very request the runner will send (``Runner.generation_request``),
and the cache says which answers it already holds. A cached answer's verdicts are the
judges' own requests on that answer, asked of the cache too (an answer base and head share
is judged once, as the runner does); an answer not cached yet is judged by each LLM judge
of its suite once. So ``calls`` is the count of the run's first look, when every call
succeeds at its first attempt and every judge answers usably; the gate's second look, which
happens only when head looks worse, is bounded apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from promptloop.engine.jobs import Job
from promptloop.engine.pending import PendingCalls
from promptloop.engine.runner import Runner, render_case
from promptloop.engine.spending import Forecast
from promptloop.evaluators.judge import JudgeEvaluator
from promptloop.models.base import ModelRequest
from promptloop.models.budget import expected_prompt_tokens
from promptloop.models.model_map import output_cap, price_tokens, token_prices
from promptloop.project.config.gate import GateConfig
from promptloop.project.suites import SuitePlan

# What a judge without max_tokens is assumed to answer: a verdict whose critique, evidence
# and suggested fix are bounded by the judge's schema (``judge.CRITIQUE_CHARS``...).
JUDGE_ANSWER_TOKENS = 200


@dataclass
class _Reckoning:
    calls: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    unpriced: set[str] = field(default_factory=set)
    judged: set[tuple[object, ...]] = field(default_factory=set)

    def call(self, request: ModelRequest) -> None:
        prompt = expected_prompt_tokens(request)
        answer = request.max_tokens or (
            JUDGE_ANSWER_TOKENS if request.purpose == "judge" else output_cap(request)
        )
        self.calls += 1
        self.prompt_tokens += prompt
        self.completion_tokens += answer
        self.cost_usd += price_tokens(request.model, prompt, answer)
        if token_prices(request.model) is None:
            self.unpriced.add(request.model)

    def add(self, pending: PendingCalls) -> None:
        if pending.key is not None:
            if pending.key in self.judged:
                # Base and head gave the same cached answer: the runner judges it once.
                self.cached += 1
                return
            self.judged.add(pending.key)
        self.cached += pending.cached
        for request in pending.requests:
            self.call(request)


def forecast_run(
    runner: Runner, jobs: Sequence[Job], repeat: int, gate: GateConfig, compared: bool
) -> Forecast:
    """The forecast of running ``jobs`` ``repeat`` times; ``compared``: the gate may look
    twice (a baseline or a shard)."""
    reckoning = _Reckoning()
    for job in jobs:
        for case in job.plan.cases:
            rendered = render_case(job.plan.prompt_for(job.template, case), case)
            for r in range(repeat):
                reckoning.add(runner.pending_calls(job.plan, rendered, case, r))
    return Forecast(
        calls=reckoning.calls,
        cached=reckoning.cached,
        prompt_tokens=reckoning.prompt_tokens,
        completion_tokens=reckoning.completion_tokens,
        cost_usd=reckoning.cost_usd,
        confirmation_calls=_second_look_bound(jobs, gate) if compared else 0,
        unpriced_models=sorted(reckoning.unpriced),
    )


def _second_look_bound(jobs: Sequence[Job], gate: GateConfig) -> int:
    """At most what the gate's second look asks when every case of every compared suite
    changed: ``confirm_runs`` more answers on each side (none from a temperature-0 model,
    whose answer the cache repeats) and each judge's samples on each."""
    based = {job.plan.name for job in jobs if job.variant == "base"}
    return sum(
        len(job.plan.cases) * gate.confirm_runs * _per_confirmation(job.plan, gate)
        for job in jobs
        if job.plan.name in based
    )


def _per_confirmation(plan: SuitePlan, gate: GateConfig) -> int:
    judges = sum(1 for e in plan.evaluators if isinstance(e, JudgeEvaluator))
    return (1 if plan.temperature > 0 else 0) + judges * gate.confirm_judge_samples
