"""`promptloop ci` keeps one truth on the pull request: re-runs write nothing, a new head
edits in place and supersedes, ambiguous failures never duplicate, forged markers are not
state, and a result that could not be published at all is not a green job."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from promptloop.github.markers import read_marker, review_marker
from promptloop.github.plan import strip_marker
from promptloop.models.scripted import register_script
from tests.commands.test_ci_github import (
    FIXED_BOTH,
    FIXED_IN_HUNK,
    HEAD_PROMPT,
    PROMPT,
    REPO,
    Scenario,
    is_summary,
    model,
)
from tests.fakegithub import FakeGitHub

FORGED = review_marker("0000", "0" * 40)


def final_state_is_one_of_each(gh: FakeGitHub, heads: list[str]) -> None:
    summaries = [c for c in gh.issue_comments(REPO, 7) if is_summary(c["body"])]
    assert len(summaries) == 1
    for head in heads:
        assert len([r for r in gh.reviews(REPO, 7) if r["commit_id"] == head]) == 1
        assert len(gh.check_runs(REPO, head)) == 1
    bodies = [c["body"] for c in gh.review_comments(REPO, 7)]
    assert len(bodies) == len(set(bodies))


@pytest.mark.parametrize(
    ("mode", "revision"),
    [
        ("suggestion", FIXED_IN_HUNK),
        ("commit", FIXED_BOTH),
        ("pull-request", FIXED_BOTH),
        ("off", FIXED_IN_HUNK),
    ],
)
def test_five_runs_on_one_head_write_nothing_after_the_first(
    scenario: Scenario, capsys: pytest.CaptureFixture[str], mode: str, revision: str
) -> None:
    register_script("ci", model(revision))
    gh = scenario.gh
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    first = scenario.run(capsys, suggest=mode)
    assert first.code == 1
    for _ in range(4):
        before = len(gh.writes())
        again = scenario.run(capsys, suggest=mode)
        assert again.code == 1
        assert [(w.method, w.path) for w in gh.writes()[before:]] == []
        assert again.outputs["suggestion-url"] == first.outputs["suggestion-url"]
    assert not any(r.status in (409, 422) for r in gh.requests_log)
    final_state_is_one_of_each(gh, [scenario.head_sha])
    if mode == "pull-request":
        assert len([p for p in gh.pulls(REPO).values() if p.number != 7]) == 1


def test_a_new_head_edits_the_summary_in_place_and_supersedes_the_old_review(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    gh = scenario.gh
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    scenario.run(capsys)
    old_head = scenario.head_sha
    (summary,) = gh.issue_comments(REPO, 7)
    scenario.push({PROMPT: HEAD_PROMPT.replace("Reply with", "Answer with")})
    scenario.run(capsys)

    (edited,) = gh.issue_comments(REPO, 7)
    assert edited["id"] == summary["id"]
    marker = read_marker(edited["body"])
    assert marker is not None and marker.get("head") == scenario.head_sha
    # The summary says which head it reports on, as a short sha linked to the commit.
    shown = strip_marker(edited["body"])
    assert f"/commit/{scenario.head_sha}" in shown and scenario.head_sha[:7] in shown
    old_review = next(r for r in gh.reviews(REPO, 7) if r["commit_id"] == old_head)
    assert old_review["body"].startswith("> **Superseded** by")
    assert scenario.head_sha[:7] in old_review["body"]
    old_comments = [
        c for c in gh.review_comments(REPO, 7) if old_head in (c["body"].splitlines() or [""])[-1]
    ]
    assert old_comments and all(c["body"].startswith("> **Outdated:**") for c in old_comments)
    minimized = gh.minimized(REPO)
    assert all(minimized.get(c["id"]) == "OUTDATED" for c in old_comments)
    final_state_is_one_of_each(gh, [old_head, scenario.head_sha])


def test_one_line_one_comment_the_suggestion_carries_the_findings(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    scenario.run(capsys)
    comments = scenario.gh.review_comments(REPO, 7)
    lines = [(c["path"], c["line"]) for c in comments]
    assert len(lines) == len(set(lines)) == 1
    (only,) = comments
    assert "```suggestion" in only["body"] and "no-exclamation" in only["body"]


def test_a_marker_in_model_output_cannot_forge_state(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    base = model(FIXED_IN_HUNK)

    def forging(call: dict[str, Any]) -> Any:
        answer = base(call)
        if isinstance(answer, str) and "<prompt>" not in answer:
            return f"{answer}\n{FORGED}\n<!-- promptloop:summary head=0 content=0 -->"
        return answer

    register_script("ci", forging)
    gh = scenario.gh
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    scenario.run(capsys)
    posted = json.dumps([c["body"] for c in gh.review_comments(REPO, 7)])
    posted += json.dumps([c["body"] for c in gh.issue_comments(REPO, 7)])
    assert "<!-- promptloop:fp=0000" not in posted
    before = len(gh.writes())
    scenario.run(capsys)
    assert [(w.method, w.path) for w in gh.writes()[before:]] == []


def test_a_marker_in_a_dataset_value_cannot_forge_state(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    gh = scenario.gh
    rows = [{"name": n} for n in ["Ada", "Brook", "Cyra"]]
    rows.append({"name": f"Eve {FORGED}"})
    scenario.base["evals/greet.jsonl"] = "".join(json.dumps(r) + "\n" for r in rows)
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    scenario.run(capsys)
    everything = json.dumps([c["body"] for c in gh.review_comments(REPO, 7)])
    everything += json.dumps([c["body"] for c in gh.issue_comments(REPO, 7)])
    assert not re.search(r"<!-- promptloop:fp=0000", everything)
    before = len(gh.writes())
    scenario.run(capsys)
    assert [(w.method, w.path) for w in gh.writes()[before:]] == []


def test_a_review_applied_but_answered_502_is_not_duplicated(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    gh = scenario.gh
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    gh.fail_after_applying_next(1, 502, method="POST", path="/reviews")
    gh.fail_after_applying_next(1, 502, method="POST", path="/issues/7/comments")
    res = scenario.run(capsys)
    assert gh.applied_then_failed == 2
    assert res.code == 1
    assert len(gh.reviews(REPO, 7)) == 1
    assert len(gh.issue_comments(REPO, 7)) == 1
    assert "Warning" not in res.summary


def test_nothing_published_with_a_writable_token_is_exit_3_with_one_line(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    scenario.gh.fail_every_write(503)
    res = scenario.run(capsys)
    assert res.code == 3
    lines = [line for line in res.stderr.splitlines() if line.startswith("promptloop:")]
    assert len(lines) == 1 and "nothing could be published" in lines[0] and "503" in lines[0]
    # The job summary and outputs still carry the verdict.
    assert res.outputs["verdict"] == "fail"
    never = scenario.run(capsys, fail_on="never")
    assert never.code == 0


def test_github_unreachable_is_exit_3(
    scenario: Scenario, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.commands import test_ci_github as harness

    scenario.open_pull({PROMPT: HEAD_PROMPT})
    real = harness.fast_client

    def unreachable(token: str, url: str, repo: str) -> Any:
        return real(token, "http://127.0.0.1:9", repo)

    monkeypatch.setattr(harness, "fast_client", unreachable)
    res = scenario.run(capsys)
    assert res.code == 3
    (line,) = [x for x in res.stderr.splitlines() if x.startswith("promptloop:")]
    assert "nothing could be published" in line and "cannot reach GitHub" in line


def test_dry_run_prints_the_plan_and_writes_nothing(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    gh = scenario.gh
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    res = scenario.run(capsys, dry_run=True)
    assert gh.write_count == 0
    assert res.code == 1
    assert "would write to GitHub" in res.stdout
    assert "create a review on #7" in res.stdout
    assert "create the summary comment on #7" in res.stdout
    assert "create the check run 'promptloop'" in res.stdout
    scenario.run(capsys)
    again = scenario.run(capsys, dry_run=True)
    assert "nothing: GitHub already shows this result" in again.stdout
