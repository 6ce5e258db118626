"""``tools:`` and ``tool_choice`` in both prompt shapes: carried onto the rendered prompt
as written, and bad definitions refused with the file, line and key."""

from __future__ import annotations

import pytest

from promptloop.errors import UserError
from promptloop.project.prompts import parse_prompt
from promptloop.project.rendering import render_prompt

MARKDOWN = """\
---
role: system
tools:
  - type: function
    function:
      name: lookup_order
      description: Find an order by its number.
      parameters:
        type: object
        properties:
          order_id: {type: string}
        required: [order_id]
tool_choice: required
---
Help {{ name }} with their order.
"""

CHAT = """\
tools:
  - type: function
    function:
      name: refund
      parameters: {type: object, properties: {amount: {type: number}}}
  - type: function
    function:
      name: escalate
tool_choice: {type: function, function: {name: escalate}}
messages:
  - role: user
    content: "{{ message }}"
"""


def test_markdown_front_matter_tools_reach_the_rendered_prompt():
    rendered = render_prompt(parse_prompt(MARKDOWN, "agent.md"), {"name": "Ada"})
    [tool] = rendered.tools
    assert tool["function"]["name"] == "lookup_order"
    assert tool["function"]["parameters"]["required"] == ["order_id"]
    assert rendered.tool_choice == "required"
    assert rendered.messages[0].content == "Help Ada with their order."


def test_chat_prompt_tools_and_a_forced_function():
    rendered = render_prompt(parse_prompt(CHAT, "agent.yaml"), {"message": "hi"})
    assert [t["function"]["name"] for t in rendered.tools] == ["refund", "escalate"]
    # A tool without parameters takes none, which OpenAI spells as an empty object schema.
    assert rendered.tools[1]["function"]["parameters"] == {"type": "object", "properties": {}}
    assert rendered.tool_choice == {"type": "function", "function": {"name": "escalate"}}


def test_a_prompt_without_tools_sends_none():
    rendered = render_prompt(parse_prompt("Hello {{ x }}", "p.md"), {"x": 1})
    assert rendered.tools == () and rendered.tool_choice is None


@pytest.mark.parametrize(
    ("source", "line", "words"),
    [
        (MARKDOWN.replace("required\n---", "escalate\n---"), 13, "tool_choice"),
        (
            CHAT.replace("function: {name: escalate}", "function: {name: nope}"),
            9,
            "'nope', which is not",
        ),
        (CHAT.replace("name: escalate\ntool", "name: refund\ntool"), 8, "two tools are named"),
        (CHAT.replace("{type: number}", "{type: numbr}"), 5, "not a valid JSON Schema"),
        (CHAT.replace("name: refund", "name: re fund"), 4, "name"),
        (CHAT.replace("      name: refund\n", "      name: refund\n      descripton: x\n"), 5, ""),
    ],
)
def test_bad_tool_definitions_name_file_and_line(source, line, words):
    path = "agent.md" if source.startswith("---") else "agent.yaml"
    with pytest.raises(UserError) as caught:
        parse_prompt(source, path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}:"), message
    assert words in message
    assert "\n" not in message


def test_tool_choice_without_tools_is_refused():
    with pytest.raises(UserError, match="tool_choice is set but no tools are declared"):
        parse_prompt("---\ntool_choice: auto\n---\nhi\n", "p.md")
