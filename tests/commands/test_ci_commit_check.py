"""`suggest: commit` pushes the learned revision onto the PR branch, and that commit becomes
the head. The workflow's token starts no run for it, so promptloop itself leaves a
`promptloop` check run there that says why it is waiting: a required check never sits at
"Expected" forever."""

from __future__ import annotations

import pytest

from promptloop.models.scripted import register_script
from tests.commands.test_ci_dry_run import planned, writes
from tests.commands.test_ci_github import (
    FIXED_BOTH,
    HEAD_PROMPT,
    PROMPT,
    REPO,
    Scenario,
    commit,
    model,
)

RUN_URL = "https://github.example/octo/prompts/actions/runs/99"


def committed(scenario: Scenario, capsys: pytest.CaptureFixture[str]) -> str:
    """A commit-mode run that pushes the revision; the new head's sha."""
    register_script("ci", model(FIXED_BOTH))
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    scenario.run(capsys, suggest="commit")
    new_head = scenario.gh.refs(REPO)["heads/feature"]
    assert new_head != scenario.head_sha
    assert scenario.gh.file_at(REPO, new_head, PROMPT) == FIXED_BOTH
    return new_head


def test_the_revision_commit_gets_a_check_run_that_says_why_it_waits(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    new_head = committed(scenario, capsys)

    [check] = scenario.gh.check_runs(REPO, head_sha=new_head)
    assert check["name"] == "promptloop"
    assert check["status"] == "completed" and check["conclusion"] == "action_required"
    assert check["output"]["title"] == "Not evaluated yet"
    summary = check["output"]["summary"]
    assert "promptloop pushed this learned revision" in summary
    assert "start no workflow" in summary
    assert "push any commit (or an empty one" in summary
    assert "token that starts workflows" in summary
    assert check["details_url"] == RUN_URL
    # The evaluated head keeps its own verdict.
    [verdict] = scenario.gh.check_runs(REPO, head_sha=scenario.head_sha)
    assert verdict["conclusion"] == "failure"
    # The summary's sentence says the same, briefly.
    sticky = scenario.gh.issue_comments(REPO, 7)[0]["body"]
    assert "push any commit to have it evaluated" in sticky


def test_dry_run_lists_the_check_run_and_writes_nothing(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    register_script("ci", model(FIXED_BOTH))
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    res = scenario.run(capsys, suggest="commit", dry_run=True)

    assert writes(scenario.gh) == []
    plan = planned(res.stdout)
    assert "commit the revision of prompts/greet.md onto feature" in plan
    assert "create the check run 'promptloop' on the revision commit (action_required)" in plan


def test_running_again_on_the_same_state_writes_nothing_new(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    new_head = committed(scenario, capsys)
    before = scenario.gh.check_runs(REPO)
    logged = len(scenario.gh.requests_log)

    scenario.run(capsys, suggest="commit")

    assert scenario.gh.refs(REPO)["heads/feature"] == new_head
    [waiting] = scenario.gh.check_runs(REPO, head_sha=new_head)
    assert waiting["conclusion"] == "action_required"
    assert scenario.gh.check_runs(REPO) == before
    again = [
        f"{r.method} {r.path}"
        for r in scenario.gh.requests_log[logged:]
        if r.method not in ("GET", "HEAD")
    ]
    assert not [w for w in again if "check-runs" in w or "/git/" in w or "contents" in w]


def test_a_later_run_on_the_new_head_turns_the_check_into_its_verdict(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    new_head = committed(scenario, capsys)
    [waiting] = scenario.gh.check_runs(REPO, head_sha=new_head)

    # Someone pushes (or a token that starts workflows does): a run on the new head.
    commit(scenario.repo, {PROMPT: FIXED_BOTH}, "the revision, checked out")
    scenario.head = {**scenario.head, PROMPT: FIXED_BOTH}
    scenario.head_sha = new_head
    pull = scenario.gh.pulls(REPO)[7]
    pull.head_sha = new_head
    scenario.run(capsys, suggest="commit")

    [verdict] = scenario.gh.check_runs(REPO, head_sha=new_head)
    assert verdict["id"] == waiting["id"]
    assert verdict["conclusion"] == "success"
    assert verdict["output"]["title"] != "Not evaluated yet"
    assert scenario.gh.refs(REPO)["heads/feature"] == new_head


def test_a_check_run_write_that_landed_unanswered_is_not_written_twice(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    # The waiting check run is the first check run written; GitHub applies it, then errs.
    scenario.gh.fail_after_applying_next(1, 502, method="POST", path="/check-runs")
    new_head = committed(scenario, capsys)

    [waiting] = scenario.gh.check_runs(REPO, head_sha=new_head)
    assert waiting["conclusion"] == "action_required"
    [verdict] = scenario.gh.check_runs(REPO, head_sha=scenario.head_sha)
    assert verdict["conclusion"] == "failure"


def test_a_check_run_write_that_failed_is_written_on_the_next_pass(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario.gh.fail_next(1, 502, method="POST", path="/check-runs")
    new_head = committed(scenario, capsys)

    [waiting] = scenario.gh.check_runs(REPO, head_sha=new_head)
    assert waiting["conclusion"] == "action_required"


def test_the_summary_does_not_claim_a_check_run_that_could_not_be_written(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario.gh.fail_next(3, 502, method="POST", path="/check-runs")
    new_head = committed(scenario, capsys)

    assert scenario.gh.check_runs(REPO, head_sha=new_head) == []
    sticky = scenario.gh.issue_comments(REPO, 7)[0]["body"]
    assert "so nothing evaluates it: push any commit to have it evaluated" in sticky
    assert "action required" not in sticky
    assert "Warning: could not create the check run 'promptloop'" in sticky
