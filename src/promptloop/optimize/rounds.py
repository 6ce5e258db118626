"""One round of the optimizer: score the current prompt on the training cases, ask the
optimizer model for a candidate (re-asking when a guard rejects its reply), and judge the
candidate against the current prompt on validation.

Train outcomes (with the judges' reasons) are what the optimizer is shown; validation
decides acceptance (``acceptance``); a candidate that breaks a train or validation case a
reviewer marked good is refused whatever its figures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from promptloop.dataset.cases import Case
from promptloop.engine.outcome import CaseOutcome
from promptloop.errors import UserError
from promptloop.models.base import (
    Message,
    ModelCallError,
    ModelClient,
    ModelRequest,
)
from promptloop.optimize import guards, metaprompt, reviewers
from promptloop.optimize.acceptance import weigh_candidate
from promptloop.optimize.candidates import CandidateBuilder, Proposal
from promptloop.optimize.packing import Packed, pack_examples
from promptloop.optimize.rationale import accepted_round
from promptloop.optimize.result import Candidate, SplitScore
from promptloop.optimize.scoring import BudgetedScorer, OptimizerBudget
from promptloop.optimize.settings import OptimizerSettings
from promptloop.wording import plural

EXPLORE_TEMPERATURE = 0.7
OptimizerProgress = Callable[[str], None]
TRUNCATED_ECHO_CHARS = 800


@dataclass
class Rounds:
    """The state one optimisation run carries from round to round; ``optimize`` is its only
    user."""

    settings: OptimizerSettings
    builder: CandidateBuilder
    scoring: BudgetedScorer
    optimizer: ModelClient
    train: Sequence[Case]
    val: Sequence[Case]
    reserve: int
    current: str
    # Train and validation cases a reviewer marked good: no accepted candidate may break one.
    guarded: Sequence[Case] = ()
    trajectory: list[Candidate] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    completed: int = 0
    stop_reason: str = "rounds"
    # After a round that changed nothing, the same request at temperature 0 would only
    # repeat the same answer: later rounds explore.
    stalled: bool = False
    # Told one line as each round starts and as each candidate is settled, for a terminal.
    progress: OptimizerProgress | None = None
    # The prompts evaluated so far (the seed, each candidate judged), by their text with the
    # whitespace normalised, each with the words naming it: a proposal that repeats one is
    # not scored again.
    evaluated: dict[str, str] = field(default_factory=dict)
    repeats: int = 0

    def __post_init__(self) -> None:
        self.evaluated.setdefault(_spacing_normalised(self.current), "the seed")

    @property
    def budget(self) -> OptimizerBudget:
        return self.scoring.budget

    def _say(self, line: str) -> None:
        if self.progress is not None:
            self.progress(line)

    def _record(self, candidate: Candidate, line: str | None = None) -> None:
        """Add ``candidate`` to the trajectory and say it (as ``line`` when one is given)."""
        self.trajectory.append(candidate)
        if line is not None:
            self._say(line)
            return
        verdict = "accepted" if candidate.accepted else "lost"
        scores = ""
        if candidate.val_before is not None and candidate.val_after is not None:
            scores = (
                f" (validation {candidate.val_before.passes}/{candidate.val_before.n} → "
                f"{candidate.val_after.passes}/{candidate.val_after.n})"
            )
        self._say(
            f"round {candidate.round}, candidate {candidate.attempt}: {verdict}{scores}: "
            f"{candidate.why}"
        )

    async def round(self, round_no: int) -> bool:
        """One round; False when the loop must stop (budget, failed optimizer call)."""
        need_train = 0 if self.scoring.scored(self.current, "train") else len(self.train)
        need_val = len(self.val) * (1 if self.scoring.scored(self.current, "val") else 2)
        if not self.budget.calls_left_for(need_train + 1 + need_val + self.reserve):
            self.stop_reason = "budget"
            self.notes.append(
                f"stopped before round {round_no}: max_calls={self.settings.max_calls} "
                f"leaves no room for a round ({self.budget.calls} used)"
            )
            return False
        if not self.budget.usd_left():
            self.stop_reason = "usd"
            self.notes.append(
                f"stopped before round {round_no}: max_usd={self.settings.max_usd} reached"
            )
            return False

        self._say(
            f"round {round_no}/{self.settings.rounds}: scoring the current prompt on "
            f"{plural(len(self.train), 'training case')}"
        )
        outcomes = await self.scoring.score(self.current, "train", self.train)
        packed = pack_examples(
            outcomes,
            # The reviewers' notes are never cut: the examples get what they leave.
            context_tokens=max(
                self.settings.context_tokens - reviewers.section_tokens(self.builder.notes), 0
            ),
            examples_per_cause=self.settings.examples_per_cause,
            feedback=self.settings.feedback,
            labelled={note.case_id for note in self.builder.notes},
        )
        causes = dict(packed.cause_counts)
        accepted_before = len(self.accepted)
        try:
            return await self._propose_and_judge(round_no, packed, outcomes, causes, need_val)
        finally:
            self.stalled = len(self.accepted) == accepted_before

    async def _propose_and_judge(
        self,
        round_no: int,
        packed: Packed,
        outcomes: Sequence[CaseOutcome],
        causes: dict[str, int],
        need_val: int,
    ) -> bool:
        asked = await self._ask(
            round_no, self.builder.messages(self.current, packed, outcomes), causes, need_val
        )
        if asked is None:
            self.stop_reason = "error"
            return False
        self.completed += 1
        proposal, attempt = asked
        if proposal is None or proposal.text is None:
            return self.stop_reason != "budget"
        if proposal.text == self.current:
            self._record(
                _unscored(round_no, attempt, proposal, causes, "identical to the current prompt")
            )
            return True
        earlier = self.evaluated.get(_spacing_normalised(proposal.text))
        if earlier is not None:
            # Scoring it again would spend calls on a known answer; the round counts as one
            # that changed nothing, so the next round explores.
            self.repeats += 1
            self._record(
                _unscored(
                    round_no, attempt, proposal, causes, f"repeats {earlier}; not evaluated again"
                ),
                line=f"round {round_no}: the proposal repeats {earlier}; not evaluated again",
            )
            return True
        await self._judge(round_no, attempt, proposal, causes)
        return True

    async def _ask(
        self, round_no: int, messages: tuple[Message, ...], causes: dict[str, int], need_val: int
    ) -> tuple[Proposal | None, int] | None:
        """Ask for a candidate, re-asking with the guard's reason when one is rejected.
        None when the optimizer call failed; (None, n) when no acceptable reply came."""
        settings = self.settings
        attempt = 0
        for attempt in range(1, settings.candidate_attempts + 2):
            if attempt > 1 and not (
                self.budget.calls_left_for(1 + need_val + self.reserve) and self.budget.usd_left()
            ):
                self.stop_reason = "budget"
                self.notes.append(f"round {round_no}: no budget left to re-ask the optimizer")
                break
            request = ModelRequest(
                model=settings.optimizer_model,
                messages=messages,
                temperature=(
                    max(settings.temperature, EXPLORE_TEMPERATURE)
                    if self.stalled
                    else settings.temperature
                ),
                max_tokens=self.builder.max_tokens(),
                seed=settings.seed + round_no,
                api_base=settings.api_base,
                timeout_s=settings.timeout_s,
                purpose="optimize",
            )
            self._say(f"round {round_no}: asking {settings.optimizer_model} for a candidate")
            try:
                response = await self.optimizer.complete(request)
            except ModelCallError as exc:
                self.budget.calls += exc.attempts
                message = (
                    f"round {round_no}: optimizer call to {settings.optimizer_model} "
                    f"failed ({exc.kind}): {exc}"
                )
                self.errors.append(message)
                self._record(
                    Candidate(
                        round_no,
                        attempt,
                        "",
                        None,
                        False,
                        "optimizer call failed",
                        causes=causes,
                        error=message,
                    )
                )
                return None
            self.budget.calls += 1
            self.budget.usd += response.usage.cost_usd
            bad_reply = guards.check_reply(response, self.builder.closing)
            proposal = (
                Proposal(None, bad_reply, "") if bad_reply else self.builder.propose(response.text)
            )
            if proposal.rejection is None:
                return proposal, attempt
            self._record(
                Candidate(
                    round_no,
                    attempt,
                    proposal.text or response.text,
                    proposal.rejection,
                    False,
                    f"rejected by guard: {proposal.rejection}",
                    rationale=proposal.rationale,
                    causes=causes,
                )
            )
            # A reply cut off at max_tokens is echoed only in part: in full it could push the
            # re-ask past a small model's context window.
            echoed = (
                response.text
                if response.finish_reason != "length"
                else response.text[:TRUNCATED_ECHO_CHARS] + " …(cut off)"
            )
            messages = (
                *messages,
                Message("assistant", echoed),
                metaprompt.retry_message(proposal.rejection, self.builder.closing),
            )
        return None, attempt

    async def _judge(
        self, round_no: int, attempt: int, proposal: Proposal, causes: dict[str, int]
    ) -> None:
        """Paired validation of the candidate against the current prompt."""
        candidate = proposal.text or ""
        self.evaluated.setdefault(_spacing_normalised(candidate), f"round {round_no}'s candidate")
        self._say(
            f"round {round_no}: scoring the candidate on {plural(len(self.val), 'validation case')}"
        )
        before = await self.scoring.score(self.current, "val", self.val)
        try:
            after = await self.scoring.score(candidate, "val", self.val)
            accepted, why, fixed, broken, p = weigh_candidate(before, after)
            spoiled = await self._breaks_reviewed(candidate) if accepted else []
        except UserError as exc:
            # The model wrote it, so it is no mistake of the user's: a candidate that does not
            # render (an undefined variable, a sandbox refusal, past the time budget) is rejected.
            reason = f"the candidate does not render: {exc.message}"
            self._record(
                Candidate(
                    round_no,
                    attempt,
                    candidate,
                    reason,
                    False,
                    f"rejected: {reason}",
                    rationale=proposal.rationale,
                    causes=causes,
                )
            )
            return
        if spoiled:
            accepted = False
            why = f"breaks {plural(len(spoiled), 'case')} a reviewer marked good: " + (
                ", ".join(spoiled)
            )
        judged = Candidate(
            round_no,
            attempt,
            candidate,
            None,
            accepted,
            why,
            val_before=SplitScore.of(before),
            val_after=SplitScore.of(after),
            fixed=fixed,
            broken=broken,
            p_value=p,
            rationale=proposal.rationale,
            causes=causes,
        )
        self._record(judged)
        if not accepted:
            return
        self.accepted.append(
            accepted_round(judged, self.current, self.builder.mode, self.builder.path)
        )
        self.current = candidate

    async def _breaks_reviewed(self, candidate: str) -> list[str]:
        """Ids of reviewer-approved cases the current prompt passes and ``candidate`` fails."""
        if not self.guarded:
            return []
        before = await self.scoring.score(self.current, "reviewed", self.guarded)
        after = await self.scoring.score(candidate, "reviewed", self.guarded)
        return [
            b.case.id
            for b, a in zip(before, after, strict=True)
            if b.passed and not a.passed and a.error is None
        ]


def _spacing_normalised(text: str) -> str:
    """``text`` with every run of whitespace one space: prompts that differ only in spacing
    and line breaks are the same prompt."""
    return " ".join(text.split())


def _unscored(
    round_no: int, attempt: int, proposal: Proposal, causes: dict[str, int], why: str
) -> Candidate:
    """A proposal recorded without scoring it (it changes nothing, or repeats one scored)."""
    return Candidate(
        round_no,
        attempt,
        proposal.text or "",
        None,
        False,
        why,
        rationale=proposal.rationale,
        causes=causes,
    )
