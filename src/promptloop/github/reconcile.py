"""What to write: the difference between the desired state (``plan``) and what is on the pull
request (``state``), as a list of actions. Pure, so ``ci --dry-run`` can print it and tests can
assert on it; ``publish`` carries it out. An empty list means GitHub already says it all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from promptloop.github.plan import (
    CheckRunPlan,
    CommitPlan,
    ReviewPlan,
    RevisionPullPlan,
    SummaryPlan,
)
from promptloop.github.review import PlannedComment
from promptloop.github.state import (
    SUPERSEDED_PREFIX,
    BranchFile,
    ExistingCheckRun,
    ExistingComment,
    ExistingPull,
    ExistingReview,
    ExistingSummary,
)
from promptloop.wording import plural


@dataclass(frozen=True)
class PostReview:
    plan: ReviewPlan
    comments: tuple[PlannedComment, ...]

    def describe(self) -> str:
        return (
            f"create a review on #{self.plan.number} for {self.plan.head_sha[:7]} with "
            f"{plural(len(self.comments), 'inline comment')}"
        )


@dataclass(frozen=True)
class SupersedeReview:
    number: int
    review: ExistingReview
    body: str

    def describe(self) -> str:
        return f"edit review {self.review.id} on #{self.number}: superseded"


@dataclass(frozen=True)
class OutdateComment:
    comment: ExistingComment
    superseded_by: str

    def describe(self) -> str:
        return f"mark review comment {self.comment.id} outdated and minimize it"


@dataclass(frozen=True)
class CreateSummary:
    plan: SummaryPlan

    def describe(self) -> str:
        return f"create the summary comment on #{self.plan.number}"


@dataclass(frozen=True)
class EditSummary:
    plan: SummaryPlan
    comment_id: int

    def describe(self) -> str:
        return f"edit the summary comment {self.comment_id} on #{self.plan.number}"


@dataclass(frozen=True)
class WriteCheckRun:
    plan: CheckRunPlan
    # None: create a new run; else rewrite that run (one check run per head).
    check_run_id: int | None

    def describe(self) -> str:
        p = self.plan
        verb = "create" if self.check_run_id is None else f"update check run {self.check_run_id}:"
        return f"{verb} the check run {p.name!r} on {p.head_sha[:7]} ({p.conclusion})"


@dataclass(frozen=True)
class CommitRevision:
    plan: CommitPlan

    def describe(self) -> str:
        return f"commit the revision of {self.plan.path} onto {self.plan.branch}"


@dataclass(frozen=True)
class ResetBranch:
    branch: str
    sha: str
    create: bool
    protected: tuple[str, ...]

    def describe(self) -> str:
        verb = "create branch" if self.create else "reset branch"
        return f"{verb} {self.branch} at {self.sha[:7]}"


@dataclass(frozen=True)
class PutRevision:
    plan: RevisionPullPlan

    def describe(self) -> str:
        return f"commit the revision of {self.plan.path} to {self.plan.branch}"


@dataclass(frozen=True)
class OpenPull:
    plan: RevisionPullPlan

    def describe(self) -> str:
        return f"open a pull request from {self.plan.branch} into {self.plan.into}"


@dataclass(frozen=True)
class EditPull:
    plan: RevisionPullPlan
    pull_number: int

    def describe(self) -> str:
        return f"update the title and body of pull request #{self.pull_number}"


Action = (
    PostReview
    | SupersedeReview
    | OutdateComment
    | CreateSummary
    | EditSummary
    | WriteCheckRun
    | CommitRevision
    | ResetBranch
    | PutRevision
    | OpenPull
    | EditPull
)


def supersede(
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
    plan: ReviewPlan, comments: Sequence[ExistingComment], reviews: Sequence[ExistingReview]
) -> list[Action]:
    posted = {(c.fingerprint, c.head_sha) for c in comments}
    new = tuple(c for c in plan.comments if (c.fingerprint, plan.head_sha) not in posted)
    actions: list[Action] = [PostReview(plan, new)] if new else []
    return actions + supersede(plan.number, plan.head_sha, plan.superseded_by, comments, reviews)


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
