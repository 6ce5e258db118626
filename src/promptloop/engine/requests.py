"""A case's requests: the case rendered at one repeat (a ``CaseDraw``), the request for its
answer and the context its evaluators are given, built from the run's settings.

The runner sends these requests and the forecast asks the cache for the very same ones, so
both are built here, once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from promptloop.dataset.cases import Case
from promptloop.evaluators.base import EvalContext
from promptloop.models.base import Embedder, ModelClient, ModelRequest, ModelResponse
from promptloop.project.conversations import history_messages
from promptloop.project.prompts import PromptTemplate
from promptloop.project.rendering import RenderedPrompt, render_prompt
from promptloop.project.suites import SuitePlan
from promptloop.scripts.memo import TransformMemo


@dataclass
class RunSettings:
    """What every request of a run shares: the judge model, the seed, the endpoint, the
    time limit, and how many attempts a judge gets at a usable verdict."""

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


@dataclass(frozen=True)
class CaseDraw:
    """One case of a suite, rendered, at one repeat (of the first look, or of the second
    with ``second_look``): everything its requests depend on."""

    plan: SuitePlan
    case: Case
    rendered: RenderedPrompt
    repeat: int
    second_look: SecondLook | None = None


def render_case(template: PromptTemplate, case: Case) -> RenderedPrompt:
    """``template`` rendered with the case's variables, its earlier turns carried along."""
    return render_prompt(
        template, case.vars, case_source=case.source, history=history_messages(case)
    )


@dataclass(frozen=True)
class CaseRequests:
    """Builds a case's requests from the run's settings; its evaluators call the judge and
    the embedder given here (the runner's, counted and under its budget) and share its
    transform results (one memo per runner, so per run)."""

    settings: RunSettings
    judge: ModelClient
    embed: Embedder | None = None
    transforms: TransformMemo = field(default_factory=TransformMemo)

    def answer_request(self, draw: CaseDraw) -> ModelRequest:
        """The request for the case's answer."""
        plan, settings = draw.plan, self.settings
        model_draw = draw.repeat
        if draw.second_look is not None and plan.temperature <= 0:
            model_draw = 0
        return ModelRequest(
            model=plan.model,
            messages=draw.rendered.conversation,
            tools=draw.rendered.tools,
            tool_choice=draw.rendered.tool_choice,
            json_schema=plan.json_schema,
            temperature=plan.temperature,
            max_tokens=plan.max_tokens,
            # Repeats must be independent draws; the first keeps the configured seed so
            # a run with repeat=1 shares its cache with every other run.
            seed=settings.seed + model_draw,
            api_base=settings.api_base,
            timeout_s=settings.timeout_s,
        )

    def eval_context(self, draw: CaseDraw, response: ModelResponse | None = None) -> EvalContext:
        """What the evaluators of the case's answer (``response``; None: not known yet) are
        given."""
        settings, rendered, second_look = self.settings, draw.rendered, draw.second_look
        return EvalContext(
            judge=self.judge,
            judge_model=settings.judge_model,
            prompt_text="\n\n".join(m.content for m in rendered.messages),
            seed=settings.seed + draw.repeat,
            api_base=settings.api_base,
            judge_attempts=settings.judge_attempts,
            timeout_s=settings.timeout_s,
            judge_temperature=0.0 if second_look is None else second_look.judge_temperature,
            judge_samples=1 if second_look is None else second_look.judge_samples,
            tool_calls=response.tool_calls if response is not None else (),
            tools=rendered.tools,
            cost_usd=response.usage.cost_usd if response is not None else None,
            latency_ms=None if response is None or response.cached else response.latency_s * 1000,
            embed=self.embed,
            transforms=self.transforms,
        )
