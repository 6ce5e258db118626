from __future__ import annotations

import pytest

from promptloop.errors import UserError
from promptloop.optimize import rules
from promptloop.project.prompts import template_variables

PROMPT = "---\ntemperature: 0\n---\nAnswer about {{ product }}.\nQuestion: {{ question }}\n"


def test_block_is_appended_after_the_prompt() -> None:
    text = rules.apply_rules(PROMPT, ["Be brief.", "Use the   customer's\nname."])
    assert text.startswith(PROMPT.rstrip("\n") + "\n\n" + rules.START)
    assert text.endswith(rules.END + "\n")
    assert rules.parse_rules(text) == ["Be brief.", "Use the customer's name."]
    assert template_variables(text) == template_variables(PROMPT)


def test_replacing_the_block_keeps_one_block_in_place() -> None:
    first = rules.apply_rules(PROMPT, ["Be brief."])
    with_tail = first + "Closing line.\n"
    second = rules.apply_rules(with_tail, ["Be kind.", "Be brief."])
    assert second.count(rules.START) == 1 and second.count(rules.END) == 1
    assert rules.parse_rules(second) == ["Be kind.", "Be brief."]
    assert second.endswith(rules.END + "\nClosing line.\n")


def test_no_rules_removes_the_block_and_restores_the_prompt() -> None:
    assert rules.apply_rules(rules.apply_rules(PROMPT, ["x"]), []) == PROMPT
    assert rules.apply_rules(PROMPT, []) == PROMPT
    assert rules.parse_rules(PROMPT) == []


def test_unsupported_files_are_refused_with_a_clear_error() -> None:
    rules.ensure_supported("prompts/a.md")
    rules.ensure_supported("prompts/a.txt")
    with pytest.raises(UserError, match=r"prompts/a\.yaml: optimizer\.mode: rules mode"):
        rules.ensure_supported("prompts/a.yaml")
