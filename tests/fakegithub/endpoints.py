"""One function per OpenAPI operationId. Each returns (status, JSON payload, extra headers)."""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any

from . import rules
from .state import Pull, Repo

if TYPE_CHECKING:
    from .server import FakeGitHub, _Ctx

Result = tuple[int, Any, dict[str, str]]


def _server() -> Any:
    from . import server

    return server


def _err(code: int, message: str) -> Exception:
    s = _server()
    err: Exception = s.ApiError(
        code, {"message": message, "documentation_url": s.DOCS, "status": str(code)}
    )
    return err


def _body_too_long(resource: str) -> Exception:
    err: Exception = _server()._validation_failed(resource, rules.BODY_TOO_LONG)
    return err


def _check_body_len(body: str | None, resource: str) -> None:
    if body is not None and len(body) > rules.MAX_BODY:
        raise _body_too_long(resource)


# -- users and repositories -----------------------------------------------------------------


def users_get_authenticated(g: FakeGitHub, ctx: _Ctx) -> Result:
    if ctx.token.actions:
        raise _err(403, _server().NOT_ACCESSIBLE)
    user = g._user_json(ctx.token.login, ctx.token.user_id)
    return 200, {**g.spec.skeleton("public-user"), **user}, {}


def repos_get(g: FakeGitHub, ctx: _Ctx) -> Result:
    return 200, g._repo_json(g._repo_or_404(ctx)), {}


def repos_get_branch(g: FakeGitHub, ctx: _Ctx) -> Result:
    r = g._repo_or_404(ctx)
    branch = ctx.params["branch"]
    sha = r.refs.get(f"heads/{branch}")
    if sha is None:
        raise _err(404, "Branch not found")
    base = g.api(f"/repos/{r.full_name}")
    data = {
        "name": branch,
        "commit": g._commit_json(r, r.commits[sha]),
        "protected": branch == r.default_branch,
        "protection_url": f"{base}/branches/{branch}/protection",
        "_links": {
            "self": f"{base}/branches/{branch}",
            "html": g.html(f"/{r.full_name}/tree/{branch}"),
        },
    }

    return 200, g.spec.shaped("branch-with-protection", data), {}


def repos_get_commit(g: FakeGitHub, ctx: _Ctx) -> Result:
    r = g._repo_or_404(ctx)
    sha = r.resolve(ctx.params["ref"])
    if sha is None:
        raise _err(422, f"No commit found for SHA: {ctx.params['ref']}")
    return 200, g._commit_json(r, r.commits[sha]), {}


# -- pull requests ---------------------------------------------------------------------------


def pulls_get(g: FakeGitHub, ctx: _Ctx) -> Result:
    r = g._repo_or_404(ctx)
    return 200, g._pull_json(r, g._pull_or_404(r, ctx.params["pull_number"])), {}


def pulls_list(g: FakeGitHub, ctx: _Ctx) -> Result:
    r = g._repo_or_404(ctx)
    state = ctx.query.get("state", "open")
    items = []
    for p in sorted(r.pulls.values(), key=lambda p: -p.number):
        if state != "all" and p.state != state:
            continue
        if "base" in ctx.query and p.base_ref != ctx.query["base"]:
            continue
        if "head" in ctx.query:
            owner = g.repos[p.head_repo].owner
            if ctx.query["head"] not in (f"{owner}:{p.head_ref}", p.head_ref):
                continue
        items.append(p)
    page, headers = g._paginate(ctx, items)
    return 200, [_simple_pull(g, r, p) for p in page], headers


def _simple_pull(g: FakeGitHub, r: Repo, p: Pull) -> dict[str, Any]:
    full = g._pull_json(r, p)
    simple = g.spec.skeleton("pull-request-simple")
    return {k: full.get(k, v) for k, v in simple.items()}


def pulls_update(g: FakeGitHub, ctx: _Ctx) -> Result:
    r = g._repo_or_404(ctx)
    p = g._pull_or_404(r, ctx.params["pull_number"])
    b = ctx.body or {}
    if "base" in b or "state" in b:
        raise _err(422, "the fake only edits a pull request's title and body")
    if "title" in b:
        if not str(b["title"]).strip():
            raise _server()._validation_failed("PullRequest", "title can't be blank", "title")
        p.title = str(b["title"])
    if "body" in b:
        _check_body_len(b["body"], "PullRequest")
        p.body = b["body"]
    return 200, g._pull_json(r, p), {}


def pulls_list_files(g: FakeGitHub, ctx: _Ctx) -> Result:
    r = g._repo_or_404(ctx)
    p = g._pull_or_404(r, ctx.params["pull_number"])
    page, headers = g._paginate(ctx, p.files, cap=rules.MAX_PR_FILES)
    return 200, [g._file_json(r, p, f) for f in page], headers


def pulls_create(g: FakeGitHub, ctx: _Ctx) -> Result:
    r = g._repo_or_404(ctx)
    b = ctx.body
    if ctx.token.actions and not r.actions_can_create_prs:
        raise _err(403, "GitHub Actions is not permitted to create or approve pull requests.")
    head = str(b["head"])
    owner, _, branch = head.rpartition(":")
    head_repo = r
    if owner and owner != r.owner:
        forks = [x for x in g.repos.values() if x.owner == owner and x.fork_of == r.full_name]
        if not forks:
            raise _server()._validation_failed("PullRequest", "head invalid", "head")
        head_repo = forks[0]
    if f"heads/{b['base']}" not in r.refs:
        raise _server()._validation_failed("PullRequest", "base invalid", "base")
    if f"heads/{branch}" not in head_repo.refs:
        raise _server()._validation_failed("PullRequest", "head invalid", "head")
    for p in r.pulls.values():
        if (
            p.state == "open"
            and p.head_repo == head_repo.full_name
            and p.head_ref == branch
            and p.base_ref == b["base"]
        ):
            raise _server()._validation_failed(
                "PullRequest", f"A pull request already exists for {head_repo.owner}:{branch}."
            )
    if "title" not in b and "issue" not in b:
        raise _server()._validation_failed("PullRequest", "title missing", "title")
    _check_body_len(b.get("body"), "PullRequest")
    base_sha = r.refs[f"heads/{b['base']}"]
    head_sha = head_repo.refs[f"heads/{branch}"]
    if head_sha == base_sha or head_repo.is_ancestor(head_sha, base_sha):
        raise _server()._validation_failed(
            "PullRequest", f"No commits between {b['base']} and {branch}"
        )
    base_files = r.files_at(base_sha)
    head_files = head_repo.files_at(head_sha)
    number = r.next_number
    r.next_number += 1
    files = _server()._files_between(base_files, head_files)
    g.add_pull(
        r.full_name,
        number,
        b["base"],
        base_sha,
        branch,
        head_sha,
        head_repo.full_name if head_repo is not r else None,
        files,
        title=str(b.get("title", "")),
        body=b.get("body"),
        draft=bool(b.get("draft", False)),
        user=ctx.token.login,
    )
    return 201, g._pull_json(r, r.pulls[number]), {}


# -- reviews and review comments -------------------------------------------------------------


def _files_by_name(p: Pull) -> dict[str, dict[str, Any]]:
    return {f["filename"]: f for f in p.files[: rules.MAX_PR_FILES]}


def _review_json(
    g: FakeGitHub,
    r: Repo,
    p: Pull,
    review_id: int,
    state: str,
    body: str,
    commit_id: str,
    login: str,
    uid: int,
) -> dict[str, Any]:
    base = g.api(f"/repos/{r.full_name}/pulls/{p.number}")
    html = g.html(f"/{r.full_name}/pull/{p.number}#pullrequestreview-{review_id}")
    data = {
        "id": review_id,
        "node_id": f"PRR_{review_id}",
        "user": g._user_json(login, uid),
        "body": body,
        "state": state,
        "html_url": html,
        "pull_request_url": base,
        "_links": {"html": {"href": html}, "pull_request": {"href": base}},
        "commit_id": commit_id,
        "author_association": "NONE",
    }
    if state != "PENDING":
        data["submitted_at"] = _server()._now()

    out = g.spec.shaped("pull-request-review", data)
    out["__pull"] = p.number
    return out


def _new_review_comment(
    g: FakeGitHub,
    r: Repo,
    p: Pull,
    c: dict[str, Any],
    review_id: int,
    commit_id: str,
    ctx: _Ctx,
    hunk_index: int | None,
    reply_to: dict[str, Any] | None = None,
) -> dict[str, Any]:
    cid = g.ids.next()
    base = g.api(f"/repos/{r.full_name}")
    html = g.html(f"/{r.full_name}/pull/{p.number}#discussion_r{cid}")
    side = c.get("side") or "RIGHT"
    line = c.get("line")
    diff_hunk = ""
    f = _files_by_name(p).get(str(c.get("path")))
    if f is not None and line is not None and hunk_index is not None:
        hunks = rules.parse_hunks(f.get("patch"))
        diff_hunk = rules.diff_hunk_for(hunks, hunk_index, int(line), side)
    elif f is not None and f.get("patch"):
        first = rules.parse_hunks(f["patch"])
        diff_hunk = first[0].header if first else ""
    position = c.get("position")
    if position is None and f is not None and line is not None:
        position = rules.position_of(f.get("patch"), int(line), side)
    now = _server()._now()
    data = {
        "url": f"{base}/pulls/comments/{cid}",
        "pull_request_review_id": review_id,
        "id": cid,
        "node_id": f"PRRC_{cid}",
        "diff_hunk": diff_hunk,
        "path": c.get("path"),
        "position": position,
        "original_position": position,
        "commit_id": commit_id,
        "original_commit_id": commit_id,
        "user": g._user_json(ctx.token.login, ctx.token.user_id),
        "body": c["body"],
        "created_at": now,
        "updated_at": now,
        "html_url": html,
        "pull_request_url": f"{base}/pulls/{p.number}",
        "author_association": "NONE",
        "_links": {
            "self": {"href": f"{base}/pulls/comments/{cid}"},
            "html": {"href": html},
            "pull_request": {"href": f"{base}/pulls/{p.number}"},
        },
        "line": line,
        "original_line": line,
        "side": side,
        "start_line": c.get("start_line"),
        "original_start_line": c.get("start_line"),
        "start_side": (c.get("start_side") or side) if c.get("start_line") else None,
        "subject_type": c.get("subject_type") or "line",
    }
    if reply_to is not None:
        data["in_reply_to_id"] = reply_to["id"]
    for key in ("position", "original_position", "line", "original_line"):
        if data[key] is None:
            # File-level threads have no anchor; the schema has no null for these.
            del data[key]

    out = g.spec.shaped("pull-request-review-comment", data)
    out["__pull"] = p.number
    out["__pending"] = False
    return out


def pulls_create_review(g: FakeGitHub, ctx: _Ctx) -> Result:
    r = g._repo_or_404(ctx)
    p = g._pull_or_404(r, ctx.params["pull_number"])
    b = ctx.body or {}
    doc = ctx.op.doc_url
    event = b.get("event")
    body = b.get("body") or ""
    if event in ("COMMENT", "REQUEST_CHANGES") and not body.strip():
        raise _server()._unprocessable([f"Body is required for {event} reviews"], doc)
    if event == "APPROVE" and ctx.token.actions and not r.actions_can_create_prs:
        raise _server()._unprocessable(
            ["GitHub Actions is not permitted to approve pull requests."], doc
        )
    _check_body_len(body, "PullRequestReview")
    commit_id = b.get("commit_id") or p.head_sha
    if commit_id not in r.commits and commit_id not in g.repos[p.head_repo].commits:
        raise _server()._unprocessable(["Commit SHA does not exist"], doc)
    files = _files_by_name(p)
    checked: list[tuple[dict[str, Any], int | None]] = []
    for c in b.get("comments", []):
        errors, idx = rules.check_thread(files, c)
        if errors:
            # One bad thread rejects the whole review; nothing is stored.
            raise _server()._unprocessable(errors, doc)
        _check_body_len(c.get("body"), "PullRequestReviewComment")
        checked.append((c, idx))
    review_id = g.ids.next()
    state = {
        "APPROVE": "APPROVED",
        "REQUEST_CHANGES": "CHANGES_REQUESTED",
        "COMMENT": "COMMENTED",
    }.get(event or "", "PENDING")
    review = _review_json(
        g, r, p, review_id, state, body, commit_id, ctx.token.login, ctx.token.user_id
    )
    r.reviews.append(review)
    for c, idx in checked:
        rc = _new_review_comment(g, r, p, c, review_id, commit_id, ctx, idx)
        rc["__pending"] = state == "PENDING"
        r.review_comments.append(rc)
    return 200, _server()._public(review), {}


def _find_review(g: FakeGitHub, ctx: _Ctx) -> tuple[Repo, Pull, dict[str, Any]]:
    r = g._repo_or_404(ctx)
    p = g._pull_or_404(r, ctx.params["pull_number"])
    rid = ctx.params["review_id"]
    for rv in r.reviews:
        if str(rv["id"]) == rid and rv["__pull"] == p.number:
            return r, p, rv
    raise _server()._not_found()


def pulls_list_reviews(g: FakeGitHub, ctx: _Ctx) -> Result:
    r = g._repo_or_404(ctx)
    p = g._pull_or_404(r, ctx.params["pull_number"])
    items = [_server()._public(x) for x in r.reviews if x["__pull"] == p.number]
    page, headers = g._paginate(ctx, items)
    return 200, page, headers


def pulls_update_review(g: FakeGitHub, ctx: _Ctx) -> Result:
    _, _, rv = _find_review(g, ctx)
    _check_body_len(ctx.body["body"], "PullRequestReview")
    rv["body"] = ctx.body["body"]
    return 200, _server()._public(rv), {}


def pulls_submit_review(g: FakeGitHub, ctx: _Ctx) -> Result:
    r, _, rv = _find_review(g, ctx)
    if rv["state"] != "PENDING":
        raise _server()._unprocessable(["Can not submit a non-pending review"], ctx.op.doc_url)
    event = ctx.body["event"]
    body = ctx.body.get("body") or rv["body"] or ""
    if event in ("COMMENT", "REQUEST_CHANGES") and not body.strip():
        raise _server()._unprocessable([f"Body is required for {event} reviews"], ctx.op.doc_url)
    rv["state"] = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED"}.get(
        event, "COMMENTED"
    )
    rv["body"] = body
    rv["submitted_at"] = _server()._now()
    for c in r.review_comments:
        if c["pull_request_review_id"] == rv["id"]:
            c["__pending"] = False
    return 200, _server()._public(rv), {}


def pulls_dismiss_review(g: FakeGitHub, ctx: _Ctx) -> Result:
    _, _, rv = _find_review(g, ctx)
    if rv["state"] == "PENDING":
        raise _server()._unprocessable(
            ["Can not dismiss a pending pull request review"], ctx.op.doc_url
        )
    if rv["state"] not in ("APPROVED", "CHANGES_REQUESTED"):
        raise _server()._unprocessable(
            ["Can not dismiss a commented pull request review"], ctx.op.doc_url
        )
    rv["state"] = "DISMISSED"
    return 200, _server()._public(rv), {}


def pulls_list_comments_for_review(g: FakeGitHub, ctx: _Ctx) -> Result:
    r, _, rv = _find_review(g, ctx)
    from .openapi import overlay

    keys = g.spec.skeleton("review-comment")
    items = [
        overlay(
            keys,
            {
                k: v
                for k, v in _server()._public(c).items()
                if k in keys or k in ("line", "side", "start_line")
            },
        )
        for c in r.review_comments
        if c["pull_request_review_id"] == rv["id"]
    ]
    page, headers = g._paginate(ctx, items)
    return 200, page, headers


def pulls_list_review_comments(g: FakeGitHub, ctx: _Ctx) -> Result:
    r = g._repo_or_404(ctx)
    p = g._pull_or_404(r, ctx.params["pull_number"])
    items = [
        _server()._public(c)
        for c in r.review_comments
        if c["__pull"] == p.number and not c["__pending"]
    ]
    page, headers = g._paginate(ctx, items)
    return 200, page, headers


def pulls_create_review_comment(g: FakeGitHub, ctx: _Ctx) -> Result:
    r = g._repo_or_404(ctx)
    p = g._pull_or_404(r, ctx.params["pull_number"])
    b = ctx.body
    doc = ctx.op.doc_url
    _check_body_len(b.get("body"), "PullRequestReviewComment")
    reply_to = None
    if b.get("in_reply_to") is not None:
        for c in r.review_comments:
            if c["id"] == b["in_reply_to"] and c["__pull"] == p.number:
                reply_to = c
        if reply_to is None:
            raise _server()._not_found()
        c = {
            "path": reply_to["path"],
            "line": reply_to.get("line"),
            "side": reply_to.get("side"),
            "start_line": reply_to.get("start_line"),
            "body": b["body"],
            "subject_type": reply_to["subject_type"],
        }
        _, idx = rules.check_thread(_files_by_name(p), c)
    else:
        c = dict(b)
        errors, idx = rules.check_thread(_files_by_name(p), c)
        if errors:
            raise _server()._unprocessable(errors, doc)
    commit_id = b.get("commit_id") or p.head_sha
    if commit_id not in r.commits and commit_id not in g.repos[p.head_repo].commits:
        raise _server()._unprocessable(["Commit SHA does not exist"], doc)
    # GitHub wraps a standalone comment in its own COMMENTED review.
    review_id = g.ids.next()
    r.reviews.append(
        _review_json(
            g, r, p, review_id, "COMMENTED", "", commit_id, ctx.token.login, ctx.token.user_id
        )
    )
    rc = _new_review_comment(g, r, p, c, review_id, commit_id, ctx, idx, reply_to)
    r.review_comments.append(rc)
    return 201, _server()._public(rc), {}


def pulls_create_reply_for_review_comment(g: FakeGitHub, ctx: _Ctx) -> Result:
    if not ctx.params["comment_id"].isdigit():
        raise _server()._not_found()
    body = {"body": ctx.body["body"], "in_reply_to": int(ctx.params["comment_id"])}
    return pulls_create_review_comment(g, _replace_body(ctx, body))


def _replace_body(ctx: _Ctx, body: dict[str, Any]) -> _Ctx:
    import dataclasses

    return dataclasses.replace(ctx, body=body)


def _find_review_comment(g: FakeGitHub, ctx: _Ctx) -> tuple[Repo, dict[str, Any]]:
    r = g._repo_or_404(ctx)
    for c in r.review_comments:
        if str(c["id"]) == ctx.params["comment_id"]:
            return r, c
    raise _server()._not_found()


def pulls_get_review_comment(g: FakeGitHub, ctx: _Ctx) -> Result:
    _, c = _find_review_comment(g, ctx)
    return 200, _server()._public(c), {}


def pulls_update_review_comment(g: FakeGitHub, ctx: _Ctx) -> Result:
    _, c = _find_review_comment(g, ctx)
    _check_body_len(ctx.body["body"], "PullRequestReviewComment")
    c["body"] = ctx.body["body"]
    c["updated_at"] = _server()._now()
    return 200, _server()._public(c), {}


def pulls_delete_review_comment(g: FakeGitHub, ctx: _Ctx) -> Result:
    r, c = _find_review_comment(g, ctx)
    r.review_comments.remove(c)
    return 204, None, {}


# -- issue comments --------------------------------------------------------------------------


def issues_list_comments(g: FakeGitHub, ctx: _Ctx) -> Result:
    r = g._repo_or_404(ctx)
    number = int(ctx.params["issue_number"]) if ctx.params["issue_number"].isdigit() else -1
    if number not in r.pulls:
        raise _server()._not_found()
    items = [_server()._public(c) for c in r.issue_comments if c["__issue"] == number]
    page, headers = g._paginate(ctx, items)
    return 200, page, headers


def issues_create_comment(g: FakeGitHub, ctx: _Ctx) -> Result:
    r = g._repo_or_404(ctx)
    number = int(ctx.params["issue_number"]) if ctx.params["issue_number"].isdigit() else -1
    if number not in r.pulls:
        raise _server()._not_found()
    _check_body_len(ctx.body["body"], "IssueComment")
    cid = g.ids.next()
    base = g.api(f"/repos/{r.full_name}")
    now = _server()._now()

    c = g.spec.shaped(
        "issue-comment",
        {
            "id": cid,
            "node_id": f"IC_{cid}",
            "url": f"{base}/issues/comments/{cid}",
            "html_url": g.html(f"/{r.full_name}/pull/{number}#issuecomment-{cid}"),
            "issue_url": f"{base}/issues/{number}",
            "body": ctx.body["body"],
            "user": g._user_json(ctx.token.login, ctx.token.user_id),
            "created_at": now,
            "updated_at": now,
            "author_association": "NONE",
        },
    )
    c["__issue"] = number
    r.issue_comments.append(c)
    return 201, _server()._public(c), {}


def _find_issue_comment(g: FakeGitHub, ctx: _Ctx) -> tuple[Repo, dict[str, Any]]:
    r = g._repo_or_404(ctx)
    for c in r.issue_comments:
        if str(c["id"]) == ctx.params["comment_id"]:
            return r, c
    raise _server()._not_found()


def issues_get_comment(g: FakeGitHub, ctx: _Ctx) -> Result:
    _, c = _find_issue_comment(g, ctx)
    return 200, _server()._public(c), {}


def issues_update_comment(g: FakeGitHub, ctx: _Ctx) -> Result:
    _, c = _find_issue_comment(g, ctx)
    _check_body_len(ctx.body["body"], "IssueComment")
    c["body"] = ctx.body["body"]
    c["updated_at"] = _server()._now()
    return 200, _server()._public(c), {}


def issues_delete_comment(g: FakeGitHub, ctx: _Ctx) -> Result:
    r, c = _find_issue_comment(g, ctx)
    r.issue_comments.remove(c)
    return 204, None, {}


# -- checks and statuses ---------------------------------------------------------------------


def _apply_check_fields(c: dict[str, Any], b: dict[str, Any]) -> None:
    for key in ("name", "details_url", "external_id", "started_at", "completed_at"):
        if key in b:
            c[key] = b[key]
    if "status" in b:
        c["status"] = b["status"]
    if "conclusion" in b:
        c["conclusion"] = b["conclusion"]
        c["status"] = "completed"
    if c["status"] == "completed" and not c.get("completed_at"):
        c["completed_at"] = _server()._now()
    out = b.get("output")
    if out:
        for key in ("title", "summary", "text"):
            if key in out:
                c["output"][key] = out[key]
        c["__annotations"].extend(out.get("annotations", []))


def _check_annotations(b: dict[str, Any], doc: str) -> None:
    anns = (b.get("output") or {}).get("annotations", [])
    if len(anns) > rules.MAX_ANNOTATIONS:
        raise _server()._unprocessable(
            [f"Only {rules.MAX_ANNOTATIONS} annotations are allowed per request"], doc
        )


def checks_create(g: FakeGitHub, ctx: _Ctx) -> Result:
    r = g._repo_or_404(ctx)
    b = ctx.body
    _check_annotations(b, ctx.op.doc_url)
    if b.get("status") == "completed" and "conclusion" not in b:
        raise _server()._validation_failed("CheckRun", "conclusion is required", "conclusion")
    if r.resolve(b["head_sha"]) is None:
        raise _server()._validation_failed("CheckRun", "No commit found for SHA", "head_sha")
    cid = g.ids.next()
    base = g.api(f"/repos/{r.full_name}")

    c = g.spec.shaped(
        "check-run",
        {
            "id": cid,
            "node_id": f"CR_{cid}",
            "head_sha": b["head_sha"],
            "external_id": "",
            "url": f"{base}/check-runs/{cid}",
            "html_url": g.html(f"/{r.full_name}/runs/{cid}"),
            "details_url": None,
            "status": "queued",
            "conclusion": None,
            "started_at": _server()._now(),
            "completed_at": None,
            "name": b["name"],
            "output": {
                "title": None,
                "summary": None,
                "text": None,
                "annotations_count": 0,
                "annotations_url": f"{base}/check-runs/{cid}/annotations",
            },
            "check_suite": {"id": cid + 1},
            "app": None,
            "pull_requests": [],
        },
    )
    c["__annotations"] = []
    _apply_check_fields(c, b)
    r.check_runs.append(c)
    return 201, g._check_run_json(c), {}


def checks_update(g: FakeGitHub, ctx: _Ctx) -> Result:
    r = g._repo_or_404(ctx)
    _check_annotations(ctx.body, ctx.op.doc_url)
    for c in r.check_runs:
        if str(c["id"]) == ctx.params["check_run_id"]:
            _apply_check_fields(c, ctx.body)
            return 200, g._check_run_json(c), {}
    raise _server()._not_found()


def checks_list_for_ref(g: FakeGitHub, ctx: _Ctx) -> Result:
    r = g._repo_or_404(ctx)
    sha = r.resolve(ctx.params["ref"])
    if sha is None:
        raise _err(422, f"No commit found for SHA: {ctx.params['ref']}")
    runs = [c for c in r.check_runs if c["head_sha"] == sha]
    if "check_name" in ctx.query:
        runs = [c for c in runs if c["name"] == ctx.query["check_name"]]
    if "status" in ctx.query:
        runs = [c for c in runs if c["status"] == ctx.query["status"]]
    page, headers = g._paginate(ctx, runs)
    return (
        200,
        {"total_count": len(runs), "check_runs": [g._check_run_json(c) for c in page]},
        headers,
    )


def repos_create_commit_status(g: FakeGitHub, ctx: _Ctx) -> Result:
    r = g._repo_or_404(ctx)
    sha = r.resolve(ctx.params["sha"])
    if sha is None:
        raise _server()._validation_failed(
            "Status", f"No commit found for SHA: {ctx.params['sha']}", "sha"
        )
    sid = g.ids.next()
    now = _server()._now()

    s = g.spec.shaped(
        "status",
        {
            "id": sid,
            "node_id": f"SC_{sid}",
            "url": g.api(f"/repos/{r.full_name}/statuses/{sha}"),
            "avatar_url": None,
            "state": ctx.body["state"],
            "description": ctx.body.get("description"),
            "target_url": ctx.body.get("target_url"),
            "context": ctx.body.get("context", "default"),
            "created_at": now,
            "updated_at": now,
            "creator": g._user_json(ctx.token.login, ctx.token.user_id),
        },
    )
    s["__sha"] = sha
    r.statuses.append(s)
    return 201, _server()._public(s), {}


# -- contents and git data -------------------------------------------------------------------


def repos_get_content(g: FakeGitHub, ctx: _Ctx) -> Result:
    r = g._repo_or_404(ctx)
    ref = ctx.query.get("ref") or r.default_branch
    sha = r.resolve(ref)
    if sha is None:
        raise _err(404, f"No commit found for the ref {ref}")
    path = ctx.params["path"].strip("/")
    tree = r.trees[r.commits[sha].tree]
    if path in tree:
        return 200, g._content_json(r, path, tree[path][2], sha), {}
    prefix = f"{path}/"
    below = sorted(p for p in tree if p.startswith(prefix))
    if not below:
        raise _server()._not_found()
    entries: dict[str, dict[str, Any]] = {}
    for p in below:
        rest = p[len(prefix) :]
        name = rest.split("/", 1)[0]
        if "/" in rest:
            entries.setdefault(
                name, {"type": "dir", "name": name, "path": prefix + name, "sha": "", "size": 0}
            )
        else:
            entries[name] = {**g._content_json(r, p, tree[p][2], sha), "content": None}
            entries[name].pop("content")
            entries[name].pop("encoding")
    return 200, list(entries.values()), {}


def repos_create_or_update_file_contents(g: FakeGitHub, ctx: _Ctx) -> Result:
    r = g._repo_or_404(ctx)
    b = ctx.body
    path = ctx.params["path"].strip("/")
    branch = b.get("branch") or r.default_branch
    head = r.refs.get(f"heads/{branch}")
    if head is None:
        raise _err(404, f"Branch {branch} not found")
    try:
        data = base64.b64decode(b["content"], validate=True)
    except (binascii.Error, ValueError) as e:
        raise _err(422, "content is not valid Base64") from e
    tree = dict(r.trees[r.commits[head].tree])
    existing = tree.get(path)
    if existing is not None:
        if "sha" not in b:
            raise _err(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
        if b["sha"] != existing[2]:
            raise _err(409, f"{path} does not match {b['sha']}")
    elif b.get("sha"):
        raise _err(409, f"{path} does not match {b['sha']}")
    blob = r.put_blob(data)
    tree[path] = ("100644", "blob", blob)
    tree_sha = r.put_tree(tree)
    who = (
        b.get("committer")
        or b.get("author")
        or {
            "name": ctx.token.login,
            "email": f"{ctx.token.user_id}+{ctx.token.login}@users.noreply",
        }
    )
    commit = r.put_commit(
        tree_sha,
        [head],
        b["message"],
        author=dict(b.get("author") or who),
        committer=dict(who),
        date=_server()._now(),
    )
    g._move_ref(r, f"heads/{branch}", commit.sha)
    content = g._content_json(r, path, blob, commit.sha)
    content.pop("content")
    content.pop("encoding")
    return (
        (201 if existing is None else 200),
        {
            "content": content,
            "commit": g._git_commit_json(r, commit),
        },
        {},
    )


def git_get_ref(g: FakeGitHub, ctx: _Ctx) -> Result:
    r = g._repo_or_404(ctx)
    ref = ctx.params["ref"].removeprefix("refs/")
    if ref not in r.refs:
        raise _server()._not_found()
    return 200, g._ref_json(r, ref), {}


def git_create_ref(g: FakeGitHub, ctx: _Ctx) -> Result:
    r = g._repo_or_404(ctx)
    full = ctx.body["ref"]
    if not full.startswith("refs/") or full.count("/") < 2:
        raise _err(422, "Reference name is invalid")
    ref = full.removeprefix("refs/")
    if ref in r.refs:
        raise _err(422, "Reference already exists")
    if ctx.body["sha"] not in r.commits:
        raise _err(422, "Object does not exist")
    g._move_ref(r, ref, ctx.body["sha"])
    return 201, g._ref_json(r, ref), {}


def git_update_ref(g: FakeGitHub, ctx: _Ctx) -> Result:
    r = g._repo_or_404(ctx)
    ref = ctx.params["ref"].removeprefix("refs/")
    if ref not in r.refs:
        raise _err(422, "Reference does not exist")
    sha = ctx.body["sha"]
    if sha not in r.commits:
        raise _err(422, "Object does not exist")
    if not ctx.body.get("force") and not r.is_ancestor(r.refs[ref], sha):
        raise _err(422, "Update is not a fast forward")
    g._move_ref(r, ref, sha)
    return 200, g._ref_json(r, ref), {}


def git_create_blob(g: FakeGitHub, ctx: _Ctx) -> Result:
    r = g._repo_or_404(ctx)
    enc = ctx.body.get("encoding", "utf-8")
    if enc == "base64":
        try:
            data = base64.b64decode(ctx.body["content"], validate=True)
        except (binascii.Error, ValueError) as e:
            raise _err(422, "content is not valid Base64") from e
    elif enc in ("utf-8", "utf8"):
        data = ctx.body["content"].encode()
    else:
        raise _err(422, f"encoding must be utf-8 or base64, not {enc}")
    sha = r.put_blob(data)
    return 201, {"sha": sha, "url": g.api(f"/repos/{r.full_name}/git/blobs/{sha}")}, {}


def git_create_tree(g: FakeGitHub, ctx: _Ctx) -> Result:
    r = g._repo_or_404(ctx)
    b = ctx.body
    entries: dict[str, tuple[str, str, str]] = {}
    if b.get("base_tree"):
        base = b["base_tree"]
        if base not in r.trees:
            raise _err(422, "base_tree is not a valid tree oid")
        entries.update(r.trees[base])
    for item in b["tree"]:
        path = item.get("path")
        if not path:
            raise _err(422, "tree.path is required")
        if "content" in item and item.get("sha") is not None:
            raise _err(422, "Only one of tree.sha or tree.content may be given")
        if "content" in item:
            sha = r.put_blob(str(item["content"]).encode())
        elif item.get("sha") is None:
            entries.pop(path, None)
            continue
        else:
            sha = item["sha"]
            if sha not in r.blobs:
                raise _err(422, f"tree.sha {sha} is not a valid blob")
        entries[path] = (item.get("mode", "100644"), item.get("type", "blob"), sha)
    tree_sha = r.put_tree(entries)
    return 201, g._tree_json(r, tree_sha), {}


def git_get_tree(g: FakeGitHub, ctx: _Ctx) -> Result:
    r = g._repo_or_404(ctx)
    sha = ctx.params["tree_sha"]
    if sha not in r.trees:
        resolved = r.resolve(sha)
        if resolved is None:
            raise _server()._not_found()
        sha = r.commits[resolved].tree
    return 200, g._tree_json(r, sha), {}


def git_create_commit(g: FakeGitHub, ctx: _Ctx) -> Result:
    r = g._repo_or_404(ctx)
    b = ctx.body
    if b["tree"] not in r.trees:
        raise _err(422, "Tree SHA does not exist")
    for p in b.get("parents", []):
        if p not in r.commits:
            raise _err(422, "Parent SHA does not exist or is not a commit object")
    who = {
        "name": ctx.token.login,
        "email": f"{ctx.token.user_id}+{ctx.token.login}@users.noreply.github.com",
    }
    commit = r.put_commit(
        b["tree"],
        list(b.get("parents", [])),
        b["message"],
        author=dict(b.get("author") or who),
        committer=dict(b.get("committer") or b.get("author") or who),
        date=_server()._now(),
    )
    return 201, g._git_commit_json(r, commit), {}


def git_get_commit(g: FakeGitHub, ctx: _Ctx) -> Result:
    r = g._repo_or_404(ctx)
    c = r.commits.get(ctx.params["commit_sha"])
    if c is None:
        raise _server()._not_found()
    return 200, g._git_commit_json(r, c), {}


# -- collaborators and reactions -------------------------------------------------------------

# The legacy `permission` GitHub still reports beside the role.
_LEGACY_PERMISSION = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
    "none": "none",
}


def repos_get_collaborator_permission_level(g: FakeGitHub, ctx: _Ctx) -> Result:
    r = g._repo_or_404(ctx)
    login = ctx.params["username"]
    role = r.collaborators.get(login, "none")
    user = {**g._user_json(login), "role_name": role}
    return (
        200,
        {"permission": _LEGACY_PERMISSION[role], "role_name": role, "user": user},
        {},
    )


def _react(g: FakeGitHub, ctx: _Ctx, comments: list[dict[str, Any]], r: Repo) -> Result:
    cid = ctx.params["comment_id"]
    if not any(str(c["id"]) == cid for c in comments):
        raise _server()._not_found()
    content = ctx.body["content"]
    for existing in r.reactions:
        # GitHub answers 200 with the reaction already given instead of adding a second one.
        if (
            str(existing["comment_id"]) == cid
            and existing["content"] == content
            and existing["user"]["login"] == ctx.token.login
        ):
            return 200, existing["json"], {}
    rid = g.ids.next()
    data = {
        "id": rid,
        "node_id": f"REA_{rid}",
        "user": g._user_json(ctx.token.login, ctx.token.user_id),
        "content": content,
        "created_at": _server()._now(),
    }
    r.reactions.append(
        {"comment_id": int(cid), "content": content, "user": data["user"], "json": data}
    )
    return 201, data, {}


def reactions_create_for_issue_comment(g: FakeGitHub, ctx: _Ctx) -> Result:
    r = g._repo_or_404(ctx)
    return _react(g, ctx, r.issue_comments, r)


def reactions_create_for_pull_request_review_comment(g: FakeGitHub, ctx: _Ctx) -> Result:
    r = g._repo_or_404(ctx)
    return _react(g, ctx, r.review_comments, r)


HANDLERS = {
    name.replace("_", "/", 1).replace("_", "-"): fn
    for name, fn in dict(globals()).items()
    if callable(fn)
    and name.split("_", 1)[0] in ("users", "repos", "pulls", "issues", "checks", "git", "reactions")
    and not name.startswith("_")
}
