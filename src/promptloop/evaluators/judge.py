"""LLM-as-judge: a model grades an output against a rubric and explains itself.

The critique is the point: the optimizer rewrites prompts from it, so the judge must
answer with a structured verdict (``critique``, ``passed``, ``score`` and optionally
``error_type``, ``evidence``, ``suggested_fix``), never free text that we regex-parse.

A judge that cannot produce a usable verdict is an *error*, never a pass: a grader
that silently passes garbage would let any regression through.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from promptloop.dataset.cases import Case
from promptloop.evaluators.base import EvalContext, EvalResult, TemplateRenderError, quote
from promptloop.evaluators.judge_messages import system_message, user_message
from promptloop.evaluators.templating import TextTemplate
from promptloop.models.base import Message, ModelCallError, ModelRequest, Usage, with_calls

CRITIQUE_CHARS = 240
QUOTE_CHARS = 160


def judge_schema(error_types: Sequence[str] = ()) -> dict[str, Any]:
    """The JSON Schema a judge answers with.

    Kept to what a grammar-constrained small model handles well: no ``$ref``, no
    ``anyOf``; optional keys are simply not ``required``. ``critique`` comes first
    because grammar-driven models emit keys in schema order, and a verdict written
    after the reasoning is better than one the reasoning has to justify.
    """
    # maxLength bounds what a grammar-constrained model can write: without it a small
    # model rambles until max_tokens and the cut-off JSON is unusable.
    properties: dict[str, Any] = {
        "critique": {"type": "string", "maxLength": CRITIQUE_CHARS},
        "passed": {"type": "boolean"},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
    }
    if error_types:
        properties["error_type"] = {"enum": [*error_types, None]}
    properties["evidence"] = {"type": "string", "maxLength": QUOTE_CHARS}
    properties["suggested_fix"] = {"type": "string", "maxLength": QUOTE_CHARS}
    return {
        "type": "object",
        "properties": properties,
        "required": ["critique", "passed", "score"],
        "additionalProperties": False,
    }


JUDGE_SCHEMA: dict[str, Any] = judge_schema()


class JudgeSettings(Protocol):
    """What a judge was configured with (the ``judge`` kind's arguments, ``kinds/judge``)."""

    @property
    def rubric(self) -> str: ...
    @property
    def error_types(self) -> list[str]: ...
    @property
    def model(self) -> str | None: ...
    @property
    def threshold(self) -> float: ...
    @property
    def include_input(self) -> bool: ...
    @property
    def show_prompt(self) -> bool: ...
    @property
    def max_tokens(self) -> int | None: ...


class JudgeVerdict(BaseModel):
    """A parsed judge answer. Unknown keys are ignored: they cannot change the verdict."""

    model_config = ConfigDict(extra="ignore", strict=True)

    critique: str
    passed: bool
    score: float = Field(ge=0.0, le=1.0)
    error_type: str | None = None
    evidence: str | None = None
    suggested_fix: str | None = None


# --- parsing -------------------------------------------------------------------------------

_FENCED = re.compile(r"```[A-Za-z0-9_-]*\s*(.*?)```", re.DOTALL)
_MAX_BRACES_TRIED = 50


def extract_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in ``text``: the whole text, a ```json fence, or embedded in prose."""
    stripped = text.strip()
    candidates = [m.group(1).strip() for m in _FENCED.finditer(stripped)]
    candidates.append(stripped)
    decoder = json.JSONDecoder()
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, dict):
            return value
        start = candidate.find("{")
        tries = 0
        while start != -1 and tries < _MAX_BRACES_TRIED:
            tries += 1
            try:
                value, _ = decoder.raw_decode(candidate, start)
            except json.JSONDecodeError:
                value = None
            if isinstance(value, dict):
                return value
            start = candidate.find("{", start + 1)
    return None


def parse_verdict(
    text: str, error_types: Sequence[str] = ()
) -> tuple[JudgeVerdict | None, str | None]:
    """``(verdict, None)`` or ``(None, what is wrong)`` for one judge answer."""
    data = extract_json_object(text)
    if data is None:
        return None, "no JSON object found"
    try:
        verdict = JudgeVerdict.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "answer"
        return None, f"{where}: {first['msg']}"
    if not verdict.critique.strip():
        return None, "critique is empty"
    error_type = verdict.error_type
    if error_types and error_type is not None:
        # Models without a grammar often change the case of a label; that is not a reason
        # to throw away a verdict.
        matches = [e for e in error_types if e.casefold() == error_type.strip().casefold()]
        if not matches:
            return None, f"error_type {error_type!r} is not one of {', '.join(error_types)}"
        error_type = matches[0]
    elif not error_types:
        error_type = None
    return verdict.model_copy(
        update={
            "critique": verdict.critique.strip(),
            "error_type": error_type,
            "evidence": (verdict.evidence or "").strip() or None,
            "suggested_fix": (verdict.suggested_fix or "").strip() or None,
        }
    ), None


# --- the evaluator -------------------------------------------------------------------------


def _normalized(text: str) -> str:
    return " ".join(text.split()).casefold()


# Not frozen: the ``Evaluator`` protocol declares name and weight as plain attributes.
@dataclass
class JudgeEvaluator:
    name: str
    args: JudgeSettings
    rubric: TextTemplate
    weight: float = 1.0

    @property
    def schema(self) -> dict[str, Any]:
        return judge_schema(self.args.error_types)

    @property
    def sees_prompt(self) -> bool:
        """Whether the prompt under test is part of the request: then identical outputs
        under two prompts are two different requests and may be judged differently."""
        return self.args.show_prompt and self.args.include_input

    def request(
        self,
        output: str,
        case: Case,
        ctx: EvalContext,
        *,
        attempt: int = 1,
        problem: str | None = None,
    ) -> ModelRequest:
        """The request for one attempt (1-based). Retries differ from the first attempt
        in a note and the seed, so a cache or a deterministic model cannot return the
        same unusable answer again."""
        note = None
        if attempt > 1:
            note = (
                f"Note (attempt {attempt} of {max(ctx.judge_attempts, 1)}): your previous reply "
                f"could not be used ({problem or 'not a valid JSON object'}). Reply with exactly "
                "one JSON object with the keys described."
            )
        messages = (
            Message("system", system_message(self.rubric.render(case), self.args.error_types)),
            Message(
                "user",
                user_message(
                    output,
                    case,
                    prompt_text=ctx.prompt_text if self.args.show_prompt else "",
                    include_input=self.args.include_input,
                    note=note,
                ),
            ),
        )
        return ModelRequest(
            model=self.args.model or ctx.judge_model,
            messages=messages,
            temperature=ctx.judge_temperature,
            max_tokens=self.args.max_tokens,
            seed=ctx.seed + attempt - 1,
            json_schema=self.schema,
            api_base=ctx.api_base,
            timeout_s=ctx.timeout_s,
            purpose="judge",
        )

    async def evaluate(self, output: str, case: Case, ctx: EvalContext) -> EvalResult:
        """One verdict, or on the gate's second look (``ctx.judge_samples`` > 1) the
        majority of that many independent samples."""
        # The calls are part of what the model answered, so the judge reads them too.
        output = with_calls(output, ctx.tool_calls)
        if ctx.judge_samples <= 1:
            return await self._sample(output, case, ctx)

        async def sample(k: int) -> EvalResult:
            return await self._sample(
                output, case, replace(ctx, seed=ctx.seed + k * SAMPLE_SEED_STRIDE)
            )

        # A majority is settled once one side holds it, so the samples that could not
        # change it are never asked for (of 3: the third only when the first two differ).
        needed = ctx.judge_samples // 2 + 1
        samples = list(await asyncio.gather(*(sample(k) for k in range(needed))))
        while len(samples) < ctx.judge_samples and not _settled(samples, ctx.judge_samples):
            samples.append(await sample(len(samples)))
        return majority(samples, self.name, self.weight)

    async def _sample(self, output: str, case: Case, ctx: EvalContext) -> EvalResult:
        attempts = max(ctx.judge_attempts, 1)
        usage = Usage()
        problem: str | None = None
        last_text = ""
        for attempt in range(1, attempts + 1):
            try:
                request = self.request(output, case, ctx, attempt=attempt, problem=problem)
            except TemplateRenderError as exc:
                return self._error(f"judge rubric could not be rendered: {exc}", usage)
            try:
                response = await ctx.judge.complete(request)
            except ModelCallError as exc:
                return self._error(f"judge call failed ({exc.kind}): {exc}", usage)
            usage = usage + response.usage
            last_text = response.text
            verdict, problem = parse_verdict(response.text, self.args.error_types)
            if verdict is not None:
                return self._result(verdict, output, usage)
            if response.finish_reason == "length":
                problem = f"{problem}; the answer was cut off at max_tokens"
        excerpt = quote(last_text, 80)
        return self._error(
            f"judge answered with unusable output after {attempts} attempts: {excerpt} ({problem})",
            usage,
        )

    def _result(self, verdict: JudgeVerdict, output: str, usage: Usage) -> EvalResult:
        threshold = self.args.threshold
        # Both must agree for a pass. ``passed`` is the judge's decision on the rubric and
        # ``threshold`` is the user's bar on the score; small judges often contradict
        # themselves (passed=true, score=0.2), and a doubtful grader must not pass an
        # output. The judge's score is kept as given, so weighted case scores still see
        # how close the output came.
        passed = verdict.passed and verdict.score >= threshold - 1e-9
        reason = verdict.critique
        if verdict.error_type and not passed:
            reason = f"{verdict.error_type}: {reason}"
        if verdict.passed and not passed:
            reason += (
                f" (judge marked it passed but scored {verdict.score:.2f}, below the "
                f"threshold {threshold:.2f}; counted as a fail)"
            )
        elif not verdict.passed and verdict.score >= threshold:
            reason += f" (judge marked it failed despite a score of {verdict.score:.2f})"
        evidence = verdict.evidence
        # A quote the output does not contain would send the optimizer after a ghost.
        if evidence is not None and _normalized(evidence) not in _normalized(output):
            evidence = None
        return EvalResult(
            evaluator=self.name,
            passed=passed,
            score=verdict.score,
            reason=reason,
            error_type=None if passed else verdict.error_type,
            evidence=evidence,
            suggested_fix=None if passed else verdict.suggested_fix,
            weight=self.weight,
            usage=usage,
        )

    def _error(self, message: str, usage: Usage) -> EvalResult:
        return EvalResult.errored(self.name, message, weight=self.weight, usage=usage)


# Samples of one evaluation take seeds this far apart, so they never share a cache entry
# with each other, with a retry attempt or with another repeat's sample.
SAMPLE_SEED_STRIDE = 100_003


def _settled(samples: Sequence[EvalResult], planned: int) -> bool:
    """Whether more samples, up to ``planned``, could no longer change the majority."""
    passes = sum(1 for s in samples if s.error is None and s.passed)
    fails = sum(1 for s in samples if s.error is None and not s.passed)
    return max(passes, fails) * 2 > planned


def majority(samples: Sequence[EvalResult], name: str, weight: float) -> EvalResult:
    """The verdict most samples gave (a tie counts as a fail: a doubtful grader must not
    pass an output); errored samples are left out, and all of them erring is an error."""
    usage = Usage()
    for sample in samples:
        usage = usage + sample.usage
    valid = [s for s in samples if s.error is None]
    if not valid:
        return replace(samples[0], usage=usage)
    passes = sum(1 for s in valid if s.passed)
    passed = passes * 2 > len(valid)
    agreeing = [s for s in valid if s.passed == passed]
    shown = agreeing[0]
    return replace(
        shown,
        evaluator=name,
        weight=weight,
        score=sum(s.score for s in valid) / len(valid),
        reason=f"{shown.reason} ({len(agreeing)} of {len(valid)} judge samples agree)",
        usage=usage,
    )
