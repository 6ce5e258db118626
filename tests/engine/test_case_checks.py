"""A case may carry its own evaluators and score threshold (a promptfoo test's ``assert:``
and ``threshold``): the runner grades it with the suite's evaluators plus its own, and the
threshold decides as promptfoo does (none: every assertion passes; a number: the weighted
score reaches it)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

from promptloop.dataset.cases import Case
from promptloop.engine.requests import RunSettings
from promptloop.engine.runner import Runner
from promptloop.evaluators.base import Evaluator
from promptloop.evaluators.registry import build_evaluator
from promptloop.models.base import ModelRequest, ModelResponse, Usage
from promptloop.project.prompts import parse_prompt
from promptloop.project.suites import CaseChecks, SuitePlan


class _Echo:
    async def complete(self, request: ModelRequest) -> ModelResponse:
        return ModelResponse(text=request.messages[-1].content, usage=Usage(1, 1, 0.0))


def _check(kind: str, value: object, weight: float = 1.0) -> Evaluator:
    spec = SimpleNamespace(kind=kind, args={"value": value}, weight=weight, name=f"{kind}-{value}")
    return build_evaluator(spec, base_dir=Path("."))


def _run(plan: SuitePlan) -> dict[str, tuple[bool, float, list[str]]]:
    runner = Runner(_Echo(), RunSettings(judge_model="j"))
    [row] = asyncio.run(runner.run_suite(plan))
    return {o.case.id: (o.passed, o.score, [e.evaluator for e in o.evaluations]) for o in row}


def _plan(checks: dict[str, CaseChecks]) -> SuitePlan:
    return SuitePlan(
        name="s",
        prompt=parse_prompt("say {{ word }}", "p.md"),
        cases=(
            Case("a", {"word": "apple"}),
            Case("b", {"word": "banana"}),
            Case("c", {"word": "x"}),
        ),
        evaluators=(_check("contains", "say"),),
        model="m",
        temperature=0.0,
        max_tokens=None,
        case_checks=checks,
    )


def test_each_case_is_graded_by_the_suites_evaluators_and_its_own() -> None:
    plan = _plan(
        {
            "a": CaseChecks((_check("contains", "apple"),)),
            "b": CaseChecks((_check("contains", "apple"),)),
        }
    )
    got = _run(plan)
    assert got["a"][0] is True and len(got["a"][2]) == 2
    assert got["b"][0] is False and got["b"][1] == 0.5
    # A case without its own checks is graded by the suite's alone.
    assert got["c"][0] is True and len(got["c"][2]) == 1


def test_a_case_threshold_lets_the_weighted_score_decide() -> None:
    # "say banana": the suite's check passes (weight 1), "apple" fails (weight 3): 0.25.
    weighted = (_check("contains", "apple", weight=3),)
    plan = _plan(
        {
            "a": CaseChecks(weighted, threshold=None),
            "b": CaseChecks(weighted, threshold=0.2),
            "c": CaseChecks(weighted, threshold=0.3),
        }
    )
    got = _run(plan)
    assert got["b"] == (True, 0.25, got["b"][2])
    assert got["c"][0] is False and got["c"][1] == 0.25
    assert got["a"][0] is True and got["a"][1] == 1.0
