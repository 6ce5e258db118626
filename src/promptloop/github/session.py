"""One `promptloop ci` run's side of the pull request: the learned revisions delivered
(suggestions, a commit, or a pull request), then the review, the sticky summary and the check
run published through ``publish``, with the links and notes that publishing produced."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from promptloop.engine.results import RunResult
from promptloop.errors import InfraError
from promptloop.github.api import GitHubClient, PullFile, PullFiles
from promptloop.github.changes import first_changed_line, hunks_of
from promptloop.github.event import DispatchContext, PullContext, PushContext
from promptloop.github.plan import (
    REVISION_BRANCH,
    CheckRunPlan,
    CommitPlan,
    RevisionPullPlan,
    merge_same_line,
    review_plan,
    summary_plan,
)
from promptloop.github.publish import Ledger, Publisher
from promptloop.github.reconcile import OpenPull
from promptloop.github.review import (
    PlannedComment,
    evaluator_args_text,
    plan_findings,
    review_body,
    suggestion_comment,
    verdict_of,
)
from promptloop.github.runtime import ActionsRuntime
from promptloop.github.state import BranchFile, ExistingSummary
from promptloop.github.suggestions import plan_suggestions
from promptloop.github.summary import Link, held_out_line, optimizer_account, render_revision
from promptloop.github.workflow import Annotation
from promptloop.optimize import OptimizationResult
from promptloop.project.config import LoadedConfig
from promptloop.project.git import blob_sha, changed_paths, ensure_commit
from promptloop.safety import inline_code, mask_secrets

GitHubFactory = Callable[[str, str, str], GitHubClient]


@dataclass
class Revision:
    suite: str
    path: str
    result: OptimizationResult


@dataclass
class Session:
    """One `promptloop ci` run's link to GitHub: the runner's environment, how revisions are
    offered, and what publishing has learned so far (the ledger) and linked to."""

    runtime: ActionsRuntime
    secrets: list[str]
    factory: GitHubFactory
    comment: bool = True
    suggest: str = "suggestion"
    dry_run: bool = False
    ledger: Ledger = field(default_factory=Ledger)
    links: list[Link] = field(default_factory=list)
    suggestion_url: str | None = None
    published: bool = False
    _client: GitHubClient | None = None
    _commits: dict[str, bool] = field(default_factory=dict)

    def github(self) -> GitHubClient:
        if self._client is None:
            rt = self.runtime
            self._client = self.factory(rt.require_token(), rt.api_url, rt.repository)
        return self._client

    def publisher(self, files: PullFiles | None = None) -> Publisher:
        return Publisher(
            self.github, self.ledger, mask=self.mask, dry_run=self.dry_run, files=files
        )

    def mask(self, text: str) -> str:
        return mask_secrets(text, self.secrets)

    def notes(self) -> list[str]:
        return self.ledger.notes + [f"Warning: {w}" for w in self.ledger.warnings]

    def can_comment(self, pull: PullContext | None) -> bool:
        return pull is not None and self.comment and not self.ledger.read_only

    def have_commit(self, root: Path, sha: str) -> bool:
        # A missing commit costs a fetch to find out, so each is asked once.
        if sha not in self._commits:
            self._commits[sha] = ensure_commit(root, sha)
        return self._commits[sha]

    def commit_url(self, sha: str) -> str:
        return f"{self.runtime.server_url}/{self.runtime.repository}/commit/{sha}"


# --- revisions -----------------------------------------------------------------------------


def deliver_revisions(
    ci: Session,
    revisions: list[Revision],
    files: PullFiles | None,
    pull: PullContext | None,
    head_sha: str,
    inline: list[PlannedComment],
    root: Path,
    checkout_sha: str | None = None,
) -> list[str]:
    """Each revision becomes suggestions in the review, a commit, a pull request, or a diff
    to apply by hand; returns its block for the summary, saying which. ``checkout_sha`` is the
    commit on disk when the head is not (see ``Target``)."""
    rendered: list[str] = []
    for rev in revisions:
        res = rev.result
        plan = plan_suggestions(
            res.seed_text, res.revised_text, hunks_of(files.get(rev.path) if files else None)
        )
        why = held_out_line(res.scores)
        if plan.complete and plan.suggestions and not ci.can_comment(pull):
            where = "No review is posted from this run; apply the diff below by hand."
        elif plan.complete and plan.suggestions:
            for s in plan.suggestions:
                inline.append(suggestion_comment(rev.path, s, head_sha, why, rev.suite))
            where = "Offered as suggested changes in the review: commit them from there."
        else:
            where = _deliver_whole(ci, rev, pull, head_sha, root, checkout_sha or head_sha)
        rendered.append(
            render_revision(
                rev.suite,
                rev.path,
                optimizer_account(res.trajectory),
                res.unified_diff,
                res.scores,
                where,
            )
        )
    return rendered


def _deliver_whole(
    ci: Session, rev: Revision, pull: PullContext | None, head_sha: str, root: Path, local: str
) -> str:
    """A revision that does not fit the diff: commit it, open a PR with it, or just show it."""
    mode = ci.suggest
    text = rev.result.revised_text
    if ci.mask(text) != text:
        return "It contains a secret, so promptloop does not commit it anywhere."
    if pull is None or ci.ledger.read_only:
        return "It touches lines outside this diff; apply the diff below by hand."
    if mode in ("commit", "pull-request") and pull.is_fork:
        return (
            "It touches lines outside this diff and the PR comes from a fork, so it is not "
            "pushed anywhere; apply the diff below by hand."
        )
    title = f"promptloop: learned revision of {rev.path}"
    expected = blob_sha(root, local, rev.path)
    if mode == "commit":
        if expected is None:
            return "It could not be committed (the file is not in the head commit)."
        return _publish_commit(
            ci,
            CommitPlan(rev.suite, rev.path, pull.head_ref, pull.base_ref, text, title, expected),
        )
    if mode == "pull-request":
        body = (
            f"A revision of {inline_code(rev.path)} learned from the critiques on "
            f"#{pull.number}. Merge it into {inline_code(pull.head_ref)} to take it."
        )
        plan = RevisionPullPlan(
            rev.suite,
            rev.path,
            pull.number,
            REVISION_BRANCH.format(number=pull.number),
            pull.head_ref,
            pull.base_ref,
            head_sha,
            text,
            title,
            body,
        )
        return _publish_revision_pull(ci, plan)
    return (
        "It touches lines outside this diff, so it cannot be a suggested change; apply the "
        "diff below, or set `suggest: commit` or `suggest: pull-request`."
    )


def _publish_commit(ci: Session, plan: CommitPlan) -> str:
    applied, blocked = ci.publisher().commit(plan)
    if blocked:
        return f"It was not committed: {blocked}."
    if not applied.done:
        return "Committing it failed; see the warnings above."
    # The commit is the branch tip now, whether this pass made it or an earlier one did.
    sha = next((a for a in applied.answers.values() if isinstance(a, str)), None)
    tip = applied.observed
    if sha is None and isinstance(tip, BranchFile) and tip.text == plan.text:
        sha = tip.tip_sha
    if sha is None:
        return f"It would be committed to {inline_code(plan.branch)} (dry run)."
    url = ci.commit_url(sha)
    ci.suggestion_url = url
    ci.links.append(Link("learned revision (commit)", url))
    return (
        f"Committed to {inline_code(plan.branch)} as {url} (commits pushed with "
        "the Actions token start no new workflow run)."
    )


def _publish_revision_pull(ci: Session, plan: RevisionPullPlan) -> str:
    applied = ci.publisher().revision_pull(plan)
    if not applied.done:
        return "Opening a pull request with it failed; see the warnings above."
    if ci.dry_run:
        return f"It would be offered as a pull request into {inline_code(plan.into)} (dry run)."
    # Opened by this pass (its answer), or by an earlier one (what the read found).
    url = next(
        (applied.answers.get(i) for i, a in enumerate(applied.actions) if isinstance(a, OpenPull)),
        None,
    )
    if url is None and applied.observed is not None:
        _, pulls = applied.observed
        url = pulls[0].html_url if pulls else None
    if url is None:
        return "Opening a pull request with it failed; see the warnings above."
    ci.suggestion_url = url
    ci.links.append(Link("learned revision (pull request)", url))
    return f"Opened as a pull request into {inline_code(plan.into)}: {url}"


# --- review, summary, check run --------------------------------------------------------------


def superseded_by(ci: Session, head_sha: str) -> str:
    return f"[{head_sha[:7]}]({ci.commit_url(head_sha)})"


def publish_review(
    ci: Session,
    pull: PullContext,
    head_sha: str,
    inline: list[PlannedComment],
    verdict: str,
    files: PullFiles | None,
) -> bool:
    """Post the inline comments this head still lacks and supersede earlier heads' review;
    True when every comment is now on the pull request."""
    placed = [c for c in merge_same_line(inline) if c.line is not None]
    body = review_body(verdict, len(placed), "The summary comment has the numbers.")
    plan = review_plan(pull.number, head_sha, body, placed, superseded_by(ci, head_sha))
    applied, seen = ci.publisher(files).review(plan)
    posted = next((a for a in applied.answers.values() if hasattr(a, "inline")), None)
    # A re-run posts nothing new: the review this head got earlier is the one to link.
    url = posted.html_url if posted is not None else None
    url = url or next((r.html_url for r in seen if r.head_sha == head_sha), None)
    if url:
        ci.links.append(Link("review", url))
        if ci.suggestion_url is None and any(c.kind == "suggestion" for c in plan.comments):
            ci.suggestion_url = url
    return applied.done


def publish_summary(ci: Session, number: int, head_sha: str, content: str, summary: str) -> None:
    plan = summary_plan(number, head_sha, content, summary)
    applied = ci.publisher().summary(plan)
    if applied.done:
        ci.published = True
        url = next((a for a in applied.answers.values() if isinstance(a, str)), None)
        existing = applied.observed
        if url is None and isinstance(existing, ExistingSummary):
            url = existing.html_url
        if url:
            ci.links.append(Link("summary comment", url))


def publish_check_run(ci: Session, plan: CheckRunPlan) -> None:
    applied = ci.publisher().check_run(plan)
    ci.published = ci.published or applied.done


# --- what to evaluate, and what to say about it -------------------------------------


@dataclass
class Target:
    """Which commits to compare and which files changed (None: unknown, run everything)."""

    head_sha: str
    base_sha: str | None
    changed: list[PullFile] | None
    files: PullFiles | None = None
    # The commit checked out, when the head is not it: the head is then that commit plus
    # promptloop's own commit of reviewers' verdicts, whose lines are on disk too.
    checkout_sha: str | None = None


def changed_between(root: Path, before: str, after: str) -> list[PullFile] | None:
    """The files a push changed, shaped like a pull request's file list."""
    changed = changed_paths(root, before, after)
    if changed is None:
        return None
    return [
        PullFile(path, "renamed", None, previous_filename=previous)
        if previous
        else PullFile(path, "modified", None)
        for path, previous in changed
    ]


def resolve_target(
    ci: Session, ctx: PullContext | PushContext | DispatchContext, root: Path
) -> Target:
    if isinstance(ctx, PushContext):
        changed = None
        if ctx.before is not None and ci.have_commit(root, ctx.before):
            changed = changed_between(root, ctx.before, ctx.after)
        return Target(ctx.after, ctx.before, changed)
    if isinstance(ctx, DispatchContext):
        head = ctx.sha or ci.runtime.sha or ""
        return Target(head, ctx.inputs.get("baseline") or None, None)
    if ctx.is_fork and ctx.event_name == "pull_request":
        ci.ledger.read_only = True
        ci.ledger.notes.append(
            "This pull request comes from a fork, so its token is read-only: no review, "
            "comment or check run is posted; the gate is this job's exit code, "
            "its annotations and this summary."
        )
    if ctx.event_name == "pull_request_target":
        ci.ledger.notes.append(
            "Running on pull_request_target: the token can write, so check out and run "
            "only code you trust (never the fork's code with secrets)."
        )
    try:
        files = ci.github().pull_files(ctx.number)
    except InfraError as exc:
        ci.ledger.warnings.append(f"could not list the PR's files: {exc.one_line()}")
        ci.ledger.notes.append("The PR's files could not be listed, so every suite runs.")
        return Target(ctx.head_sha, ctx.base_sha, None)
    if files.truncated:
        ci.ledger.notes.append(
            "GitHub lists at most 3000 files of a pull request and this one has more, "
            "so every suite runs."
        )
        return Target(ctx.head_sha, ctx.base_sha, None, files)
    return Target(ctx.head_sha, ctx.base_sha, list(files.files), files)


def plan_findings_of(
    loaded: LoadedConfig,
    result: RunResult,
    files: PullFiles | None,
    head_sha: str,
    to_repo: Callable[[Path], str | None],
    root: Path,
    more_url: str | None = None,
) -> tuple[list[PlannedComment], list[PlannedComment], list[Annotation]]:
    """(inline comments, findings for the summary, annotations) over every suite; ``more_url``
    is where a comment that leaves critiques out sends the reader for the rest."""
    level = "error" if verdict_of(result) == "fail" else "warning"
    inline: list[PlannedComment] = []
    unplaced: list[PlannedComment] = []
    annotations: list[Annotation] = []
    specs = {s.name: s for s in loaded.config.suites}
    for suite in result.suites:
        path = to_repo(Path(suite.prompt_path)) or suite.prompt_path
        pull_file = files.get(path) if files else None
        hunks = hunks_of(pull_file)
        args = evaluator_args_text(specs[suite.name].evaluators) if suite.name in specs else {}
        comments, anns = plan_findings(
            suite,
            path,
            read_text(root / path).splitlines(),
            {n for h in hunks for n in h.new_lines},
            first_changed_line(hunks),
            args,
            head_sha,
            level=level,
            more_url=more_url,
        )
        annotations += anns
        for c in comments:
            (inline if c.line is not None else unplaced).append(c)
    return inline, unplaced, annotations


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return ""
