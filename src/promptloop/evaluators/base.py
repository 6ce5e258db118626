"""The evaluator seam: one result type with a reason a person can read.

Reasons matter: the optimizer learns from them, so a failure must say what was
expected and what came out ("expected `billing`, got `The issue is technical.`"),
never just "assertion failed".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Protocol

from pydantic import ConfigDict, Field

from promptloop.dataset.cases import Case
from promptloop.models.base import Embedder, ModelClient, ToolCall, Usage
from promptloop.scripts.memo import TransformMemo


class EvaluatorFileError(ValueError):
    """A file an evaluator reads (a schema, a python module) is broken at ``line`` of
    ``file`` (as written in the config): the line to fix is in that file, not the config."""

    def __init__(self, message: str, *, file: str, line: int | None) -> None:
        self.file = file
        self.line = line
        super().__init__(message)


class TemplateRenderError(ValueError):
    """A template could not be rendered for one case (undefined variable, sandbox refusal).

    Here, not in ``templating``, so that the evaluators can catch it without loading the
    template engine (the config's schema reads their declarations)."""


_TEMPLATE_MARKERS = ("{{", "{%", "{#")


def is_template(text: str) -> bool:
    """Whether an argument is a Jinja2 template (rendered per case) rather than a literal."""
    return any(marker in text for marker in _TEMPLATE_MARKERS)


@dataclass(frozen=True)
class EvalResult:
    """One evaluator's verdict on one output; results.json records it as it is, but for
    the token usage, which is summed into the case's own."""

    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(extra="forbid")

    evaluator: str
    passed: bool
    score: float
    reason: str
    # Set when the evaluator itself could not decide (a judge answering garbage,
    # a python check raising). An errored evaluation never counts as a pass.
    error: str | None = None
    error_type: str | None = None
    evidence: str | None = None
    suggested_fix: str | None = None
    weight: float = 1.0
    usage: Annotated[Usage, Field(exclude=True)] = field(default_factory=Usage)
    # The evaluator has no opinion on this output (a reviewer's verdict on a different
    # output): it neither passes nor fails the case, and the others decide.
    abstained: bool = False

    @classmethod
    def errored(
        cls, evaluator: str, message: str, *, weight: float = 1.0, usage: Usage | None = None
    ) -> EvalResult:
        """The evaluator could not decide: never a pass, and the reason says why."""
        return cls(
            evaluator=evaluator,
            passed=False,
            score=0.0,
            reason=message,
            error=message,
            weight=weight,
            usage=usage or Usage(),
        )


@dataclass(frozen=True)
class EvalContext:
    """What an evaluator may use besides the output and the case."""

    judge: ModelClient
    judge_model: str
    # The prompt as sent to the model under test; a judge shows it only when its rubric
    # opted in (``show_prompt``).
    prompt_text: str = ""
    seed: int = 0
    # 0 on the first look, so an identical request gets an identical verdict; the gate's
    # second look samples above zero, since a temperature-0 judge ignores the seed.
    judge_temperature: float = 0.0
    # Independent judge samples whose majority is the verdict (the second look's).
    judge_samples: int = 1
    api_base: str | None = None
    judge_attempts: int = 3
    timeout_s: float = 60.0
    # The calls the model made in this output, for the tool evaluators.
    tool_calls: tuple[ToolCall, ...] = ()
    # The tools the request offered (OpenAI's shape), which a call is checked against.
    tools: tuple[dict[str, Any], ...] = ()
    # What producing this output cost, and how long it took; ``None`` when not known
    # (a cached answer has no latency of its own).
    cost_usd: float | None = None
    latency_ms: float | None = None
    # How embedding calls are made (under the run's budget, counted); None: directly.
    embed: Embedder | None = None
    # The run's transform results, shared by the forecast, the budget's hold and the grade,
    # so a transform runs once per output; None: every caller runs it.
    transforms: TransformMemo | None = None


class Evaluator(Protocol):
    name: str
    weight: float

    async def evaluate(self, output: str, case: Case, ctx: EvalContext) -> EvalResult: ...


def sees_prompt(evaluator: Evaluator) -> bool:
    """Whether the evaluator's verdict may depend on the prompt, not only on the output
    and the case (a judge with ``show_prompt``)."""
    return bool(getattr(evaluator, "sees_prompt", False))


def asks_a_judge(evaluator: Evaluator) -> bool:
    """Whether the evaluator's verdict is a judge model's answer (a promptfoo case's
    ``llm-rubric``, say): it may change when the judge is asked again, and it has to earn
    its vote in the gate like a suite's judge."""
    return bool(getattr(evaluator, "asks_judge", False))


def combine(results: Sequence[EvalResult], threshold: float = 1.0) -> tuple[bool, float]:
    """Weighted mean score; the case passes when every evaluator ran and the mean
    reaches ``threshold``. With the default threshold of 1.0 every evaluator must pass.
    Abstentions are left out, as if the evaluator were not configured."""
    results = [r for r in results if not r.abstained]
    if not results:
        return True, 1.0
    if any(r.error is not None for r in results):
        total_weight = sum(r.weight for r in results) or 1.0
        return False, sum(r.score * r.weight for r in results if r.error is None) / total_weight
    total_weight = sum(r.weight for r in results)
    if total_weight <= 0:
        return all(r.passed for r in results), 1.0 if all(r.passed for r in results) else 0.0
    score = sum(r.score * r.weight for r in results) / total_weight
    if threshold >= 1.0:
        return all(r.passed for r in results), score
    return score >= threshold - 1e-9, score


def quote(text: str, limit: int = 120) -> str:
    """``text`` in double quotes on one line, cut to ``limit`` characters, for reasons.

    Newlines become ``\\n`` so a reason stays one line in reports; a cut text says how
    long it was, because "too long" is often the very thing the reason is about.
    """
    flat = text.replace("\r\n", "\n").replace("\n", "\\n").replace("\r", "\\r")
    if len(flat) <= limit:
        return f'"{flat}"'
    return f'"{flat[:limit].rstrip()}…" ({len(text)} chars)'
