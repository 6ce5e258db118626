"""The meta-prompt keeps the optimizer anchored: the goal in words, the original beside
the revision."""

from __future__ import annotations

from promptloop.evaluators.specs import EvaluatorSpec
from promptloop.optimize.goal import describe_goal
from promptloop.optimize.metaprompt import rewrite_messages, rules_messages
from promptloop.optimize.packing import Packed


def _packed() -> Packed:
    return Packed(groups=(), text="", tokens=0, omitted=0, cause_counts={})


def test_the_goal_names_what_each_evaluator_checks() -> None:
    specs = [
        EvaluatorSpec.model_validate({"judge": {"rubric": "Polite and\n short."}}),
        EvaluatorSpec.model_validate({"equals": "{{ label }}", "name": "label"}),
        EvaluatorSpec.model_validate("is-json"),
    ]
    assert describe_goal(specs).splitlines() == [
        "- judge: a reviewer grades every answer against: Polite and short.",
        '- label: `equals` "{{ label }}" ({{ … }} is filled in from each case)',
        "- is-json: every answer must pass the `is-json` check",
    ]


def _ask(current: str, original: str) -> str:
    messages = rewrite_messages(
        current_prompt=current,
        packed=_packed(),
        variables=frozenset(),
        format_lines=(),
        max_prompt_tokens=100,
        feedback="critiques",
        goal="- judge: polite",
        original_prompt=original,
    )
    return messages[-1].content


def test_a_revision_is_shown_beside_the_original() -> None:
    ask = _ask("Be polite. Always.", "Be polite.")
    assert ask.index("The goal") < ask.index("<original>\nBe polite.\n</original>")
    assert ask.index("</original>") < ask.index("Current prompt:\n<prompt>\nBe polite. Always.")


def test_the_first_round_shows_the_prompt_once() -> None:
    ask = _ask("Be polite.", "Be polite.")
    assert "<original>" not in ask and "- judge: polite" in ask


def test_rules_mode_states_the_goal_too() -> None:
    messages = rules_messages(
        base_prompt="Be polite.",
        current_rules=["Say hi."],
        packed=_packed(),
        variables=frozenset(),
        max_rules_tokens=50,
        feedback="critiques",
        goal="- judge: polite",
    )
    assert "The goal (what every answer is graded on" in messages[-1].content
