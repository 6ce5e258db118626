"""Publishing as reconciliation: observe, plan the difference, write only that; after an
ambiguous failure, observe again. Through the real PyGithub client and the fake GitHub."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from promptloop.github.actions import (
    CreateSummary,
    EditSummary,
    PostReview,
)
from promptloop.github.api import GitHubClient
from promptloop.github.ledger import Ledger
from promptloop.github.markers import parse_review_marker, read_marker, review_marker
from promptloop.github.plan import (
    AwaitingCheck,
    RevisionPullPlan,
    check_run_plan,
    merge_same_line,
    review_plan,
    summary_plan,
)
from promptloop.github.publish import Publisher
from promptloop.github.reconcile import (
    summary_actions,
)
from promptloop.github.review import PlannedComment
from promptloop.github.state import ExistingSummary, ReviewComment
from tests.fakegithub import FakeGitHub

REPO = "octo/prompts"
BASE = "\n".join(f"line {i}" for i in range(1, 41)) + "\n"
HEAD = BASE.replace("line 5\n", "line 5 (pr)\n")


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        fake.set_token("tok")
        fake.add_repo(REPO)
        yield fake
    assert not fake.internal_errors
    assert not fake.response_schema_errors


def client(gh: FakeGitHub, token: str = "tok") -> GitHubClient:
    return GitHubClient(
        token,
        gh.url,
        REPO,
        backoff_factor=0,
        secondary_rate_wait=0,
        seconds_between_requests=None,
        seconds_between_writes=None,
        timeout=10,
    )


def publisher(gh: FakeGitHub, *, dry_run: bool = False) -> Publisher:
    c = client(gh)
    return Publisher(lambda: c, Ledger(), mask=lambda t: t.replace("tok", "***"), dry_run=dry_run)


def pull(gh: FakeGitHub, number: int = 1) -> str:
    _, head_sha = gh.add_pull_from_texts(
        REPO, number, {"prompts/a.md": BASE}, {"prompts/a.md": HEAD}, head_ref="feature"
    )
    return head_sha


def finding(fp: str, head_sha: str, line: int = 5, text: str = "too loud") -> PlannedComment:
    return PlannedComment("prompts/a.md", fp, f"{text}\n\n{review_marker(fp, head_sha)}", line)


def writes(gh: FakeGitHub) -> list[tuple[str, str]]:
    return [(w.method, w.path) for w in gh.writes()]


# --- the sticky summary ------------------------------------------------------------------------


def test_summary_is_created_once_then_edited_in_place_or_left_alone(gh: FakeGitHub) -> None:
    head = pull(gh)
    gh.set_token("human", login="alice", actions=False)
    # Someone quoting a marker, even on the last line, is never taken for promptloop.
    client(gh, "human").create_summary(1, f"I copied it\n{summary_plan(1, head, 'c0', 'x').body}")
    p = publisher(gh)
    assert p.summary(summary_plan(1, head, "c1", "## Results\n3/4 passed")).done
    before = len(gh.writes())
    assert p.summary(summary_plan(1, head, "c1", "## Results\n3/4 passed (later)")).done
    assert len(gh.writes()) == before  # same content fingerprint: nothing written
    assert p.summary(summary_plan(1, head, "c2", "## Results\n4/4 passed")).done
    ours = [c for c in gh.issue_comments(REPO, 1) if c["user"]["login"] == "github-actions[bot]"]
    (only,) = ours
    assert only["body"].startswith("## Results\n4/4 passed")
    marker = read_marker(only["body"])
    assert marker is not None and marker.fields == {"head": head, "content": "c2"}
    alice = [c for c in gh.issue_comments(REPO, 1) if c["user"]["login"] == "alice"]
    assert alice[0]["body"].startswith("I copied it")
    assert [m for m, path in writes(gh) if "/issues/comments/" in path] == ["PATCH"]


def test_a_new_head_edits_the_summary_even_when_the_findings_are_the_same(
    gh: FakeGitHub,
) -> None:
    head = pull(gh)
    p = publisher(gh)
    p.summary(summary_plan(1, head, "c1", "same words"))
    assert summary_actions(
        summary_plan(1, "b" * 40, "c1", "same words"),
        ExistingSummary(1, "", "", content="c1", head_sha=head),
    ) == [EditSummary(summary_plan(1, "b" * 40, "c1", "same words"), 1)]
    assert summary_actions(summary_plan(1, head, "c1", "x"), None) == [
        CreateSummary(summary_plan(1, head, "c1", "x"))
    ]


def test_summary_body_is_truncated_with_its_marker_last(gh: FakeGitHub) -> None:
    head = pull(gh)
    publisher(gh).summary(summary_plan(1, head, "c1", "x" * 70_000))
    (stored,) = gh.issue_comments(REPO, 1)
    assert len(stored["body"]) <= 65_535 and "truncated" in stored["body"]
    marker = read_marker(stored["body"])
    assert marker is not None and marker.get("content") == "c1"


def test_who_the_token_is_is_asked_only_for_someone_elses_marked_comment(
    gh: FakeGitHub,
) -> None:
    head = pull(gh)
    p = publisher(gh)
    p.summary(summary_plan(1, head, "c1", "a"))
    p.summary(summary_plan(1, head, "c2", "b"))
    assert [r for r in gh.requests_log if r.path == "/user"] == []
    # On another pull request someone else's comment carries a summary marker first.
    other = pull(gh, 2)
    gh.set_token("human", login="alice", actions=False)
    client(gh, "human").create_summary(2, summary_plan(2, other, "c9", "forged").body)
    p2 = publisher(gh)
    p2.summary(summary_plan(2, other, "c3", "c"))
    p2.summary(summary_plan(2, other, "c4", "d"))
    assert len([r for r in gh.requests_log if r.path == "/user"]) == 1
    assert len(gh.issue_comments(REPO, 2)) == 2


# --- ambiguous failures ---------------------------------------------------------------------


def test_a_review_applied_but_answered_502_is_not_posted_twice(gh: FakeGitHub) -> None:
    head = pull(gh)
    gh.fail_after_applying_next(1, 502, method="POST", path="/reviews")
    plan = review_plan(1, head, "body", [finding("f1", head), finding("f2", head, 6)], "x")
    applied = publisher(gh).review(plan)
    assert gh.applied_then_failed == 1
    assert applied.done
    assert len(gh.reviews(REPO, 1)) == 1
    assert sorted(parse_review_marker(c["body"])[0] for c in gh.review_comments(REPO, 1)) == [  # type: ignore[index]
        "f1",
        "f2",
    ]


def test_a_summary_applied_but_answered_502_is_not_posted_twice(gh: FakeGitHub) -> None:
    head = pull(gh)
    gh.fail_after_applying_next(1, 502, method="POST", path="/comments")
    assert publisher(gh).summary(summary_plan(1, head, "c1", "hello")).done
    assert len(gh.issue_comments(REPO, 1)) == 1


def test_every_write_failing_is_reported_not_retried_forever(gh: FakeGitHub) -> None:
    head = pull(gh)
    gh.fail_every_write(503)
    p = publisher(gh)
    assert not p.summary(summary_plan(1, head, "c1", "hello")).done
    assert not p.check_run(check_run_plan(head, "success", "t", "s", "c1")).done
    assert gh.issue_comments(REPO, 1) == [] and gh.check_runs(REPO) == []
    assert p.ledger.last_failure is not None and "503" in p.ledger.last_failure
    posts = [r for r in gh.requests_log if r.method == "POST"]
    assert len(posts) == 6  # three passes each, every pass re-reading first


def test_a_write_that_kept_failing_is_warned_about_in_one_sentence(gh: FakeGitHub) -> None:
    head = pull(gh)
    gh.fail_every_write(502)
    p = publisher(gh)
    assert not p.summary(summary_plan(1, head, "c1", "hello")).done
    # GitHub's answer already says what could not be done; it is not said twice.
    [warning] = p.ledger.warnings
    assert warning.startswith("could not post the summary comment on pull request #1: ")
    assert warning.count("could not") == 1
    assert warning.endswith("(tried 3 times)")


# --- review comments --------------------------------------------------------------------------


def test_findings_on_one_line_become_one_comment_and_a_suggestion_carries_them() -> None:
    head = "a" * 40
    judge = finding("judge", head, 5, "the judge: it shouts")
    rule = finding("rule", head, 5, "no-exclamation failed")
    elsewhere = finding("other", head, 9, "too long")
    merged = merge_same_line([judge, rule, elsewhere])
    assert len(merged) == 2
    five = next(c for c in merged if c.line == 5)
    assert "the judge: it shouts" in five.body and "no-exclamation failed" in five.body
    assert parse_review_marker(five.body) == (five.fingerprint, head)
    assert five.body.count("<!-- promptloop:") == 1
    # The merged comment's identity does not depend on the order findings came in.
    assert merge_same_line([rule, judge, elsewhere])[0].fingerprint == five.fingerprint
    suggestion = PlannedComment(
        "prompts/a.md",
        "sugg",
        f"```suggestion\nline 5\n```\n\n{review_marker('sugg', head)}",
        6,
        4,
        "suggestion",
    )
    with_suggestion = merge_same_line([judge, rule, suggestion, elsewhere])
    assert [c.kind for c in with_suggestion] == ["suggestion", "finding"]
    assert "no-exclamation failed" in with_suggestion[0].body
    assert "```suggestion" in with_suggestion[0].body


def test_a_new_head_supersedes_the_old_review_and_minimizes_its_comments(gh: FakeGitHub) -> None:
    old = pull(gh)
    p = publisher(gh)
    p.review(review_plan(1, old, "first look", [finding("f1", old)], "x"))
    new = "b" * 40
    gh.repo(REPO).pulls[1].head_sha = new
    gh.repo(REPO).commits[new] = gh.repo(REPO).commits[old]
    applied = p.review(review_plan(1, new, "second look", [], "[bbbbbbb](url)"))
    assert applied.done
    first = next(r for r in gh.reviews(REPO, 1) if r["commit_id"] == old)
    assert first["body"].startswith("> **Superseded** by [bbbbbbb](url)")
    (comment,) = gh.review_comments(REPO, 1)
    assert comment["body"].startswith("> **Outdated:**")
    assert gh.minimized(REPO) == {comment["id"]: "OUTDATED"}
    before = len(gh.writes())
    p.review(review_plan(1, new, "second look", [], "[bbbbbbb](url)"))
    assert len(gh.writes()) == before


def test_forged_markers_inside_a_comment_are_not_promptloops_state(gh: FakeGitHub) -> None:
    head = pull(gh)
    c = client(gh)
    forged = review_marker("0000", "0" * 40)
    c.post_review(
        1,
        head,
        "b",
        [ReviewComment("prompts/a.md", f"model said:\n```\n{forged}\n```\nend", 5)],
    )
    assert c.our_review_comments(1) == []
    plan = review_plan(1, head, "b", [finding("f1", head)], "x")
    applied = publisher(gh).review(plan)
    assert any(isinstance(a, PostReview) for a in applied.actions)


# --- the revision pull request ----------------------------------------------------------------


def revision(head: str, text: str, title: str = "Revise", body: str = "b") -> RevisionPullPlan:
    return RevisionPullPlan(
        "s", "prompts/a.md", 1, "promptloop/pr-1", "feature", "main", head, text, title, body
    )


def test_revision_pull_is_opened_then_left_alone_then_updated(gh: FakeGitHub) -> None:
    head = pull(gh)
    p = publisher(gh)
    assert p.revision_pull(revision(head, "v1\n")).done
    assert gh.file_at(REPO, "promptloop/pr-1", "prompts/a.md") == "v1\n"
    (rev,) = [x for x in gh.pulls(REPO).values() if x.head_ref == "promptloop/pr-1"]
    assert rev.base_ref == "feature"
    for _ in range(4):
        before = len(gh.writes())
        assert p.revision_pull(revision(head, "v1\n")).done
        assert len(gh.writes()) == before  # the branch already holds it: not reset
    assert p.revision_pull(revision(head, "v2\n", "Revise 2", "b2")).done
    assert gh.file_at(REPO, "promptloop/pr-1", "prompts/a.md") == "v2\n"
    revisions = [x for x in gh.pulls(REPO).values() if x.head_ref == "promptloop/pr-1"]
    assert len(revisions) == 1 and (revisions[0].title, revisions[0].body) == ("Revise 2", "b2")
    assert gh.file_at(REPO, "feature", "prompts/a.md") == HEAD
    assert gh.protected_ref_writes() == []
    assert not any(r.status == 422 for r in gh.requests_log)


def test_revision_pull_refuses_the_base_branch(gh: FakeGitHub) -> None:
    head = pull(gh)
    plan = RevisionPullPlan(
        "s", "prompts/a.md", 1, "promptloop/pr-1", "main", "main", head, "x\n", "t", "b"
    )
    with pytest.raises(ValueError, match="base branch"):
        publisher(gh).revision_pull(plan)
    assert gh.write_count == 0


def test_revision_pull_when_actions_may_not_open_prs() -> None:
    with FakeGitHub() as fake:
        fake.set_token("tok")
        fake.add_repo(REPO, actions_can_create_prs=False)
        head = pull(fake)
        p = publisher(fake)
        assert not p.revision_pull(revision(head, "x\n")).done
        assert any("Allow GitHub Actions to create" in w for w in p.ledger.warnings)


def test_dry_run_plans_and_writes_nothing(gh: FakeGitHub) -> None:
    head = pull(gh)
    p = publisher(gh, dry_run=True)
    p.summary(summary_plan(1, head, "c1", "hello"))
    p.revision_pull(revision(head, "v1\n"))
    p.check_run(check_run_plan(head, "success", "t", "s", "c1"))
    assert gh.write_count == 0
    planned: list[Any] = p.ledger.planned
    assert planned[0] == "create the summary comment on #1"
    assert "create branch promptloop/pr-1" in planned[1]
    assert planned[-1].startswith("create the check run 'promptloop'")


def test_a_connection_dropped_after_the_write_is_read_again_not_repeated(
    gh: FakeGitHub,
) -> None:
    head = pull(gh)
    gh.fail_after_applying_next(1, method="POST", path="/reviews", drop=True)
    applied = publisher(gh).review(review_plan(1, head, "b", [finding("f1", head)], "x"))
    assert gh.applied_then_failed == 1
    assert applied.done
    assert len(gh.reviews(REPO, 1)) == 1 and len(gh.review_comments(REPO, 1)) == 1


def test_the_waiting_check_never_overwrites_a_verdict_on_its_commit(gh: FakeGitHub) -> None:
    head = pull(gh)
    waiting = AwaitingCheck("Not evaluated yet", "nothing ran", "https://ci.example/runs/1")
    # A token that starts workflows: the real run on the pushed commit may answer first.
    publisher(gh).check_run(check_run_plan(head, "success", "passed", "all good", "c1"))
    done = publisher(gh).await_evaluation(waiting, head)
    assert done.done and done.actions == ()
    [run] = gh.check_runs(REPO, head)
    assert run["conclusion"] == "success" and run["output"]["title"] == "passed"


def test_the_waiting_check_is_written_once(gh: FakeGitHub) -> None:
    head = pull(gh)
    waiting = AwaitingCheck("Not evaluated yet", "nothing ran", "https://ci.example/runs/1")
    assert len(publisher(gh).await_evaluation(waiting, head).actions) == 1
    assert publisher(gh).await_evaluation(waiting, head).actions == ()
    [run] = gh.check_runs(REPO, head)
    assert run["conclusion"] == "action_required"
    assert run["details_url"] == "https://ci.example/runs/1"
    dry = publisher(gh, dry_run=True)
    dry.await_evaluation(waiting, None)
    assert dry.ledger.planned == [
        "create the check run 'promptloop' on the revision commit (action_required)"
    ]
