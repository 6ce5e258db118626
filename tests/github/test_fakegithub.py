"""The fake GitHub server, driven over HTTP by the real PyGithub client."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import github
import pytest
from github import Auth, Github, GithubException, GithubRetry

from tests.fakegithub import FakeGitHub, git_blob_sha, make_patch, parse_hunks
from tests.fakegithub.rules import (
    LINE_NOT_IN_DIFF,
    PATH_INVALID,
    START_NOT_BEFORE,
    START_NOT_SAME_HUNK,
)

REPO = "octo/prompts"
TOKEN = "ghs_write"
READ_TOKEN = "ghs_read"

BASE_PROMPT = "".join(f"line {i}\n" for i in range(1, 41))
# Two separate hunks: line 5 changed, line 30 changed (far enough apart not to merge).
HEAD_PROMPT = BASE_PROMPT.replace("line 5\n", "line five\n").replace("line 30\n", "line thirty\n")


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub(api_prefix="/api/v3") as fake:
        fake.set_token(TOKEN)
        fake.set_token(READ_TOKEN, permissions="read")
        fake.add_repo(REPO)
        yield fake
        assert fake.internal_errors == []
        assert fake.response_schema_errors == []


def client(fake: FakeGitHub, token: str = TOKEN, **kw: Any) -> Github:
    kw.setdefault("seconds_between_requests", None)
    kw.setdefault("seconds_between_writes", None)
    return Github(auth=Auth.Token(token), base_url=fake.url, **kw)


def raw(
    fake: FakeGitHub, method: str, path: str, body: Any = None, token: str | None = TOKEN
) -> tuple[int, dict[str, str], Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(fake.url + path, data=data, method=method)
    if token is not None:
        req.add_header("Authorization", f"token {token}")
    try:
        with urllib.request.urlopen(req) as resp:
            text = resp.read()
            return resp.status, dict(resp.headers), json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        text = e.read()
        return e.code, dict(e.headers), json.loads(text) if text else None


def prompt_pull(fake: FakeGitHub) -> tuple[str, str]:
    return fake.add_pull_from_texts(
        REPO, 7, {"prompts/greet.txt": BASE_PROMPT}, {"prompts/greet.txt": HEAD_PROMPT}
    )


def error_of(exc: pytest.ExceptionInfo[GithubException]) -> tuple[int, dict[str, Any]]:
    return exc.value.status, exc.value.data  # type: ignore[return-value]


# -- patches ---------------------------------------------------------------------------------


def test_patch_hunks_cover_exactly_the_changed_lines_with_three_lines_of_context() -> None:
    patch, adds, dels = make_patch(BASE_PROMPT, HEAD_PROMPT)
    assert not patch.startswith("---")
    hunks = parse_hunks(patch)
    assert [h.header for h in hunks] == ["@@ -2,7 +2,7 @@", "@@ -27,7 +27,7 @@"]
    assert hunks[0].right == list(range(2, 9))
    assert hunks[1].right == list(range(27, 34))
    assert (adds, dels) == (2, 2)


def test_patch_marks_a_missing_final_newline() -> None:
    patch, adds, dels = make_patch(None, "only line")
    assert patch.split("\n") == ["@@ -0,0 +1 @@", "+only line", "\\ No newline at end of file"]
    assert (adds, dels) == (1, 0)


# -- pull request files ----------------------------------------------------------------------


def test_files_paginate_over_250_entries_through_link_headers(gh: FakeGitHub) -> None:
    files = [
        {"filename": f"p/{i:03}.txt", "status": "modified", "patch": "@@ -1 +1 @@\n-a\n+b"}
        for i in range(250)
    ]
    gh.add_pull(REPO, 3, "main", "a" * 40, "feature", "b" * 40, files=files)
    pr = client(gh).get_repo(REPO).get_pull(3)
    names = [f.filename for f in pr.get_files()]
    assert names == [f["filename"] for f in files]
    pages = [r for r in gh.requests_log if r.path == f"/repos/{REPO}/pulls/3/files"]
    assert len(pages) == 9  # 30 per page by default
    assert pr.changed_files == 250

    big = client(gh, per_page=100).get_repo(REPO).get_pull(3)
    assert len(list(big.get_files())) == 250
    status, headers, body = raw(gh, "GET", f"/repos/{REPO}/pulls/3/files?per_page=100&page=3")
    assert status == 200 and len(body) == 50
    assert 'rel="next"' not in headers.get("Link", "") and 'rel="prev"' in headers["Link"]


def test_files_are_capped_at_3000_like_github(gh: FakeGitHub) -> None:
    files = [
        {"filename": f"f{i}", "status": "added", "patch": "@@ -0,0 +1 @@\n+x"} for i in range(3005)
    ]
    gh.add_pull(REPO, 4, "main", "a" * 40, "many", "c" * 40, files=files)
    _, headers, body = raw(gh, "GET", f"/repos/{REPO}/pulls/4/files?per_page=100&page=30")
    assert len(body) == 100 and 'rel="next"' not in headers["Link"]
    _, _, beyond = raw(gh, "GET", f"/repos/{REPO}/pulls/4/files?per_page=100&page=31")
    assert beyond == []


# -- reviews ---------------------------------------------------------------------------------


def test_review_with_a_multi_line_suggestion_is_stored(gh: FakeGitHub) -> None:
    _, head_sha = prompt_pull(gh)
    repo = client(gh).get_repo(REPO)
    pr = repo.get_pull(7)
    suggestion = "Be specific.\n```suggestion\nline 4\nline five!\n```"
    review = pr.create_review(
        commit=repo.get_commit(head_sha),
        body="promptloop found 1 regression",
        event="COMMENT",
        comments=[
            {
                "path": "prompts/greet.txt",
                "start_line": 4,
                "line": 5,
                "side": "RIGHT",
                "body": suggestion,
            }
        ],
    )
    assert review.state == "COMMENTED"
    [stored] = gh.reviews(REPO, 7)
    assert stored["id"] == review.id and stored["commit_id"] == head_sha
    [comment] = pr.get_review_comments()
    assert comment.body == suggestion
    assert (comment.start_line, comment.line) == (4, 5)
    assert comment.diff_hunk.endswith("+line five")
    assert comment.pull_request_review_id == review.id
    assert [c.id for c in pr.get_single_review_comments(review.id)] == [comment.id]


@pytest.mark.parametrize(
    ("thread", "message"),
    [
        ({"line": 15}, LINE_NOT_IN_DIFF),
        ({"line": 5, "start_line": 5}, START_NOT_BEFORE),
        ({"line": 30, "start_line": 5}, START_NOT_SAME_HUNK),
        ({"line": 5, "path": "prompts/other.txt"}, PATH_INVALID),
    ],
)
def test_a_bad_thread_rejects_the_whole_review(
    gh: FakeGitHub, thread: dict[str, Any], message: str
) -> None:
    _, head_sha = prompt_pull(gh)
    repo = client(gh).get_repo(REPO)
    good = {"path": "prompts/greet.txt", "line": 5, "body": "fine"}
    bad = {"path": "prompts/greet.txt", "body": "bad", **thread}
    with pytest.raises(GithubException) as exc:
        repo.get_pull(7).create_review(
            commit=repo.get_commit(head_sha), body="b", event="COMMENT", comments=[good, bad]
        )
    status, data = error_of(exc)
    assert status == 422
    assert data["message"] == "Unprocessable Entity"
    assert data["errors"] == [message]
    assert gh.reviews(REPO, 7) == [] and gh.review_comments(REPO, 7) == []


def test_comment_review_without_body_is_rejected(gh: FakeGitHub) -> None:
    prompt_pull(gh)
    with pytest.raises(GithubException) as exc:
        client(gh).get_repo(REPO).get_pull(7).create_review(event="REQUEST_CHANGES")
    assert exc.value.status == 422
    assert gh.reviews(REPO, 7) == []


def test_single_comment_on_a_file_and_a_reply(gh: FakeGitHub) -> None:
    _, head_sha = prompt_pull(gh)
    repo = client(gh).get_repo(REPO)
    pr = repo.get_pull(7)
    commit = repo.get_commit(head_sha)
    top = pr.create_review_comment(
        "about the file", commit, "prompts/greet.txt", subject_type="file"
    )
    assert top.subject_type == "file"
    reply = pr.create_review_comment_reply(top.id, "agreed")
    assert reply.in_reply_to_id == top.id
    with pytest.raises(GithubException) as exc:
        pr.create_review_comment("nope", commit, "prompts/greet.txt", line=20)
    assert error_of(exc)[1]["errors"] == [LINE_NOT_IN_DIFF]
    top.edit("about the file, edited")
    assert [c["body"] for c in gh.review_comments(REPO, 7)] == ["about the file, edited", "agreed"]
    reply.delete()
    assert len(gh.review_comments(REPO, 7)) == 1


def test_only_decisive_reviews_can_be_dismissed(gh: FakeGitHub) -> None:
    prompt_pull(gh)
    pr = client(gh).get_repo(REPO).get_pull(7)
    commented = pr.create_review(body="note", event="COMMENT")
    with pytest.raises(GithubException) as exc:
        commented.dismiss("stale")
    assert error_of(exc)[1]["errors"] == ["Can not dismiss a commented pull request review"]
    blocking = pr.create_review(body="regression", event="REQUEST_CHANGES")
    blocking.dismiss("fixed")
    assert [r["state"] for r in gh.reviews(REPO, 7)] == ["COMMENTED", "DISMISSED"]


# -- issue comments (the sticky summary) -----------------------------------------------------


def test_sticky_comment_create_edit_minimize_delete(gh: FakeGitHub) -> None:
    prompt_pull(gh)
    pr = client(gh).get_repo(REPO).get_pull(7)
    comment = pr.create_issue_comment("<!-- promptloop:summary -->\nrun 1")
    assert comment.user.login == "github-actions[bot]"
    comment.edit("<!-- promptloop:summary -->\nrun 2")
    assert [c.body for c in pr.get_issue_comments()] == ["<!-- promptloop:summary -->\nrun 2"]
    assert comment.minimize("OUTDATED") is True
    assert gh.minimized(REPO) == {comment.id: "OUTDATED"}
    comment.delete()
    assert gh.issue_comments(REPO, 7) == []


def test_comment_body_over_65536_characters_is_rejected(gh: FakeGitHub) -> None:
    prompt_pull(gh)
    pr = client(gh).get_repo(REPO).get_pull(7)
    pr.create_issue_comment("x" * 65536)
    with pytest.raises(GithubException) as exc:
        pr.create_issue_comment("x" * 65537)
    status, data = error_of(exc)
    assert status == 422
    assert data["errors"][0]["message"] == "Body is too long (maximum is 65536 characters)"
    assert len(gh.issue_comments(REPO, 7)) == 1


# -- tokens ----------------------------------------------------------------------------------


def test_read_only_token_can_read_but_every_write_is_403(gh: FakeGitHub) -> None:
    _, head_sha = prompt_pull(gh)
    repo = client(gh, READ_TOKEN).get_repo(REPO)
    pr = repo.get_pull(7)
    assert pr.head.sha == head_sha
    writes = [
        lambda: pr.create_issue_comment("hi"),
        lambda: pr.create_review(body="b", event="COMMENT"),
        lambda: repo.create_check_run("promptloop", head_sha),
        lambda: repo.get_commit(head_sha).create_status("success"),
    ]
    for write in writes:
        with pytest.raises(GithubException) as exc:
            write()
        assert error_of(exc) == (
            403,
            {
                "message": "Resource not accessible by integration",
                "documentation_url": exc.value.data["documentation_url"],
                "status": "403",
            },
        )
    assert gh.write_count == 0
    assert gh.issue_comments(REPO) == [] and gh.check_runs(REPO) == [] and gh.statuses(REPO) == []


def test_unknown_or_missing_token_is_401_and_actions_token_cannot_read_user(
    gh: FakeGitHub,
) -> None:
    with pytest.raises(GithubException) as exc:
        client(gh, "ghs_unknown").get_repo(REPO)
    assert error_of(exc)[0] == 401 and error_of(exc)[1]["message"] == "Bad credentials"
    assert raw(gh, "GET", f"/repos/{REPO}", token=None)[0] == 401
    with pytest.raises(GithubException) as exc:
        _ = client(gh).get_user().login
    assert error_of(exc)[0] == 403


# -- contents and git data -------------------------------------------------------------------


def test_contents_put_with_a_stale_blob_sha_is_409(gh: FakeGitHub) -> None:
    prompt_pull(gh)
    repo = client(gh).get_repo(REPO)
    current = repo.get_contents("prompts/greet.txt", ref="pr-7")
    assert not isinstance(current, list)
    assert current.sha == git_blob_sha(HEAD_PROMPT.encode())
    assert current.decoded_content.decode() == HEAD_PROMPT
    stale = git_blob_sha(BASE_PROMPT.encode())
    with pytest.raises(GithubException) as exc:
        repo.update_file("prompts/greet.txt", "tune", "new\n", stale, branch="pr-7")
    assert error_of(exc)[0] == 409
    assert error_of(exc)[1]["message"] == f"prompts/greet.txt does not match {stale}"
    assert gh.file_at(REPO, "pr-7", "prompts/greet.txt") == HEAD_PROMPT

    repo.update_file("prompts/greet.txt", "tune", "new\n", current.sha, branch="pr-7")
    assert gh.file_at(REPO, "pr-7", "prompts/greet.txt") == "new\n"
    assert [w.ref for w in gh.ref_writes] == ["heads/pr-7"]
    assert gh.protected_ref_writes() == []


def test_git_data_commit_then_pull_request_and_duplicate(gh: FakeGitHub) -> None:
    base_sha = gh.add_branch(REPO, "main", {"prompts/a.txt": "old\n"})
    repo = client(gh).get_repo(REPO)
    parent = repo.get_git_commit(base_sha)
    blob = repo.create_git_blob("new\n", "utf-8")
    tree = repo.create_git_tree(
        [github.InputGitTreeElement("prompts/a.txt", "100644", "blob", sha=blob.sha)],
        base_tree=parent.tree,
    )
    commit = repo.create_git_commit("promptloop: tune prompt", tree, [parent])
    repo.create_git_ref("refs/heads/promptloop/tune", commit.sha)
    pr = repo.create_pull(base="main", head="promptloop/tune", title="Tune", body="Better")
    [f] = pr.get_files()
    assert (f.filename, f.patch) == ("prompts/a.txt", "@@ -1 +1 @@\n-old\n+new")
    with pytest.raises(GithubException) as exc:
        repo.create_pull(base="main", head="promptloop/tune", title="Tune", body="Again")
    msg = error_of(exc)[1]["errors"][0]["message"]
    assert msg == "A pull request already exists for octo:promptloop/tune."
    assert gh.protected_ref_writes() == []

    repo.get_git_ref("heads/main").edit(commit.sha)
    assert [w.ref for w in gh.protected_ref_writes()] == ["heads/main"]


def test_non_fast_forward_ref_update_needs_force(gh: FakeGitHub) -> None:
    first = gh.add_branch(REPO, "work", {"a": "1\n"})
    gh.add_branch(REPO, "work", {"a": "2\n"})
    ref = client(gh).get_repo(REPO).get_git_ref("heads/work")
    with pytest.raises(GithubException) as exc:
        ref.edit(first)
    assert error_of(exc)[1]["message"] == "Update is not a fast forward"
    ref.edit(first, force=True)
    assert gh.refs(REPO)["heads/work"] == first


# -- checks and statuses ---------------------------------------------------------------------


def annotation(i: int) -> dict[str, Any]:
    return {
        "path": "prompts/greet.txt",
        "start_line": i,
        "end_line": i,
        "annotation_level": "warning",
        "message": f"case {i} regressed",
    }


def test_check_run_rejects_51_annotations_and_appends_on_update(gh: FakeGitHub) -> None:
    _, head_sha = prompt_pull(gh)
    repo = client(gh).get_repo(REPO)
    with pytest.raises(GithubException) as exc:
        repo.create_check_run(
            "promptloop",
            head_sha,
            status="completed",
            conclusion="failure",
            output={
                "title": "t",
                "summary": "s",
                "annotations": [annotation(i) for i in range(51)],
            },
        )
    assert error_of(exc)[0] == 422
    assert gh.check_runs(REPO) == []

    run = repo.create_check_run(
        "promptloop",
        head_sha,
        status="in_progress",
        output={"title": "t", "summary": "s", "annotations": [annotation(i) for i in range(50)]},
    )
    run.edit(
        conclusion="failure",
        output={
            "title": "t",
            "summary": "done",
            "annotations": [annotation(i) for i in range(50, 60)],
        },
    )
    [stored] = gh.check_runs(REPO, head_sha)
    assert stored["status"] == "completed" and stored["conclusion"] == "failure"
    assert [a["start_line"] for a in stored["annotations"]] == list(range(60))
    assert [r.name for r in repo.get_commit(head_sha).get_check_runs()] == ["promptloop"]


def test_check_run_summary_over_65535_is_rejected(gh: FakeGitHub) -> None:
    _, head_sha = prompt_pull(gh)
    with pytest.raises(GithubException) as exc:
        client(gh).get_repo(REPO).create_check_run(
            "promptloop", head_sha, output={"title": "t", "summary": "s" * 65536}
        )
    assert error_of(exc)[0] == 422
    assert error_of(exc)[1]["message"].startswith("Invalid request.\n\n")


def test_commit_status_is_recorded(gh: FakeGitHub) -> None:
    _, head_sha = prompt_pull(gh)
    client(gh).get_repo(REPO).get_commit(head_sha).create_status(
        "failure", description="2 regressions", context="promptloop"
    )
    [status] = gh.statuses(REPO, head_sha)
    assert (status["state"], status["context"]) == ("failure", "promptloop")


# -- request validation ----------------------------------------------------------------------


def test_body_that_violates_the_schema_is_422_and_nothing_is_stored(gh: FakeGitHub) -> None:
    prompt_pull(gh)
    with pytest.raises(GithubException) as exc:
        client(gh).get_repo(REPO).get_pull(7).create_review(body="b", event="LGTM")
    status, data = error_of(exc)
    assert status == 422
    assert data["message"].startswith("Invalid request.\n\n")
    assert "'LGTM' is not one of" in data["message"]
    assert gh.reviews(REPO, 7) == []
    status, _, body = raw(gh, "POST", f"/repos/{REPO}/issues/7/comments", {"text": "hi"})
    assert status == 422 and "'body' is a required property" in body["message"]


def test_unknown_operation_is_404(gh: FakeGitHub) -> None:
    assert raw(gh, "GET", f"/repos/{REPO}/actions/runs")[0] == 404
    assert raw(gh, "DELETE", f"/repos/{REPO}")[0] == 404


# -- failure injection -----------------------------------------------------------------------


def test_secondary_rate_limit_then_success(gh: FakeGitHub) -> None:
    prompt_pull(gh)
    gh.secondary_rate_limit_next(1)
    status, headers, body = raw(gh, "GET", f"/repos/{REPO}")
    assert (status, headers["Retry-After"]) == (403, "1")
    assert body["message"].startswith("You have exceeded a secondary rate limit")

    gh.secondary_rate_limit_next(2, retry_after=0, method="POST")  # 0: no sleeping
    retrying = client(gh, retry=GithubRetry(total=3))
    comment = retrying.get_repo(REPO).get_pull(7).create_issue_comment("after the limit")
    posts = [r.status for r in gh.requests_log if r.method == "POST"]
    assert posts == [403, 403, 201]
    assert [c["id"] for c in gh.issue_comments(REPO, 7)] == [comment.id]


def test_server_errors_are_retried_by_pygithub_or_surface_without_retry(gh: FakeGitHub) -> None:
    gh.fail_next(2, status=502)
    assert client(gh, retry=GithubRetry(total=3)).get_repo(REPO).full_name == REPO
    assert [r.status for r in gh.requests_log] == [502, 502, 200]
    gh.fail_next(1, status=503)
    with pytest.raises(GithubException) as exc:
        client(gh, retry=None).get_repo(REPO)
    assert exc.value.status == 503


# -- shapes ----------------------------------------------------------------------------------


def test_github_com_style_base_url_and_fork_pull_request() -> None:
    with FakeGitHub() as fake:
        fake.set_token(TOKEN)
        fake.add_repo(REPO)
        fake.add_repo("contributor/prompts", fork_of=REPO)
        fake.add_pull_from_texts(
            REPO, 2, {"p.txt": "a\n"}, {"p.txt": "b\n"}, head_repo="contributor/prompts"
        )
        pr = client(fake).get_repo(REPO).get_pull(2)
        assert fake.url.count("/") == 2  # no /api/v3 prefix
        assert pr.url == f"{fake.url}/repos/{REPO}/pulls/2"
        assert pr.head.repo.full_name == "contributor/prompts" and pr.head.repo.fork
        assert pr.base.repo.full_name == REPO
        assert [f.filename for f in pr.get_files()] == ["p.txt"]
        assert fake.response_schema_errors == [] and fake.internal_errors == []


def test_pending_review_comments_stay_hidden_until_submitted(gh: FakeGitHub) -> None:
    prompt_pull(gh)
    pr = client(gh).get_repo(REPO).get_pull(7)
    pending = pr.create_review(comments=[{"path": "prompts/greet.txt", "line": 30, "body": "x"}])
    assert pending.state == "PENDING"
    assert list(pr.get_review_comments()) == []
    status, _, body = raw(
        gh,
        "POST",
        f"/repos/{REPO}/pulls/7/reviews/{pending.id}/events",
        {"event": "COMMENT", "body": "submitted"},
    )
    assert (status, body["state"]) == (200, "COMMENTED")
    assert [c.line for c in pr.get_review_comments()] == [30]


def test_actions_token_may_be_barred_from_opening_pull_requests() -> None:
    with FakeGitHub() as fake:
        fake.set_token(TOKEN)
        fake.add_repo(REPO, actions_can_create_prs=False)
        fake.add_branch(REPO, "tune", {"p.txt": "new\n"}, parent="main")
        with pytest.raises(GithubException) as exc:
            client(fake).get_repo(REPO).create_pull(base="main", head="tune", title="T", body="")
        assert error_of(exc)[0] == 403
        assert "not permitted to create or approve pull requests" in error_of(exc)[1]["message"]
        assert fake.pulls(REPO) == {}


def test_single_comments_can_be_fetched_by_id(gh: FakeGitHub) -> None:
    _, head_sha = prompt_pull(gh)
    repo = client(gh).get_repo(REPO)
    pr = repo.get_pull(7)
    review_comment = pr.create_review_comment(
        "c", repo.get_commit(head_sha), "prompts/greet.txt", line=30
    )
    issue_comment = pr.create_issue_comment("summary")
    assert pr.get_review_comment(review_comment.id).line == 30
    assert pr.get_issue_comment(issue_comment.id).body == "summary"
    with pytest.raises(GithubException) as exc:
        pr.get_issue_comment(issue_comment.id + 999)
    assert exc.value.status == 404
