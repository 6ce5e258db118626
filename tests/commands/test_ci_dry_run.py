"""`promptloop ci --dry-run` writes nothing to GitHub on any event it handles, and prints
what it would have written: one test per event, counting the requests the fake GitHub saw."""

from __future__ import annotations

import json

import pytest

from promptloop.dataset.feedback import parse_feedback
from promptloop.models.scripted import register_script
from tests.commands.test_ci_github import (
    EVENTS,
    HEAD_PROMPT,
    PROMPT,
    REPO,
    Scenario,
    write_event,
)
from tests.commands.test_pr_commands import DATASET, FEEDBACK, NOTE, model, run_comment, say
from tests.fakegithub import FakeGitHub

PLAN = "promptloop ci --dry-run would write to GitHub:"


def writes(gh: FakeGitHub) -> list[str]:
    """Every request that is not a read, as the fake GitHub logged it."""
    return [f"{r.method} {r.path}" for r in gh.requests_log if r.method not in ("GET", "HEAD")]


def planned(stdout: str) -> list[str]:
    lines = stdout.split(PLAN, 1)[1].splitlines()
    return [line[2:] for line in lines if line.startswith("- ")]


@pytest.mark.parametrize("fixture", ["pull_request.opened", "pull_request.synchronize"])
def test_a_pull_request_event(
    scenario: Scenario, capsys: pytest.CaptureFixture[str], fixture: str
) -> None:
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    payload = json.loads((EVENTS / f"{fixture}.json").read_text())
    pr = payload["pull_request"]
    payload["number"] = pr["number"] = scenario.number
    pr["base"]["sha"], pr["base"]["ref"] = scenario.base_sha, "main"
    pr["head"]["sha"], pr["head"]["ref"] = scenario.head_sha, "feature"
    pr["base"]["repo"]["full_name"] = pr["head"]["repo"]["full_name"] = REPO
    payload["repository"]["full_name"] = REPO
    write_event(scenario, payload)
    res = scenario.run(capsys, dry_run=True)
    assert writes(scenario.gh) == []
    plan = planned(res.stdout)
    assert any(line.startswith("create a review on #7") for line in plan)
    assert "create the summary comment on #7" in plan
    assert any(line.startswith("create the check run 'promptloop'") for line in plan)


def test_a_push(scenario: Scenario, capsys: pytest.CaptureFixture[str]) -> None:
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    payload = {
        "ref": "refs/heads/feature",
        "before": scenario.base_sha,
        "after": scenario.head_sha,
        "repository": {"full_name": REPO},
    }
    write_event(scenario, payload)
    res = scenario.run(capsys, event_name="push", dry_run=True)
    assert writes(scenario.gh) == []
    [line] = planned(res.stdout)
    assert line.startswith(f"create the check run 'promptloop' on {scenario.head_sha[:7]}")


def test_a_workflow_dispatch(scenario: Scenario, capsys: pytest.CaptureFixture[str]) -> None:
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    write_event(
        scenario, {"ref": "refs/heads/feature", "inputs": {}, "repository": {"full_name": REPO}}
    )
    scenario.gh.add_pull(REPO, 8, "main", scenario.base_sha, "feature", "f" * 40)
    res = scenario.run(capsys, event_name="workflow_dispatch", dry_run=True)
    assert writes(scenario.gh) == []
    [line] = planned(res.stdout)
    assert line.startswith("create the check run 'promptloop' on fffffff")


@pytest.fixture
def commenting(scenario: Scenario) -> Scenario:
    register_script("ci", model)
    scenario.gh.add_collaborator(REPO, "dana", "write")
    scenario.gh.add_collaborator(REPO, "rita", "read")
    scenario.open_pull({PROMPT: HEAD_PROMPT, "evals/greet.jsonl": DATASET})
    return scenario


def test_an_issue_comment_with_verdicts_and_learn(
    commenting: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    gh = commenting.gh
    tip = gh.refs(REPO)["heads/feature"]
    comment = say(commenting, "dana", f"/promptloop bad c02-brook: {NOTE}\n/promptloop learn")
    logged = len(gh.requests_log)
    capsys.readouterr()
    assert run_comment(commenting, comment, dry_run=True) == 0
    out = capsys.readouterr().out
    assert writes(gh) == [] and len(gh.requests_log) > logged
    assert gh.refs(REPO)["heads/feature"] == tip and gh.reactions(REPO) == []
    plan = planned(out)
    assert f"commit {FEEDBACK} onto feature" in plan[0]
    # `learn` evaluates the head as it stands in a dry run: everything it would say.
    assert any(line.startswith("create a review on #7") for line in plan)
    assert any(line.startswith("create the check run 'promptloop'") for line in plan)
    assert f"react +1 to comment {comment['id']}" in plan
    assert any(line.startswith("reply on #7: Recorded 1 verdict") for line in plan)
    assert "promptloop: comment recorded" in out


def test_a_refused_issue_comment(commenting: Scenario, capsys: pytest.CaptureFixture[str]) -> None:
    comment = say(commenting, "rita", "/promptloop bad c02-brook: too loud")
    capsys.readouterr()
    assert run_comment(commenting, comment, dry_run=True) == 0
    assert writes(commenting.gh) == []
    plan = planned(capsys.readouterr().out)
    assert plan[0] == f"react -1 to comment {comment['id']}"
    assert plan[1].startswith("reply on #7: Sorry, rita")


def test_a_review_comment_in_a_thread(
    commenting: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    gh = commenting.gh
    commenting.run(capsys)  # a real run first: the finding the reviewer answers
    [inline, *_] = [c for c in gh.review_comments(REPO, 7) if c["user"]["type"] == "Bot"]
    reply = say(commenting, "dana", f"/promptloop bad c02-brook: {NOTE}", reply_to=inline["id"])
    before = writes(gh)
    capsys.readouterr()
    assert run_comment(commenting, reply, review=True, dry_run=True) == 0
    assert writes(gh) == before
    plan = planned(capsys.readouterr().out)
    assert f"commit {FEEDBACK} onto feature" in plan[0]
    assert f"react +1 to comment {reply['id']}" in plan
    assert any(
        line.startswith(f"reply on #7 in the thread of comment {inline['id']}: Recorded")
        for line in plan
    )
    # The verdict is in the checkout only; nothing reached the branch.
    assert gh.file_at(REPO, "feature", FEEDBACK) is None
    local = (commenting.repo / FEEDBACK).read_text()
    assert [r.case for r in parse_feedback(local, FEEDBACK)] == ["c02-brook"]
