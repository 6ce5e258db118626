"""The writes promptloop can make on GitHub, one request each (or a fixed few: annotations
go in batches of 50, since the Actions token has small secondary rate limits). Each sends the
body it is given: what to write is decided by ``reconcile``, and every body is cleaned on its
way out by ``publish``, the only caller."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal, cast

from promptloop.github.state import (
    CheckRunResult,
    ConflictError,
    ExistingComment,
    PostedReview,
    ReviewComment,
)
from promptloop.github.transport import GitHubError, Transport
from promptloop.github.workflow import Annotation

ANNOTATIONS_PER_REQUEST = 50

Conclusion = Literal[
    "action_required", "cancelled", "failure", "neutral", "success", "skipped", "timed_out"
]


class Writes:
    _t: Transport

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
