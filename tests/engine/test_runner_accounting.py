"""Runner bookkeeping: failed calls are counted, and a template that breaks on one case
stops the run before any model call."""

from __future__ import annotations

import asyncio

import pytest

from promptloop.dataset.cases import Case
from promptloop.engine.requests import RunSettings
from promptloop.engine.runner import Runner
from promptloop.errors import UserError
from promptloop.models.base import ModelCallError, ModelRequest, ModelResponse
from promptloop.project.prompts import parse_prompt
from promptloop.project.suites import SuitePlan


class _Client:
    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.requests: list[ModelRequest] = []

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(request)
        if self.fail:
            raise ModelCallError("down", kind="server", attempts=3)
        return ModelResponse(text="ok")


def _plan(template: str, cases: list[Case]) -> SuitePlan:
    return SuitePlan(
        name="s",
        prompt=parse_prompt(template, "p.md"),
        cases=tuple(cases),
        evaluators=(),
        model="scripted/x",
        temperature=0.0,
        max_tokens=None,
    )


def test_failed_calls_are_counted_with_their_attempts() -> None:
    client = _Client(fail=True)
    runner = Runner(client, RunSettings(judge_model="scripted/x"))
    plan = _plan(
        "Hi {{ name }}", [Case(id="a", vars={"name": "A"}), Case(id="b", vars={"name": "B"})]
    )
    rows = asyncio.run(runner.run_suite(plan))
    assert [o.status for o in rows[0]] == ["error", "error"]
    assert runner.tally.failed_calls == 2
    assert runner.tally.calls == 6


def test_a_case_that_cannot_render_stops_the_run_before_any_call() -> None:
    client = _Client(fail=False)
    runner = Runner(client, RunSettings(judge_model="scripted/x"))
    template = "{{ 1 / n }}"
    plan = _plan(
        template, [Case(id="a", vars={"n": 1}), Case(id="b", vars={"n": 0}, source="d.jsonl:2")]
    )
    with pytest.raises(UserError):
        asyncio.run(runner.run_suite(plan))
    assert client.requests == []
