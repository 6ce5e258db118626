"""A prompt written inside a larger file is revised in place: the file stays valid YAML (or
keeps its other ``---`` prompts), and only the prompt's own lines change."""

from __future__ import annotations

import pytest
import yaml

from promptloop.project.promptfoo.hosts import section_hosts, split_sections, yaml_host
from promptloop.yamlpos import yaml_node

CONFIG = """\
description: hosts
prompts:
  - 'Convert to {{language}}: {{input}}'  # the first
  - "Say \\"hi\\" to {{name}}"
  - plain prompt for {{name}}
  - |
    Translate to {{language}}:
    {{input}}

  - raw: >
      Folded {{x}}
      text
    label: folded
providers: [openai:gpt-4.1]
"""


def host(loc: tuple[str | int, ...]):  # type: ignore[no-untyped-def]
    return yaml_host(CONFIG, "c.yaml", yaml_node(CONFIG, "c.yaml"), loc)


@pytest.mark.parametrize(
    ("loc", "lines"),
    [(("prompts", 0), (3, 3)), (("prompts", 3), (7, 8)), (("prompts", 4, "raw"), (11, 12))],
)
def test_a_yaml_prompt_knows_its_lines(loc: tuple[str | int, ...], lines: tuple[int, int]) -> None:
    found = host(loc)
    assert (found.start_line, found.end_line) == lines


@pytest.mark.parametrize("index", [0, 1, 2, 3, (4, "raw")])
@pytest.mark.parametrize(
    "text",
    [
        "It's {{ language }}: {{ input }}",
        "Quotes \" and ' and # hash: colon",
        "Two lines\nfor {{ name }}\n",
        "Two lines, no final newline\nfor {{ name }}",
        "  starts with spaces\nthen more",
        "- looks like a list\n- still text\n",
    ],
)
def test_a_revision_written_back_keeps_the_yaml_valid_and_the_rest_unchanged(
    index: int | tuple[int, str], text: str
) -> None:
    loc = ("prompts", *index) if isinstance(index, tuple) else ("prompts", index)
    found = host(loc)
    revised = found.embed(text)
    data = yaml.safe_load(revised)
    value = data["prompts"][loc[1]]
    value = value["raw"] if isinstance(value, dict) else value
    if "\n" in text.rstrip("\n") or found.start_line != found.end_line:
        assert value.rstrip("\n") == text.rstrip("\n")
    else:
        assert value == text
    before = yaml.safe_load(CONFIG)
    assert data["providers"] == before["providers"] and data["description"] == before["description"]
    others = [p for i, p in enumerate(data["prompts"]) if i != loc[1]]
    assert others == [p for i, p in enumerate(before["prompts"]) if i != loc[1]]
    # The same prompt is found again in the revised file (the next pull request's base).
    assert (found.find_in(revised) or "").rstrip("\n") == text.rstrip("\n")


def test_a_one_line_revision_changes_one_line() -> None:
    revised = host(("prompts", 0)).embed("Into {{language}}: {{input}}")
    changed = [
        (a, b) for a, b in zip(CONFIG.splitlines(), revised.splitlines(), strict=True) if a != b
    ]
    assert changed == [
        (
            "  - 'Convert to {{language}}: {{input}}'  # the first",
            "  - 'Into {{language}}: {{input}}'  # the first",
        )
    ]


def test_a_block_revision_changes_only_its_lines() -> None:
    revised = host(("prompts", 3)).embed("Translate into {{language}}:\n{{input}}\n")
    old, new = CONFIG.splitlines(), revised.splitlines()
    assert len(old) == len(new)
    assert [i + 1 for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b] == [7]


TEXT = "First {{ a }}\nmore\n---\n\n  Second {{ b }}  \n\n---\n---\nThird\n"


def test_text_prompts_split_like_promptfoo() -> None:
    assert [(s.text, s.start_line, s.end_line) for s in split_sections(TEXT)] == [
        ("First {{ a }}\nmore", 1, 2),
        ("Second {{ b }}", 5, 5),
        ("Third", 9, 9),
    ]


def test_a_section_revision_replaces_its_lines_and_keeps_the_others() -> None:
    (_, first), (_, second), (_, third) = section_hosts(TEXT)
    revised = second.embed("Second, better {{ b }}\nand longer")
    assert [s.text for s in split_sections(revised)] == [
        "First {{ a }}\nmore",
        "Second, better {{ b }}\nand longer",
        "Third",
    ]
    assert third.find_in(revised) == "Third" and first.find_in("One\n") == "One"
    assert second.find_in("only one prompt") is None
