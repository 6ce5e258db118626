"""The one door through which promptloop writes to GitHub: observe, reconcile, apply, and
after an ambiguous failure observe again instead of repeating the write.

Every phase is ``observe() -> state``, ``reconcile(state) -> actions``, then the actions in
order; every body leaves through one outbound step (secrets masked, GitHub's size limits
kept). A write GitHub may or may not have applied (``AmbiguousWriteError``), or a branch that
moved meanwhile (``ConflictError``), ends the pass; the next pass reads the state again, so a
review that did land is not posted twice. A read-only token stops all writes; any other
failure becomes a warning. ``dry_run`` records the actions and writes nothing. Each phase
returns a ``PhaseOutcome``: whether GitHub now holds the desired state, and where.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from promptloop.dataset.feedback import FeedbackRecord
from promptloop.errors import InfraError
from promptloop.github.actions import (
    Action,
    CommitFiles,
    CommitRevision,
    CreateSummary,
    OpenPull,
    PostReview,
    React,
    Reply,
)
from promptloop.github.api import GitHubClient
from promptloop.github.apply import apply_action
from promptloop.github.ledger import Ledger
from promptloop.github.markers import REPLY, with_marker
from promptloop.github.outbound import Outbound
from promptloop.github.plan import (
    CHECK_NAME,
    AwaitingCheck,
    CheckRunPlan,
    CommitPlan,
    ReviewPlan,
    RevisionPullPlan,
    SummaryPlan,
)
from promptloop.github.reconcile import (
    await_actions,
    check_run_actions,
    commit_actions,
    feedback_actions,
    offer_actions,
    review_actions,
    revision_pull_actions,
    summary_actions,
    supersede_actions,
)
from promptloop.github.state import (
    AmbiguousWriteError,
    BranchFile,
    ConflictError,
    ExistingComment,
    ExistingReview,
    ExistingSummary,
    PostedReview,
    PullFiles,
    ReviewComment,
)
from promptloop.github.transport import ReadOnlyTokenError

S = TypeVar("S")
PASSES = 3


@dataclass(frozen=True)
class PhaseOutcome:
    """``done`` when GitHub now holds the desired state (or, in a dry run, would); ``url``
    and ``sha`` say where it is, whether this pass wrote it or an earlier one had;
    ``blocked`` why it cannot be written at all."""

    done: bool
    actions: tuple[Action, ...] = ()
    url: str | None = None
    sha: str | None = None
    blocked: str | None = None


@dataclass(frozen=True)
class _Pass:
    done: bool
    answers: dict[int, Any] = field(default_factory=dict)
    actions: tuple[Action, ...] = ()
    observed: Any = None

    def answer(self, kind: type[Any]) -> Any:
        """What GitHub answered to the first action of ``kind`` (None: none was applied)."""
        return next(
            (self.answers.get(i) for i, a in enumerate(self.actions) if isinstance(a, kind)),
            None,
        )


class Publisher:
    def __init__(
        self,
        client: Callable[[], GitHubClient],
        ledger: Ledger | None = None,
        *,
        mask: Callable[[str], str],
        dry_run: bool = False,
    ) -> None:
        self._client = client
        self.ledger = ledger or Ledger()
        self._mask = mask
        self.dry_run = dry_run

    def hold(self) -> None:
        """Write nothing from now on (a fork's token is read-only)."""
        self.ledger.read_only = True

    def masks(self, text: str) -> bool:
        """Whether ``text`` holds a secret (that outbound would mask)."""
        return self._mask(text) != text

    def phase(
        self,
        what: str,
        observe: Callable[[GitHubClient], S],
        reconcile: Callable[[S], Sequence[Action]],
        *,
        passes: int = PASSES,
    ) -> _Pass:
        if self.ledger.read_only:
            return _Pass(False)
        failure = ""
        for _ in range(passes):
            try:
                gh = self._client()
                observed = observe(gh)
                actions = tuple(reconcile(observed))
            except ConflictError as exc:
                failure = exc.one_line()
                continue
            except ReadOnlyTokenError as exc:
                self.ledger.read_only_token(exc.one_line())
                return _Pass(False)
            except InfraError as exc:
                self.ledger.failed(what, exc.one_line())
                return _Pass(False)
            if self.dry_run:
                self.ledger.planned.extend(a.describe() for a in actions)
                return _Pass(True, actions=actions, observed=observed)
            answers: dict[int, Any] = {}
            out = Outbound(self._mask, gh.token)
            try:
                for index, action in enumerate(actions):
                    answers[index] = apply_action(gh, action, out)
            except (AmbiguousWriteError, ConflictError) as exc:
                failure = exc.one_line()
                continue  # read again: what landed is not written twice
            except ReadOnlyTokenError as exc:
                self.ledger.read_only_token(exc.one_line())
                return _Pass(False, answers, actions)
            except InfraError as exc:
                self.ledger.failed(what, exc.one_line())
                return _Pass(False, answers, actions)
            return _Pass(True, answers, actions, observed)
        self.ledger.gave_up(what, failure, passes)
        return _Pass(False)

    # -- the pull request's review, summary and check run -----------------------------------

    def review(self, plan: ReviewPlan, files: PullFiles | None = None) -> PhaseOutcome:
        """The inline comments this head still lacks, and earlier heads superseded; ``url``
        is this head's review, posted now or by an earlier run."""
        seen: list[ExistingReview] = []

        def observe(gh: GitHubClient) -> tuple[list[ExistingComment], list[ExistingReview]]:
            comments, reviews = gh.our_review_comments(plan.number), gh.our_reviews(plan.number)
            seen[:] = reviews
            return comments, reviews

        done = self.phase(
            "post the review", observe, lambda state: review_actions(plan, *state, files)
        )
        posted: PostedReview | None = done.answer(PostReview)
        url = posted.html_url if posted is not None else None
        url = url or next((r.html_url for r in seen if r.head_sha == plan.head_sha), None)
        return PhaseOutcome(done.done, done.actions, url)

    def supersede(self, number: int, head_sha: str, superseded_by: str) -> PhaseOutcome:
        done = self.phase(
            "mark earlier review comments outdated",
            lambda gh: (gh.our_review_comments(number), gh.our_reviews(number)),
            lambda state: supersede_actions(number, head_sha, superseded_by, *state),
        )
        return PhaseOutcome(done.done, done.actions)

    def summary(self, plan: SummaryPlan) -> PhaseOutcome:
        done = self.phase(
            "update the summary comment",
            lambda gh: gh.our_summary(plan.number),
            lambda existing: summary_actions(plan, existing),
        )
        url = done.answer(CreateSummary)
        if url is None and isinstance(done.observed, ExistingSummary):
            url = done.observed.html_url
        self.ledger.published = self.ledger.published or done.done
        return PhaseOutcome(done.done, done.actions, url)

    def check_run(self, plan: CheckRunPlan) -> PhaseOutcome:
        done = self.phase(
            "create the check run",
            lambda gh: gh.check_runs(plan.head_sha, plan.name),
            lambda runs: check_run_actions(plan, runs),
        )
        self.ledger.published = self.ledger.published or done.done
        return PhaseOutcome(done.done, done.actions)

    # -- revisions --------------------------------------------------------------------------

    def commit(self, plan: CommitPlan) -> PhaseOutcome:
        """The revision onto the pull request's branch; ``sha`` is the commit holding it."""
        blocked: list[str] = []

        def reconcile(tip: BranchFile | None) -> list[Action]:
            actions, why = commit_actions(plan, tip)
            if why:
                blocked.append(why)
            return actions

        done = self.phase(
            f"commit the revision of {plan.path}",
            lambda gh: gh.branch_file(plan.branch, plan.path),
            reconcile,
        )
        sha = done.answer(CommitRevision)
        tip = done.observed
        if sha is None and isinstance(tip, BranchFile) and tip.text == plan.text:
            sha = tip.tip_sha
        return PhaseOutcome(
            done.done, done.actions, sha=sha, blocked=blocked[-1] if blocked else None
        )

    def await_evaluation(self, check: AwaitingCheck, sha: str | None) -> PhaseOutcome:
        """The waiting check run on commit ``sha``, which promptloop pushed (None in a dry
        run: the commit is only planned)."""
        done = self.phase(
            "create the check run on the revision commit",
            lambda gh: gh.check_runs(sha, CHECK_NAME) if sha else [],
            lambda runs: await_actions(check, sha, runs),
        )
        return PhaseOutcome(done.done, done.actions)

    def revision_pull(self, plan: RevisionPullPlan) -> PhaseOutcome:
        done = self.phase(
            "open the revision pull request",
            lambda gh: (
                gh.branch_file(plan.branch, plan.path),
                gh.open_pulls(plan.branch, plan.into),
            ),
            lambda state: revision_pull_actions(plan, *state),
        )
        # Opened by this pass (its answer), or by an earlier one (what the read found).
        url = done.answer(OpenPull)
        if url is None and done.observed is not None:
            _, pulls = done.observed
            url = pulls[0].html_url if pulls else None
        return PhaseOutcome(done.done, done.actions, url)

    # -- a reviewer's comment ---------------------------------------------------------------

    def react(self, comment_id: int, content: str, *, review_comment: bool) -> PhaseOutcome:
        done = self.phase(
            f"react to comment {comment_id}",
            lambda gh: None,
            lambda _: [React(comment_id, content, review_comment)],
        )
        return PhaseOutcome(done.done, done.actions)

    def reply(
        self, number: int, to: int, body: str, *, in_thread_of: int | None = None
    ) -> PhaseOutcome:
        """One answer to comment ``to`` (in its review thread when ``in_thread_of``)."""
        action = Reply(number, to, with_marker(body, REPLY, to=str(to)), in_thread_of)
        done = self.phase(
            f"reply on pull request #{number}",
            lambda gh: gh.our_reply(number, to, in_review=in_thread_of is not None),
            lambda answered: [] if answered else [action],
        )
        return PhaseOutcome(done.done, done.actions, done.answer(Reply) or done.observed)

    def record_feedback(
        self, branch: str, records: Mapping[str, Sequence[FeedbackRecord]], message: str
    ) -> PhaseOutcome:
        """Each file's records appended on ``branch`` in one commit; ``sha`` is the tip that
        holds them all (this pass's commit, or the branch as it was when all were there). A
        push in between is answered by reading the branch again."""
        tip: str | None = None

        def reconcile(reads: dict[str, BranchFile | None]) -> list[Action]:
            nonlocal tip
            actions, tip = feedback_actions(branch, records, reads, message)
            return actions

        done = self.phase(
            f"commit reviewers' verdicts to {branch}",
            lambda gh: {path: gh.branch_file(branch, path) for path in records},
            reconcile,
            passes=PASSES + 1,
        )
        return PhaseOutcome(done.done, done.actions, sha=done.answer(CommitFiles) or tip)

    def offer(
        self,
        number: int,
        head_sha: str,
        body: str,
        comments: Sequence[ReviewComment],
        files: PullFiles,
    ) -> PhaseOutcome:
        """Suggested changes (each comment marked), in one review, unless already offered."""
        done = self.phase(
            "offer the verdicts as suggested changes",
            lambda gh: gh.our_review_comments(number),
            lambda existing: offer_actions(number, head_sha, body, comments, existing, files),
        )
        posted: PostedReview | None = done.answer(PostReview)
        return PhaseOutcome(done.done, done.actions, posted.html_url if posted else None)
