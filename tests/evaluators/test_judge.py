from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from promptloop.dataset.cases import Case
from promptloop.evaluators import JUDGE_SCHEMA, build_evaluator, judge_schema, parse_verdict
from promptloop.evaluators.base import EvalContext, EvalResult
from promptloop.evaluators.judge import JudgeEvaluator, extract_json_object
from promptloop.evaluators.judge_messages import clip
from promptloop.models.base import ModelCallError, ModelRequest, ModelResponse, Usage

CASE = Case(id="j1", vars={"ticket": "I was charged twice"}, expected="billing")
GOOD = {
    "critique": "The answer names the wrong team.",
    "passed": False,
    "score": 0.2,
    "error_type": "wrong_label",
    "evidence": "technical",
    "suggested_fix": "List the allowed labels.",
}


class QueuedClient:
    """A ``ModelClient`` that answers with queued texts (or raises queued errors)."""

    def __init__(self, answers: Sequence[str | Exception]) -> None:
        self.answers = list(answers)
        self.requests: list[ModelRequest] = []

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return ModelResponse(text=answer, usage=Usage(10, 5, 0.001))


@dataclass
class Spec:
    kind: str
    args: Any = None
    weight: float = 1.0
    name: str | None = None


def ctx(client: QueuedClient, **options: Any) -> EvalContext:
    return EvalContext(judge=client, judge_model="judge-model", seed=7, **options)


def judge(args: Any = None, **options: Any) -> JudgeEvaluator:
    if args is None:
        args = {"rubric": "The label must be the right team.", "error_types": ["wrong_label"]}
    evaluator = build_evaluator(Spec("judge", args, **options), base_dir=Path("."))
    assert isinstance(evaluator, JudgeEvaluator)
    return evaluator


def grade(
    answers: Sequence[str | Exception],
    output: str = "The issue is technical.",
    args: Any = None,
    case: Case = CASE,
    **ctx_options: Any,
) -> tuple[EvalResult, QueuedClient]:
    client = QueuedClient(answers)
    result = asyncio.run(judge(args).evaluate(output, case, ctx(client, **ctx_options)))
    return result, client


def test_good_json_gives_a_verdict_with_the_critique_as_reason() -> None:
    result, client = grade([json.dumps(GOOD)])
    assert not result.passed
    assert result.error is None
    assert result.score == pytest.approx(0.2)
    assert result.reason == "wrong_label: The answer names the wrong team."
    assert result.error_type == "wrong_label"
    assert result.evidence == "technical"
    assert result.suggested_fix == "List the allowed labels."
    assert result.usage == Usage(10, 5, 0.001)
    assert len(client.requests) == 1


def test_request_shape() -> None:
    _, client = grade([json.dumps(GOOD)], api_base="http://127.0.0.1:9", timeout_s=12.0)
    request = client.requests[0]
    assert request.purpose == "judge"
    assert request.temperature == 0
    assert request.seed == 7
    assert request.model == "judge-model"
    assert request.api_base == "http://127.0.0.1:9"
    assert request.timeout_s == 12.0
    assert request.json_schema == judge_schema(["wrong_label"])
    assert request.json_schema["properties"]["error_type"] == {"enum": ["wrong_label", None]}
    system, user = request.messages
    assert system.role == "system"
    assert "The label must be the right team." in system.content
    assert '"wrong_label"' in system.content
    assert user.role == "user"
    assert "I was charged twice" in user.content  # the case input
    assert "## Expected answer\nbilling" in user.content
    assert "<output>\nThe issue is technical.\n</output>" in user.content
    assert "JSON object only" in user.content


def test_the_judge_sees_the_goal_not_the_prompt_under_test() -> None:
    args = {"rubric": "Be polite.", "model": "other-judge"}
    _, client = grade(
        [json.dumps(GOOD | {"error_type": None})],
        args=args,
        prompt_text="You are a support bot. Ticket: I was charged twice",
    )
    request = client.requests[0]
    assert request.model == "other-judge"
    assert request.temperature == 0.0
    user = request.messages[1].content
    assert "You are a support bot" not in user and "Task given" not in user
    assert '## Task input\n{\n  "ticket": "I was charged twice"\n}' in user
    assert "## Expected answer\nbilling" in user
    assert not judge(args).sees_prompt


def test_two_prompts_with_the_same_output_make_the_same_request() -> None:
    requests = []
    for prompt_text in ("Prompt A: be terse.", "Prompt B: be verbose."):
        _, client = grade([json.dumps(GOOD)], prompt_text=prompt_text)
        requests.append(client.requests[0])
    assert requests[0] == requests[1]


def test_show_prompt_opts_in_to_the_instructions() -> None:
    args = {"rubric": "Be polite.", "model": "other-judge", "show_prompt": True}
    _, client = grade(
        [json.dumps(GOOD | {"error_type": None})],
        args=args,
        prompt_text="You are a support bot. Ticket: I was charged twice",
    )
    request = client.requests[0]
    user = request.messages[1].content
    assert "## Task given to the assistant\nYou are a support bot." in user
    assert "## Task input" not in user  # the prompt already carries the vars
    assert judge(args).sees_prompt
    assert request.json_schema == JUDGE_SCHEMA
    assert "error_type" not in request.json_schema["properties"]


def test_the_second_look_samples_the_judge_above_zero() -> None:
    _, client = grade([json.dumps(GOOD)], judge_temperature=0.7)
    assert client.requests[0].temperature == 0.7


def test_include_input_false_leaves_the_input_out() -> None:
    args = {"rubric": "Be polite.", "include_input": False, "show_prompt": True}
    _, client = grade([json.dumps(GOOD)], args=args, prompt_text="SECRET PROMPT")
    user = client.requests[0].messages[1].content
    assert "SECRET PROMPT" not in user
    assert "I was charged twice" not in user
    assert "The issue is technical." in user


def test_fenced_json_with_prose_is_accepted() -> None:
    answer = "Here is my grade:\n```json\n" + json.dumps(GOOD) + "\n```\nHope that helps."
    result, client = grade([answer])
    assert result.error is None
    assert result.score == pytest.approx(0.2)
    assert len(client.requests) == 1


def test_garbage_then_good_retries_with_a_different_request() -> None:
    passing = {"critique": "Correct team.", "passed": True, "score": 0.9}
    result, client = grade(["I think it is fine!", json.dumps(passing)])
    assert result.passed
    assert result.error is None
    assert result.reason == "Correct team."
    assert len(client.requests) == 2
    first, second = client.requests
    assert first.cache_key() != second.cache_key()
    assert second.seed == first.seed + 1
    assert "attempt 2 of 3" in second.messages[1].content
    assert "no JSON object found" in second.messages[1].content
    assert result.usage == Usage(20, 10, 0.002)


def test_garbage_three_times_is_an_error_never_a_pass() -> None:
    result, client = grade(["yes", "PASS", '{"passed": true}'])
    assert not result.passed
    assert result.score == 0.0
    assert result.error is not None
    assert result.error.startswith("judge answered with unusable output after 3 attempts")
    assert '"{"passed": true}"' in result.error  # an excerpt of the last answer
    assert "critique" in result.error  # what was wrong with the last answer
    assert len(client.requests) == 3
    assert result.usage == Usage(30, 15, pytest.approx(0.003))


def test_judge_attempts_from_context() -> None:
    result, client = grade(["no", "no"], judge_attempts=2)
    assert result.error is not None
    assert "after 2 attempts" in result.error
    assert len(client.requests) == 2


def test_model_call_error_is_an_error_result() -> None:
    result, _ = grade([ModelCallError("provider down", kind="server", attempts=3)])
    assert not result.passed
    assert result.error == "judge call failed (server): provider down"


def test_model_call_error_after_garbage_keeps_usage() -> None:
    result, client = grade(["garbage", ModelCallError("timed out", kind="timeout")])
    assert result.error is not None
    assert "timeout" in result.error
    assert result.usage == Usage(10, 5, 0.001)
    assert len(client.requests) == 2


def test_passed_true_with_low_score_counts_as_fail() -> None:
    answer = {"critique": "Mostly fine.", "passed": True, "score": 0.3}
    result, _ = grade([json.dumps(answer)])
    assert not result.passed
    assert result.score == pytest.approx(0.3)
    assert "below the threshold 0.50; counted as a fail" in result.reason


def test_passed_false_with_high_score_stays_a_fail() -> None:
    answer = {"critique": "Wrong label.", "passed": False, "score": 0.8}
    result, _ = grade([json.dumps(answer)])
    assert not result.passed
    assert "despite a score of 0.80" in result.reason


def test_threshold_option() -> None:
    args = {"rubric": "x", "threshold": 0.9}
    result, _ = grade([json.dumps({"critique": "ok", "passed": True, "score": 0.85})], args=args)
    assert not result.passed
    args = {"rubric": "x", "threshold": 0.8}
    result, _ = grade([json.dumps({"critique": "ok", "passed": True, "score": 0.85})], args=args)
    assert result.passed
    assert result.reason == "ok"


def test_error_type_outside_the_list_is_retried() -> None:
    bad = GOOD | {"error_type": "made_up"}
    result, client = grade([json.dumps(bad), json.dumps(GOOD)])
    assert result.error_type == "wrong_label"
    assert "'made_up' is not one of wrong_label" in client.requests[1].messages[1].content


def test_error_type_case_is_forgiven() -> None:
    result, _ = grade([json.dumps(GOOD | {"error_type": "WRONG_LABEL"})])
    assert result.error_type == "wrong_label"


def test_evidence_not_in_output_is_dropped() -> None:
    result, _ = grade([json.dumps(GOOD | {"evidence": "something never said"})])
    assert result.evidence is None
    result, _ = grade([json.dumps(GOOD | {"evidence": "  issue IS\ntechnical "})])
    assert result.evidence == "issue IS\ntechnical"


def test_passing_result_drops_error_type_and_fix() -> None:
    answer = {
        "critique": "Right.",
        "passed": True,
        "score": 1,
        "error_type": "wrong_label",
        "suggested_fix": "nothing",
    }
    result, _ = grade([json.dumps(answer)])
    assert result.passed
    assert result.score == 1.0
    assert result.error_type is None
    assert result.suggested_fix is None
    assert result.reason == "Right."


def test_rubric_is_a_template() -> None:
    args = {"rubric": "The reply must mention {{ ticket }}."}
    _, client = grade([json.dumps(GOOD | {"error_type": None})], args=args)
    assert "The reply must mention I was charged twice." in client.requests[0].messages[0].content


def test_rubric_with_undefined_variable_is_an_error_without_a_call() -> None:
    result, client = grade([], args={"rubric": "Mention {{ product }}."})
    assert result.error is not None
    assert "'product' is undefined" in result.error
    assert client.requests == []


def test_long_output_is_clipped_head_and_tail() -> None:
    output = "START " + "x" * 20000 + " END"
    _, client = grade([json.dumps(GOOD)], output=output)
    user = client.requests[0].messages[1].content
    assert "START" in user
    assert "END" in user
    assert "characters omitted" in user
    assert len(user) < 9000


def test_clip_keeps_short_text() -> None:
    assert clip("short", 10) == "short"
    clipped = clip("a" * 30 + "b" * 30, 30)
    assert clipped.startswith("a" * 20)
    assert clipped.endswith("b" * 10)
    assert "30 characters omitted" in clipped


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "no JSON object found"),
        ("[1, 2]", "no JSON object found"),
        ('{"critique": "x", "passed": "yes", "score": 0.5}', "passed"),
        ('{"critique": "x", "passed": true, "score": 1.5}', "score"),
        ('{"critique": "x", "passed": true, "score": "0.5"}', "score"),
        ('{"critique": "  ", "passed": true, "score": 0.5}', "critique is empty"),
        ('{"passed": true, "score": 0.5}', "critique"),
    ],
)
def test_parse_verdict_rejects(text: str, problem: str) -> None:
    verdict, found = parse_verdict(text)
    assert verdict is None
    assert found is not None
    assert problem in found


def test_parse_verdict_ignores_extra_keys_and_unlisted_error_type() -> None:
    text = (
        'Sure! {"critique": "ok", "passed": true, "score": 1, "confidence": "high", '
        '"error_type": "whatever"} trailing'
    )
    verdict, problem = parse_verdict(text)
    assert problem is None
    assert verdict is not None
    assert verdict.passed
    assert verdict.error_type is None  # no error types configured


def test_extract_json_object_skips_non_objects() -> None:
    assert extract_json_object('scores: {bad} then {"a": 1}') == {"a": 1}
    assert extract_json_object("nothing here") is None


def test_schema_is_a_valid_simple_json_schema() -> None:
    schema = judge_schema(["wrong_label", "tone"])
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["required"] == ["critique", "passed", "score"]
    assert next(iter(schema["properties"])) == "critique"
    text = json.dumps(schema)
    assert "$ref" not in text
    assert "anyOf" not in text
    jsonschema.validate(GOOD, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(GOOD | {"error_type": "other"}, schema)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ({}, "missing key rubric"),
        ({"rubrik": "x"}, "unknown key rubrik (did you mean rubric?)"),
        ({"rubric": "   "}, "rubric is empty"),
        ({"rubric": "x", "threshold": 2}, "threshold"),
        ({"rubric": "x", "error_types": ["a", "A"]}, "distinct"),
        ({"rubric": "x", "error_types": "a"}, "error_types"),
        ({"rubric": "{{ x"}, "does not parse"),
        (3, "expected a rubric string"),
    ],
)
def test_build_errors(args: Any, fragment: str) -> None:
    with pytest.raises(ValueError) as info:
        build_evaluator(Spec("judge", args), base_dir=Path("."))
    message = str(info.value)
    assert message.startswith("judge:")
    assert fragment in message
    assert "\n" not in message


def test_string_args_are_the_rubric_and_name_defaults_to_judge() -> None:
    evaluator = judge("Be kind.")
    assert evaluator.name == "judge"
    assert evaluator.args.rubric == "Be kind."
    assert judge("Be kind.", name="kindness", weight=2).name == "kindness"


PASS_ANSWER = {"critique": "Right team.", "passed": True, "score": 0.9}


def test_the_second_look_takes_the_majority_of_independent_samples() -> None:
    answers = [json.dumps(PASS_ANSWER), json.dumps(GOOD), json.dumps(PASS_ANSWER)]
    result, client = grade(answers, judge_temperature=0.7, judge_samples=3)
    assert result.passed and result.error is None
    assert result.reason == "Right team. (2 of 3 judge samples agree)"
    assert result.score == pytest.approx((0.9 + 0.2 + 0.9) / 3)
    assert result.usage == Usage(30, 15, 0.003)
    seeds = [r.seed for r in client.requests]
    assert len(set(seeds)) == 3 and all(r.temperature == 0.7 for r in client.requests)


def test_two_agreeing_samples_settle_a_majority_of_three() -> None:
    result, client = grade([json.dumps(GOOD), json.dumps(GOOD)], judge_samples=3)
    assert not result.passed and len(client.requests) == 2
    assert result.reason.endswith("(2 of 2 judge samples agree)")


def test_a_tie_between_usable_samples_is_a_fail() -> None:
    answers = [json.dumps(PASS_ANSWER), json.dumps(GOOD)]
    result, _ = grade(answers, judge_samples=2)
    assert not result.passed and result.error is None
    assert result.reason.endswith("(1 of 2 judge samples agree)")
