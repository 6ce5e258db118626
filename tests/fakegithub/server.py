"""A stateful fake of GitHub's REST API on 127.0.0.1, for driving the real PyGithub client."""

from __future__ import annotations

import base64
import json
import re
import threading
import traceback
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import rules
from .openapi import Operation, Spec, load_spec
from .state import BOT_ID, BOT_LOGIN, GitCommit, Ids, Pull, Repo, Token

DOCS = "https://docs.github.com/rest"
NOT_ACCESSIBLE = "Resource not accessible by integration"
SECONDARY_RATE_LIMIT = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID FAKE:0000."
)


# A status the fake uses internally: answer nothing and close the connection.
DROP_CONNECTION = 0


class ApiError(Exception):
    def __init__(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(payload.get("message"))
        self.status = status
        self.payload = payload
        self.headers = headers or {}


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str  # without the API prefix and query string
    status: int
    query: str = ""
    # The bytes the client sent, exactly as received (empty for a request without a body):
    # what a test scans to prove a secret never left the process.
    body: bytes = b""


@dataclass(frozen=True)
class RefWrite:
    repo: str
    ref: str  # "heads/<branch>"
    old_sha: str | None
    new_sha: str
    protected: bool  # the repo's default branch or the base branch of an open PR


@dataclass
class _Injection:
    remaining: int
    status: int
    method: str | None
    kind: str  # "error" | "secondary" | "applied" (the write happens, the answer is an error)
    retry_after: int
    path: str | None = None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _validation_failed(resource: str, message: str, field: str = "data") -> ApiError:
    return ApiError(
        422,
        {
            "message": "Validation Failed",
            "errors": [
                {"resource": resource, "code": "custom", "field": field, "message": message}
            ],
            "documentation_url": DOCS,
            "status": "422",
        },
    )


def _unprocessable(messages: list[str], doc_url: str = DOCS) -> ApiError:
    return ApiError(
        422,
        {
            "message": "Unprocessable Entity",
            "errors": [rules.english_join(messages)],
            "documentation_url": doc_url,
            "status": "422",
        },
    )


def _not_found(message: str = "Not Found") -> ApiError:
    return ApiError(404, {"message": message, "documentation_url": DOCS, "status": "404"})


class FakeGitHub:
    """Fake GitHub REST server. See the package docstring for the public API."""

    def __init__(self, api_prefix: str = "", *, strict_responses: bool = True) -> None:
        self.api_prefix = api_prefix.rstrip("/")
        self.strict_responses = strict_responses
        self.spec: Spec = load_spec()
        self.lock = threading.RLock()
        self.ids = Ids()
        self.repos: dict[str, Repo] = {}
        self.tokens: dict[str, Token] = {}
        self.requests_log: list[LoggedRequest] = []
        self.ref_writes: list[RefWrite] = []
        self.response_schema_errors: list[str] = []
        self.internal_errors: list[str] = []
        self.write_count = 0  # non-GET requests answered with a 2xx
        self._injections: list[_Injection] = []
        # Writes applied and then answered with an error (fail_after_applying_next).
        self.applied_then_failed = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.root = ""

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> str:
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        port = self._server.server_address[1]
        self.root = f"http://127.0.0.1:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeGitHub:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The REST base URL (PyGithub's `base_url`, GITHUB_API_URL)."""
        return f"{self.root}{self.api_prefix}"

    @property
    def graphql_url(self) -> str:
        return f"{self.root}{self.api_prefix.removesuffix('/v3')}/graphql"

    # -- state API ---------------------------------------------------------------------------

    def set_token(
        self,
        token: str,
        permissions: str = "write",
        *,
        login: str = BOT_LOGIN,
        actions: bool = True,
    ) -> None:
        if permissions not in ("write", "read"):
            raise ValueError(f"permissions must be 'write' or 'read', not {permissions!r}")
        with self.lock:
            uid = BOT_ID if login == BOT_LOGIN else self.ids.next()
            self.tokens[token] = Token(token, permissions, login, uid, actions)

    def add_repo(
        self,
        full_name: str,
        default_branch: str = "main",
        fork_of: str | None = None,
        *,
        files: dict[str, str] | None = None,
        actions_can_create_prs: bool = True,
    ) -> str:
        """Create a repo whose default branch holds one commit with `files`. Returns its sha."""
        with self.lock:
            if fork_of is not None and fork_of not in self.repos:
                raise KeyError(f"fork_of {fork_of!r} is not a known repo")
            repo = Repo(full_name, self.ids.next(), default_branch, fork_of, actions_can_create_prs)
            self.repos[full_name] = repo
            if fork_of is not None and files is None:
                parent = self.repos[fork_of]
                repo.blobs.update(parent.blobs)
                repo.trees.update(parent.trees)
                repo.commits.update(parent.commits)
                repo.refs.update(parent.refs)
                return repo.refs[f"heads/{parent.default_branch}"]
            tree = repo.tree_from_files(files or {})
            commit = repo.put_commit(tree, [], "Initial commit")
            repo.refs[f"heads/{default_branch}"] = commit.sha
            return commit.sha

    def add_branch(
        self, repo: str, branch: str, files: dict[str, str], parent: str | None = None
    ) -> str:
        """Commit `files` (the whole tree) on `branch`, on top of `parent` (ref or sha)."""
        with self.lock:
            r = self._repo(repo)
            parents: list[str] = []
            base = parent or branch
            base_sha = r.resolve(base)
            if base_sha is None and parent is None:
                base_sha = r.refs.get(f"heads/{r.default_branch}")
            if base_sha is not None:
                parents = [base_sha]
            commit = r.put_commit(r.tree_from_files(files), parents, f"Update {branch}")
            r.refs[f"heads/{branch}"] = commit.sha
            return commit.sha

    def add_pull(
        self,
        repo: str,
        number: int,
        base_ref: str,
        base_sha: str,
        head_ref: str,
        head_sha: str,
        head_repo: str | None = None,
        files: list[dict[str, Any]] | None = None,
        *,
        title: str = "A pull request",
        body: str | None = None,
        draft: bool = False,
        user: str = "octocat",
    ) -> None:
        """Register a PR with explicit file entries (`filename`, `status`, `patch`, ...)."""
        with self.lock:
            r = self._repo(repo)
            hr = self._repo(head_repo) if head_repo else r
            for rr, sha in ((r, base_sha), (hr, head_sha)):
                if sha not in rr.commits:
                    # A stub commit so `GET /commits/{sha}` works for PRs built from bare shas.
                    tree = rr.put_tree({})
                    rr.commits[sha] = GitCommit(sha, tree, [], "stub", *_stub_people())
            r.refs.setdefault(f"heads/{base_ref}", base_sha)
            hr.refs.setdefault(f"heads/{head_ref}", head_sha)
            if hr is not r:
                # GitHub keeps a fork's pull request head in the base repository too
                # (refs/pull/N/head), so check runs and statuses can name it there.
                r.commits.setdefault(head_sha, hr.commits[head_sha])
                r.refs[f"pull/{number}/head"] = head_sha
            entries = [_normalize_file(f) for f in (files or [])]
            r.pulls[number] = Pull(
                number,
                self.ids.next(),
                title,
                body,
                base_ref,
                base_sha,
                head_ref,
                head_sha,
                hr.full_name,
                entries,
                draft=draft,
                user=user,
            )
            r.next_number = max(r.next_number, number + 1)

    def add_pull_from_texts(
        self,
        repo: str,
        number: int,
        base_files: dict[str, str],
        head_files: dict[str, str],
        *,
        base_ref: str | None = None,
        head_ref: str | None = None,
        head_repo: str | None = None,
        title: str = "A pull request",
        body: str | None = None,
    ) -> tuple[str, str]:
        """Commit both trees and register a PR whose patches difflib computes.

        `base_files` becomes a commit on the base branch, `head_files` (the whole head tree)
        a child commit on the head branch. Returns (base_sha, head_sha).
        """
        with self.lock:
            r = self._repo(repo)
            base_ref = base_ref or r.default_branch
            head_ref = head_ref or f"pr-{number}"
            base_sha = self.add_branch(repo, base_ref, base_files)
            hr = self._repo(head_repo) if head_repo else r
            if hr is not r:
                for attr in ("blobs", "trees", "commits"):
                    getattr(hr, attr).update(getattr(r, attr))
            commit = hr.put_commit(hr.tree_from_files(head_files), [base_sha], f"Change {head_ref}")
            hr.refs[f"heads/{head_ref}"] = commit.sha
            files = _files_between(base_files, head_files)
            self.add_pull(
                repo,
                number,
                base_ref,
                base_sha,
                head_ref,
                commit.sha,
                head_repo,
                files,
                title=title,
                body=body,
            )
            return base_sha, commit.sha

    def add_collaborator(self, repo: str, login: str, role: str) -> None:
        if role not in ("admin", "maintain", "write", "triage", "read"):
            raise ValueError(f"unknown repository role {role!r}")
        with self.lock:
            self._repo(repo).collaborators[login] = role

    def add_comment_by(
        self,
        repo: str,
        number: int,
        login: str,
        body: str,
        *,
        reply_to: int | None = None,
    ) -> dict[str, Any]:
        """A comment someone else wrote: on the conversation, or (``reply_to``, a review
        comment's id) in that review thread. Returns it as the webhook payload carries it."""
        path = (
            f"/repos/{repo}/issues/{number}/comments"
            if reply_to is None
            else f"/repos/{repo}/pulls/{number}/comments/{reply_to}/replies"
        )
        with self.lock:
            found = self.spec.match("POST", path)
            assert found is not None, path
            op, params = found
            author = Token("", "write", login, self.ids.next(), actions=False)
            ctx = _Ctx(op, params, {}, {"body": body}, author, path)
            _, payload, _ = _HANDLERS[op.operation_id](self, ctx)
            return dict(payload)

    def reactions(self, repo: str, comment_id: int | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [
                dict(x)
                for x in self._repo(repo).reactions
                if comment_id is None or x["comment_id"] == comment_id
            ]

    # -- failure injection -------------------------------------------------------------------

    def fail_next(
        self, n: int = 1, status: int = 502, *, method: str | None = None, path: str | None = None
    ) -> None:
        """The next `n` requests (of `method`, and to a path holding `path`, if given) get
        `status` with a JSON error body."""
        with self.lock:
            self._injections.append(_Injection(n, status, method, "error", 0, path))

    def fail_after_applying_next(
        self,
        n: int = 1,
        status: int = 502,
        *,
        method: str = "POST",
        path: str | None = None,
        drop: bool = False,
    ) -> None:
        """The next `n` writes (of `method`, whose path contains `path`) are APPLIED, then
        answered with `status`, or with `drop` the connection closes with no answer at all:
        GitHub documents that this happens, and that retrying such a request blindly can
        duplicate what it created."""
        with self.lock:
            kind = "applied-drop" if drop else "applied"
            self._injections.append(_Injection(n, status, method, kind, 0, path))

    def fail_every_write(self, status: int = 502) -> None:
        """Every later write gets `status` without being applied (reads still work)."""
        with self.lock:
            for method in ("POST", "PATCH", "PUT", "DELETE"):
                self._injections.append(_Injection(10**9, status, method, "error", 0))

    def secondary_rate_limit_next(
        self, n: int = 1, *, retry_after: int = 1, method: str | None = None
    ) -> None:
        """The next `n` requests get GitHub's 403 secondary-rate-limit answer with Retry-After."""
        with self.lock:
            self._injections.append(_Injection(n, 403, method, "secondary", retry_after))

    # -- inspection --------------------------------------------------------------------------

    def repo(self, full_name: str) -> Repo:
        return self._repo(full_name)

    def reviews(self, repo: str, number: int) -> list[dict[str, Any]]:
        with self.lock:
            return [_public(x) for x in self._repo(repo).reviews if x["__pull"] == number]

    def review_comments(self, repo: str, number: int | None = None) -> list[dict[str, Any]]:
        with self.lock:
            items = self._repo(repo).review_comments
            return [_public(c) for c in items if number is None or c["__pull"] == number]

    def issue_comments(self, repo: str, number: int | None = None) -> list[dict[str, Any]]:
        with self.lock:
            items = self._repo(repo).issue_comments
            return [_public(c) for c in items if number is None or c["__issue"] == number]

    def check_runs(self, repo: str, head_sha: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            items = self._repo(repo).check_runs
            return [
                {**self._check_run_json(c), "annotations": list(c["__annotations"])}
                for c in items
                if head_sha in (None, c["head_sha"])
            ]

    def minimized(self, repo: str) -> dict[int, str | None]:
        """Ids of minimized issue/review comments -> the GraphQL classifier used."""
        with self.lock:
            r = self._repo(repo)
            return {
                c["id"]: c.get("__minimized_reason")
                for c in r.issue_comments + r.review_comments
                if c.get("__minimized")
            }

    def statuses(self, repo: str, sha: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [_public(s) for s in self._repo(repo).statuses if sha in (None, s["__sha"])]

    def refs(self, repo: str) -> dict[str, str]:
        with self.lock:
            return dict(self._repo(repo).refs)

    def commits(self, repo: str) -> dict[str, GitCommit]:
        with self.lock:
            return dict(self._repo(repo).commits)

    def pulls(self, repo: str) -> dict[int, Pull]:
        with self.lock:
            return dict(self._repo(repo).pulls)

    def file_at(self, repo: str, ref: str, path: str) -> str | None:
        """Text of `path` at a branch or sha, or None when absent."""
        with self.lock:
            r = self._repo(repo)
            sha = r.resolve(ref)
            if sha is None:
                raise KeyError(f"unknown ref {ref!r} in {repo}")
            return r.files_at(sha).get(path)

    def protected_ref_writes(self) -> list[RefWrite]:
        """Ref moves on a default branch or a PR's base branch (promptloop must make none)."""
        with self.lock:
            return [w for w in self.ref_writes if w.protected]

    def writes(self) -> list[LoggedRequest]:
        with self.lock:
            return [r for r in self.requests_log if r.method != "GET"]

    def sent_bytes(self) -> bytes:
        """Everything every request carried to the fake: paths, queries and bodies, in order.
        A secret absent from this was never sent to GitHub in any form the fake saw."""
        with self.lock:
            return b"\n".join(
                b" ".join((r.method.encode(), r.path.encode(), r.query.encode(), r.body))
                for r in self.requests_log
            )

    # -- URLs --------------------------------------------------------------------------------

    def api(self, path: str) -> str:
        return f"{self.url}{path}"

    def html(self, path: str) -> str:
        return f"{self.root}{path}"

    # -- request handling --------------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], raw_body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        parsed = urllib.parse.urlsplit(raw_path)
        path = urllib.parse.unquote(parsed.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query).items()}
        with self.lock:
            status, extra, payload = self._dispatch(method, path, query, headers, raw_body)
            logged = (
                path.removeprefix(self.api_prefix) if path.startswith(self.api_prefix) else path
            )
            self.requests_log.append(
                LoggedRequest(method, logged, status, parsed.query, bytes(raw_body))
            )
            if method != "GET" and 200 <= status < 300:
                self.write_count += 1
        out_headers = {
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": str(max(0, 5000 - len(self.requests_log))),
            "X-RateLimit-Reset": "4102444800",
            "X-GitHub-Request-Id": f"FAKE:{len(self.requests_log)}",
        }
        out_headers.update(extra)
        if payload is None:
            return status, out_headers, b""
        out_headers["Content-Type"] = "application/json; charset=utf-8"
        return status, out_headers, json.dumps(payload).encode()

    def _take_injection(self, method: str, path: str) -> _Injection | None:
        for inj in self._injections:
            if inj.path is not None and inj.path not in path:
                continue
            if inj.remaining > 0 and inj.method in (None, method):
                inj.remaining -= 1
                return inj
        return None

    def _dispatch(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        raw_body: bytes,
        *,
        inject: bool = True,
    ) -> tuple[int, dict[str, str], Any]:
        inj = self._take_injection(method, path) if inject else None
        if inj is not None and inj.kind in ("applied", "applied-drop"):
            status, _, _ = self._dispatch(method, path, query, headers, raw_body, inject=False)
            if 200 <= status < 300:
                self.write_count += 1
                self.applied_then_failed += 1
            if inj.kind == "applied-drop":
                return DROP_CONNECTION, {}, None
            return inj.status, {}, {"message": "Server Error", "status": str(inj.status)}
        if inj is not None and inj.kind == "secondary":
            return (
                403,
                {"Retry-After": str(inj.retry_after)},
                {"message": SECONDARY_RATE_LIMIT, "documentation_url": DOCS, "status": "403"},
            )
        if inj is not None:
            return inj.status, {}, {"message": "Server Error", "status": str(inj.status)}
        try:
            token = self._authenticate(headers)
            graphql_path = self.graphql_url.removeprefix(self.root)
            if method == "POST" and path == graphql_path:
                return 200, {}, self._graphql(token, _parse_json(raw_body))
            if not path.startswith(self.api_prefix):
                raise _not_found()
            api_path = path.removeprefix(self.api_prefix) or "/"
            found = self.spec.match(method, api_path)
            if found is None:
                raise _not_found()
            op, params = found
            if method != "GET" and token.permission != "write":
                raise ApiError(
                    403,
                    {"message": NOT_ACCESSIBLE, "documentation_url": op.doc_url, "status": "403"},
                )
            body = _parse_json(raw_body) if raw_body.strip() else None
            if body is None and op.body_schema is not None:
                body = {}
            if op.body_schema is not None:
                problem = self.spec.validate_body(op, body)
                if problem is not None:
                    raise ApiError(
                        422,
                        {
                            "message": f"Invalid request.\n\n{problem}",
                            "documentation_url": op.doc_url,
                            "status": "422",
                        },
                    )
            handler = _HANDLERS.get(op.operation_id)
            if handler is None:
                raise _not_found()
            result = handler(self, _Ctx(op, params, query, body, token, api_path))
            status, payload, extra = result
            if self.strict_responses and payload is not None:
                for err in self.spec.validate_response(op, status, payload):
                    self.response_schema_errors.append(f"{method} {api_path}: {err}")
            return status, extra, payload
        except ApiError as e:
            return e.status, e.headers, e.payload
        except Exception as e:  # a bug in the fake must fail the test, not hang the client
            self.internal_errors.append(f"{method} {path}: {traceback.format_exc()}")
            return 500, {}, {"message": f"fake GitHub internal error: {e!r}", "status": "500"}

    def _authenticate(self, headers: dict[str, str]) -> Token:
        auth = headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if not auth:
            raise ApiError(401, {"message": "Requires authentication", "documentation_url": DOCS})
        if scheme.lower() not in ("token", "bearer") or value.strip() not in self.tokens:
            raise ApiError(
                401, {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"}
            )
        return self.tokens[value.strip()]

    def _repo(self, full_name: str) -> Repo:
        r = self.repos.get(full_name)
        if r is None:
            raise KeyError(f"unknown repo {full_name!r}; call add_repo first")
        return r

    def _repo_or_404(self, ctx: _Ctx) -> Repo:
        r = self.repos.get(f"{ctx.params['owner']}/{ctx.params['repo']}")
        if r is None:
            raise _not_found()
        return r

    def _pull_or_404(self, r: Repo, number: str) -> Pull:
        p = r.pulls.get(int(number)) if number.isdigit() else None
        if p is None:
            raise _not_found()
        return p

    def _move_ref(self, r: Repo, ref: str, sha: str) -> None:
        branch = ref.removeprefix("heads/")
        protected = ref.startswith("heads/") and (
            branch == r.default_branch
            or any(p.base_ref == branch and p.state == "open" for p in r.pulls.values())
        )
        self.ref_writes.append(RefWrite(r.full_name, ref, r.refs.get(ref), sha, protected))
        r.refs[ref] = sha

    # -- JSON builders -----------------------------------------------------------------------

    def _user_json(self, login: str, uid: int | None = None) -> dict[str, Any]:
        is_bot = login.endswith("[bot]")
        uid = uid if uid is not None else (BOT_ID if login == BOT_LOGIN else 1)
        return self.spec.shaped(
            "simple-user",
            {
                "login": login,
                "id": uid,
                "node_id": f"U_{uid}",
                "type": "Bot" if is_bot else "User",
                "url": self.api(f"/users/{login}"),
                "html_url": self.html(f"/{login}"),
                "avatar_url": self.html(f"/avatars/{uid}"),
                "site_admin": False,
            },
        )

    def _repo_json(self, r: Repo, full: bool = True) -> dict[str, Any]:
        base = self.api(f"/repos/{r.full_name}")
        data: dict[str, Any] = {
            "id": r.id,
            "node_id": f"R_{r.id}",
            "name": r.name,
            "full_name": r.full_name,
            "owner": self._user_json(r.owner, r.id + 1),
            "private": False,
            "fork": r.fork_of is not None,
            "default_branch": r.default_branch,
            "url": base,
            "html_url": self.html(f"/{r.full_name}"),
            "pulls_url": base + "/pulls{/number}",
            "issues_url": base + "/issues{/number}",
            "git_refs_url": base + "/git/refs{/sha}",
            "contents_url": base + "/contents/{+path}",
            "statuses_url": base + "/statuses/{sha}",
            "commits_url": base + "/commits{/sha}",
            "branches_url": base + "/branches{/branch}",
            "clone_url": self.html(f"/{r.full_name}.git"),
            "permissions": {
                "admin": False,
                "maintain": False,
                "push": True,
                "triage": True,
                "pull": True,
            },
        }
        if not full:
            return self.spec.shaped("repository", data)
        if r.fork_of is not None:
            parent = self._repo_json(self.repos[r.fork_of], full=False)
            data["parent"] = parent
            data["source"] = parent
        return self.spec.shaped("full-repository", data)

    def _pull_json(self, r: Repo, p: Pull) -> dict[str, Any]:
        base = self.api(f"/repos/{r.full_name}")
        hr = self.repos[p.head_repo]
        files = p.files[: rules.MAX_PR_FILES]
        data = {
            "id": p.id,
            "node_id": f"PR_{p.id}",
            "number": p.number,
            "state": p.state,
            "title": p.title,
            "body": p.body,
            "draft": p.draft,
            "user": self._user_json(p.user),
            "url": f"{base}/pulls/{p.number}",
            "html_url": self.html(f"/{r.full_name}/pull/{p.number}"),
            "diff_url": self.html(f"/{r.full_name}/pull/{p.number}.diff"),
            "patch_url": self.html(f"/{r.full_name}/pull/{p.number}.patch"),
            "issue_url": f"{base}/issues/{p.number}",
            "commits_url": f"{base}/pulls/{p.number}/commits",
            "review_comments_url": f"{base}/pulls/{p.number}/comments",
            "review_comment_url": f"{base}/pulls/comments" + "{/number}",
            "comments_url": f"{base}/issues/{p.number}/comments",
            "statuses_url": f"{base}/statuses/{p.head_sha}",
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
            "head": {
                "label": f"{hr.owner}:{p.head_ref}",
                "ref": p.head_ref,
                "sha": p.head_sha,
                "user": self._user_json(hr.owner, hr.id + 1),
                "repo": self._repo_json(hr, full=False),
            },
            "base": {
                "label": f"{r.owner}:{p.base_ref}",
                "ref": p.base_ref,
                "sha": p.base_sha,
                "user": self._user_json(r.owner, r.id + 1),
                "repo": self._repo_json(r, full=False),
            },
            "merged": False,
            "mergeable": True,
            "changed_files": len(files),
            "additions": sum(int(f.get("additions", 0)) for f in files),
            "deletions": sum(int(f.get("deletions", 0)) for f in files),
            "commits": 1,
            "comments": sum(1 for c in r.issue_comments if c["__issue"] == p.number),
            "review_comments": sum(1 for c in r.review_comments if c["__pull"] == p.number),
            "_links": {
                k: {"href": v}
                for k, v in {
                    "self": f"{base}/pulls/{p.number}",
                    "html": self.html(f"/{r.full_name}/pull/{p.number}"),
                    "issue": f"{base}/issues/{p.number}",
                    "comments": f"{base}/issues/{p.number}/comments",
                    "review_comments": f"{base}/pulls/{p.number}/comments",
                    "review_comment": f"{base}/pulls/comments" + "{/number}",
                    "commits": f"{base}/pulls/{p.number}/commits",
                    "statuses": f"{base}/statuses/{p.head_sha}",
                }.items()
            },
        }
        return self.spec.shaped("pull-request", data)

    def _file_json(self, r: Repo, p: Pull, f: dict[str, Any]) -> dict[str, Any]:
        name = f["filename"]
        quoted = urllib.parse.quote(name)
        data = dict(f)
        data.setdefault("sha", rules.git_blob_sha(name.encode()))
        data.update(
            {
                "blob_url": self.html(f"/{r.full_name}/blob/{p.head_sha}/{quoted}"),
                "raw_url": self.html(f"/{r.full_name}/raw/{p.head_sha}/{quoted}"),
                "contents_url": self.api(
                    f"/repos/{r.full_name}/contents/{quoted}?ref={p.head_sha}"
                ),
            }
        )
        return self.spec.shaped("diff-entry", data)

    def _check_run_json(self, c: dict[str, Any]) -> dict[str, Any]:
        out = _public(c)
        out["output"] = dict(out["output"])
        out["output"]["annotations_count"] = len(c["__annotations"])
        return out

    def _commit_json(self, r: Repo, c: GitCommit) -> dict[str, Any]:
        base = self.api(f"/repos/{r.full_name}")
        return self.spec.shaped(
            "commit",
            {
                "sha": c.sha,
                "node_id": f"C_{c.sha}",
                "url": f"{base}/commits/{c.sha}",
                "html_url": self.html(f"/{r.full_name}/commit/{c.sha}"),
                "comments_url": f"{base}/commits/{c.sha}/comments",
                "commit": self._git_commit_json(r, c),
                "author": None,
                "committer": None,
                "parents": [
                    {
                        "sha": s,
                        "url": f"{base}/commits/{s}",
                        "html_url": self.html(f"/{r.full_name}/commit/{s}"),
                    }
                    for s in c.parents
                ],
                "files": [],
                "stats": {"additions": 0, "deletions": 0, "total": 0},
            },
        )

    def _git_commit_json(self, r: Repo, c: GitCommit) -> dict[str, Any]:
        base = self.api(f"/repos/{r.full_name}")
        return self.spec.shaped(
            "git-commit",
            {
                "sha": c.sha,
                "node_id": f"C_{c.sha}",
                "url": f"{base}/git/commits/{c.sha}",
                "html_url": self.html(f"/{r.full_name}/commit/{c.sha}"),
                "author": c.author,
                "committer": c.committer,
                "message": c.message,
                "tree": {"sha": c.tree, "url": f"{base}/git/trees/{c.tree}"},
                "parents": [
                    {
                        "sha": s,
                        "url": f"{base}/git/commits/{s}",
                        "html_url": self.html(f"/{r.full_name}/commit/{s}"),
                    }
                    for s in c.parents
                ],
                "verification": {
                    "verified": False,
                    "reason": "unsigned",
                    "signature": None,
                    "payload": None,
                    "verified_at": None,
                },
                "comment_count": 0,
            },
        )

    def _ref_json(self, r: Repo, ref: str) -> dict[str, Any]:
        sha = r.refs[ref]
        base = self.api(f"/repos/{r.full_name}")
        return self.spec.shaped(
            "git-ref",
            {
                "ref": f"refs/{ref}",
                "node_id": f"REF_{ref}",
                "url": f"{base}/git/refs/{ref}",
                "object": {"type": "commit", "sha": sha, "url": f"{base}/git/commits/{sha}"},
            },
        )

    def _tree_json(self, r: Repo, sha: str) -> dict[str, Any]:
        base = self.api(f"/repos/{r.full_name}")
        entries = [
            {
                "path": p,
                "mode": m,
                "type": t,
                "sha": s,
                "size": len(r.blobs.get(s, b"")),
                "url": f"{base}/git/blobs/{s}",
            }
            for p, (m, t, s) in sorted(r.trees[sha].items())
        ]
        return {"sha": sha, "url": f"{base}/git/trees/{sha}", "truncated": False, "tree": entries}

    def _content_json(self, r: Repo, path: str, blob: str, ref_sha: str) -> dict[str, Any]:
        base = self.api(f"/repos/{r.full_name}")
        data = r.blobs[blob]
        q = urllib.parse.quote(path)
        return self.spec.shaped(
            "content-file",
            {
                "type": "file",
                "encoding": "base64",
                "size": len(data),
                "name": path.rsplit("/", 1)[-1],
                "path": path,
                "content": base64.encodebytes(data).decode(),
                "sha": blob,
                "url": f"{base}/contents/{q}?ref={ref_sha}",
                "git_url": f"{base}/git/blobs/{blob}",
                "html_url": self.html(f"/{r.full_name}/blob/{ref_sha}/{q}"),
                "download_url": self.html(f"/{r.full_name}/raw/{ref_sha}/{q}"),
                "_links": {
                    "self": f"{base}/contents/{q}?ref={ref_sha}",
                    "git": f"{base}/git/blobs/{blob}",
                    "html": self.html(f"/{r.full_name}/blob/{ref_sha}/{q}"),
                },
            },
        )

    def _paginate(
        self, ctx: _Ctx, items: list[Any], cap: int | None = None
    ) -> tuple[list[Any], dict[str, str]]:
        if cap is not None:
            items = items[:cap]
        per_page = _int_param(ctx.query, "per_page", 30)
        per_page = max(1, min(per_page, 100))
        page = max(1, _int_param(ctx.query, "page", 1))
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]

        def link(n: int) -> str:
            q = dict(ctx.query, per_page=str(per_page), page=str(n))
            return f"<{self.api(ctx.api_path)}?{urllib.parse.urlencode(q)}>"

        rels = []
        if page > 1:
            rels += [f'{link(page - 1)}; rel="prev"', f'{link(1)}; rel="first"']
        if page < last:
            rels += [f'{link(page + 1)}; rel="next"', f'{link(last)}; rel="last"']
        return chunk, ({"Link": ", ".join(rels)} if rels else {})

    def _graphql(self, token: Token, body: Any) -> dict[str, Any]:
        query = str(body.get("query", "")) if isinstance(body, dict) else ""
        m = re.search(r"\b(minimizeComment|unminimizeComment)\s*\(", query)
        if m is None:
            return {"errors": [{"message": "Only minimizeComment is faked", "type": "FAKE"}]}
        if token.permission != "write":
            raise ApiError(403, {"message": NOT_ACCESSIBLE, "documentation_url": DOCS})
        name = m.group(1)
        inp = body.get("variables", {}).get("input", {})
        subject = inp.get("subjectId")
        for r in self.repos.values():
            for c in r.issue_comments + r.review_comments:
                if c["node_id"] == subject:
                    minimize = name == "minimizeComment"
                    c["__minimized"] = minimize
                    c["__minimized_reason"] = inp.get("classifier") if minimize else None
                    key = "minimizedComment" if minimize else "unminimizedComment"
                    return {"data": {name: {key: {"isMinimized": minimize}}}}
        return {
            "errors": [
                {
                    "type": "NOT_FOUND",
                    "message": f"Could not resolve to a node with the global id of '{subject}'",
                }
            ]
        }


@dataclass
class _Ctx:
    op: Operation
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    token: Token
    api_path: str


def _stub_people() -> tuple[dict[str, str], dict[str, str]]:
    who = {"name": "octocat", "email": "octocat@example.com", "date": "2026-01-01T00:00:00Z"}
    return who, dict(who)


def _normalize_file(f: dict[str, Any]) -> dict[str, Any]:
    out = dict(f)
    if "filename" not in out:
        raise ValueError(f"PR file entry needs 'filename': {f!r}")
    out.setdefault("status", "modified")
    if "patch" in out and ("additions" not in out or "deletions" not in out):
        lines = (out["patch"] or "").split("\n")
        out.setdefault("additions", sum(1 for x in lines if x.startswith("+")))
        out.setdefault("deletions", sum(1 for x in lines if x.startswith("-")))
    out.setdefault("additions", 0)
    out.setdefault("deletions", 0)
    out["changes"] = int(out["additions"]) + int(out["deletions"])
    if out.get("patch") is None:
        out.pop("patch", None)
    return out


def _files_between(base: dict[str, str], head: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for path in sorted(set(base) | set(head)):
        entry = rules.file_entry(path, base.get(path), head.get(path))
        if entry is not None:
            if path in head:
                entry["sha"] = rules.git_blob_sha(head[path].encode())
            out.append(entry)
    return out


def _public(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if not k.startswith("__")}


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode() or "null")
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ApiError(
            400, {"message": "Problems parsing JSON", "documentation_url": DOCS, "status": "400"}
        ) from e


def _int_param(query: dict[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    return int(raw) if raw is not None and raw.isdigit() else default


class _Handler(BaseHTTPRequestHandler):
    owner: FakeGitHub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, out_headers, payload = self.owner.handle(self.command, self.path, headers, raw)
        if status == DROP_CONNECTION:
            # The request was applied; the client never hears back (a reset connection).
            self.close_connection = True
            return
        self.send_response(status)
        for k, v in out_headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


# Handlers live in endpoints.py; imported last so it can use the names above.
Handler = Callable[[FakeGitHub, _Ctx], tuple[int, Any, dict[str, str]]]
_HANDLERS: dict[str, Handler] = {}

from .endpoints import HANDLERS as _ENDPOINT_HANDLERS  # noqa: E402

_HANDLERS.update(_ENDPOINT_HANDLERS)
