"""Everything promptloop asks of GitHub's REST API; the only module that imports PyGithub.

Each method makes as few requests as it can (one review for all comments, annotations in
batches of 50) because the Actions token has small secondary rate limits, and turns every
PyGithub failure into a one-line ``InfraError``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Literal, cast

import requests
from github import Auth, Github, GithubException, GithubRetry
from github.IssueComment import IssueComment
from github.PullRequest import PullRequest
from github.Repository import Repository

from promptloop.errors import InfraError
from promptloop.github.diff import Hunk, PatchError, hunk_containing, parse_patch
from promptloop.github.workflow import Annotation
from promptloop.safety import (
    GITHUB_BODY_LIMIT,
    SUMMARY_MARKER,
    inline_code,
    mask_secrets,
    parse_review_marker,
    truncate_body,
)

BOT_LOGIN = "github-actions[bot]"
MAX_PULL_FILES = 3000
ANNOTATIONS_PER_REQUEST = 50
STATUS_DESCRIPTION_LIMIT = 140
_NOT_ACCESSIBLE = "Resource not accessible by integration"
_ACTIONS_CANNOT_OPEN_PRS = "not permitted to create or approve pull requests"
OUTDATED_PREFIX = "> **Outdated:** superseded by"

CommitState = Literal["error", "failure", "pending", "success"]
Conclusion = Literal[
    "action_required", "cancelled", "failure", "neutral", "success", "skipped", "timed_out"
]


class ReadOnlyTokenError(InfraError):
    """The token may read but not write (fork PRs, or missing ``permissions:`` in the workflow)."""


@dataclass(frozen=True)
class PullFile:
    filename: str
    status: str
    # None for binary files and diffs too large for GitHub to include: nothing is commentable.
    patch: str | None
    previous_filename: str | None = None
    additions: int = 0
    deletions: int = 0
    sha: str | None = None

    @cached_property
    def hunks(self) -> list[Hunk]:
        """The patch's hunks, parsed once; a patch we cannot parse leaves nothing commentable
        (never a 422)."""
        try:
            return parse_patch(self.patch)
        except PatchError:
            return []


@dataclass(frozen=True)
class PullFiles:
    files: tuple[PullFile, ...]
    # GitHub lists at most 3000 files; beyond that, absent files are unknown, not unchanged.
    truncated: bool = False

    @cached_property
    def _by_path(self) -> dict[str, PullFile]:
        return {f.filename: f for f in self.files}

    def get(self, path: str) -> PullFile | None:
        return self._by_path.get(path)


@dataclass(frozen=True)
class ReviewComment:
    path: str
    body: str
    line: int
    start_line: int | None = None

    def to_api(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "body": self.body, "line": self.line}
        data["side"] = "RIGHT"
        if self.start_line is not None and self.start_line != self.line:
            data["start_line"] = self.start_line
            data["start_side"] = "RIGHT"
        return data


@dataclass(frozen=True)
class PostedReview:
    id: int
    html_url: str
    inline: tuple[ReviewComment, ...]
    # Comments GitHub would not anchor, with the reason; their text went into the review body.
    moved_to_body: tuple[tuple[ReviewComment, str], ...] = ()


@dataclass(frozen=True)
class ExistingComment:
    pull_number: int
    id: int
    body: str
    path: str | None
    line: int | None
    author: str | None
    html_url: str
    fingerprint: str | None
    head_sha: str | None

    @property
    def outdated(self) -> bool:
        return self.body.startswith(OUTDATED_PREFIX)


def content_marker(fingerprint: str) -> str:
    """A hidden marker saying what a comment or check run reports, to skip identical re-posts."""
    return f"<!-- promptloop:content={fingerprint} -->"


@dataclass(frozen=True)
class CheckRunResult:
    id: int
    html_url: str
    annotation_requests: int


def comment_problem(comment: ReviewComment, files: PullFiles) -> str | None:
    """Why GitHub would reject ``comment`` (its own wording), or None if it will be accepted."""
    pull_file = files.get(comment.path)
    if pull_file is None:
        return "Pull request review thread path is invalid"
    end = hunk_containing(pull_file.hunks, comment.line)
    if end is None:
        return "Pull request review thread line must be part of the diff"
    start = comment.start_line
    if start is not None and start != comment.line:
        if start > comment.line:
            return "Pull request review thread start line must precede the end line."
        if not end.contains(start):
            return (
                "Pull request review thread start line must be part of the same hunk as the line."
            )
    return None


def _error_text(exc: GithubException) -> str:
    data = exc.data
    if isinstance(data, dict):
        message = str(data.get("message") or "")
        details: list[str] = []
        for err in data.get("errors") or []:
            if isinstance(err, dict):
                details.append(str(err.get("message") or err.get("code") or ""))
            else:
                details.append(str(err))
        details = [d for d in details if d]
        if details:
            message = f"{message} ({'; '.join(details)})" if message else "; ".join(details)
        return message or f"HTTP {exc.status}"
    return str(data or exc.message or f"HTTP {exc.status}")


class GitHubClient:
    """A thin, typed facade over PyGithub for one repository."""

    def __init__(
        self,
        token: str,
        base_url: str,
        repo_full_name: str,
        *,
        retry: bool = True,
        retries: int = 3,
        backoff_factor: float = 1.0,
        secondary_rate_wait: float = 60.0,
        max_rate_limit_wait: float | None = 300.0,
        seconds_between_requests: float | None = 0.25,
        seconds_between_writes: float | None = 1.0,
        timeout: int = 30,
        bot_login: str | None = None,
    ) -> None:
        retry_policy: GithubRetry | None = None
        if retry:
            retry_policy = GithubRetry(
                total=retries,
                backoff_factor=backoff_factor,
                secondary_rate_wait=secondary_rate_wait,
                max_rate_limit_wait=max_rate_limit_wait,
                # Hand the final error response to PyGithub so it becomes a GithubException.
                raise_on_status=False,
            )
        self._token = token
        self.base_url = base_url.rstrip("/")
        self.repo_full_name = repo_full_name
        self._gh = Github(
            auth=Auth.Token(token),
            base_url=self.base_url,
            retry=retry_policy,
            per_page=100,
            timeout=timeout,
            seconds_between_requests=seconds_between_requests,
            seconds_between_writes=seconds_between_writes,
            # Objects fetch themselves on first use, so e.g. a review costs no extra GETs.
            lazy=True,
        )
        self._repo_obj: Repository | None = None
        self._pulls: dict[int, PullRequest] = {}
        self._own_login = bot_login
        self._own_login_known = bot_login is not None

    # -- plumbing ------------------------------------------------------------------------------

    @contextmanager
    def _call(self, action: str, permission: str | None = None) -> Iterator[None]:
        try:
            yield
        except GithubException as exc:
            raise self._translate(exc, action, permission) from exc
        except requests.exceptions.RequestException as exc:
            reason = type(exc).__name__
            raise InfraError(
                f"could not {action}: cannot reach GitHub at {self.base_url} ({reason})"
            ) from exc

    def _translate(self, exc: GithubException, action: str, permission: str | None) -> InfraError:
        text = _error_text(exc)
        if exc.status == 403 and _NOT_ACCESSIBLE in text:
            need = f" (needs `{permission}`)" if permission else ""
            return ReadOnlyTokenError(
                f"could not {action}: the GitHub token is read-only here{need}; pull requests "
                "from forks always get a read-only token, otherwise grant it under "
                "`permissions:` in the workflow"
            )
        if _ACTIONS_CANNOT_OPEN_PRS in text:
            return InfraError(
                f"could not {action}: {text}; enable 'Allow GitHub Actions to create and approve "
                "pull requests' in the repository's Actions settings, or use commit mode"
            )
        if exc.status == 401:
            return InfraError(f"could not {action}: GitHub rejected the token ({text})")
        return InfraError(f"could not {action}: GitHub answered {exc.status}: {text}")

    def _clean(self, text: str) -> str:
        """Last line of defence: never post the token itself, whatever the caller passed."""
        return mask_secrets(text, [self._token])

    @property
    def _repo(self) -> Repository:
        if self._repo_obj is None:
            self._repo_obj = self._gh.get_repo(self.repo_full_name)
        return self._repo_obj

    def _pull(self, number: int) -> PullRequest:
        if number not in self._pulls:
            with self._call(f"read pull request #{number}"):
                self._pulls[number] = self._repo.get_pull(number)
        return self._pulls[number]

    def own_login(self) -> str | None:
        """The token's user, when GitHub tells us (it refuses for the Actions token)."""
        if not self._own_login_known:
            self._own_login_known = True
            try:
                self._own_login = self._gh.get_user().login
            except (GithubException, requests.exceptions.RequestException):
                self._own_login = None
        return self._own_login

    # -- pull request files --------------------------------------------------------------------

    def pull_files(self, number: int) -> PullFiles:
        pull = self._pull(number)
        files: list[PullFile] = []
        with self._call(f"list the files of pull request #{number}"):
            for f in pull.get_files():
                files.append(
                    PullFile(
                        filename=f.filename,
                        status=f.status,
                        patch=f.patch or None,
                        previous_filename=f.previous_filename,
                        additions=f.additions or 0,
                        deletions=f.deletions or 0,
                        sha=f.sha,
                    )
                )
                if len(files) >= MAX_PULL_FILES:
                    break
        return PullFiles(files=tuple(files), truncated=len(files) >= MAX_PULL_FILES)

    # -- reviews -------------------------------------------------------------------------------

    def post_review(
        self,
        number: int,
        head_sha: str,
        body: str,
        comments: Sequence[ReviewComment],
        *,
        files: PullFiles | None = None,
    ) -> PostedReview:
        """Post ONE review (event COMMENT) carrying every comment.

        With ``files``, comments GitHub would reject are moved into the body up front. If GitHub
        still answers 422, the offenders are found against the PR's files and moved, and as a
        last resort every comment goes into the body: no content is ever dropped.
        """
        inline = list(comments)
        moved: list[tuple[ReviewComment, str]] = []
        if files is not None:
            inline, moved = self._split_placeable(inline, files)
        action = f"post the review on pull request #{number}"
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._create_review(number, head_sha, body, inline, moved)
            except requests.exceptions.RequestException as exc:
                raise InfraError(f"could not {action}: cannot reach GitHub ({exc})") from exc
            except GithubException as exc:
                if exc.status != 422 or not inline or attempt >= 3:
                    raise self._translate(exc, action, "pull-requests: write") from exc
                reason = _error_text(exc)
            if attempt == 1:
                known = files or self.pull_files(number)
                still, newly = self._split_placeable(inline, known)
                if newly:
                    inline, moved = still, moved + newly
                    continue
            moved += [(c, reason) for c in inline]
            inline = []

    @staticmethod
    def _split_placeable(
        comments: Sequence[ReviewComment], files: PullFiles
    ) -> tuple[list[ReviewComment], list[tuple[ReviewComment, str]]]:
        ok: list[ReviewComment] = []
        bad: list[tuple[ReviewComment, str]] = []
        for c in comments:
            problem = comment_problem(c, files)
            if problem is None:
                ok.append(c)
            else:
                bad.append((c, problem))
        return ok, bad

    def _create_review(
        self,
        number: int,
        head_sha: str,
        body: str,
        inline: Sequence[ReviewComment],
        moved: Sequence[tuple[ReviewComment, str]],
    ) -> PostedReview:
        full_body = body.strip() or "promptloop review"
        for comment, reason in moved:
            where = f"line {comment.line}"
            if comment.start_line is not None and comment.start_line != comment.line:
                where = f"lines {comment.start_line}–{comment.line}"
            full_body += (
                f"\n\n---\n**{inline_code(comment.path)} {where}** "
                f"(could not be placed inline: {reason})\n\n{comment.body}"
            )
        pull = self._pull(number)
        with self._call(f"look up commit {head_sha[:12]}"):
            commit = self._repo.get_commit(head_sha)
        review = pull.create_review(
            commit=commit,
            body=truncate_body(self._clean(full_body)),
            event="COMMENT",
            # PyGithub types these as its own TypedDict; ours have the same keys.
            comments=cast(Any, [replace(c, body=self._clean(c.body)).to_api() for c in inline]),
        )
        return PostedReview(
            id=review.id,
            html_url=review.html_url or "",
            inline=tuple(inline),
            moved_to_body=tuple(moved),
        )

    def existing_review_comments(self, number: int) -> list[ExistingComment]:
        """Review comments promptloop posted earlier (those carrying its hidden marker)."""
        pull = self._pull(number)
        found: list[ExistingComment] = []
        with self._call(f"list review comments of pull request #{number}"):
            for c in pull.get_review_comments():
                marker = parse_review_marker(c.body)
                if marker is None:
                    continue
                found.append(
                    ExistingComment(
                        pull_number=number,
                        id=c.id,
                        body=c.body,
                        path=c.path,
                        line=c.line,
                        author=c.user.login if c.user else None,
                        html_url=c.html_url,
                        fingerprint=marker[0],
                        head_sha=marker[1],
                    )
                )
        return found

    def mark_outdated(self, comment: ExistingComment, superseded_by: str) -> ExistingComment:
        """Prefix an old comment with a visible "Outdated" note (idempotent); keeps its marker."""
        if comment.outdated:
            return comment
        new_body = truncate_body(
            f"{OUTDATED_PREFIX} {superseded_by}\n\n{comment.body}", GITHUB_BODY_LIMIT
        )
        with self._call(f"edit review comment {comment.id}", "pull-requests: write"):
            self._pull(comment.pull_number).get_review_comment(comment.id).edit(new_body)
        return replace(comment, body=new_body)

    # -- sticky summary comment ----------------------------------------------------------------

    def upsert_sticky_comment(
        self,
        number: int,
        body: str,
        marker: str = SUMMARY_MARKER,
        *,
        fingerprint: str | None = None,
    ) -> str:
        """Create or update the one summary comment; returns its URL. No write when the body is
        identical, or when ``fingerprint`` (what the comment says, minus timings) is unchanged."""
        body = self._clean(body)
        if fingerprint is not None:
            body = f"{body}\n{content_marker(fingerprint)}"
        text = body if marker in body else truncate_body(body, suffix=f"\n{marker}")
        if len(text) > GITHUB_BODY_LIMIT:
            text = truncate_body(text.replace(marker, ""), suffix=f"\n{marker}")

        def ours(comment: IssueComment) -> bool:
            # Asking GitHub who we are costs a request the Actions token is always refused,
            # so it is only asked when a marked comment is not the Actions bot's.
            if comment.user is None:
                return False
            login = comment.user.login
            return login == BOT_LOGIN or (login is not None and login == self.own_login())

        issue_action = f"update the summary comment on pull request #{number}"
        pull = self._pull(number)
        with self._call(f"list comments of pull request #{number}"):
            existing = next(
                (c for c in pull.get_issue_comments() if marker in (c.body or "") and ours(c)),
                None,
            )
        with self._call(issue_action, "pull-requests: write"):
            if existing is None:
                created = pull.create_issue_comment(text)
                return str(created.html_url)
            unchanged = fingerprint is not None and content_marker(fingerprint) in (
                existing.body or ""
            )
            if existing.body != text and not unchanged:
                existing.edit(text)
            return str(existing.html_url)

    # -- checks and statuses -------------------------------------------------------------------

    def create_check_run(
        self,
        head_sha: str,
        name: str,
        conclusion: Conclusion,
        title: str,
        summary: str,
        text: str | None = None,
        annotations: Sequence[Annotation] = (),
        *,
        details_url: str | None = None,
        fingerprint: str | None = None,
    ) -> CheckRunResult:
        """A completed check run; annotations without a path are skipped (use workflow commands).

        With ``fingerprint``, a completed run of the same name on ``head_sha`` that carries it
        is reused instead of creating another (a re-run of the same head changes nothing)."""
        if fingerprint is not None:
            summary = f"{summary}\n{content_marker(fingerprint)}"
            found = self._same_check_run(head_sha, name, conclusion, content_marker(fingerprint))
            if found is not None:
                return found
        payloads = [
            replace(a, message=self._clean(a.message)).to_check_run()
            for a in annotations
            if a.path is not None
        ]
        output: dict[str, Any] = {
            "title": title[:255] or name,
            "summary": truncate_body(self._clean(summary or title), GITHUB_BODY_LIMIT),
        }
        if text:
            output["text"] = truncate_body(self._clean(text), GITHUB_BODY_LIMIT)
        batches = [
            payloads[i : i + ANNOTATIONS_PER_REQUEST]
            for i in range(0, len(payloads), ANNOTATIONS_PER_REQUEST)
        ]
        action = f"create the check run {name!r}"
        extra: dict[str, Any] = {"details_url": details_url} if details_url else {}
        with self._call(action, "checks: write"):
            run = self._repo.create_check_run(
                name=name,
                head_sha=head_sha,
                status="completed",
                conclusion=conclusion,
                output=cast(Any, {**output, "annotations": batches[0]} if batches else output),
                **extra,
            )
            for batch in batches[1:]:
                run.edit(output={**output, "annotations": batch})
        return CheckRunResult(
            id=run.id, html_url=run.html_url or "", annotation_requests=len(batches)
        )

    def _same_check_run(
        self, head_sha: str, name: str, conclusion: str, marker: str
    ) -> CheckRunResult | None:
        with self._call(f"list the check runs of {head_sha[:12]}"):
            for run in self._repo.get_commit(head_sha).get_check_runs(check_name=name):
                summary = (run.output.summary if run.output else None) or ""
                if run.conclusion == conclusion and marker in summary:
                    return CheckRunResult(
                        id=run.id, html_url=run.html_url or "", annotation_requests=0
                    )
        return None

    def set_status(
        self,
        sha: str,
        state: CommitState,
        description: str,
        target_url: str | None = None,
        context: str = "promptloop",
    ) -> None:
        if state not in ("error", "failure", "pending", "success"):
            raise ValueError(
                f"commit status state must be error/failure/pending/success: {state!r}"
            )
        if len(description) > STATUS_DESCRIPTION_LIMIT:
            description = description[: STATUS_DESCRIPTION_LIMIT - 1] + "…"
        extra: dict[str, Any] = {"target_url": target_url} if target_url else {}
        with self._call(f"set the commit status {context!r}", "statuses: write"):
            self._repo.get_commit(sha).create_status(
                state=state, description=description, context=context, **extra
            )

    # -- writing revisions ---------------------------------------------------------------------

    def file_blob_sha(self, path: str, ref: str) -> str | None:
        """The blob sha of ``path`` at ``ref`` (what ``commit_file`` expects), None if absent."""
        try:
            content = self._repo.get_contents(path, ref=ref)
        except GithubException as exc:
            if exc.status == 404:
                return None
            raise self._translate(exc, f"read {path} at {ref}", None) from exc
        except requests.exceptions.RequestException as exc:
            raise InfraError(f"could not read {path}: cannot reach GitHub ({exc})") from exc
        if isinstance(content, list):
            raise InfraError(f"{path} is a directory at {ref}, not a file")
        return str(content.sha)

    def commit_file(
        self,
        branch: str,
        path: str,
        new_text: str,
        message: str,
        expected_blob_sha: str,
        *,
        base_ref: str | None = None,
    ) -> str:
        """Commit ``new_text`` to ``branch`` via the contents API; returns the new commit sha.

        ``expected_blob_sha`` is the blob the revision was computed from: if the branch moved
        on, GitHub answers 409 and nothing is overwritten.
        """
        if base_ref is not None and branch == base_ref:
            raise ValueError(f"refusing to commit to the pull request's base branch {base_ref!r}")
        try:
            result = self._repo.update_file(
                path, message, new_text.encode("utf-8"), expected_blob_sha, branch=branch
            )
        except GithubException as exc:
            if exc.status == 409:
                raise InfraError(
                    f"could not commit {path} to {branch}: the branch moved since promptloop "
                    "read it (409 conflict); re-run on the new head",
                    path=path,
                ) from exc
            raise self._translate(exc, f"commit {path} to {branch}", "contents: write") from exc
        except requests.exceptions.RequestException as exc:
            raise InfraError(f"could not commit {path}: cannot reach GitHub ({exc})") from exc
        return str(result["commit"].sha)

    def open_revision_pull(
        self,
        base_number: int,
        head_ref: str,
        head_sha: str,
        path: str,
        new_text: str,
        title: str,
        body: str,
    ) -> str:
        """Put the revision on ``promptloop/pr-<n>`` and open (or reuse) a PR into ``head_ref``."""
        pull = self._pull(base_number)
        with self._call(f"read pull request #{base_number}"):
            base_ref = pull.base.ref
            head_repo = pull.head.repo.full_name if pull.head.repo is not None else None
        branch = f"promptloop/pr-{base_number}"
        if head_ref == base_ref or branch == base_ref:
            raise ValueError(
                f"refusing to write to the pull request's base branch {base_ref!r}: the revision "
                f"PR must target the head branch"
            )
        if head_repo is not None and head_repo.lower() != self.repo_full_name.lower():
            raise InfraError(
                f"pull request #{base_number} comes from {head_repo}; a revision PR can only "
                "target a branch of this repository (use review mode for forks)"
            )
        self._reset_branch(branch, head_sha)
        blob = self.file_blob_sha(path, branch)
        action = f"commit the revision of {path} to {branch}"
        with self._call(action, "contents: write"):
            if blob is None:
                self._repo.create_file(path, title, new_text.encode("utf-8"), branch=branch)
            else:
                self._repo.update_file(path, title, new_text.encode("utf-8"), blob, branch=branch)
        return self._open_or_reuse_pull(branch, head_ref, title, body)

    def _reset_branch(self, branch: str, sha: str) -> None:
        action = f"create branch {branch}"
        try:
            self._repo.create_git_ref(ref=f"refs/heads/{branch}", sha=sha)
            return
        except GithubException as exc:
            if exc.status != 422 or "already exists" not in _error_text(exc).lower():
                raise self._translate(exc, action, "contents: write") from exc
        except requests.exceptions.RequestException as exc:
            raise InfraError(f"could not {action}: cannot reach GitHub ({exc})") from exc
        # A previous run's revision branch: start it over from the current head.
        with self._call(f"move branch {branch}", "contents: write"):
            ref = self._repo.get_git_ref(f"heads/{branch}")
            # A lazy GitRef would PATCH its GET url (/git/ref/...), which GitHub answers with
            # 404; loading it first picks up the real /git/refs/... url from the response.
            if ref.object.sha != sha:
                ref.edit(sha=sha, force=True)

    def _open_or_reuse_pull(self, branch: str, into: str, title: str, body: str) -> str:
        action = f"open a pull request from {branch} into {into}"
        text = truncate_body(self._clean(body))
        try:
            created = self._repo.create_pull(base=into, head=branch, title=title, body=text)
            return str(created.html_url)
        except GithubException as exc:
            if exc.status != 422 or "already exists" not in _error_text(exc).lower():
                raise self._translate(exc, action, "pull-requests: write") from exc
        except requests.exceptions.RequestException as exc:
            raise InfraError(f"could not {action}: cannot reach GitHub ({exc})") from exc
        owner = self.repo_full_name.split("/")[0]
        with self._call(action, "pull-requests: write"):
            # The branch was just reset and recommitted, so the open PR already shows the new
            # revision; its title and body are brought up to date to describe it (and left
            # alone when they already do, so a re-run writes nothing).
            for existing in self._repo.get_pulls(state="open", head=f"{owner}:{branch}", base=into):
                if existing.title != title or (existing.body or "") != text:
                    existing.edit(title=title, body=text)
                return str(existing.html_url)
        raise InfraError(f"could not {action}: GitHub says it exists but does not list it")
