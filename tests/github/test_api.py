"""GitHubClient against the fake GitHub server, through the real PyGithub client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from promptloop.errors import InfraError
from promptloop.github import plan as plan_module
from promptloop.github.actions import (
    OutdateComment,
    WriteCheckRun,
)
from promptloop.github.api import GitHubClient
from promptloop.github.diff import parse_patch
from promptloop.github.markers import parse_review_marker, review_marker
from promptloop.github.outbound import post_placed
from promptloop.github.plan import check_run_plan, comment_problem, summary_plan
from promptloop.github.publish import Publisher
from promptloop.github.reconcile import (
    post_review,
)
from promptloop.github.state import PostedReview, PullFile, PullFiles, ReviewComment
from promptloop.github.suggestions import plan_suggestions
from promptloop.github.transport import ReadOnlyTokenError
from promptloop.github.workflow import Annotation
from tests.fakegithub import FakeGitHub

REPO = "octo/prompts"
BASE = "\n".join(f"line {i}" for i in range(1, 41)) + "\n"
HEAD = BASE.replace("line 5\nline 6\n", "line 5 (pr)\nline 6 (pr)\n").replace(
    "line 30\n", "line 30 (pr)\n"
)


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        fake.set_token("tok")
        fake.set_token("ro", "read")
        fake.add_repo(REPO)
        yield fake
    assert not getattr(fake, "internal_errors", [])


def client(gh: FakeGitHub, token: str = "tok", **kwargs: Any) -> GitHubClient:
    fast: dict[str, Any] = {
        "backoff_factor": 0,
        "secondary_rate_wait": 0,
        "seconds_between_requests": None,
        "seconds_between_writes": None,
        "timeout": 10,
    }
    fast.update(kwargs)
    return GitHubClient(token, gh.url, REPO, **fast)


def pull(gh: FakeGitHub, number: int = 1) -> str:
    _, head_sha = gh.add_pull_from_texts(
        REPO, number, {"prompts/a.md": BASE}, {"prompts/a.md": HEAD}, head_ref="feature"
    )
    return head_sha


def post(
    c: GitHubClient,
    number: int,
    head_sha: str,
    body: str,
    comments: list[ReviewComment],
    files: PullFiles | None = None,
) -> PostedReview:
    """A review as the publisher posts it: placed against the files when known, then
    anything GitHub still refuses moved into the body."""
    return post_placed(c, post_review(number, head_sha, body, comments, files))


def requests_to(gh: FakeGitHub, method: str, fragment: str) -> list[Any]:
    return [r for r in gh.requests_log if r.method == method and fragment in r.path]


# --- files ---------------------------------------------------------------------------------


def test_pull_files_paginates_and_keeps_renames_and_missing_patches(gh: FakeGitHub) -> None:
    files: list[dict[str, Any]] = [
        {"filename": f"f{i:03}.md", "status": "modified", "patch": "@@ -1 +1 @@\n-a\n+b"}
        for i in range(248)
    ]
    files.append({"filename": "img.png", "status": "added", "patch": None})
    files.append(
        {"filename": "new.md", "previous_filename": "old.md", "status": "renamed", "patch": None}
    )
    gh.add_pull(REPO, 7, "main", "b" * 40, "feature", "c" * 40, files=files)
    result = client(gh).pull_files(7)
    assert len(result.files) == 250
    assert not result.truncated
    assert [f.filename for f in result.files[:2]] == ["f000.md", "f001.md"]
    assert result.get("img.png") == PullFile("img.png", "added", None, sha=result.files[248].sha)
    renamed = result.get("new.md")
    assert renamed is not None and renamed.previous_filename == "old.md"
    assert result.get("f010.md") is not None
    pages = requests_to(gh, "GET", "/pulls/7/files")
    assert len(pages) == 3
    assert all("per_page=100" in r.query for r in pages)


def test_pull_files_reports_githubs_3000_file_cap(gh: FakeGitHub) -> None:
    files = [{"filename": f"f{i}.md", "patch": "@@ -1 +1 @@\n-a\n+b"} for i in range(3050)]
    gh.add_pull(REPO, 8, "main", "b" * 40, "feature", "c" * 40, files=files)
    result = client(gh).pull_files(8)
    assert len(result.files) == 3000
    assert result.truncated


# --- reviews -------------------------------------------------------------------------------


def apply_suggestion(text: str, comment: dict[str, Any]) -> str:
    """What GitHub does when a suggestion is accepted: replace start_line..line."""
    lines = text.splitlines()
    body_lines = comment["body"].split("\n")
    opening = next(i for i, ln in enumerate(body_lines) if ln.endswith("suggestion"))
    fence = body_lines[opening].removesuffix("suggestion")
    closing = body_lines.index(fence, opening + 1)
    first = comment["start_line"] or comment["line"]
    lines[first - 1 : comment["line"]] = body_lines[opening + 1 : closing]
    return "\n".join(lines) + "\n"


def test_review_with_suggestions_is_one_request_and_applies_cleanly(gh: FakeGitHub) -> None:
    head_sha = pull(gh)
    c = client(gh)
    files = c.pull_files(1)
    pf = files.get("prompts/a.md")
    assert pf is not None
    revised = HEAD.replace("line 5 (pr)\nline 6 (pr)\n", "line 5 ```better```\nline 6b\nline 6c\n")
    plan = plan_suggestions(HEAD, revised, parse_patch(pf.patch))
    assert plan.complete
    comments = [
        ReviewComment(
            "prompts/a.md",
            f"Try this.\n\n{s.body}\n{review_marker('fp1', head_sha)}",
            s.line,
            s.start_line,
        )
        for s in plan.suggestions
    ]
    writes_before = gh.write_count
    posted = post(c, 1, head_sha, "promptloop found 1 suggestion", comments, files=files)
    assert gh.write_count - writes_before == 1
    assert posted.moved_to_body == ()
    (review,) = gh.reviews(REPO, 1)
    assert review["id"] == posted.id
    assert review["state"] == "COMMENTED"
    assert review["commit_id"] == head_sha
    (stored,) = gh.review_comments(REPO, 1)
    assert (stored["start_line"], stored["line"], stored["side"]) == (5, 6, "RIGHT")
    assert "````suggestion" in stored["body"]
    assert apply_suggestion(HEAD, stored) == revised

    # Re-runs can recognise what was posted for this head.
    (existing,) = c.our_review_comments(1)
    assert (existing.fingerprint, existing.head_sha) == ("fp1", head_sha)
    assert existing.author == "github-actions[bot]"


def test_comment_outside_the_diff_moves_into_the_body_after_a_422(gh: FakeGitHub) -> None:
    head_sha = pull(gh)
    good = ReviewComment("prompts/a.md", "inline ok", 30)
    bad = ReviewComment("prompts/a.md", "line 20 is @alice's problem", 20)
    posted = post(client(gh), 1, head_sha, "summary", [good, bad])
    assert [r.status for r in requests_to(gh, "POST", "/pulls/1/reviews")] == [422, 200]
    assert posted.inline == (good,)
    assert posted.moved_to_body == (
        (bad, "Pull request review thread line must be part of the diff"),
    )
    (review,) = gh.reviews(REPO, 1)
    assert "line 20 is @alice's problem" in review["body"]
    assert "`prompts/a.md` line 20" in review["body"]
    assert [c["body"] for c in gh.review_comments(REPO, 1)] == ["inline ok"]


def test_unexplained_422_falls_back_to_everything_in_the_body(
    gh: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    head_sha = pull(gh)
    # Local validation misses the problem, so only GitHub's answer reveals it.
    monkeypatch.setattr(plan_module, "comment_problem", lambda c, f: None)
    comments = [ReviewComment("prompts/a.md", "x", 5), ReviewComment("prompts/a.md", "y", 21)]
    posted = post(client(gh), 1, head_sha, "summary", comments)
    assert posted.inline == ()
    assert [c for c, _ in posted.moved_to_body] == comments
    assert gh.review_comments(REPO, 1) == []
    (review,) = gh.reviews(REPO, 1)
    assert "\n\nx" in review["body"] and "\n\ny" in review["body"]


def test_comment_problem_uses_githubs_rules() -> None:
    patch = "@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n@@ -10,3 +10,3 @@\n j\n-k\n+K\n l"
    files = PullFiles((PullFile("p.md", "modified", patch),))
    assert comment_problem(ReviewComment("p.md", "", 2), files) is None
    assert comment_problem(ReviewComment("p.md", "", 3, 1), files) is None
    assert "part of the diff" in str(comment_problem(ReviewComment("p.md", "", 5), files))
    assert "same hunk" in str(comment_problem(ReviewComment("p.md", "", 11, 2), files))
    assert "precede" in str(comment_problem(ReviewComment("p.md", "", 2, 3), files))
    assert "path is invalid" in str(comment_problem(ReviewComment("q.md", "", 2), files))


def test_review_comment_payload_omits_equal_start_line() -> None:
    assert ReviewComment("p", "b", 4, 4).to_api() == {
        "path": "p",
        "body": "b",
        "line": 4,
        "side": "RIGHT",
    }
    assert ReviewComment("p", "b", 4, 2).to_api()["start_side"] == "RIGHT"


def test_mark_outdated_is_idempotent(gh: FakeGitHub) -> None:
    head_sha = pull(gh)
    c = client(gh)
    marker = review_marker("fp9", head_sha)
    c.post_review(1, head_sha, "s", [ReviewComment("prompts/a.md", f"old\n{marker}", 6)])
    (existing,) = c.our_review_comments(1)
    updated = c.mark_outdated(existing, OutdateComment(existing, "the review on abc123").body)
    assert updated.outdated
    writes = gh.write_count
    assert c.mark_outdated(updated, OutdateComment(updated, "again").body) is updated
    assert gh.write_count == writes
    (stored,) = gh.review_comments(REPO, 1)
    assert stored["body"].startswith("> **Outdated:** superseded by the review on abc123")
    assert parse_review_marker(stored["body"]) == ("fp9", head_sha)


# --- sticky comment ------------------------------------------------------------------------


# --- checks and statuses -------------------------------------------------------------------


def test_check_run_with_120_annotations_takes_three_requests(gh: FakeGitHub) -> None:
    head_sha = pull(gh)
    annotations = [
        Annotation("error" if i % 2 else "warning", f"case {i} failed", "prompts/a.md", i + 1)
        for i in range(120)
    ]
    annotations.append(Annotation("notice", "no path: job log only"))
    # Through the publisher, whose outbound step keeps the summary within GitHub's limit.
    plan = check_run_plan(head_sha, "failure", "2 regressions", "s" * 70_000, "c", annotations)
    c = client(gh)
    applied = Publisher(lambda: c, mask=str).phase(
        "check", lambda gh: None, lambda _: [WriteCheckRun(plan, None)]
    )
    result = applied.answer(WriteCheckRun)
    assert result.annotation_requests == 3
    assert len(requests_to(gh, "POST", "/check-runs")) == 1
    assert len(requests_to(gh, "PATCH", "/check-runs/")) == 2
    (run,) = gh.check_runs(REPO, head_sha)
    assert run["conclusion"] == "failure"
    assert run["output"]["annotations_count"] == 120
    assert len(run["output"]["summary"]) <= 65_535
    assert run["output"]["title"] == "2 regressions"


# --- failures ------------------------------------------------------------------------------


def test_read_only_token_is_a_distinct_error(gh: FakeGitHub) -> None:
    head_sha = pull(gh)
    ro = client(gh, "ro")
    assert ro.pull_files(1).get("prompts/a.md") is not None  # reading still works
    with pytest.raises(ReadOnlyTokenError) as info:
        ro.post_review(1, head_sha, "s", [ReviewComment("prompts/a.md", "b", 5)])
    assert "pull-requests: write" in str(info.value)
    assert "\n" not in str(info.value)
    assert info.value.exit_code == 3
    with pytest.raises(ReadOnlyTokenError, match="checks: write"):
        ro.create_check_run(head_sha, "promptloop", "success", "ok", "ok")
    with pytest.raises(ReadOnlyTokenError):
        ro.create_summary(1, "hello")
    assert gh.write_count == 0


def test_secondary_rate_limit_is_retried(gh: FakeGitHub) -> None:
    head_sha = pull(gh)
    gh.secondary_rate_limit_next(1, retry_after=0, method="POST")
    client(gh).create_summary(1, f"all good on {head_sha}")
    assert [r.status for r in requests_to(gh, "POST", "/issues/1/comments")] == [403, 201]
    assert len(gh.issue_comments(REPO, 1)) == 1


def test_server_errors_retried_unless_disabled(gh: FakeGitHub) -> None:
    pull(gh)
    gh.fail_next(2, 502, method="GET")
    assert client(gh).pull_files(1).get("prompts/a.md") is not None
    gh.fail_next(1, 502, method="GET")
    with pytest.raises(InfraError, match="502"):
        client(gh, retry=False).pull_files(1)


def test_bad_token_and_unreachable_server(gh: FakeGitHub) -> None:
    pull(gh)
    with pytest.raises(InfraError, match="rejected the token"):
        client(gh, "nope").pull_files(1)
    gone = GitHubClient("tok", "http://127.0.0.1:9", REPO, retry=False, timeout=2)
    with pytest.raises(InfraError, match="cannot reach GitHub"):
        gone.pull_files(1)


# --- writing revisions ---------------------------------------------------------------------


def test_commit_file_and_stale_blob(gh: FakeGitHub) -> None:
    pull(gh)
    c = client(gh)
    read = c.branch_file("feature", "prompts/a.md")
    blob = read.blob_sha if read else None
    assert blob is not None
    missing = c.branch_file("feature", "nope.md")
    assert missing is not None and missing.blob_sha is None
    sha = c.commit_file("feature", "prompts/a.md", "revised\n", "promptloop: revise", blob)
    assert gh.refs(REPO)["heads/feature"] == sha
    assert gh.file_at(REPO, "feature", "prompts/a.md") == "revised\n"
    with pytest.raises(InfraError, match="branch moved"):
        c.commit_file("feature", "prompts/a.md", "again\n", "m", blob)
    with pytest.raises(ValueError, match="base branch"):
        c.commit_file("main", "prompts/a.md", "x\n", "m", blob, base_ref="main")
    assert gh.protected_ref_writes() == []


def edits_of(gh: FakeGitHub, number: int) -> int:
    return sum(
        1 for w in gh.writes() if w.method == "PATCH" and w.path.endswith(f"/pulls/{number}")
    )


def test_enterprise_style_api_prefix() -> None:
    with FakeGitHub(api_prefix="/api/v3") as fake:
        fake.set_token("tok")
        fake.add_repo(REPO)
        pull(fake)
        client(fake).create_summary(1, "running")
        assert fake.issue_comments(REPO, 1)[0]["body"] == "running"


def test_own_token_is_never_posted(gh: FakeGitHub) -> None:
    head_sha = pull(gh)
    c = client(gh)
    # Whatever the caller's mask, the outbound step never posts the client's own token.
    post(c, 1, head_sha, "leak tok? tok!", [ReviewComment("prompts/a.md", "x tok", 5)])
    Publisher(lambda: c, mask=str).summary(summary_plan(1, head_sha, "c", "summary with tok"))
    (review,) = gh.reviews(REPO, 1)
    assert "tok" not in review["body"].replace("promptloop", "")
    assert gh.review_comments(REPO, 1)[0]["body"] == "x ***"
    assert gh.issue_comments(REPO, 1)[0]["body"].startswith("summary with ***")


def test_commit_with_read_only_token(gh: FakeGitHub) -> None:
    pull(gh)
    ro = client(gh, "ro")
    read = ro.branch_file("feature", "prompts/a.md")
    blob = read.blob_sha if read else None
    assert blob is not None
    with pytest.raises(ReadOnlyTokenError, match="contents: write"):
        ro.commit_file("feature", "prompts/a.md", "x\n", "m", blob)


def test_a_refusal_promptloop_expects_leaves_no_line_in_the_job_log(
    gh: FakeGitHub, caplog: pytest.LogCaptureFixture
) -> None:
    # GitHub will not tell the Actions token who it is (403): promptloop expects that, so
    # PyGithub's "Request GET /user failed with 403: Forbidden" must not reach the job log.
    caplog.set_level("INFO", logger="github")
    assert client(gh).own_login() is None
    assert next(r for r in gh.requests_log if r.path.endswith("/user")).status == 403
    assert not [r.getMessage() for r in caplog.records if "403" in r.getMessage()]
