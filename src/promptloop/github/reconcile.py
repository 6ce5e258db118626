"""What to write: the difference between the desired state (``plan``) and what is on the pull
request (``state``), as a list of actions (``github.actions``). Pure, so ``ci --dry-run`` can
print it and tests can assert on it; ``publish`` carries it out. An empty list means GitHub
already says it all."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from promptloop.dataset.feedback import FeedbackRecord, append_lines, parse_feedback
from promptloop.errors import InfraError
from promptloop.github.actions import (
    Action,
    AwaitEvaluation,
    CommitFiles,
    CommitRevision,
    CreateSummary,
    EditPull,
    EditSummary,
    OpenPull,
    OutdateComment,
    PostReview,
    PutRevision,
    ResetBranch,
    SupersedeReview,
    WriteCheckRun,
)
from promptloop.github.markers import parse_review_marker
from promptloop.github.plan import (
    AwaitingCheck,
    CheckRunPlan,
    CommitPlan,
    ReviewPlan,
    RevisionPullPlan,
    SummaryPlan,
    split_anchorable,
)
from promptloop.github.state import (
    SUPERSEDED_PREFIX,
    BranchFile,
    ConflictError,
    ExistingCheckRun,
    ExistingComment,
    ExistingPull,
    ExistingReview,
    ExistingSummary,
    PullFiles,
    ReviewComment,
)


class BranchGoneError(InfraError):
    """The branch to write on no longer exists."""


def supersede_actions(
    number: int,
    head_sha: str,
    superseded_by: str,
    comments: Sequence[ExistingComment],
    reviews: Sequence[ExistingReview],
) -> list[Action]:
    """Earlier heads' reviews say they were superseded; their comments are marked outdated."""
    actions: list[Action] = []
    for review in reviews:
        if review.head_sha != head_sha and not review.superseded:
            body = f"{SUPERSEDED_PREFIX} {superseded_by}.\n\n{review.body}"
            actions.append(SupersedeReview(number, review, body))
    for comment in comments:
        if comment.head_sha != head_sha and not comment.outdated:
            actions.append(OutdateComment(comment, superseded_by))
    return actions


def review_actions(
    plan: ReviewPlan,
    comments: Sequence[ExistingComment],
    reviews: Sequence[ExistingReview],
    files: PullFiles | None = None,
) -> list[Action]:
    """The comments this head still lacks, as one review; earlier heads superseded. With
    the pull request's ``files``, a comment GitHub would refuse goes into the body up front."""
    posted = {(c.fingerprint, c.head_sha) for c in comments}
    new = [
        ReviewComment(c.path, c.body, c.line, c.start_line)
        for c in plan.comments
        if (c.fingerprint, plan.head_sha) not in posted and c.line is not None
    ]
    actions: list[Action] = []
    if new:
        actions.append(post_review(plan.number, plan.head_sha, plan.body, new, files))
    earlier = supersede_actions(plan.number, plan.head_sha, plan.superseded_by, comments, reviews)
    return actions + earlier


def post_review(
    number: int,
    head_sha: str,
    body: str,
    comments: Sequence[ReviewComment],
    files: PullFiles | None,
) -> PostReview:
    inline, moved = split_anchorable(comments, files) if files else (list(comments), [])
    return PostReview(number, head_sha, body, tuple(inline), tuple(moved))


def offer_actions(
    number: int,
    head_sha: str,
    body: str,
    comments: Sequence[ReviewComment],
    existing: Sequence[ExistingComment],
    files: PullFiles | None,
) -> list[Action]:
    """Suggested changes not yet offered on this head (each comment carries its marker)."""
    posted = {(c.fingerprint, c.head_sha) for c in existing}
    new = [c for c in comments if parse_review_marker(c.body) not in posted]
    return [post_review(number, head_sha, body, new, files)] if new else []


def feedback_actions(
    branch: str,
    records: Mapping[str, Sequence[FeedbackRecord]],
    reads: Mapping[str, BranchFile | None],
    message: str,
) -> tuple[list[Action], str | None]:
    """(the commit appending each file's records not on the branch yet, the tip already
    holding them all). ``ConflictError`` when the reads saw different tips (a push in
    between): read again."""
    if any(read is None for read in reads.values()):
        raise BranchGoneError(f"branch {branch} is gone; nothing was recorded")
    tips = {read.tip_sha for read in reads.values() if read is not None}
    if len(tips) != 1:
        raise ConflictError(f"branch {branch} moved while promptloop read it")
    texts = []
    for path, read in reads.items():
        existing = (read.text or "") if read is not None else ""
        there = {r.to_line() for r in parse_feedback(existing, path)}
        new = [r for r in records[path] if r.to_line() not in there]
        if new:
            texts.append((path, append_lines(existing, new)))
    tip = tips.pop()
    if not texts:
        return [], tip
    return [CommitFiles(branch, tuple(texts), message, tip)], None


def summary_actions(plan: SummaryPlan, existing: ExistingSummary | None) -> list[Action]:
    if existing is None:
        return [CreateSummary(plan)]
    if existing.content == plan.content and existing.head_sha == plan.head_sha:
        return []
    return [EditSummary(plan, existing.id)]


def check_run_actions(plan: CheckRunPlan, runs: Sequence[ExistingCheckRun]) -> list[Action]:
    if any(r.content == plan.content and r.conclusion == plan.conclusion for r in runs):
        return []
    return [WriteCheckRun(plan, runs[0].id if runs else None)]


def await_actions(
    check: AwaitingCheck, sha: str | None, runs: Sequence[ExistingCheckRun]
) -> list[Action]:
    """The waiting check run, unless the commit has a ``promptloop`` check run already: ours
    from an earlier pass, or a real run's verdict, which it must never overwrite."""
    return [] if runs else [AwaitEvaluation(check, sha)]


def commit_actions(plan: CommitPlan, tip: BranchFile | None) -> tuple[list[Action], str | None]:
    """(actions, why nothing can be written): already on the branch → nothing to do; the
    branch still holds the file the revision was learned from → commit; else it moved on."""
    if tip is None:
        return [], f"the branch {plan.branch} no longer exists"
    if tip.text == plan.text:
        return [], None
    if tip.blob_sha != plan.expected_blob:
        return [], (
            f"the branch {plan.branch} moved on since this head (someone pushed); "
            "re-run on the new head"
        )
    return [CommitRevision(plan)], None


def revision_pull_actions(
    plan: RevisionPullPlan, branch: BranchFile | None, pulls: Sequence[ExistingPull]
) -> list[Action]:
    """A branch whose file already holds the revision is left alone (never reset); otherwise
    it is started over from the head and the revision committed on top."""
    if plan.into == plan.base_ref or plan.branch in (plan.base_ref, plan.into):
        raise ValueError(
            f"refusing to write to the pull request's base branch {plan.base_ref!r}: the "
            "revision pull request must target the head branch"
        )
    actions: list[Action] = []
    protected = (plan.base_ref, plan.into)
    if branch is None or branch.text != plan.text:
        actions.append(ResetBranch(plan.branch, plan.head_sha, branch is None, protected))
        actions.append(PutRevision(plan))
    if not pulls:
        actions.append(OpenPull(plan))
    elif pulls[0].title != plan.title or pulls[0].body != plan.body:
        actions.append(EditPull(plan, pulls[0].number))
    return actions
