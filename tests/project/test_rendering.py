"""A prompt rendered for a case, and a dataset checked against a prompt's variables."""

from __future__ import annotations

import pytest

from promptloop.dataset.cases import Case
from promptloop.errors import UserError
from promptloop.project.prompts import parse_prompt
from promptloop.project.rendering import check_variables, render_prompt


def test_missing_variable_names_the_case_source_and_variable() -> None:
    prompt = parse_prompt("Hi {{ name }} from {{ city }}\n", "prompts/t.md")
    with pytest.raises(UserError) as info:
        render_prompt(prompt, {"name": "A"}, case_source="evals/x.jsonl:7")
    assert str(info.value) == ("evals/x.jsonl:7: case has no variable 'city', used by prompts/t.md")


def test_undefined_attribute_at_render_points_into_the_prompt() -> None:
    prompt = parse_prompt("---\nmodel: m\n---\nHello\n{{ user.name }}\n", "t.md")
    with pytest.raises(UserError) as info:
        render_prompt(prompt, {"user": {}}, case_source="evals/x.jsonl:3")
    message = str(info.value)
    assert message.startswith("t.md:5: cannot render for case evals/x.jsonl:3:")
    assert "name" in message


def test_sandbox_refuses_unsafe_attribute_access() -> None:
    prompt = parse_prompt("{{ x.__class__.__mro__ }}", "t.md")
    with pytest.raises(UserError, match="cannot render"):
        render_prompt(prompt, {"x": 1})


def test_rendering_keeps_loops_and_trailing_newlines_inside_templates() -> None:
    prompt = parse_prompt("{% for i in items %}- {{ i }}\n{% endfor %}end", "t.md")
    assert prompt.variables == {"items"}
    rendered = render_prompt(prompt, {"items": ["a", "b"]})
    assert rendered.messages[0].content == "- a\n- b\nend"


def test_check_variables_raises_for_missing_and_warns_for_unused() -> None:
    prompt = parse_prompt("{{ product }}", "prompts/t.md")
    cases = [
        Case("a", {"product": "A", "label": "x", "note": 1}, source="e.jsonl:1"),
        Case("b", {"product": "B", "label": "y"}, source="e.jsonl:2"),
    ]
    warnings = check_variables(prompt, cases)
    assert warnings == ["case variable 'label' is never used by prompts/t.md"]
    assert check_variables(prompt, cases, also_used={"label"}) == []
    with pytest.raises(UserError) as info:
        check_variables(prompt, [*cases, Case("c", {"prodcut": "C"}, source="e.jsonl:3")])
    assert str(info.value) == "e.jsonl:3: case 'c' has no variable 'product', used by prompts/t.md"
