"""What promptloop reads from GitHub, one small method each, as plain values (``state``)."""

from __future__ import annotations

from promptloop.github.markers import CHECK, REPLY, SUMMARY, parse_review_marker, read_marker
from promptloop.github.state import (
    BranchFile,
    ExistingCheckRun,
    ExistingComment,
    ExistingPull,
    ExistingReview,
    ExistingSummary,
    PullFile,
    PullFiles,
    PullHead,
)
from promptloop.github.transport import GitHubError, Transport

BOT_LOGIN = "github-actions[bot]"
MAX_PULL_FILES = 3000


class Reads:
    _t: Transport
    _own_login: str | None
    _own_login_known: bool

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

    def pulls_from(self, head_owner: str, head_branch: str) -> list[tuple[int, str]]:
        """(number, head commit) of the open pull requests from ``head_owner:head_branch``,
        a fork's included: how a `workflow_run` for a fork finds its pull request, which
        GitHub leaves out of that event's payload."""
        with self._t.call(f"list pull requests from {head_owner}:{head_branch}"):
            return [
                (p.number, p.head.sha)
                for p in self._t.repo.get_pulls(state="open", head=f"{head_owner}:{head_branch}")
            ]

    def open_pulls(self, head_branch: str, into: str) -> list[ExistingPull]:
        owner = self._t.repo_full_name.split("/")[0]
        with self._t.call(f"list pull requests from {head_branch}"):
            return [
                ExistingPull(p.number, p.title or "", p.body or "", p.html_url or "")
                for p in self._t.repo.get_pulls(
                    state="open", head=f"{owner}:{head_branch}", base=into
                )
            ]
