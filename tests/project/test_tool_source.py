"""Tools keep the lines of their descriptions, and a description can be replaced without
touching any other character of the file (front matter, YAML chat prompt, JSON)."""

from __future__ import annotations

import json

import pytest

from promptloop.errors import UserError
from promptloop.project.prompts import parse_prompt
from promptloop.project.tool_source import ToolLines, replace_descriptions

MARKDOWN = """\
---
role: system
tools:
  - type: function
    function:
      name: lookup_order
      description: Find an order by its number.
      parameters: {type: object, properties: {order_id: {type: string}}}
  - {type: function, function: {name: escalate, description: "Pass to a person."}}
  - {type: function, function: {name: silent}}
---
Help {{ name }} with their order.
"""

CHAT = """\
tools:
  - type: function
    function:
      name: refund
      description: >-
        Refund part or all of an order, once the customer
        gave its number.

      parameters: {type: object, properties: {amount: {type: number}}}
  - type: function
    function:
      name: notes
      description: |
        Keep a note.
        One per call.
messages:
  - role: user
    content: "{{ message }}"
"""


def lines_of(source: str, span: tuple[int, int] | None) -> list[str]:
    assert span is not None
    return source.splitlines()[span[0] - 1 : span[1]]


def test_front_matter_tools_record_their_description_lines():
    prompt = parse_prompt(MARKDOWN, "agent.md")
    assert prompt.tool_lines == (
        ToolLines("lookup_order", (7, 7)),
        ToolLines("escalate", (9, 9)),
        ToolLines("silent", None),
    )


def test_block_descriptions_span_their_text_without_the_blank_line_after():
    prompt = parse_prompt(CHAT, "agent.yaml")
    refund, notes = prompt.tool_lines
    assert lines_of(CHAT, refund.description) == [
        "        Refund part or all of an order, once the customer",
        "        gave its number.",
    ]
    assert lines_of(CHAT, notes.description) == ["        Keep a note.", "        One per call."]


def test_json_chat_prompts_have_lines_too():
    data = {
        "tools": [{"type": "function", "function": {"name": "refund", "description": "Refund."}}],
        "messages": [{"role": "user", "content": "{{ message }}"}],
    }
    source = json.dumps(data, indent=2)
    [tool] = parse_prompt(source, "agent.json").tool_lines
    assert lines_of(source, tool.description) == ['        "description": "Refund."']
    revised = replace_descriptions(source, "agent.json", {"refund": 'Refund "now".'})
    assert json.loads(revised)["tools"][0]["function"]["description"] == 'Refund "now".'
    assert revised == source.replace('"Refund."', '"Refund \\"now\\"."')


def test_a_plain_description_is_replaced_on_its_line_and_nothing_else_changes():
    revised = replace_descriptions(
        MARKDOWN, "agent.md", {"lookup_order": "Find an order, only by a number they gave."}
    )
    assert revised == MARKDOWN.replace(
        "Find an order by its number.", "Find an order, only by a number they gave."
    )


def test_text_that_is_not_plain_yaml_is_quoted_and_flow_values_stay_valid():
    revised = replace_descriptions(
        MARKDOWN,
        "agent.md",
        {"lookup_order": "Find: an order # by number", "escalate": "Pass on, {politely}."},
    )
    tools = {t.function.name: t.function for t in parse_prompt(revised, "agent.md").settings.tools}
    assert tools["lookup_order"].description == "Find: an order # by number"
    assert tools["escalate"].description == "Pass on, {politely}."
    assert '      description: "Find: an order # by number"\n' in revised
    assert revised.splitlines()[9:] == MARKDOWN.splitlines()[9:]


def test_a_folded_block_is_rewrapped_in_place_and_a_literal_one_kept_literal():
    long = (
        "Refund part or all of an order, only once the customer has given its number, "
        "the amount and the reason."
    )
    revised = replace_descriptions(CHAT, "agent.yaml", {"refund": long, "notes": "Keep one note."})
    tools = {
        t.function.name: t.function for t in parse_prompt(revised, "agent.yaml").settings.tools
    }
    assert tools["refund"].description == long
    assert tools["notes"].description == "Keep one note.\n"
    old, new = CHAT.splitlines(), revised.splitlines()
    # Before the refund's text, between the two tools and after them: byte for byte.
    assert new[:5] == old[:5]
    refund_end = new.index("")
    assert all(line.startswith("        ") for line in new[5:refund_end])
    assert new[refund_end:] == [*old[7:13], "        Keep one note.", *old[15:]]


def test_a_tool_without_a_description_or_an_unknown_tool_is_refused():
    with pytest.raises(UserError, match="tool `silent` has no description to replace"):
        replace_descriptions(MARKDOWN, "agent.md", {"silent": "Be quiet."})
    with pytest.raises(UserError, match="no tool is named `find`"):
        replace_descriptions(MARKDOWN, "agent.md", {"find": "Find."})
    with pytest.raises(UserError, match="declares no tools"):
        replace_descriptions("Just a prompt.\n", "plain.md", {"find": "Find."})
