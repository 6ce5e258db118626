"""The one layer that writes to GitHub: observe, reconcile, apply, and after an ambiguous
failure observe again instead of repeating the write.

Every phase is ``observe() -> state``, ``reconcile(state) -> actions``, then the actions in
order. A write GitHub may or may not have applied (``AmbiguousWriteError``) ends the pass;
the next pass reads the state again, so a review that did land is not posted twice. A
read-only token stops all writes; any other failure becomes a warning, and the caller learns
whether the phase's state is now on GitHub.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from promptloop.errors import InfraError
from promptloop.github.api import GitHubClient, PullFiles, ReadOnlyTokenError, ReviewComment
from promptloop.github.plan import (
    CheckRunPlan,
    CommitPlan,
    ReviewPlan,
    RevisionPullPlan,
    SummaryPlan,
)
from promptloop.github.reconcile import (
    Action,
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
    check_run_actions,
    commit_actions,
    review_actions,
    revision_pull_actions,
    summary_actions,
    supersede,
)
from promptloop.github.state import (
    AmbiguousWriteError,
    BranchFile,
    ExistingComment,
    ExistingReview,
)

S = TypeVar("S")
PASSES = 3


@dataclass
class Ledger:
    """What publishing has learned so far: notes and warnings for the reports, whether the
    token can write, and what each applied action answered (URLs, shas)."""

    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    read_only: bool = False
    planned: list[str] = field(default_factory=list)
    # Set only by a failure that stopped a phase: what GitHub answered, for the exit line.
    last_failure: str | None = None


@dataclass(frozen=True)
class Applied:
    """A phase's outcome: ``done`` when GitHub now holds the desired state; ``answers`` maps
    each applied action to what GitHub returned for it; ``observed`` is what the last read
    found (where nothing had to be written, the URLs and shas a caller needs are there)."""

    done: bool
    answers: dict[int, Any] = field(default_factory=dict)
    actions: tuple[Action, ...] = ()
    observed: Any = None


class Publisher:
    def __init__(
        self,
        client: Callable[[], GitHubClient],
        ledger: Ledger,
        *,
        mask: Callable[[str], str],
        dry_run: bool = False,
        files: PullFiles | None = None,
    ) -> None:
        self._client = client
        self.ledger = ledger
        self._mask = mask
        self.dry_run = dry_run
        self.files = files

    def phase(
        self,
        what: str,
        observe: Callable[[GitHubClient], S],
        reconcile: Callable[[S], Sequence[Action]],
    ) -> Applied:
        if self.ledger.read_only:
            return Applied(False)
        failure = ""
        for _ in range(PASSES):
            try:
                gh = self._client()
                observed = observe(gh)
                actions = tuple(reconcile(observed))
            except ReadOnlyTokenError as exc:
                self._read_only(exc)
                return Applied(False)
            except InfraError as exc:
                self._warn(what, exc)
                return Applied(False)
            if self.dry_run:
                self.ledger.planned.extend(a.describe() for a in actions)
                return Applied(True, actions=actions, observed=observed)
            answers: dict[int, Any] = {}
            try:
                for index, action in enumerate(actions):
                    answers[index] = self._apply(gh, action)
            except AmbiguousWriteError as exc:
                failure = exc.one_line()
                continue  # read again: what landed is not written twice
            except ReadOnlyTokenError as exc:
                self._read_only(exc)
                return Applied(False, answers, actions)
            except InfraError as exc:
                self._warn(what, exc)
                return Applied(False, answers, actions)
            return Applied(True, answers, actions, observed)
        self.ledger.warnings.append(f"could not {what}: {failure} (tried {PASSES} times)")
        self.ledger.last_failure = failure
        return Applied(False)

    # -- the phases ------------------------------------------------------------------------

    def review(self, plan: ReviewPlan) -> tuple[Applied, list[ExistingReview]]:
        """The inline comments this head still lacks, and earlier heads superseded; also
        the reviews already there (a re-run links to the one it posted before)."""
        seen: list[ExistingReview] = []

        def observe(gh: GitHubClient) -> tuple[list[ExistingComment], list[ExistingReview]]:
            comments, reviews = gh.our_review_comments(plan.number), gh.our_reviews(plan.number)
            seen[:] = reviews
            return comments, reviews

        applied = self.phase("post the review", observe, lambda state: review_actions(plan, *state))
        return applied, seen

    def supersede(self, number: int, head_sha: str, superseded_by: str) -> Applied:
        return self.phase(
            "mark earlier review comments outdated",
            lambda gh: (gh.our_review_comments(number), gh.our_reviews(number)),
            lambda state: supersede(number, head_sha, superseded_by, *state),
        )

    def summary(self, plan: SummaryPlan) -> Applied:
        return self.phase(
            "update the summary comment",
            lambda gh: gh.our_summary(plan.number),
            lambda existing: summary_actions(plan, existing),
        )

    def check_run(self, plan: CheckRunPlan) -> Applied:
        return self.phase(
            "create the check run",
            lambda gh: gh.check_runs(plan.head_sha, plan.name),
            lambda runs: check_run_actions(plan, runs),
        )

    def commit(self, plan: CommitPlan) -> tuple[Applied, str | None]:
        """(outcome, why it cannot be committed): the revision onto the PR's branch."""
        blocked: list[str] = []

        def reconcile(tip: BranchFile | None) -> list[Action]:
            actions, why = commit_actions(plan, tip)
            if why:
                blocked.append(why)
            return actions

        applied = self.phase(
            f"commit the revision of {plan.path}",
            lambda gh: gh.branch_file(plan.branch, plan.path),
            reconcile,
        )
        return applied, (blocked[-1] if blocked else None)

    def revision_pull(self, plan: RevisionPullPlan) -> Applied:
        return self.phase(
            "open the revision pull request",
            lambda gh: (
                gh.branch_file(plan.branch, plan.path),
                gh.open_pulls(plan.branch, plan.into),
            ),
            lambda state: revision_pull_actions(plan, *state),
        )

    def _read_only(self, exc: ReadOnlyTokenError) -> None:
        self.ledger.read_only = True
        self.ledger.notes.append(
            f"The GitHub token is read-only ({exc.one_line()}); promptloop reports through "
            "the exit code, annotations and this job summary instead."
        )

    def _warn(self, what: str, exc: InfraError) -> None:
        line = exc.one_line()
        self.ledger.warnings.append(
            line if line.startswith("could not") else f"could not {what}: {line}"
        )
        self.ledger.last_failure = line

    def _apply(self, gh: GitHubClient, action: Action) -> Any:
        mask = self._mask
        if isinstance(action, PostReview):
            plan = action.plan
            comments = [
                ReviewComment(c.path, mask(c.body), c.line, c.start_line)
                for c in action.comments
                if c.line is not None
            ]
            return gh.post_review(
                plan.number, plan.head_sha, mask(plan.body), comments, files=self.files
            )
        if isinstance(action, SupersedeReview):
            return gh.edit_review_body(action.number, action.review.id, mask(action.body))
        if isinstance(action, OutdateComment):
            outdated = gh.mark_outdated(action.comment, action.superseded_by)
            gh.minimize_comment(outdated)
            return outdated
        if isinstance(action, CreateSummary):
            return gh.create_summary(action.plan.number, mask(action.plan.body))
        if isinstance(action, EditSummary):
            return gh.edit_summary(action.plan.number, action.comment_id, mask(action.plan.body))
        if isinstance(action, WriteCheckRun):
            p = action.plan
            return gh.create_check_run(
                p.head_sha,
                p.name,
                p.conclusion,  # type: ignore[arg-type]
                p.title,
                mask(p.summary),
                annotations=[replace(a, message=mask(a.message)) for a in p.annotations],
                details_url=p.details_url,
                check_run_id=action.check_run_id,
            )
        if isinstance(action, CommitRevision):
            c = action.plan
            return gh.commit_file(
                c.branch, c.path, c.text, c.message, c.expected_blob, base_ref=c.base_ref
            )
        if isinstance(action, ResetBranch):
            if action.create:
                return gh.create_branch(action.branch, action.sha, protected=action.protected)
            return gh.move_branch(action.branch, action.sha, protected=action.protected)
        if isinstance(action, PutRevision):
            r = action.plan
            # The blob to replace is GitHub's own view of the branch just (re)set.
            on_branch = gh.branch_file(r.branch, r.path)
            blob = on_branch.blob_sha if on_branch is not None else None
            return gh.put_file(
                r.branch, r.path, r.text, r.title, blob, protected=(r.base_ref, r.into)
            )
        if isinstance(action, OpenPull):
            r = action.plan
            return gh.open_pull(r.branch, r.into, r.title, mask(r.body))
        if isinstance(action, EditPull):
            r = action.plan
            return gh.edit_pull(action.pull_number, r.title, mask(r.body))
        raise TypeError(f"unknown action {action!r}")
