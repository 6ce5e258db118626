"""tool-call and tool-args: pass and fail reasons in words, templated from the case,
and arguments that are not JSON an evaluator error, never a pass."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from promptloop.dataset.cases import Case
from promptloop.evaluators.base import EvalContext, EvalResult
from promptloop.evaluators.registry import build_evaluator
from promptloop.models.base import ModelRequest, ModelResponse, ToolCall


class _NoJudge:
    async def complete(self, request: ModelRequest) -> ModelResponse:
        raise AssertionError("a tool evaluator must not call a model")


CASE = Case(id="c1", vars={"order": "A1", "amount": "120", "tool": "refund"})


def grade(kind: str, args: Any, *calls: ToolCall, case: Case = CASE) -> EvalResult:
    evaluator = build_evaluator(SimpleNamespace(kind=kind, args=args), base_dir=Path("."))
    ctx = EvalContext(judge=_NoJudge(), judge_model="unused", tool_calls=calls)
    return asyncio.run(evaluator.evaluate("", case, ctx))


REFUND = ToolCall.parse("refund", '{"order_id": "A1", "amount": 120}')
LOOKUP = ToolCall.parse("lookup", '{"order_id": "A1"}')
BROKEN = ToolCall.parse("refund", '{"amount": 12')


def test_tool_call_none_fails_with_the_call_that_was_made():
    result = grade("tool-call", "none", REFUND)
    assert not result.passed
    assert result.reason == (
        'called `refund` with `order_id: "A1", amount: 120`, expected no tool call'
    )
    assert grade("tool-call", "none").reason == "called no tool, as expected"


def test_tool_call_one_of_a_set_and_templated_from_the_case():
    assert grade("tool-call", ["lookup", "refund"], LOOKUP).passed
    result = grade("tool-call", ["lookup", "escalate"], REFUND)
    assert result.reason.endswith("expected a call to `lookup` or `escalate`")
    assert grade("tool-call", "{{ tool }}", REFUND).passed
    assert not grade("tool-call", "{{ tool }}", LOOKUP).passed


def test_tool_call_once_and_in_sequence():
    twice = grade("tool-call", {"name": "refund", "once": True}, REFUND, REFUND)
    assert not twice.passed and twice.reason.endswith("expected exactly one call to `refund`")
    assert grade("tool-call", {"sequence": ["lookup", "refund"]}, LOOKUP, REFUND).passed
    reverse = grade("tool-call", {"sequence": ["lookup", "refund"]}, REFUND, LOOKUP)
    assert not reverse.passed and reverse.reason.endswith("expected `lookup`, then `refund`")


def test_tool_args_equals_and_contains_templated_values():
    args = {"tool": "refund", "equals": {"order_id": "{{ order }}", "amount": "{{ amount }}"}}
    assert grade("tool-args", args, REFUND).passed
    other = Case(id="c2", vars={"order": "A2", "amount": "120"})
    result = grade("tool-args", args, REFUND, case=other)
    assert not result.passed
    assert result.reason == (
        'called `refund` with `order_id: "A1", amount: 120`, '
        'expected `order_id: "A2", amount: "120"`'
    )
    contains = grade("tool-args", {"tool": "refund", "contains": {"amount": 90}}, REFUND)
    assert contains.reason.endswith("expected it to include `amount: 90`")


def test_tool_args_schema_says_which_argument_is_wrong():
    schema = {"type": "object", "properties": {"amount": {"type": "number", "maximum": 100}}}
    result = grade("tool-args", {"tool": "refund", "schema": schema}, REFUND)
    assert not result.passed
    assert result.reason.endswith("but amount: 120 is greater than the maximum of 100")


def test_tool_args_without_the_call_fails_unless_if_called():
    missing = grade("tool-args", {"tool": "refund", "contains": {"amount": 1}}, LOOKUP)
    assert not missing.passed
    assert missing.reason.endswith("expected a call to `refund`")
    skipped = grade("tool-args", {"tool": "refund", "if_called": True, "contains": {}}, LOOKUP)
    assert skipped.abstained


def test_malformed_arguments_fail_never_pass_and_are_no_evaluator_error():
    """The model wrote them: a fail of its output, not an evaluator that could not judge."""
    result = grade("tool-args", {"tool": "refund", "schema": {"type": "object"}}, BROKEN)
    assert not result.passed and result.error is None
    assert "cannot be checked: arguments are not valid JSON" in result.reason
    assert '{\\"amount\\": 12' in result.reason


@pytest.mark.parametrize(
    ("kind", "args", "words"),
    [
        ("tool-call", None, "expected a tool name"),
        ("tool-call", ["none", "refund"], "`none` stands alone"),
        ("tool-call", {"name": "x", "twice": True}, "unknown key 'twice'"),
        ("tool-args", {"tool": "refund"}, "at least one of schema, equals, contains"),
        ("tool-args", {"contains": {}}, "`tool` names the tool"),
        ("tool-args", {"tool": "r", "schema": {"type": "nope"}}, "invalid schema"),
    ],
)
def test_bad_arguments_are_refused_when_built(kind, args, words):
    with pytest.raises(ValueError, match=words):
        build_evaluator(SimpleNamespace(kind=kind, args=args), base_dir=Path("."))


def test_a_judge_reads_the_calls_as_part_of_the_output():
    seen: list[ModelRequest] = []

    class Judge:
        async def complete(self, request: ModelRequest) -> ModelResponse:
            seen.append(request)
            return ModelResponse('{"passed": false, "score": 0, "critique": "refunded early"}')

    evaluator = build_evaluator(
        SimpleNamespace(kind="judge", args={"rubric": "Ask for the order first."}),
        base_dir=Path("."),
    )
    ctx = EvalContext(judge=Judge(), judge_model="judge", tool_calls=(REFUND,))
    result = asyncio.run(evaluator.evaluate("Done.", CASE, ctx))
    assert not result.passed
    sent = "\n".join(m.content for m in seen[0].messages)
    assert 'Done.\n[tool call] refund({"order_id": "A1", "amount": 120})' in sent


def test_a_python_check_receives_copies_of_the_calls(tmp_path: Path):
    (tmp_path / "toolcheck.py").write_text(
        "def amount(output, case):\n"
        "    [call] = case.tool_calls\n"
        "    call['arguments']['amount'] = 0\n"
        "    return case['tool_calls'][0]['name'] == 'refund'\n"
    )
    evaluator = build_evaluator(
        SimpleNamespace(kind="python", args="toolcheck.py:amount"), base_dir=tmp_path
    )
    ctx = EvalContext(judge=_NoJudge(), judge_model="unused", tool_calls=(REFUND,))
    assert asyncio.run(evaluator.evaluate("", CASE, ctx)).passed
    assert REFUND.arguments == {"order_id": "A1", "amount": 120}
