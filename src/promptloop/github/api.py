"""Everything promptloop asks of GitHub's REST API; the only module that imports PyGithub.

Each method makes as few requests as it can (one review for all comments, annotations in
batches of 50) because the Actions token has small secondary rate limits, and turns every
PyGithub failure into a one-line ``InfraError``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Literal, cast

import requests
from github import Auth, Github, GithubException, GithubRetry, InputGitTreeElement
from github.PullRequest import PullRequest
from github.Repository import Repository
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from promptloop.errors import InfraError
from promptloop.github.diff import Hunk, PatchError, hunk_containing, parse_patch
from promptloop.github.markers import CHECK, SUMMARY, parse_review_marker, read_marker
from promptloop.github.state import (
    OUTDATED_PREFIX,
    AmbiguousWriteError,
    BranchFile,
    ExistingCheckRun,
    ExistingComment,
    ExistingPull,
    ExistingReview,
    ExistingSummary,
)
from promptloop.github.workflow import Annotation
from promptloop.safety import GITHUB_BODY_LIMIT, inline_code, mask_secrets, truncate_body

BOT_LOGIN = "github-actions[bot]"
MAX_PULL_FILES = 3000
ANNOTATIONS_PER_REQUEST = 50
STATUS_DESCRIPTION_LIMIT = 140
_NOT_ACCESSIBLE = "Resource not accessible by integration"
_ACTIONS_CANNOT_OPEN_PRS = "not permitted to create or approve pull requests"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CommitState = Literal["error", "failure", "pending", "success"]
Conclusion = Literal[
    "action_required", "cancelled", "failure", "neutral", "success", "skipped", "timed_out"
]


class ConflictError(InfraError):
    """The branch moved on since the file was read (409): read it again and redo the change."""


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
class PullHead:
    head_ref: str
    head_sha: str
    # None when the fork the pull request came from was deleted.
    head_repo_full_name: str | None
    base_ref: str
    base_sha: str


@dataclass(frozen=True)
class PostedReview:
    id: int
    html_url: str
    inline: tuple[ReviewComment, ...]
    # Comments GitHub would not anchor, with the reason; their text went into the review body.
    moved_to_body: tuple[tuple[ReviewComment, str], ...] = ()


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


def _never_sent(exc: requests.exceptions.ConnectionError) -> bool:
    """The connection was never made (refused, no route, connect timeout): GitHub cannot
    have seen the request, so it is safe to say it failed."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)


class _RetryOnlyWhatIsSafe(GithubRetry):
    """PyGithub's retry, except that a write is never repeated after a 5xx answer or a
    connection that broke once the request was out: GitHub may have applied it already (it
    documents that such retries can duplicate), so the caller re-reads the state instead.
    Rate-limit answers (403/429) and connections never made mean nothing was applied, so
    those are retried for every method."""

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method.upper() not in _SAFE_METHODS and status_code >= 500:
            return False
        return bool(super().is_retry(method, status_code, has_retry_after))

    def increment(self, method: str | None = None, *args: Any, **kwargs: Any) -> Any:
        error = kwargs.get("error")
        if (
            error is not None
            and method is not None
            and method.upper() not in _SAFE_METHODS
            and self._is_read_error(error)
        ):
            raise error
        return super().increment(method, *args, **kwargs)


class GitHubClient:
    """A thin, typed facade over PyGithub for one repository.

    Reads return plain values (``promptloop.github.state``); each write is one request (or a
    fixed few), decided elsewhere (``reconcile``) from what the reads found."""

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
            retry_policy = _RetryOnlyWhatIsSafe(
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
    def _call(
        self, action: str, permission: str | None = None, *, write: bool = False
    ) -> Iterator[None]:
        try:
            yield
        except GithubException as exc:
            if write and exc.status >= 500:
                raise AmbiguousWriteError(
                    f"could not {action}: GitHub answered {exc.status}: {_error_text(exc)}"
                ) from exc
            raise self._translate(exc, action, permission) from exc
        except requests.exceptions.ConnectionError as exc:
            reason = type(exc).__name__
            error = AmbiguousWriteError if write and not _never_sent(exc) else InfraError
            raise error(
                f"could not {action}: cannot reach GitHub at {self.base_url} ({reason})"
            ) from exc
        except requests.exceptions.RequestException as exc:
            reason = type(exc).__name__
            error = AmbiguousWriteError if write else InfraError
            raise error(
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
                with self._call(action, "pull-requests: write", write=True):
                    return self._create_review(number, head_sha, body, inline, moved)
            except InfraError as exc:
                cause = exc.__cause__
                unplaceable = isinstance(cause, GithubException) and cause.status == 422
                if not unplaceable or not inline or attempt >= 3:
                    raise
                assert isinstance(cause, GithubException)
                reason = _error_text(cause)
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

    def _is_ours(self, login: str | None) -> bool:
        # Asking GitHub who we are costs a request the Actions token is always refused, so it
        # is only asked when a marked body is not the Actions bot's.
        return login is not None and (login == BOT_LOGIN or login == self.own_login())

    def our_review_comments(self, number: int) -> list[ExistingComment]:
        """Review comments promptloop posted earlier: written by this token's identity and
        carrying its marker on their last line."""
        pull = self._pull(number)
        found: list[ExistingComment] = []
        with self._call(f"list review comments of pull request #{number}"):
            for c in pull.get_review_comments():
                marker = parse_review_marker(c.body)
                author = c.user.login if c.user else None
                if marker is None or not self._is_ours(author):
                    continue
                found.append(
                    ExistingComment(
                        pull_number=number,
                        id=c.id,
                        body=c.body,
                        path=c.path,
                        line=c.line,
                        author=author,
                        html_url=c.html_url,
                        fingerprint=marker[0],
                        head_sha=marker[1],
                        node_id=c.node_id,
                    )
                )
        return found

    def our_reviews(self, number: int) -> list[ExistingReview]:
        pull = self._pull(number)
        found: list[ExistingReview] = []
        with self._call(f"list reviews of pull request #{number}"):
            for review in pull.get_reviews():
                marker = read_marker(review.body)
                author = review.user.login if review.user else None
                if marker is None or marker.kind != "review" or not self._is_ours(author):
                    continue
                found.append(
                    ExistingReview(
                        id=review.id,
                        body=review.body or "",
                        head_sha=marker.get("head"),
                        html_url=review.html_url or "",
                    )
                )
        return found

    def our_summary(self, number: int) -> ExistingSummary | None:
        """The sticky summary comment: ours, with the summary marker on its last line."""
        pull = self._pull(number)
        with self._call(f"list comments of pull request #{number}"):
            for c in pull.get_issue_comments():
                marker = read_marker(c.body)
                if marker is None or marker.kind != SUMMARY:
                    continue
                if not self._is_ours(c.user.login if c.user else None):
                    continue
                return ExistingSummary(
                    id=c.id,
                    body=c.body or "",
                    html_url=str(c.html_url),
                    content=marker.get("content"),
                    head_sha=marker.get("head"),
                )
        return None

    def check_runs(self, head_sha: str, name: str) -> list[ExistingCheckRun]:
        found: list[ExistingCheckRun] = []
        with self._call(f"list the check runs of {head_sha[:12]}"):
            for run in self._repo.get_commit(head_sha).get_check_runs(check_name=name):
                summary = (run.output.summary if run.output else None) or ""
                marker = read_marker(summary)
                found.append(
                    ExistingCheckRun(
                        id=run.id,
                        conclusion=run.conclusion,
                        content=marker.get("content") if marker and marker.kind == CHECK else None,
                        html_url=run.html_url or "",
                    )
                )
        return found

    def branch_file(self, branch: str, path: str) -> BranchFile | None:
        """The tip of ``branch`` and ``path`` on it; None when the branch does not exist."""
        try:
            ref = self._repo.get_git_ref(f"heads/{branch}")
            tip = ref.object.sha
        except GithubException as exc:
            if exc.status == 404:
                return None
            raise self._translate(exc, f"read branch {branch}", None) from exc
        except requests.exceptions.RequestException as exc:
            raise InfraError(
                f"could not read branch {branch}: cannot reach GitHub ({exc})"
            ) from exc
        try:
            content = self._repo.get_contents(path, ref=tip)
        except GithubException as exc:
            if exc.status == 404:
                return BranchFile(branch, tip, None, None)
            raise self._translate(exc, f"read {path} on {branch}", None) from exc
        except requests.exceptions.RequestException as exc:
            raise InfraError(f"could not read {path}: cannot reach GitHub ({exc})") from exc
        if isinstance(content, list):
            raise InfraError(f"{path} is a directory on {branch}, not a file")
        text = content.decoded_content.decode("utf-8", errors="replace")
        return BranchFile(branch, tip, text, str(content.sha))

    def open_pulls(self, head_branch: str, into: str) -> list[ExistingPull]:
        owner = self.repo_full_name.split("/")[0]
        with self._call(f"list pull requests from {head_branch}"):
            return [
                ExistingPull(p.number, p.title or "", p.body or "", p.html_url or "")
                for p in self._repo.get_pulls(
                    state="open", head=f"{owner}:{head_branch}", base=into
                )
            ]

    # -- writes: one request each, decided by the caller -------------------------------------

    def mark_outdated(self, comment: ExistingComment, superseded_by: str) -> ExistingComment:
        """Prefix an old comment with a visible "Outdated" note (idempotent); keeps its marker."""
        if comment.outdated:
            return comment
        new_body = truncate_body(
            f"{OUTDATED_PREFIX} {superseded_by}\n\n{comment.body}", GITHUB_BODY_LIMIT
        )
        action = f"edit review comment {comment.id}"
        with self._call(action, "pull-requests: write", write=True):
            self._pull(comment.pull_number).get_review_comment(comment.id).edit(new_body)
        return replace(comment, body=new_body)

    def minimize_comment(self, comment: ExistingComment) -> bool:
        """Fold an old review comment away as outdated (GraphQL ``minimizeComment``); False
        when GitHub refuses (the visible "Outdated" note stays the record either way)."""
        if comment.node_id is None:
            return False
        try:
            _, data = self._gh.requester.graphql_named_mutation(
                mutation_name="minimizeComment",
                mutation_input={"subjectId": comment.node_id, "classifier": "OUTDATED"},
                output_schema="minimizedComment { isMinimized }",
            )
        except (GithubException, requests.exceptions.RequestException):
            return False
        minimized = (data or {}).get("minimizedComment") or {}
        return minimized.get("isMinimized") is True

    def edit_review_body(self, number: int, review_id: int, body: str) -> None:
        action = f"edit review {review_id} on pull request #{number}"
        with self._call(action, "pull-requests: write", write=True):
            self._gh.requester.requestJsonAndCheck(
                "PUT",
                f"{self._pull(number).url}/reviews/{review_id}",
                input={"body": truncate_body(self._clean(body))},
            )

    def create_summary(self, number: int, body: str) -> str:
        pull = self._pull(number)
        action = f"post the summary comment on pull request #{number}"
        with self._call(action, "pull-requests: write", write=True):
            created = pull.create_issue_comment(self._fit(body))
        return str(created.html_url)

    def edit_summary(self, number: int, comment_id: int, body: str) -> None:
        action = f"update the summary comment on pull request #{number}"
        with self._call(action, "pull-requests: write", write=True):
            self._pull(number).get_issue_comment(comment_id).edit(self._fit(body))

    def _fit(self, body: str) -> str:
        """Within GitHub's size limit, the last line (the marker) kept whole."""
        body = self._clean(body)
        head, sep, last = body.rstrip().rpartition("\n")
        if not sep:
            return truncate_body(body)
        return truncate_body(head, suffix=f"\n{last}")

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
        check_run_id: int | None = None,
    ) -> CheckRunResult:
        """A completed check run, or with ``check_run_id`` that run rewritten; annotations
        without a path are skipped (use workflow commands)."""
        payloads = [
            replace(a, message=self._clean(a.message)).to_check_run()
            for a in annotations
            if a.path is not None
        ]
        output: dict[str, Any] = {
            "title": title[:255] or name,
            "summary": self._fit(summary or title),
        }
        if text:
            output["text"] = truncate_body(self._clean(text), GITHUB_BODY_LIMIT)
        batches = [
            payloads[i : i + ANNOTATIONS_PER_REQUEST]
            for i in range(0, len(payloads), ANNOTATIONS_PER_REQUEST)
        ]
        first = cast(Any, {**output, "annotations": batches[0]} if batches else output)
        action = f"create the check run {name!r}"
        extra: dict[str, Any] = {"details_url": details_url} if details_url else {}
        with self._call(action, "checks: write", write=True):
            if check_run_id is None:
                run = self._repo.create_check_run(
                    name=name,
                    head_sha=head_sha,
                    status="completed",
                    conclusion=conclusion,
                    output=first,
                    **extra,
                )
            else:
                run = self._repo.get_check_run(check_run_id)
                run.edit(status="completed", conclusion=conclusion, output=first, **extra)
            for batch in batches[1:]:
                run.edit(output={**output, "annotations": batch})
        return CheckRunResult(
            id=run.id, html_url=run.html_url or "", annotation_requests=len(batches)
        )

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
            with self._call(f"commit {path} to {branch}", "contents: write", write=True):
                result = self._repo.update_file(
                    path, message, new_text.encode("utf-8"), expected_blob_sha, branch=branch
                )
        except InfraError as exc:
            cause = exc.__cause__
            if isinstance(cause, GithubException) and cause.status == 409:
                raise InfraError(
                    f"could not commit {path} to {branch}: the branch moved since promptloop "
                    "read it (409 conflict); re-run on the new head",
                    path=path,
                ) from exc
            raise
        return str(result["commit"].sha)

    def create_branch(self, branch: str, sha: str, *, protected: Sequence[str] = ()) -> None:
        self._refuse(branch, protected)
        with self._call(f"create branch {branch}", "contents: write", write=True):
            self._repo.create_git_ref(ref=f"refs/heads/{branch}", sha=sha)

    def move_branch(self, branch: str, sha: str, *, protected: Sequence[str] = ()) -> None:
        """Force ``branch`` to ``sha`` (only promptloop's own revision branch is ever moved)."""
        self._refuse(branch, protected)
        with self._call(f"move branch {branch}", "contents: write", write=True):
            ref = self._repo.get_git_ref(f"heads/{branch}")
            # A lazy GitRef would PATCH its GET url (/git/ref/...), which GitHub answers with
            # 404; loading it first picks up the real /git/refs/... url from the response.
            if ref.object.sha != sha:
                ref.edit(sha=sha, force=True)

    def put_file(
        self,
        branch: str,
        path: str,
        text: str,
        message: str,
        blob_sha: str | None,
        *,
        protected: Sequence[str] = (),
    ) -> str:
        """Create (``blob_sha`` None) or update ``path`` on ``branch``; the new commit's sha."""
        self._refuse(branch, protected)
        action = f"commit {path} to {branch}"
        data = text.encode("utf-8")
        with self._call(action, "contents: write", write=True):
            if blob_sha is None:
                result = self._repo.create_file(path, message, data, branch=branch)
            else:
                result = self._repo.update_file(path, message, data, blob_sha, branch=branch)
        return str(result["commit"].sha)

    def open_pull(self, head_branch: str, into: str, title: str, body: str) -> str:
        action = f"open a pull request from {head_branch} into {into}"
        with self._call(action, "pull-requests: write", write=True):
            created = self._repo.create_pull(
                base=into, head=head_branch, title=title, body=truncate_body(self._clean(body))
            )
        return str(created.html_url)

    def edit_pull(self, number: int, title: str, body: str) -> None:
        action = f"update pull request #{number}"
        with self._call(action, "pull-requests: write", write=True):
            self._repo.get_pull(number).edit(title=title, body=truncate_body(self._clean(body)))

    @staticmethod
    def _refuse(branch: str, protected: Sequence[str]) -> None:
        if branch in protected:
            raise ValueError(f"refusing to write to the pull request's base branch {branch!r}")

    # -- pull request commands -----------------------------------------------------------------

    def permission_of(self, login: str) -> str:
        """``login``'s role on the repository: admin, maintain, write, triage, read or none."""
        action = f"read {login}'s permission on {self.repo_full_name}"
        try:
            with self._call(action, "metadata: read"):
                return str(self._repo.get_collaborator_role_name(login))
        except InfraError as exc:
            cause = exc.__cause__
            # GitHub answers 404 for someone who is not a collaborator at all.
            if isinstance(cause, GithubException) and cause.status == 404:
                return "none"
            raise

    def pull_head(self, number: int) -> PullHead:
        pull = self._pull(number)
        with self._call(f"read pull request #{number}"):
            head_repo = pull.head.repo
            return PullHead(
                head_ref=pull.head.ref,
                head_sha=pull.head.sha,
                head_repo_full_name=head_repo.full_name if head_repo is not None else None,
                base_ref=pull.base.ref,
                base_sha=pull.base.sha,
            )

    def commit_files(
        self, branch: str, texts: Mapping[str, str], message: str, parent_sha: str
    ) -> str:
        """One commit on ``branch`` (whose tip is ``parent_sha``) setting every file in
        ``texts``; the new commit's sha. ``ConflictError`` when the branch moved meanwhile."""
        action = f"commit {', '.join(texts)} to {branch}"
        try:
            with self._call(action, "contents: write", write=True):
                parent = self._repo.get_git_commit(parent_sha)
                elements = [
                    InputGitTreeElement(path, "100644", "blob", content=text)
                    for path, text in texts.items()
                ]
                tree = self._repo.create_git_tree(elements, base_tree=parent.tree)
                commit = self._repo.create_git_commit(message, tree, [parent])
                ref = self._repo.get_git_ref(f"heads/{branch}")
                # Loading the ref first gives it its PATCH url (see move_branch). Never forced:
                # after a push in between the update is no fast-forward, a 422, not a lost commit.
                _ = ref.object.sha
                ref.edit(sha=commit.sha, force=False)
        except InfraError as exc:
            cause = exc.__cause__
            if isinstance(cause, GithubException) and cause.status == 422:
                raise ConflictError(f"could not {action}: the branch moved meanwhile") from exc
            raise
        return str(commit.sha)

    def react(self, comment_id: int, content: str, *, review_comment: bool) -> None:
        """Acknowledge a comment with a reaction (``+1``, ``confused``, ``eyes``...)."""
        kind = "pulls/comments" if review_comment else "issues/comments"
        url = f"{self.base_url}/repos/{self.repo_full_name}/{kind}/{comment_id}/reactions"
        with self._call(f"react to comment {comment_id}", "pull-requests: write", write=True):
            self._gh.requester.requestJsonAndCheck("POST", url, input={"content": content})

    def reply(self, number: int, body: str, *, in_thread_of: int | None = None) -> str:
        """Answer on the pull request, in the review thread of ``in_thread_of`` when given."""
        pull = self._pull(number)
        action = f"reply on pull request #{number}"
        with self._call(action, "pull-requests: write", write=True):
            text = truncate_body(self._clean(body))
            if in_thread_of is None:
                return str(pull.create_issue_comment(text).html_url)
            return str(pull.create_review_comment_reply(in_thread_of, text).html_url)
