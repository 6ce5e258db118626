"""`promptloop ci` with a budget, through the fake GitHub and the scripted model that records
every call: the run, its second look and the optimizer all spend from one budget, and the job
summary carries the forecast made before the first call."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptloop.models.scripted import script_calls
from tests.commands.test_ci_github import CONFIG, HEAD_PROMPT, PROMPT, REPO, Scenario


def with_config(scenario: Scenario, extra: str) -> None:
    scenario.base = {**scenario.base, "promptloop.yaml": CONFIG + extra}


def optimizer_calls() -> int:
    return sum(
        1
        for call in script_calls("ci")
        if "<prompt>" in "\n".join(str(m.get("content") or "") for m in call["messages"])
    )


def test_without_a_budget_the_optimizer_learns_a_revision(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    res = scenario.run(capsys)
    assert res.code == 1
    assert optimizer_calls() >= 1
    # 20 cases on base and head, then the optimizer's scoring and its own calls.
    assert len(script_calls("ci")) > 45
    assert "```suggestion" in json.dumps([c["body"] for c in scenario.gh.review_comments(REPO, 7)])
    assert "Forecast: 40 model calls (0 more answered by the cache, free)" in res.summary


def test_the_optimizer_spends_from_the_runs_budget(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    with_config(scenario, "budget: {max_calls: 45}\n")
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    res = scenario.run(capsys)
    # The run finished within the budget, so the gate decided on every case.
    assert res.code == 1 and res.outputs["verdict"] == "fail"
    assert len(script_calls("ci")) <= 45
    # Five calls were left: too few for a round, so the optimizer asked nothing.
    assert optimizer_calls() == 0
    assert "found no better prompt" in res.summary and "budget" in res.summary
    results = json.loads(Path(res.outputs["results-path"]).read_text())
    assert results["budget"]["max_calls"] == 45
    assert results["budget"]["spent_calls"] == len(script_calls("ci"))
    assert "Budget 45 calls: spent 40 calls" in res.summary
    assert "Forecast: 40 model calls" in res.summary


def test_a_budget_that_stops_the_run_fails_the_check_and_posts_what_finished(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    with_config(scenario, "budget: {max_calls: 30}\n")
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    res = scenario.run(capsys)
    assert res.code == 1
    assert len(script_calls("ci")) <= 30
    assert optimizer_calls() == 0
    runs = scenario.gh.check_runs(REPO, scenario.head_sha)
    # Not "cancelled": the run stopped at the user's own limit, and says so.
    assert len(runs) == 1 and runs[0]["conclusion"] == "failure"
    sticky = scenario.gh.issue_comments(REPO, 7)[0]["body"]
    assert "budget of 30 calls was reached" in sticky
    assert "cases did not run" in sticky


def test_the_command_lines_budget_overrides_the_configs(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    with_config(scenario, "budget: {max_calls: 1000}\n")
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    res = scenario.run(capsys, max_calls=30)
    assert res.code == 1
    assert len(script_calls("ci")) <= 30
    results = json.loads(Path(res.outputs["results-path"]).read_text())
    assert results["budget"]["max_calls"] == 30
    assert results["budget"]["refused"] is not None


def test_ci_takes_the_budget_options_run_takes() -> None:
    from click.testing import CliRunner

    from promptloop.cli import cli

    for command in ("run", "ci"):
        shown = CliRunner().invoke(cli, [command, "--help"], terminal_width=200).output
        assert "--max-usd" in shown and "--max-calls" in shown, command
