"""Notices about the judge: grading its own answers, or reading the prompt under test."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from promptloop.evaluators.registry import build_evaluator
from promptloop.models.base import EMBEDDED_MODEL
from promptloop.project.prompts import parse_prompt
from promptloop.project.suites import SuitePlan, judge_notices


def _plan(name: str, under_test: str, **judge: object) -> SuitePlan:
    return SuitePlan(
        name=name,
        prompt=parse_prompt("Hi", "p.md"),
        cases=(),
        evaluators=(
            build_evaluator(
                SimpleNamespace(kind="judge", args={"rubric": "Polite.", **judge}),
                base_dir=Path("."),
            ),
        ),
        model=under_test,
        temperature=0.0,
        max_tokens=None,
    )


def test_a_judge_grading_its_own_model_is_noticed() -> None:
    notices = judge_notices([_plan("a", "gpt-x"), _plan("b", "gpt-y")], judge_model="gpt-x")
    assert len(notices) == 1
    assert notices[0].startswith("the judge is the model under test in a:")


def test_another_judge_or_the_embedded_default_is_not() -> None:
    assert judge_notices([_plan("a", "gpt-x", model="claude-z")], judge_model="gpt-x") == []
    assert judge_notices([_plan("a", EMBEDDED_MODEL)], judge_model=EMBEDDED_MODEL) == []


def test_show_prompt_warns_that_unchanged_answers_may_be_judged_differently() -> None:
    notices = judge_notices([_plan("a", "m", show_prompt=True)], judge_model="j")
    assert notices == [
        "the judge is shown the prompt under test (show_prompt) in a: an answer that did "
        "not change may be judged differently on base and head"
    ]
