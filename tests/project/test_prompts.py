from __future__ import annotations

from pathlib import Path

import pytest

from promptloop.errors import UserError
from promptloop.models.base import Message
from promptloop.project.prompts import load_prompt, parse_prompt, template_variables
from promptloop.project.rendering import render_prompt

CHAT = """\
# A chat prompt whose content lines we know by heart.
model: gpt-x
temperature: 0.3
messages:
  - role: system
    content: |
      You write taglines.
      Never use exclamation marks.
  - role: user
    content: "Product: {{ product }}"
  - role: assistant
    content: >
      A first try
      for {{ product }}.
  - role: user
    content: |-
      Shorter, in {{ words }} words.
"""


def error_of(text: str, path: str) -> str:
    with pytest.raises(UserError) as info:
        parse_prompt(text, path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_text_prompt_is_one_user_message_with_its_lines() -> None:
    prompt = parse_prompt("\n\nWrite a tagline for {{ product }}.\nBe brief.\n\n", "t.md")
    (message,) = prompt.messages
    assert message.role == "user"
    assert message.template == "Write a tagline for {{ product }}.\nBe brief."
    assert (message.start_line, message.end_line) == (3, 4)
    assert prompt.variables == {"product"}
    assert prompt.settings.model is None


def test_front_matter_sets_settings_and_offsets_lines() -> None:
    source = (
        "---\nmodel: m\ntemperature: 0.5\nmax_tokens: 20\nrole: system\n"
        "description: d\n---\n\nLine A {{ x }}\nLine B\n"
    )
    prompt = parse_prompt(source, "t.md")
    assert prompt.settings.model == "m"
    assert prompt.settings.temperature == 0.5 and prompt.settings.max_tokens == 20
    assert prompt.source == source
    (message,) = prompt.messages
    assert message.role == "system"
    lines = source.splitlines()
    assert lines[message.start_line - 1] == "Line A {{ x }}"
    assert lines[message.end_line - 1] == "Line B"


def test_unknown_front_matter_key_names_its_line() -> None:
    assert error_of("---\nmodel: m\ntemprature: 1\n---\nhi\n", "p/t.md") == (
        "p/t.md:3: temprature: unknown key 'temprature' — did you mean 'temperature'?"
    )


def test_front_matter_bad_value_and_unclosed() -> None:
    assert error_of("---\nrole: assistant\n---\nhi\n", "t.md").startswith(
        "t.md:2: role: Input should be 'system' or 'user'"
    )
    assert error_of("---\nmodel: m\nhi\n", "t.md") == (
        "t.md:1: front matter opened with '---' is never closed by a '---' line"
    )


def test_empty_prompt_is_an_error() -> None:
    assert error_of("---\nmodel: m\n---\n\n  \n", "t.md") == "t.md:4: prompt is empty"


def test_template_syntax_error_line_counts_front_matter() -> None:
    message = error_of("---\nmodel: m\n---\nok\nstill ok\n{{ broken\n", "t.md")
    assert message.startswith("t.md:6: template error:")


def test_chat_prompt_messages_and_line_map() -> None:
    prompt = parse_prompt(CHAT, "prompts/chat.yaml")
    assert [m.role for m in prompt.messages] == ["system", "user", "assistant", "user"]
    assert [(m.start_line, m.end_line) for m in prompt.messages] == [
        (7, 8),
        (10, 10),
        (13, 14),
        (17, 17),
    ]
    lines = CHAT.splitlines()
    assert lines[6].strip() == "You write taglines."
    assert lines[16].strip() == "Shorter, in {{ words }} words."
    assert prompt.messages[0].template == "You write taglines.\nNever use exclamation marks.\n"
    assert prompt.variables == {"product", "words"}
    assert prompt.settings.model == "gpt-x" and prompt.settings.temperature == 0.3

    rendered = render_prompt(prompt, {"product": "Acme", "words": 5})
    assert rendered.messages[1] == Message("user", "Product: Acme")
    assert rendered.messages[2].content == "A first try for Acme.\n"
    assert rendered.messages[3].content == "Shorter, in 5 words."
    assert rendered.line_spans == ((7, 8), (10, 10), (13, 14), (17, 17))
    assert "[system]\nYou write taglines." in rendered.text


def test_chat_prompt_as_bare_list_and_json() -> None:
    listed = parse_prompt("- role: user\n  content: hi {{ a }}\n", "c.yml")
    assert [(m.role, m.template, m.start_line) for m in listed.messages] == [
        ("user", "hi {{ a }}", 2)
    ]
    as_json = parse_prompt(
        '[\n  {"role": "system", "content": "s"},\n  {"role": "user", "content": "{{ q }}"}\n]',
        "c.json",
    )
    assert [m.start_line for m in as_json.messages] == [2, 3]
    assert as_json.variables == {"q"}


def test_chat_prompt_errors_name_line_and_key() -> None:
    assert error_of("- role: usr\n  content: hi\n", "c.yml").startswith(
        "c.yml:1: [0].role: Input should be 'system', 'user' or 'assistant', got 'usr'"
    )
    assert error_of("messages:\n  - role: user\n    contnt: hi\n", "c.yaml").startswith(
        "c.yaml:3: messages[0].contnt: unknown key 'contnt' — did you mean 'content'?"
    )
    assert error_of("messages: []\n", "c.yaml").startswith("c.yaml:1: messages:")
    assert error_of("just text\n", "c.yaml").startswith("c.yaml:1: a chat prompt must be")
    assert error_of('[{"role": "user",\n "content": 1', "c.json").startswith(
        "c.json:2: invalid JSON:"
    )


def test_chat_template_error_maps_to_the_block_line() -> None:
    source = "- role: system\n  content: hi\n- role: user\n  content: |\n    fine\n    {{ x }\n"
    assert error_of(source, "c.yaml").startswith("c.yaml:6: template error:")


def test_template_error_line_never_points_past_the_message() -> None:
    # Jinja reports an unclosed block after the last line; clamp to the message's end.
    message = error_of("one\n{% if x %}two\n", "t.md")
    assert message.startswith("t.md:2: template error:")


def test_template_variables_parses_like_parse_prompt() -> None:
    assert template_variables("Use {{ a }} and {{ b|upper }}") == {"a", "b"}
    assert template_variables("- role: user\n  content: '{{ z }}'\n", "x.yaml") == {"z"}
    with pytest.raises(UserError):
        template_variables("{{ unclosed")


def test_with_source_reparses_with_the_same_path() -> None:
    prompt = parse_prompt("---\nrole: system\n---\nA {{ x }}\n", "t.md")
    candidate = prompt.with_source("---\nrole: system\n---\nB\n{{ x }} {{ y }}\n")
    assert candidate.path == "t.md" and candidate.variables == {"x", "y"}
    assert (candidate.messages[0].start_line, candidate.messages[0].end_line) == (4, 5)


def test_load_prompt_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError) as info:
        load_prompt(tmp_path / "nope.md", "prompts/nope.md")
    assert str(info.value) == "prompts/nope.md: prompt file not found"
    binary = tmp_path / "logo.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    with pytest.raises(UserError) as info:
        load_prompt(binary, "prompts/logo.png")
    assert str(info.value) == "prompts/logo.png: prompt file is not a text file"
    latin = tmp_path / "latin.md"
    latin.write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(UserError, match="is not a text file"):
        load_prompt(latin)


def test_load_prompt_reads_utf8_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "t.md"
    path.write_bytes("\ufeffCafé {{ x }}\n".encode())
    prompt = load_prompt(path, "t.md")
    assert prompt.messages[0].template == "Café {{ x }}"
    assert prompt.path == "t.md"
