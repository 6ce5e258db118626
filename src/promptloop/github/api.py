"""What promptloop reads from GitHub and the writes it can make, one small method each, over
``transport`` (the wire, its retries and errors).

Reads return plain values (``state``). Each write is one request (or a fixed few: annotations
go in batches of 50, since the Actions token has small secondary rate limits) and sends the
body it is given: what to write is decided by ``reconcile``, and every body is cleaned on its
way out by ``publish``, the only caller of the writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal, cast

from promptloop.github.markers import CHECK, REPLY, SUMMARY, parse_review_marker, read_marker
from promptloop.github.state import (
    BranchFile,
    CheckRunResult,
    ConflictError,
    ExistingCheckRun,
    ExistingComment,
    ExistingPull,
    ExistingReview,
    ExistingSummary,
    PostedReview,
    PullFile,
    PullFiles,
    PullHead,
    ReviewComment,
)
from promptloop.github.transport import GitHubError, Transport
from promptloop.github.workflow import Annotation

BOT_LOGIN = "github-actions[bot]"
MAX_PULL_FILES = 3000
ANNOTATIONS_PER_REQUEST = 50

Conclusion = Literal[
    "action_required", "cancelled", "failure", "neutral", "success", "skipped", "timed_out"
]


class GitHubClient:
    """One repository's pull requests, branches and checks, as promptloop uses them."""

    def __init__(
        self,
        token: str,
        base_url: str,
        repo_full_name: str,
        *,
        bot_login: str | None = None,
        **transport: Any,
    ) -> None:
        self._t = Transport(token, base_url, repo_full_name, **transport)
        self._own_login = bot_login
        self._own_login_known = bot_login is not None

    @property
    def token(self) -> str:
        return self._t.token

    def own_login(self) -> str | None:
        """The token's user, when GitHub tells us (it refuses for the Actions token)."""
        if not self._own_login_known:
            self._own_login_known = True
            self._own_login = self._t.login()
        return self._own_login

    def _is_ours(self, login: str | None) -> bool:
        # Asking GitHub who we are costs a request the Actions token is always refused, so it
        # is only asked when a marked body is not the Actions bot's.
        return login is not None and (login == BOT_LOGIN or login == self.own_login())

    # -- reads ---------------------------------------------------------------------------------

    def pull_files(self, number: int) -> PullFiles:
        pull = self._t.pull(number)
        files: list[PullFile] = []
        with self._t.call(f"list the files of pull request #{number}"):
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

    def pull_head(self, number: int) -> PullHead:
        pull = self._t.pull(number)
        with self._t.call(f"read pull request #{number}"):
            head_repo = pull.head.repo
            return PullHead(
                head_ref=pull.head.ref,
                head_sha=pull.head.sha,
                head_repo_full_name=head_repo.full_name if head_repo is not None else None,
                base_ref=pull.base.ref,
                base_sha=pull.base.sha,
            )

    def permission_of(self, login: str) -> str:
        """``login``'s role on the repository: admin, maintain, write, triage, read or none."""
        action = f"read {login}'s permission on {self._t.repo_full_name}"
        try:
            with self._t.call(action, "metadata: read"):
                return str(self._t.repo.get_collaborator_role_name(login))
        except GitHubError as exc:
            # GitHub answers 404 for someone who is not a collaborator at all.
            if exc.status == 404:
                return "none"
            raise

    def our_review_comments(self, number: int) -> list[ExistingComment]:
        """Review comments promptloop posted earlier: written by this token's identity and
        carrying its marker on their last line."""
        pull = self._t.pull(number)
        found: list[ExistingComment] = []
        with self._t.call(f"list review comments of pull request #{number}"):
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
        pull = self._t.pull(number)
        found: list[ExistingReview] = []
        with self._t.call(f"list reviews of pull request #{number}"):
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
        pull = self._t.pull(number)
        with self._t.call(f"list comments of pull request #{number}"):
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

    def our_reply(self, number: int, to: int, *, in_review: bool) -> str | None:
        """Where promptloop already answered comment ``to`` (None: it has not)."""
        pull = self._t.pull(number)
        with self._t.call(f"list comments of pull request #{number}"):
            found = pull.get_review_comments() if in_review else pull.get_issue_comments()
            for c in found:
                marker = read_marker(c.body)
                if marker is None or marker.kind != REPLY or marker.get("to") != str(to):
                    continue
                if self._is_ours(c.user.login if c.user else None):
                    return str(c.html_url)
        return None

    def check_runs(self, head_sha: str, name: str) -> list[ExistingCheckRun]:
        found: list[ExistingCheckRun] = []
        with self._t.call(f"list the check runs of {head_sha[:12]}"):
            for run in self._t.repo.get_commit(head_sha).get_check_runs(check_name=name):
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
            with self._t.call(f"read branch {branch}"):
                tip = self._t.repo.get_git_ref(f"heads/{branch}").object.sha
        except GitHubError as exc:
            if exc.status == 404:
                return None
            raise
        try:
            with self._t.call(f"read {path} on {branch}"):
                content = self._t.repo.get_contents(path, ref=tip)
        except GitHubError as exc:
            if exc.status == 404:
                return BranchFile(branch, tip, None, None)
            raise
        if isinstance(content, list):
            raise GitHubError(f"{path} is a directory on {branch}, not a file")
        text = content.decoded_content.decode("utf-8", errors="replace")
        return BranchFile(branch, tip, text, str(content.sha))

    def open_pulls(self, head_branch: str, into: str) -> list[ExistingPull]:
        owner = self._t.repo_full_name.split("/")[0]
        with self._t.call(f"list pull requests from {head_branch}"):
            return [
                ExistingPull(p.number, p.title or "", p.body or "", p.html_url or "")
                for p in self._t.repo.get_pulls(
                    state="open", head=f"{owner}:{head_branch}", base=into
                )
            ]

    # -- writes: one request each (or a fixed few), decided and cleaned by the caller --------

    def post_review(
        self, number: int, head_sha: str, body: str, comments: Sequence[ReviewComment]
    ) -> PostedReview:
        """ONE review (event COMMENT) carrying every comment."""
        pull = self._t.pull(number)
        action = f"post the review on pull request #{number}"
        with self._t.call(action, "pull-requests: write", write=True):
            with self._t.call(f"look up commit {head_sha[:12]}"):
                commit = self._t.repo.get_commit(head_sha)
            review = pull.create_review(
                commit=commit,
                body=body,
                event="COMMENT",
                # PyGithub types these as its own TypedDict; ours have the same keys.
                comments=cast(Any, [c.to_api() for c in comments]),
            )
        return PostedReview(review.id, review.html_url or "", tuple(comments))

    def mark_outdated(self, comment: ExistingComment, body: str) -> ExistingComment:
        """Rewrite an old comment to ``body`` (its "Outdated" note first; idempotent)."""
        if comment.outdated:
            return comment
        action = f"edit review comment {comment.id}"
        with self._t.call(action, "pull-requests: write", write=True):
            self._t.pull(comment.pull_number).get_review_comment(comment.id).edit(body)
        return replace(comment, body=body)

    def minimize_comment(self, comment: ExistingComment) -> bool:
        """Fold an old review comment away as outdated; False when GitHub refuses (the
        visible "Outdated" note stays the record either way)."""
        return comment.node_id is not None and self._t.minimize(comment.node_id)

    def edit_review_body(self, number: int, review_id: int, body: str) -> None:
        action = f"edit review {review_id} on pull request #{number}"
        with self._t.call(action, "pull-requests: write", write=True):
            self._t.request(
                "PUT", f"{self._t.pull(number).url}/reviews/{review_id}", {"body": body}
            )

    def create_summary(self, number: int, body: str) -> str:
        pull = self._t.pull(number)
        action = f"post the summary comment on pull request #{number}"
        with self._t.call(action, "pull-requests: write", write=True):
            created = pull.create_issue_comment(body)
        return str(created.html_url)

    def edit_summary(self, number: int, comment_id: int, body: str) -> None:
        action = f"update the summary comment on pull request #{number}"
        with self._t.call(action, "pull-requests: write", write=True):
            self._t.pull(number).get_issue_comment(comment_id).edit(body)

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
        payloads = [a.to_check_run() for a in annotations if a.path is not None]
        output: dict[str, Any] = {"title": title or name, "summary": summary or title}
        if text:
            output["text"] = text
        batches = [
            payloads[i : i + ANNOTATIONS_PER_REQUEST]
            for i in range(0, len(payloads), ANNOTATIONS_PER_REQUEST)
        ]
        first = cast(Any, {**output, "annotations": batches[0]} if batches else output)
        extra: dict[str, Any] = {"details_url": details_url} if details_url else {}
        repo = self._t.repo
        with self._t.call(f"create the check run {name!r}", "checks: write", write=True):
            if check_run_id is None:
                run = repo.create_check_run(
                    name=name,
                    head_sha=head_sha,
                    status="completed",
                    conclusion=conclusion,
                    output=first,
                    **extra,
                )
            else:
                run = repo.get_check_run(check_run_id)
                run.edit(status="completed", conclusion=conclusion, output=first, **extra)
            for batch in batches[1:]:
                run.edit(output={**output, "annotations": batch})
        return CheckRunResult(run.id, run.html_url or "", len(batches))

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
            with self._t.call(f"commit {path} to {branch}", "contents: write", write=True):
                result = self._t.repo.update_file(
                    path, message, new_text.encode("utf-8"), expected_blob_sha, branch=branch
                )
        except GitHubError as exc:
            if exc.status == 409:
                raise ConflictError(
                    f"could not commit {path} to {branch}: the branch moved since promptloop "
                    "read it (409 conflict); re-run on the new head",
                    path=path,
                ) from exc
            raise
        return str(result["commit"].sha)

    def create_branch(self, branch: str, sha: str, *, protected: Sequence[str] = ()) -> None:
        _refuse(branch, protected)
        with self._t.call(f"create branch {branch}", "contents: write", write=True):
            self._t.repo.create_git_ref(ref=f"refs/heads/{branch}", sha=sha)

    def move_branch(self, branch: str, sha: str, *, protected: Sequence[str] = ()) -> None:
        """Force ``branch`` to ``sha`` (only promptloop's own revision branch is ever moved)."""
        _refuse(branch, protected)
        with self._t.call(f"move branch {branch}", "contents: write", write=True):
            ref = self._t.repo.get_git_ref(f"heads/{branch}")
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
        _refuse(branch, protected)
        data = text.encode("utf-8")
        repo = self._t.repo
        with self._t.call(f"commit {path} to {branch}", "contents: write", write=True):
            if blob_sha is None:
                result = repo.create_file(path, message, data, branch=branch)
            else:
                result = repo.update_file(path, message, data, blob_sha, branch=branch)
        return str(result["commit"].sha)

    def commit_files(
        self, branch: str, texts: Mapping[str, str], message: str, parent_sha: str
    ) -> str:
        """One commit on ``branch`` (whose tip is ``parent_sha``) setting every file in
        ``texts``; the new commit's sha. ``ConflictError`` when the branch moved meanwhile."""
        action = f"commit {', '.join(texts)} to {branch}"
        repo = self._t.repo
        try:
            with self._t.call(action, "contents: write", write=True):
                parent = repo.get_git_commit(parent_sha)
                elements = [self._t.blob(path, text) for path, text in texts.items()]
                tree = repo.create_git_tree(elements, base_tree=parent.tree)
                commit = repo.create_git_commit(message, tree, [parent])
                ref = repo.get_git_ref(f"heads/{branch}")
                # Loading the ref first gives it its PATCH url (see move_branch). Never forced:
                # after a push in between the update is no fast-forward, a 422, not a lost commit.
                _ = ref.object.sha
                ref.edit(sha=commit.sha, force=False)
        except GitHubError as exc:
            if exc.status == 422:
                raise ConflictError(f"could not {action}: the branch moved meanwhile") from exc
            raise
        return str(commit.sha)

    def open_pull(self, head_branch: str, into: str, title: str, body: str) -> str:
        action = f"open a pull request from {head_branch} into {into}"
        with self._t.call(action, "pull-requests: write", write=True):
            created = self._t.repo.create_pull(base=into, head=head_branch, title=title, body=body)
        return str(created.html_url)

    def edit_pull(self, number: int, title: str, body: str) -> None:
        with self._t.call(f"update pull request #{number}", "pull-requests: write", write=True):
            self._t.repo.get_pull(number).edit(title=title, body=body)

    def react(self, comment_id: int, content: str, *, review_comment: bool) -> None:
        """Acknowledge a comment with a reaction (``+1``, ``confused``, ``eyes``...)."""
        kind = "pulls/comments" if review_comment else "issues/comments"
        url = f"{self._t.base_url}/repos/{self._t.repo_full_name}/{kind}/{comment_id}/reactions"
        with self._t.call(f"react to comment {comment_id}", "pull-requests: write", write=True):
            self._t.request("POST", url, {"content": content})

    def reply(self, number: int, body: str, *, in_thread_of: int | None = None) -> str:
        """Answer on the pull request, in the review thread of ``in_thread_of`` when given."""
        pull = self._t.pull(number)
        with self._t.call(f"reply on pull request #{number}", "pull-requests: write", write=True):
            if in_thread_of is None:
                return str(pull.create_issue_comment(body).html_url)
            return str(pull.create_review_comment_reply(in_thread_of, body).html_url)


def _refuse(branch: str, protected: Sequence[str]) -> None:
    if branch in protected:
        raise ValueError(f"refusing to write to the pull request's base branch {branch!r}")
