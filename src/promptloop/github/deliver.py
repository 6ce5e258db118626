"""A learned revision offered on the pull request: as suggested changes in the review, a
commit onto the head branch, a pull request into it, or a diff to apply by hand, as
``suggest`` says and the diff allows. Writes go through the publisher."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from promptloop.github.changes import hunks_of
from promptloop.github.event import PullContext
from promptloop.github.plan import REVISION_BRANCH, AwaitingCheck, CommitPlan, RevisionPullPlan
from promptloop.github.publish import Publisher
from promptloop.github.review import PlannedComment, suggestion_comment
from promptloop.github.runtime import ActionsRuntime
from promptloop.github.state import PullFiles
from promptloop.github.suggestions import plan_suggestions
from promptloop.github.summary import (
    NOT_EVALUATED,
    Link,
    Offered,
    held_out_line,
    not_evaluated,
    optimizer_account,
    render_revision,
)
from promptloop.optimize import OptimizationResult
from promptloop.project.git import blob_sha


@dataclass(frozen=True)
class Revision:
    suite: str
    path: str
    result: OptimizationResult


@dataclass(frozen=True)
class Offer:
    """How a pull request is offered revisions: ``suggest`` mode, and whether a review may
    carry them (``can_comment``)."""

    suggest: str
    can_comment: bool
    pull: PullContext | None
    files: PullFiles | None
    head_sha: str
    root: Path
    # The commit on disk when the head is not it (see ``target.Target``).
    checkout_sha: str | None = None


@dataclass(frozen=True)
class Delivered:
    """Each revision's block for the summary, the suggestions the review carries, and where
    a commit or pull request holding one is."""

    blocks: list[str] = field(default_factory=list)
    suggestions: list[PlannedComment] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    url: str | None = None


def deliver_revisions(
    publisher: Publisher,
    runtime: ActionsRuntime,
    revisions: list[Revision],
    offer: Offer,
) -> Delivered:
    blocks: list[str] = []
    suggestions: list[PlannedComment] = []
    links: list[Link] = []
    url: str | None = None
    for rev in revisions:
        res = rev.result
        files = offer.files
        plan = plan_suggestions(
            res.seed_text, res.revised_text, hunks_of(files.get(rev.path) if files else None)
        )
        why = held_out_line(res.scores)
        if plan.complete and plan.suggestions and not offer.can_comment:
            where = Offered.NO_REVIEW
        elif plan.complete and plan.suggestions:
            for s in plan.suggestions:
                suggestions.append(suggestion_comment(rev.path, s, offer.head_sha, why, rev.suite))
            where = Offered.IN_REVIEW
        else:
            where, link = _deliver_whole(publisher, runtime, rev, offer)
            if link is not None:
                links.append(link)
                url = link.url
        blocks.append(
            render_revision(
                rev.suite,
                rev.path,
                optimizer_account(res.trajectory),
                res.unified_diff,
                res.scores,
                where,
            )
        )
    return Delivered(blocks, suggestions, links, url)


def _deliver_whole(
    publisher: Publisher, runtime: ActionsRuntime, rev: Revision, offer: Offer
) -> tuple[str, Link | None]:
    """A revision that does not fit the diff: commit it, open a PR with it, or just show it."""
    mode = offer.suggest
    pull = offer.pull
    text = rev.result.revised_text
    if publisher.masks(text):
        return Offered.HOLDS_A_SECRET, None
    if pull is None or publisher.ledger.read_only:
        return Offered.BY_HAND, None
    if mode in ("commit", "pull-request") and pull.is_fork:
        return Offered.FROM_A_FORK, None
    title = f"promptloop: learned revision of {rev.path}"
    if mode == "commit":
        expected = blob_sha(offer.root, offer.checkout_sha or offer.head_sha, rev.path)
        if expected is None:
            return Offered.NOT_IN_HEAD, None
        plan = CommitPlan(rev.suite, rev.path, pull.head_ref, pull.base_ref, text, title, expected)
        return _commit(publisher, runtime, plan)
    if mode == "pull-request":
        body = Offered.pull_body(rev.path, pull.number, pull.head_ref)
        pull_plan = RevisionPullPlan(
            rev.suite,
            rev.path,
            pull.number,
            REVISION_BRANCH.format(number=pull.number),
            pull.head_ref,
            pull.base_ref,
            offer.head_sha,
            text,
            title,
            body,
        )
        return _open_pull(publisher, pull_plan)
    return Offered.OUTSIDE_THE_DIFF, None


def _commit(
    publisher: Publisher, runtime: ActionsRuntime, plan: CommitPlan
) -> tuple[str, Link | None]:
    done = publisher.commit(plan)
    if done.blocked:
        return Offered.not_committed(done.blocked), None
    if not done.done:
        return Offered.COMMIT_FAILED, None
    # The commit is the branch tip now, whether this pass made it or an earlier one did. No
    # workflow runs for it, so its check run says why it waits (a dry run lists that too).
    waiting = AwaitingCheck(NOT_EVALUATED, not_evaluated(plan.path, plan.branch), runtime.run_url)
    # Only a dry run leaves the commit unknown; a run that cannot name it writes no check.
    known = done.sha is not None or publisher.dry_run
    flagged = known and publisher.await_evaluation(waiting, done.sha).done
    if done.sha is None:
        return Offered.would_commit(plan.branch), None
    url = runtime.commit_url(done.sha)
    return Offered.committed(plan.branch, url, flagged), Link("learned revision (commit)", url)


def _open_pull(publisher: Publisher, plan: RevisionPullPlan) -> tuple[str, Link | None]:
    done = publisher.revision_pull(plan)
    if not done.done:
        return Offered.PULL_FAILED, None
    if publisher.dry_run:
        return Offered.would_open(plan.into), None
    if done.url is None:
        return Offered.PULL_FAILED, None
    return Offered.opened(plan.into, done.url), Link("learned revision (pull request)", done.url)
