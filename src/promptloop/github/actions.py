"""Every write promptloop makes to GitHub, as a value: what it writes, and how ``ci --dry-run``
describes it. ``github.reconcile`` decides which are needed; ``github.apply`` carries each out."""

from __future__ import annotations

from dataclasses import dataclass

from promptloop.github.plan import (
    CHECK_NAME,
    AwaitingCheck,
    CheckRunPlan,
    CommitPlan,
    RevisionPullPlan,
    SummaryPlan,
)
from promptloop.github.state import (
    OUTDATED_PREFIX,
    ExistingComment,
    ExistingReview,
    ReviewComment,
)
from promptloop.wording import one_line, plural


@dataclass(frozen=True)
class PostReview:
    number: int
    head_sha: str
    body: str
    # Where GitHub will anchor them; the others, with why, go into the body.
    inline: tuple[ReviewComment, ...]
    moved: tuple[tuple[ReviewComment, str], ...] = ()

    def describe(self) -> str:
        return (
            f"create a review on #{self.number} for {self.head_sha[:7]} with "
            f"{plural(len(self.inline) + len(self.moved), 'inline comment')}"
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

    @property
    def body(self) -> str:
        """The old comment under a visible "Outdated" note; its marker stays last."""
        return f"{OUTDATED_PREFIX} {self.superseded_by}\n\n{self.comment.body}"

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
class AwaitEvaluation:
    """The waiting check run on the commit holding a revision; ``sha`` None in a dry run,
    where that commit is only planned."""

    check: AwaitingCheck
    sha: str | None

    def describe(self) -> str:
        on = self.sha[:7] if self.sha else "the revision commit"
        return f"create the check run {CHECK_NAME!r} on {on} (action_required)"


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


@dataclass(frozen=True)
class React:
    """A reaction on a comment; GitHub keeps one per person and content, so repeating it
    after an unanswered write adds nothing."""

    comment_id: int
    content: str
    review_comment: bool

    def describe(self) -> str:
        return f"react {self.content} to comment {self.comment_id}"


@dataclass(frozen=True)
class Reply:
    number: int
    # The comment answered; the body's marker names it, so an answer is given once.
    to: int
    body: str
    # The review thread to answer in (None: the pull request's conversation).
    in_thread_of: int | None

    def describe(self) -> str:
        where = f"in the thread of comment {self.in_thread_of}" if self.in_thread_of else ""
        first = one_line(self.body.split("\n", 1)[0], 80)
        return f"reply on #{self.number}{' ' + where if where else ''}: {first}"


@dataclass(frozen=True)
class CommitFiles:
    """Files set on a branch in one commit whose parent is the tip that was read."""

    branch: str
    texts: tuple[tuple[str, str], ...]
    message: str
    parent_sha: str

    def describe(self) -> str:
        paths = ", ".join(path for path, _ in self.texts)
        return f"commit {paths} onto {self.branch} ({self.message})"


Action = (
    PostReview
    | SupersedeReview
    | OutdateComment
    | CreateSummary
    | EditSummary
    | WriteCheckRun
    | CommitRevision
    | AwaitEvaluation
    | ResetBranch
    | PutRevision
    | OpenPull
    | EditPull
    | React
    | Reply
    | CommitFiles
)
