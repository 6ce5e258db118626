"""An output that is byte-identical under base and head is evaluated once, so its verdict
cannot differ between the sides; the gate's second look re-samples the judge."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

from promptloop.dataset.cases import Case
from promptloop.engine.requests import RunSettings, SecondLook
from promptloop.engine.runner import Runner
from promptloop.evaluators.registry import build_evaluator
from promptloop.models.base import ModelRequest, ModelResponse, Usage
from promptloop.project.prompts import parse_prompt
from promptloop.project.suites import SuitePlan


class _FlipFlopJudge:
    """The model answers "same" on case a under any prompt and echoes the prompt on b;
    the judge alternates its verdict on every call, as a judge with fresh noise may, and
    fails anything it sees next to the head's prompt."""

    def __init__(self) -> None:
        self.judge_requests: list[ModelRequest] = []
        self.model_requests: list[ModelRequest] = []

    async def complete(self, request: ModelRequest) -> ModelResponse:
        await asyncio.sleep(0)
        if request.purpose == "judge":
            self.judge_requests.append(request)
            passed = len(self.judge_requests) % 2 == 1
            passed = passed and "Head prompt" not in request.messages[-1].content
            verdict = {"critique": "graded", "passed": passed, "score": float(passed)}
            return ModelResponse(text=json.dumps(verdict), usage=Usage(5, 5, 0.0))
        self.model_requests.append(request)
        text = request.messages[-1].content
        return ModelResponse(text="same" if "case a" in text else text, usage=Usage(3, 1, 0.0))


CASES = (Case(id="a", vars={"n": "a"}), Case(id="b", vars={"n": "b"}))


def _plan(show_prompt: bool = False) -> SuitePlan:
    judge = build_evaluator(
        SimpleNamespace(kind="judge", args={"rubric": "Is it right?", "show_prompt": show_prompt}),
        base_dir=Path("."),
    )
    return SuitePlan(
        name="s",
        prompt=parse_prompt("Base prompt, case {{ n }}", "p.md"),
        cases=CASES,
        evaluators=(judge,),
        model="m",
        temperature=0.0,
        max_tokens=None,
    )


async def _both_sides(runner: Runner, plan: SuitePlan, **options: object) -> list[list[bool]]:
    head = parse_prompt("Head prompt, case {{ n }}", "p.md")
    rows = await asyncio.gather(
        runner.run_suite(plan, variant="base", **options),  # type: ignore[arg-type]
        runner.run_suite(plan, prompt=head, variant="head", **options),  # type: ignore[arg-type]
    )
    return [[o.passed for o in side[0]] for side in rows]


def test_an_identical_output_gets_one_judge_call_and_the_same_verdict_on_both_sides() -> None:
    client = _FlipFlopJudge()
    runner = Runner(client, RunSettings(judge_model="j"))
    base, head = asyncio.run(_both_sides(runner, _plan()))
    # Case a: one judge call shared; case b: the outputs differ, so each side is judged.
    assert len(client.judge_requests) == 3
    assert base[0] == head[0]
    assert runner.tally.calls == 4 + 3


def test_the_shared_side_is_not_charged_twice() -> None:
    client = _FlipFlopJudge()
    runner = Runner(client, RunSettings(judge_model="j"))
    plan = _plan()

    async def usage() -> list[int]:
        head = parse_prompt("Head prompt, case {{ n }}", "p.md")
        rows = await asyncio.gather(
            runner.run_suite(plan, variant="base"),
            runner.run_suite(plan, prompt=head, variant="head"),
        )
        return [side[0][0].usage.prompt_tokens for side in rows]

    assert sorted(asyncio.run(usage())) == [3, 3 + 5]


def test_show_prompt_makes_identical_outputs_separate_requests() -> None:
    client = _FlipFlopJudge()
    runner = Runner(client, RunSettings(judge_model="j"))
    _base, head = asyncio.run(_both_sides(runner, _plan(show_prompt=True)))
    assert len(client.judge_requests) == 4
    # The judge, shown the head's prompt, failed case a's unchanged answer on head.
    assert head[0] is False


def test_the_second_look_resamples_the_judge_but_not_a_temperature_zero_model() -> None:
    client = _FlipFlopJudge()
    runner = Runner(client, RunSettings(judge_model="j", seed=10))
    plan = _plan()
    asyncio.run(runner.run_suite(plan, cases=CASES[1:]))
    asyncio.run(
        runner.run_suite(plan, cases=CASES[1:], first_repeat=1, second_look=SecondLook(0.7))
    )
    first, second = client.model_requests
    assert first == second  # the same request: a cache answers it
    judged = [(r.temperature, r.seed) for r in client.judge_requests]
    assert judged == [(0.0, 10), (0.7, 11)]

    sampling = replace(plan, temperature=0.8)
    asyncio.run(
        runner.run_suite(sampling, cases=CASES[1:], first_repeat=2, second_look=SecondLook(0.7))
    )
    assert client.model_requests[-1].seed == 12


class _Caller:
    """Answers no text, only a call: ``good`` under the base prompt, ``bad`` under the head."""

    async def complete(self, request: ModelRequest) -> ModelResponse:
        from promptloop.models.base import ToolCall

        name = "good" if "Base prompt" in request.messages[-1].content else "bad"
        return ModelResponse(text="", tool_calls=(ToolCall.parse(name, "{}", "c1"),))


def test_the_same_text_with_different_tool_calls_is_evaluated_on_each_side() -> None:
    check = build_evaluator(SimpleNamespace(kind="tool-call", args="good"), base_dir=Path("."))
    plan = replace(_plan(), evaluators=(check,))
    base, head = asyncio.run(_both_sides(Runner(_Caller(), RunSettings(judge_model="j")), plan))
    assert base == [True, True] and head == [False, False]
