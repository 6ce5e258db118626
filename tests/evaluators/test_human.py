"""The `human` evaluator: a reviewer's verdict while the output is the one judged."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from promptloop.dataset.cases import Case
from promptloop.dataset.feedback import FeedbackRecord, output_fingerprint
from promptloop.evaluators.base import EvalContext, EvalResult, combine
from promptloop.evaluators.human import HumanEvaluator
from promptloop.evaluators.registry import build_evaluator
from promptloop.evaluators.specs import EvaluatorSpec
from promptloop.models.base import ModelRequest, ModelResponse


class _NoJudge:
    """A person's verdict needs no model: calling one is a bug."""

    async def complete(self, request: ModelRequest) -> ModelResponse:
        raise AssertionError("the human evaluator called a model")


CASE = Case(id="c04", vars={"product": "Brewly"})


def record(output: str, verdict: str, note: str = "") -> FeedbackRecord:
    return FeedbackRecord(
        case="c04",
        output=output_fingerprint(output),
        verdict=verdict,  # type: ignore[arg-type]
        note=note,
        by="dana",
        at=datetime(2026, 12, 1, tzinfo=UTC),
        source="cli",
    )


def evaluate(evaluator: HumanEvaluator, output: str) -> EvalResult:
    ctx = EvalContext(judge=_NoJudge(), judge_model="none")
    return asyncio.run(evaluator.evaluate(output, CASE, ctx))


def test_the_latest_verdict_on_this_output_decides() -> None:
    built = build_evaluator(EvaluatorSpec.model_validate("human"), base_dir=Path())
    assert isinstance(built, HumanEvaluator)
    evaluator = built.with_feedback(
        [record("A smart kettle.", "good"), record("A smart kettle.", "bad", "never 'smart'")]
    )
    result = evaluate(evaluator, "A smart kettle.")
    assert not result.passed and result.score == 0.0 and not result.abstained
    assert result.reason == "reviewer dana marked this output bad: never 'smart'"
    assert result.error_type == "reviewer"


def test_a_changed_output_is_unlabelled_and_left_to_the_others() -> None:
    evaluator = HumanEvaluator(records=(record("A smart kettle.", "bad", "no"),))
    result = evaluate(evaluator, "A kettle that boils in 90 s.")
    assert result.abstained
    failing_judge = EvalResult("judge", False, 0.0, "too vague")
    assert combine([result, failing_judge]) == (False, 0.0)
    assert combine([result, EvalResult("judge", True, 1.0, "ok")]) == (True, 1.0)
    # Below a threshold the abstention does not dilute the score either.
    half = EvalResult("judge", False, 0.5, "so so")
    assert combine([result, half], threshold=0.5) == (True, 0.5)


def test_human_takes_no_arguments() -> None:
    with pytest.raises(ValueError, match="human: takes no arguments"):
        build_evaluator(EvaluatorSpec.model_validate({"human": "x"}), base_dir=Path())


def test_a_verdict_is_on_the_output_with_its_tool_calls() -> None:
    from promptloop.models.base import ToolCall, with_calls

    early = (ToolCall.parse("refund", '{"amount": 120}'),)
    evaluator = HumanEvaluator(records=(record(with_calls("", early), "bad", "too early"),))
    ctx = EvalContext(judge=_NoJudge(), judge_model="none", tool_calls=early)
    assert not asyncio.run(evaluator.evaluate("", CASE, ctx)).passed
    # The same (empty) text with other calls is another output: the verdict does not apply.
    other = EvalContext(
        judge=_NoJudge(), judge_model="none", tool_calls=(ToolCall.parse("lookup", "{}"),)
    )
    assert asyncio.run(evaluator.evaluate("", CASE, other)).abstained
