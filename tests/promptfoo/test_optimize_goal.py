"""The optimizer aims at what each promptfoo test checks: its goal names the assertions of
the cases it learns from (train), and none of the held-out cases'."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from promptloop.cli import cli


def test_the_goal_names_each_learning_cases_own_checks(
    tmp_path: Path, stub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    tests = "".join(
        f"  - vars: {{q: q{i}}}\n    assert:\n      - type: icontains\n        value: word{i}\n"
        for i in range(12)
    )
    config = tmp_path / "promptfooconfig.yaml"
    config.write_text(
        "prompts: ['Answer {{ q }}']\nproviders: [openai:gpt-4.1]\ntests:\n" + tests,
        encoding="utf-8",
    )
    monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["optimize", "--dir", str(tmp_path), "--no-cache"])
    assert result.exit_code == 0, result.output
    asked = [
        "\n".join(m["content"] for m in b["messages"])
        for b in stub.bodies
        if any("The goal" in str(m.get("content")) for m in b["messages"])
    ]
    assert asked, "the optimizer was never asked"
    goal, examples = asked[0].split("Current prompt:", 1)
    named = set(re.findall(r"icontains 'word(\d+)'", goal))
    # the stub echoes, so every train case fails and is shown as an example
    shown = set(re.findall(r"q: q(\d+)", examples))
    assert shown and shown <= named
    # as many as the cases it learns from, not the 12: the held-out checks stay held out
    train = re.search(r"(\d+) to learn from \(train\)", " ".join(result.output.split()))
    assert train is not None, result.output
    assert len(named) == int(train.group(1)) < 12
    assert f"each case's own checks ({len(named)} cases to learn from)" in goal


def test_the_case_checks_in_the_goal_are_bounded() -> None:
    from promptloop.evaluators.promptfoo import build_assertion
    from promptloop.optimize.goal import CASE_CHECK_LINES, GOAL_CHARS, describe_goal

    def check(value: str) -> Any:
        return build_assertion({"type": "contains", "value": value}, base_dir=Path(), where="x:1")

    cases = [[check(f"w{i} " + "long " * 200)] for i in range(30)] + [[check("same")]] * 3
    goal = describe_goal([], cases).splitlines()
    assert goal[0] == "- each case's own checks (33 cases to learn from):"
    assert goal[1] == "    - contains 'same' (3 cases)"
    assert len(goal) == 1 + CASE_CHECK_LINES + 1 and goal[-1] == "    - and 19 other checks"
    assert all(len(line) <= GOAL_CHARS + 20 for line in goal)
