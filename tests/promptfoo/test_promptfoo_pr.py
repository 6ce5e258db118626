"""A pull request that edits an inline prompt in promptfooconfig.yaml: promptloop runs base
and head from the promptfoo config as it is, critiques the failing cases on the prompt's
own lines of the YAML, and suggests the learned revision on exactly those lines, the
YAML staying valid. The real PyGithub client, the fake GitHub and the OpenAI-compatible
stub on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from promptloop.engine.results import read_results
from promptloop.project.loader import load_project
from tests.commands.test_ci_github import NAMES, REPO, Scenario, gh, scenario
from tests.support import load_stub

__all__ = ["gh", "scenario"]

PROMPT_HEAD = "Use exclamation marks to sound excited."
PROMPT_BASE = "Be warm and calm."
FIXED = "Never use any exclamation marks; sound calm."


def config(line: str) -> str:
    tests = "".join(
        f"  - vars: {{name: {name}}}\n"
        "    assert:\n"
        "      - type: not-contains\n"
        "        value: '!'\n"
        "      - type: icontains\n"
        "        value: '{{ name }}'\n"
        for name in NAMES
    )
    return (
        "# yaml-language-server: $schema=https://promptfoo.dev/config-schema.json\n"
        "description: Greetings\n"
        "prompts:\n"
        "  - |\n"
        "    You write a one-line greeting for {{ name }}.\n"
        f"    {line}\n"
        "    Reply with the greeting only.\n"
        "providers:\n"
        "  - id: openai:chat:gpt-4o-mini\n"
        "    config:\n"
        "      temperature: 0\n"
        "tests:\n" + tests
    )


@pytest.fixture
def stub() -> Iterator[Any]:
    module = load_stub()
    server = module.StubServer(module.StubConfig())
    server.start()
    # The stub expands its answers as regex templates: \\n is a newline there.
    revision = (
        "You write a one-line greeting for {{ name }}.\\n"
        f"{FIXED}\\nReply with the greeting only.\\n"
    )
    server.configure(
        answer_rules=(
            (
                r"<prompt>",
                f"<rationale>No exclamation marks.</rationale>\n<prompt>\n{revision}</prompt>",
            ),
            (r"greeting for (\w+)\.[\s\S]*Use exclamation", r"Hello \1!"),
            (r"greeting for (\w+)\.", r"Hello \1."),
        )
    )
    yield server
    server.stop()


def test_an_inline_prompt_in_promptfooconfig_gets_critiques_and_a_suggestion_on_its_lines(
    scenario: Scenario,
    stub: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    gh = scenario.gh
    scenario.base = {"promptfooconfig.yaml": config(PROMPT_BASE), "README.md": "# prompts\n"}
    scenario.open_pull({"promptfooconfig.yaml": config(PROMPT_HEAD)})

    res = scenario.run(capsys, suggest="suggestion", env={"OPENAI_BASE_URL": stub.base_url})

    assert res.code == 1, res.stdout + res.stderr
    assert res.outputs["verdict"] == "fail"
    results = read_results(Path(res.outputs["results-path"]))
    [head], [base] = results.suites, results.baseline
    assert head.prompt_path == "promptfooconfig.yaml"
    assert [c.status for c in head.cases] == ["fail"] * 20
    assert [c.status for c in base.cases] == ["pass"] * 20

    comments = gh.review_comments(REPO, 7)
    assert comments and all(c["path"] == "promptfooconfig.yaml" for c in comments)
    # Every comment sits on the prompt's lines in the YAML (5-7), none elsewhere in it.
    assert all(5 <= c["line"] <= 7 for c in comments), [c["line"] for c in comments]
    # The critique of the failing assertion, and the learned revision as a suggestion that
    # replaces the changed line, indented as the block scalar needs.
    [suggestion] = [c for c in comments if "```suggestion" in c["body"]]
    assert suggestion["line"] == 6 and suggestion.get("start_line") in (None, 6)
    assert f"```suggestion\n    {FIXED}\n```" in suggestion["body"]
    critique = "\n".join(c["body"] for c in comments)
    assert "`not-contains`" in critique and "20 of 20 cases" in critique
    # Applied, the suggestion leaves a promptfoo config that still parses, with the fix.
    head_text = gh.file_at(REPO, "feature", "promptfooconfig.yaml")
    lines = head_text.splitlines()
    lines[5] = f"    {FIXED}"
    applied = yaml.safe_load("\n".join(lines) + "\n")
    assert applied["prompts"][0].splitlines()[1] == FIXED
    assert len(applied["tests"]) == 20


def test_a_run_over_a_promptfoo_directory_needs_no_promptloop_yaml(
    tmp_path: Path, stub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from promptloop.cli import cli

    monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    project = tmp_path / "evals"
    project.mkdir()
    (project / "promptfooconfig.yaml").write_text(config(PROMPT_HEAD), encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", "--dir", str(project), "-o", str(out), "-q"])
    # A failing test fails the run, as it fails `promptfoo eval` (exit 100 there).
    assert result.exit_code == 1, result.output
    assert "not-contains" in result.output and "Hello Ada!" in result.output
    data = json.loads((out / "results.json").read_text())
    [suite] = data["suites"]
    assert suite["name"] == "prompt-1"
    assert [c["status"] for c in suite["cases"]] == ["fail"] * 20

    # A reviewer's verdict on one case goes to the feedback file beside the config, and the
    # next load reads it: the reviewers' road works on a promptfoo config too.
    case_id = suite["cases"][0]["id"]
    added = CliRunner().invoke(
        cli,
        [
            "feedback",
            "add",
            "prompt-1",
            case_id,
            "bad",
            "too excited",
            "--config",
            str(project / "promptfooconfig.yaml"),
            "--results",
            str(out / "results.json"),
        ],
    )
    assert added.exit_code == 0, added.output
    assert (project / "promptfooconfig.feedback.jsonl").is_file()
    [plan] = load_project(project / "promptfooconfig.yaml").plans
    assert [(r.case, r.verdict) for r in plan.feedback] == [(case_id, "bad")]


def test_a_reviewers_command_on_a_promptfoo_case_is_recorded_beside_the_config(
    scenario: Scenario, stub: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.commands.test_pr_commands import run_comment, say

    monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    gh = scenario.gh
    gh.add_collaborator(REPO, "dana", "write")
    scenario.base = {"promptfooconfig.yaml": config(PROMPT_BASE), "README.md": "# prompts\n"}
    scenario.open_pull({"promptfooconfig.yaml": config(PROMPT_HEAD)})
    local = tmp_path / "promptfooconfig.yaml"
    local.write_text(config(PROMPT_HEAD), encoding="utf-8")
    # promptfoo tests have no ids: a case is named by the hash of what it is.
    case_id = load_project(local).plans[0].cases[1].id

    comment = say(scenario, "dana", f"/promptloop bad {case_id}: shouting at Brook\n")
    assert run_comment(scenario, comment, extra_env={"OPENAI_BASE_URL": stub.base_url}) == 0
    recorded = gh.file_at(REPO, "feature", "promptfooconfig.feedback.jsonl") or ""
    [line] = [json.loads(x) for x in recorded.splitlines() if x.strip()]
    assert (line["case"], line["verdict"], line["by"]) == (case_id, "bad", "dana")
    assert line["note"] == "shouting at Brook"
    # The config itself is untouched by the verdict.
    assert gh.file_at(REPO, "feature", "promptfooconfig.yaml") == config(PROMPT_HEAD)
