"""What every promptfoo assertion shares: the output as promptfoo sees it, the value
rendered per case, the ``transform``, ``weight`` and ``not-`` rules, and the evaluator that
turns a ``Grade`` into promptloop's ``EvalResult``.

A ``Grade`` is promptfoo's ``GradingResult`` (pass, score, reason) plus what promptloop
adds: an ``error`` when the assertion could not decide (a script that threw, a transform
that failed, a judge that answered garbage), which never passes.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from promptloop.dataset.cases import Case
from promptloop.evaluators.base import EvalContext, EvalResult, TemplateRenderError
from promptloop.evaluators.judge import JudgeEvaluator
from promptloop.evaluators.templating import TextTemplate
from promptloop.models.base import ToolCall, Usage
from promptloop.scripts import ScriptError, transform


class UnsupportedAssertion(ValueError):
    """An ``assert:`` item promptloop cannot run as promptfoo would; the message names the
    type or key, where it is, and what to do."""


@dataclass(frozen=True)
class Grade:
    passed: bool
    score: float
    reason: str
    error: str | None = None
    usage: Usage = field(default_factory=Usage)
    evidence: str | None = None
    suggested_fix: str | None = None

    @classmethod
    def of(cls, passed: bool, reason: str) -> Grade:
        """A pass/fail grade scored 1 or 0, with promptfoo's "Assertion passed"."""
        return cls(passed, 1.0 if passed else 0.0, "Assertion passed" if passed else reason)

    @classmethod
    def failed(cls, message: str, usage: Usage | None = None) -> Grade:
        return cls(False, 0.0, message, error=message, usage=usage or Usage())


@dataclass(frozen=True)
class Seen:
    """One output as a promptfoo assertion sees it."""

    output: Any  # after ``transform``: a string, or the tool calls, or what a transform made
    text: str  # promptfoo's ``outputString``
    case: Case
    context: Mapping[str, Any]  # what a script gets as ``context``


def openai_calls(calls: tuple[ToolCall, ...]) -> list[dict[str, Any]]:
    return [
        {
            "id": call.id or f"call_{i}",
            "type": "function",
            "function": {"name": call.name, "arguments": call.raw_arguments},
        }
        for i, call in enumerate(calls)
    ]


def promptfoo_output(text: str, calls: tuple[ToolCall, ...]) -> Any:
    """The output as promptfoo's OpenAI provider returns it: the text, or the tool calls
    when the model only called tools, or both."""
    if not calls:
        return text
    if not text:
        return openai_calls(calls)
    return {"content": text, "tool_calls": openai_calls(calls)}


def as_text(output: Any) -> str:
    """promptfoo's ``coerceString``: strings as they are, anything else as compact JSON."""
    if isinstance(output, str):
        return output
    return json.dumps(output, ensure_ascii=False, separators=(",", ":"))


def script_context(
    case: Case, ctx: EvalContext, config: Mapping[str, Any] | None
) -> dict[str, Any]:
    """promptfoo's ``AssertionValueFunctionContext`` as far as promptloop knows it."""
    context: dict[str, Any] = {
        "prompt": ctx.prompt_text,
        "vars": copy.deepcopy(dict(case.vars)),
        "test": {
            "vars": copy.deepcopy(dict(case.vars)),
            "metadata": copy.deepcopy(dict(case.metadata)),
        },
    }
    if config is not None:
        context["config"] = copy.deepcopy(dict(config))
    if case.metadata:
        context["metadata"] = copy.deepcopy(dict(case.metadata))
    return context


class Value:
    """An assertion's ``value``: strings (and strings in a list) are Nunjucks-style
    templates over the case's vars; anything else is taken as written."""

    def __init__(self, raw: Any, *, what: str) -> None:
        self.raw = raw
        if isinstance(raw, str):
            self._template: Any = TextTemplate.compile(raw, what=what)
        elif isinstance(raw, list):
            self._template = [
                TextTemplate.compile(v, what=what) if isinstance(v, str) else v for v in raw
            ]
        else:
            self._template = None

    def render(self, case: Case) -> Any:
        if isinstance(self._template, TextTemplate):
            return self._template.render(case)
        if isinstance(self._template, list):
            return [v.render(case) if isinstance(v, TextTemplate) else v for v in self._template]
        return self.raw


Grader = Callable[[Seen, EvalContext], Awaitable[Grade]]


@dataclass(frozen=True)
class GradedCall:
    """One model call a model-graded assertion makes on each output, for the forecast and
    the room a case holds in the budget: a ``judge`` verdict (its evaluator, so the request
    is the very one sent), an ``ask`` (answer-relevance's questions) or an ``embedding``.
    ``model`` None is the run's judge model."""

    kind: Literal["judge", "ask", "embedding"]
    model: str | None = None
    judge: JudgeEvaluator | None = None


# Not frozen: the ``Evaluator`` protocol declares name and weight as plain attributes.
@dataclass
class PromptfooAssertion:
    """One ``assert:`` item as an evaluator."""

    name: str
    grader: Grader
    base_dir: Path
    weight: float = 1.0
    transform: str | None = None
    config: Mapping[str, Any] | None = None
    metric: str | None = None
    # The test's ``options.transform``, applied to the output before ``transform``.
    output_transform: str | None = None
    # Whether the verdict may depend on the prompt (a grader or a script reads it), so the
    # runner does not share it between two prompts that gave the same output.
    sees_prompt: bool = False
    # Whether the verdict is a judge model's answer (the model-graded family).
    asks_judge: bool = False
    # What it checks, in a line (the optimizer's goal names it): type, value, threshold.
    description: str = ""
    # The model calls it makes on each output (model-graded types only).
    calls: tuple[GradedCall, ...] = ()

    async def evaluate(self, output: str, case: Case, ctx: EvalContext) -> EvalResult:
        grade = await self.grade(promptfoo_output(output, ctx.tool_calls), case, ctx)
        return self.result(grade)

    @property
    def transforms(self) -> bool:
        """Whether the output is transformed before it is graded (user code runs)."""
        return self.output_transform is not None or self.transform is not None

    def transformed(self, output: Any, case: Case, ctx: EvalContext) -> Any:
        """``output`` as the grader sees it: after the test's ``options.transform``, then
        the assertion's own, each under the scripts' time and memory bounds. The forecast
        and the budget's hold call it too, to build the very requests the grader sends: the
        run's memo (``ctx.transforms``) gives all of them the result of one call, or its
        failure. Raises ``ScriptError``."""
        if ctx.transforms is None:
            return self._transform(output, case, ctx)
        # Everything the result depends on: the code and where its files are, the output
        # and the case's context. The assertion's identity keeps a call per assertion, as
        # promptfoo makes; the code beside it means a reused id cannot return another's.
        key = repr(
            (
                id(self),
                self.output_transform,
                self.transform,
                str(self.base_dir),
                output,
                dict(case.vars),
                ctx.prompt_text,
            )
        )
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
        return ctx.transforms.result(digest, lambda: self._transform(output, case, ctx))

    def _transform(self, output: Any, case: Case, ctx: EvalContext) -> Any:
        context = {"vars": copy.deepcopy(dict(case.vars)), "prompt": {"label": ctx.prompt_text}}
        for code in (self.output_transform, self.transform):
            if code is not None:
                output = transform(code, output, context, base_dir=self.base_dir)
        return output

    async def grade(self, output: Any, case: Case, ctx: EvalContext) -> Grade:
        context = script_context(case, ctx, self.config)
        if self.transforms:
            try:
                output = await asyncio.to_thread(self.transformed, output, case, ctx)
            except ScriptError as exc:
                return Grade.failed(str(exc))
        seen = Seen(output=output, text=as_text(output), case=case, context=context)
        try:
            grade = await self.grader(seen, ctx)
        except (TemplateRenderError, ScriptError) as exc:
            return Grade.failed(f"{self.name} could not be evaluated: {exc}")
        if self.weight == 0 and grade.error is None:
            # promptfoo: a weight-0 assertion only records its metric and cannot fail.
            return Grade(True, grade.score, grade.reason, usage=grade.usage)
        return grade

    def result(self, grade: Grade) -> EvalResult:
        return as_result(self.name, self.weight, grade)


def as_result(name: str, weight: float, grade: Grade) -> EvalResult:
    """A grade as promptloop records it; an errored grade never passes."""
    return EvalResult(
        evaluator=name,
        passed=grade.passed and grade.error is None,
        score=grade.score,
        reason=grade.reason,
        error=grade.error,
        evidence=grade.evidence,
        suggested_fix=grade.suggested_fix,
        weight=weight,
        usage=grade.usage,
    )
