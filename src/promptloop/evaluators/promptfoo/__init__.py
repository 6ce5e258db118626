"""promptfoo's assertions (``assert:`` items of a promptfooconfig.yaml) as promptloop
evaluators, with promptfoo's verdicts: the same output passes here exactly when it passes
in promptfoo, thresholds, weights and ``not-`` forms included. The model-graded family goes
through promptloop's judge, so its verdicts carry an English critique.

``build_assertion(raw, base_dir=..., where="file:line")`` is the one entry point; an item
promptloop cannot honour raises ``UnsupportedAssertion`` naming the type or key, where it
is, and what to do. Families live in ``text``, ``structured``, ``scripted`` and ``graded``;
``core`` holds what they share.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptloop.bounds import confined
from promptloop.dataset.cases import Case
from promptloop.evaluators.base import (
    EvalContext,
    EvalResult,
    Evaluator,
    asks_a_judge,
    sees_prompt,
)
from promptloop.evaluators.promptfoo import graded, scripted, structured, text
from promptloop.evaluators.promptfoo.core import (
    Grade,
    GradedCall,
    Grader,
    PromptfooAssertion,
    UnsupportedAssertion,
    as_result,
)
from promptloop.evaluators.promptfoo.spec import Spec, parse
from promptloop.models.base import Usage
from promptloop.scripts import split_file_reference

__all__ = ["SUPPORTED_TYPES", "UnsupportedAssertion", "build_assertion"]

_BUILDERS: dict[str, Callable[[Spec], Grader]] = {
    "equals": text.build_equals,
    "contains": text.build_contains,
    "icontains": text.build_contains,
    "contains-any": text.build_contains,
    "icontains-any": text.build_contains,
    "contains-all": text.build_contains,
    "icontains-all": text.build_contains,
    "starts-with": text.build_starts_with,
    "regex": text.build_regex,
    "levenshtein": text.build_levenshtein,
    "word-count": text.build_word_count,
    "is-json": structured.build_is_json,
    "contains-json": structured.build_contains_json,
    "is-valid-openai-tools-call": structured.build_tools_call,
    "cost": structured.build_measure,
    "latency": structured.build_measure,
    "javascript": scripted.build_javascript,
    "python": scripted.build_python,
    "llm-rubric": graded.build_judged,
    "model-graded-closedqa": graded.build_judged,
    "factuality": graded.build_judged,
    "model-graded-factuality": graded.build_judged,
    "g-eval": graded.build_judged,
    "answer-relevance": graded.build_answer_relevance,
    "similar": graded.build_similar,
    "similar:cosine": graded.build_similar,
}
# Types whose not- form promptfoo 0.123 ignores (see _NOT_IGNORED_BY_PROMPTFOO).
_NOT_NEGATABLE = frozenset(
    {"model-graded-closedqa", "factuality", "model-graded-factuality", "is-valid-openai-tools-call"}
)
# Types whose verdict may depend on the prompt: graders are shown it, scripts get it.
_READS_PROMPT = frozenset(
    {
        "llm-rubric",
        "model-graded-closedqa",
        "factuality",
        "model-graded-factuality",
        "g-eval",
        "answer-relevance",
        "javascript",
        "python",
    }
)
# Types whose verdict is the judge's answer (``similar`` compares embeddings, no judge).
_JUDGED = frozenset(
    {
        "llm-rubric",
        "model-graded-closedqa",
        "factuality",
        "model-graded-factuality",
        "g-eval",
        "answer-relevance",
    }
)
# not- forms promptfoo (0.123) accepts but ignores: its verdict is the plain type's, which
# would surprise whoever wrote not-; refused with this advice rather than copied.
_IGNORED = (
    "promptfoo 0.123 ignores this not- (it grades as {type}), so promptloop cannot agree "
    "with it and with what you meant; use {type}, or write the check the other way round"
)
_NOT_IGNORED_BY_PROMPTFOO = {f"not-{t}": _IGNORED.format(type=t) for t in _NOT_NEGATABLE}

SUPPORTED_TYPES: frozenset[str] = frozenset(
    {*_BUILDERS, "assert-set"} | {f"not-{t}" for t in _BUILDERS if t not in _NOT_NEGATABLE}
)


def build_assertion(
    raw: Mapping[str, Any],
    *,
    base_dir: Path,
    where: str,
    output_transform: str | None = None,
) -> Evaluator:
    """One ``assert:`` item as an evaluator (see the module). ``output_transform`` is the
    test's ``options.transform``: promptfoo applies it to the output before every
    assertion (and before the assertion's own ``transform``)."""
    try:
        spec = parse(raw, base_dir=base_dir, where=where)
    except UnsupportedAssertion:
        raise
    except ValueError as exc:  # a value template that does not parse
        raise UnsupportedAssertion(str(exc)) from None
    if spec.type == "assert-set":
        return _build_set(spec, output_transform)
    if spec.type in _NOT_IGNORED_BY_PROMPTFOO:
        raise spec.problem(f"is not supported: {_NOT_IGNORED_BY_PROMPTFOO[spec.type]}")
    if spec.type not in SUPPORTED_TYPES:
        raise UnsupportedAssertion(
            f"{where}: assertion type {spec.type!r} is not supported by promptloop; remove it, "
            "or write the check as a javascript or python assertion "
            f"(supported: {', '.join(sorted(SUPPORTED_TYPES))})"
        )
    if "assert" in raw:
        raise spec.problem("has an assert key, which only assert-set takes")
    for code in (spec.transform, output_transform):
        if code is not None and code.startswith("file://"):  # checked now, read per output
            confined(split_file_reference(code)[0], base_dir, spec.problem)
    grader = _BUILDERS[spec.base](spec)
    return PromptfooAssertion(
        name=spec.metric or spec.type,
        grader=grader,
        base_dir=base_dir,
        weight=spec.weight,
        transform=spec.transform,
        config=spec.config,
        metric=spec.metric,
        output_transform=output_transform,
        sees_prompt=spec.base in _READS_PROMPT,
        asks_judge=spec.base in _JUDGED,
        description=_describe(spec),
        calls=graded.graded_calls(spec),
    )


_DESCRIBED_CHARS = 200


def _describe(spec: Spec) -> str:
    """The assertion in one line, as written: ``icontains "Bonjour"``."""
    text = spec.type
    raw = spec.value.raw
    if raw is not None:
        shown = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False, default=str)
        text += f" {' '.join(str(shown).split())!r}"
    if spec.threshold is not None:
        text += f" (threshold {spec.threshold:g})"
    return text[:_DESCRIBED_CHARS]


@dataclass
class AssertionSet:
    """``assert-set``: its assertions' weighted mean score; it passes when all of them
    pass, or, with a ``threshold``, when the mean reaches it."""

    name: str
    members: Sequence[PromptfooAssertion | AssertionSet]
    threshold: float | None
    weight: float = 1.0

    @property
    def sees_prompt(self) -> bool:
        return any(sees_prompt(m) for m in self.members)

    @property
    def asks_judge(self) -> bool:
        return any(asks_a_judge(m) for m in self.members)

    @property
    def description(self) -> str:
        inner = "; ".join(m.description for m in self.members)
        shown = f"assert-set [{inner}]"
        if self.threshold is not None:
            shown += f" (threshold {self.threshold:g})"
        return shown[:_DESCRIBED_CHARS]

    @property
    def calls(self) -> tuple[GradedCall, ...]:
        return tuple(call for m in self.members for call in m.calls)

    async def evaluate(self, output: str, case: Case, ctx: EvalContext) -> EvalResult:
        return as_result(self.name, self.weight, await self.grade_output(output, case, ctx))

    async def grade_output(self, output: str, case: Case, ctx: EvalContext) -> Grade:
        results = await asyncio.gather(*(m.evaluate(output, case, ctx) for m in self.members))
        usage = sum((r.usage for r in results), Usage())
        errors = [r for r in results if r.error is not None]
        if errors:
            return Grade.failed(f"{errors[0].evaluator}: {errors[0].reason}", usage)
        total_weight = sum(r.weight for r in results)
        score = sum(r.score * r.weight for r in results) / total_weight if total_weight else 0.0
        failed = [r for r in results if not r.passed]
        passed = not failed
        reason = failed[-1].reason if failed else "All assertions passed"
        if self.threshold is not None:
            passed = score >= self.threshold
            relation = "≥" if passed else "<"
            reason = f"Aggregate score {score:.2f} {relation} {self.threshold:g} threshold"
        # Unlike a single assertion, a set of weight 0 can still fail (as in promptfoo).
        return Grade(passed, score, reason, usage=usage)


def _build_set(spec: Spec, output_transform: str | None) -> AssertionSet:
    members = spec.raw.get("assert")
    if not isinstance(members, list) or not members:
        raise spec.problem("needs an assert list of assertions")
    for key in ("value", "transform", "provider", "rubricPrompt", "config"):
        if key in spec.raw:
            raise spec.problem(f"takes no {key}; put it on the assertions inside the set")
    built = []
    for index, member in enumerate(members):
        child = build_assertion(
            member,
            base_dir=spec.base_dir,
            where=f"{spec.where} assert[{index}]",
            output_transform=output_transform,
        )
        assert isinstance(child, PromptfooAssertion | AssertionSet)
        built.append(child)
    return AssertionSet(
        name=spec.metric or "assert-set",
        members=built,
        threshold=spec.threshold,
        weight=spec.weight,
    )
