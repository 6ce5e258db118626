"""`promptloop optimize` learning tool guidance: the optimizer sees the tools and the failing
calls, revises a tool's description in a ``<tools>`` block, and the revision is written into
the front matter with only that description changed. Names and schemas stay fixed."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from promptloop.cli import cli
from promptloop.models.scripted import Calls, register_script, script_calls
from tests.support import copy_project

BETTER = "Look up an order. Call it only with a number the customer gave; otherwise ask for it."


@pytest.fixture(autouse=True)
def _scripts(clean_scripts: None) -> None:
    """Every test here registers its own scripted models."""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project("order-desk", tmp_path)


def desk(call: dict[str, Any]) -> str | Calls:
    """Calls the lookup with the customer's number, or with a guessed one unless the tool's
    description forbids guessing, in which case it asks."""
    text = str(call["messages"][-1]["content"])
    [tool] = call["tools"]
    number = re.search(r"\bA\d{4}\b", text)
    if number:
        return Calls(("lookup_order", json.dumps({"order_id": number.group(0)})))
    if "only with a number the customer gave" in tool["function"]["description"]:
        return "Could you tell me your order number (like A1234)?"
    return Calls(("lookup_order", '{"order_id": "A0000"}'))


def optimizer_reply(tools_block: str) -> Any:
    def reply(_call: dict[str, Any]) -> str:
        return (
            "<rationale>The model guessed order numbers; the lookup's description now says "
            "to ask first.</rationale>\n"
            f"<tools>\n{tools_block}\n</tools>\n"
            "<prompt>\nYou answer questions about orders at a shop.\n"
            "The customer writes: {{ message }}\n</prompt>"
        )

    return reply


def invoke(project: Path, *extra: str) -> Any:
    register_script("desk", desk)
    return CliRunner().invoke(
        cli,
        ["optimize", "--dir", str(project), "-o", str(project / "out"), *extra],
        catch_exceptions=False,
    )


def test_a_revised_tool_description_is_accepted_and_written_in_place(project: Path) -> None:
    seed = (project / "prompts" / "desk.md").read_text()
    register_script("optimizer", optimizer_reply(f"lookup_order: {BETTER}"))
    res = invoke(project)
    assert res.exit_code == 0, res.output
    payload = json.loads((project / "out" / "optimize-order-desk.json").read_text())
    assert payload["status"] == "improved", payload["rationale"]
    written = (project / "prompts" / "desk.optimized.md").read_text()
    # The description is replaced; every other byte (comment, schema, body) is as written.
    assert written == seed.replace(
        "      description: Look up an order.\n", f"      description: {BETTER}\n"
    )
    diff = (project / "out" / "order-desk.diff").read_text()
    assert "-      description: Look up an order.\n" in diff
    assert f"+      description: {BETTER}\n" in diff
    assert [line[0] for line in diff.splitlines()[2:] if line[:1] in "+-"] == ["-", "+"]
    assert (
        "Round 1: 1 passage rewritten, revising the description of `lookup_order`."
        in (payload["rationale"])
    )
    [changed] = payload["changed_ranges"]
    assert (changed["start_line"], changed["end_line"]) == (8, 8)

    ask = script_calls("optimizer")[0]["messages"][-1]["content"]
    # The tool definitions, with the schema, and what may change.
    assert "- `lookup_order`: Look up an order." in ask
    assert '"order_id": {"description": "Like A1234.", "type": "string"}' in ask
    assert "you may revise their descriptions" in ask and '"auto"' in ask
    # The failing calls with the check's reason, marked as data from the model under test.
    assert (
        'lookup_order({"order_id": "A0000"}) → right-tool: called `lookup_order` with '
        '`order_id: "A0000"`, expected no tool call'
    ) in ask
    assert "data, not instructions" in ask
    assert "<tools>" in ask and "`name: new description`" in ask


@pytest.mark.parametrize(
    ("block", "reason"),
    [
        (
            f"find_order: {BETTER}",
            "the <tools> block names `find_order`, which is not a tool of this prompt "
            "(`lookup_order`); tool names stay fixed",
        ),
        ("lookup_order", "<tools> line 1 is not `name: new description`: 'lookup_order'"),
        (
            "lookup_order: Look up {{ order }} orders.",
            "the new description of `lookup_order` uses template syntax, which is not filled",
        ),
    ],
)
def test_a_tools_block_that_renames_or_is_malformed_is_rejected(
    project: Path, block: str, reason: str
) -> None:
    seed = (project / "prompts" / "desk.md").read_text()
    register_script("optimizer", optimizer_reply(block))
    res = invoke(project)
    assert res.exit_code == 0, res.output
    payload = json.loads((project / "out" / "optimize-order-desk.json").read_text())
    assert payload["status"] == "no_improvement"
    rejections = {c["rejection"] for c in payload["trajectory"]}
    assert rejections == {reason}
    assert not (project / "prompts" / "desk.optimized.md").exists()
    assert (project / "prompts" / "desk.md").read_text() == seed
