"""The optimisation loop: critique-driven candidates, accepted only on held-out evidence.

Splits have one job each. Train outcomes (with the judges' reasons) are shown to
the optimizer model. Validation decides acceptance: the candidate and the current
prompt are scored on the same cases and compared pair by pair. Test is never
shown and never used to choose; the chosen prompt and the seed are scored on it
once, at the end, and that paired figure is what gets reported.

Acceptance rule: accept when the candidate fixes more validation cases than it
breaks (``fixed - broken > 0``), its mean score on the paired cases is not
lower, and it breaks no train or validation case a reviewer marked good. The
exact McNemar p-value is recorded but not required to be small: on a validation
set of 20-50 cases a real improvement of a few cases can never reach p < 0.05
(5 fixed, 0 broken gives p = 0.0625), so a significance requirement
would reject nearly every useful revision. The guard against a lucky candidate
is instead the untouched test split, reported with its own p-value, and the
human who reviews the suggestion.

Budget: ``max_calls`` counts optimizer calls plus cases scored (one per case per
prompt, cached or not; judges called while scoring are not counted separately).
Room for the final test scoring (2 × |test|) is reserved up front. ``max_usd``
stops new work once reached; the final test scoring, bounded by the reserve,
still runs so the result is never reported without its held-out figure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from promptloop.dataset.cases import Case
from promptloop.engine.outcome import CaseOutcome
from promptloop.errors import InfraError, UserError
from promptloop.gate.stats import mcnemar_exact
from promptloop.models.base import (
    Message,
    ModelCallError,
    ModelClient,
    ModelRequest,
)
from promptloop.optimize import guards, metaprompt, reviewers, rules
from promptloop.optimize.candidates import CandidateBuilder, Proposal
from promptloop.optimize.packing import Packed, pack_examples
from promptloop.optimize.result import (
    Candidate,
    Mode,
    OptimizationResult,
    OptimizationStatus,
    Scores,
    SplitScore,
    changed_ranges,
    unified_diff,
)
from promptloop.optimize.settings import OptimizerSettings, resolve_mode
from promptloop.project.prompts import parse_prompt
from promptloop.wording import plural

EXPLORE_TEMPERATURE = 0.7
OptimizerProgress = Callable[[str], None]
TRUNCATED_ECHO_CHARS = 800


class PromptScorer(Protocol):
    """Scores a whole prompt file's text on cases: one outcome per case, in order."""

    async def score(self, prompt_source: str, cases: Sequence[Case]) -> list[CaseOutcome]: ...


def paired_counts(
    before: Sequence[CaseOutcome], after: Sequence[CaseOutcome]
) -> tuple[int, int, float, float]:
    """(fixed, broken, mean_before, mean_after) over cases where neither run errored."""
    after_by_id = {o.case.id: o for o in after}
    fixed = broken = 0
    total_before = total_after = 0.0
    n = 0
    for b in before:
        a = after_by_id.get(b.case.id)
        if a is None or a.error is not None or b.error is not None:
            continue
        n += 1
        fixed += int(a.passed and not b.passed)
        broken += int(b.passed and not a.passed)
        total_before += b.score
        total_after += a.score
    if n == 0:
        return 0, 0, 0.0, 0.0
    return fixed, broken, total_before / n, total_after / n


def weigh_candidate(
    before: Sequence[CaseOutcome], after: Sequence[CaseOutcome]
) -> tuple[bool, str, int, int, float]:
    """(accepted, why, fixed, broken, p_value) for a candidate against the current prompt."""
    fixed, broken, mean_before, mean_after = paired_counts(before, after)
    p = mcnemar_exact(broken, fixed)
    stats = f"fixed {fixed}, broken {broken}, mean {mean_before:.3f} → {mean_after:.3f}, p={p:.3g}"
    if fixed - broken <= 0:
        return False, f"not better on validation ({stats})", fixed, broken, p
    if mean_after < mean_before - 1e-9:
        return False, f"more passes but a lower mean score ({stats})", fixed, broken, p
    return True, f"better on validation ({stats})", fixed, broken, p


@dataclass
class _Budget:
    max_calls: int | None
    max_usd: float | None
    calls: int = 0
    usd: float = 0.0

    def calls_left_for(self, calls: int) -> bool:
        return self.max_calls is None or self.calls + calls <= self.max_calls

    def usd_left(self) -> bool:
        return self.max_usd is None or self.usd < self.max_usd


@dataclass
class _Run:
    scorer: PromptScorer
    budget: _Budget
    memo: dict[tuple[str, str], list[CaseOutcome]] = field(default_factory=dict)

    def scored(self, text: str, split: str) -> bool:
        return (text, split) in self.memo

    async def score(self, text: str, split: str, cases: Sequence[Case]) -> list[CaseOutcome]:
        key = (text, split)
        if key not in self.memo:
            outcomes = list(await self.scorer.score(text, cases))
            if [o.case.id for o in outcomes] != [c.id for c in cases]:
                raise InfraError(
                    f"the scorer returned {len(outcomes)} outcomes for {len(cases)} {split} "
                    "cases, or in another order"
                )
            self.budget.calls += len(cases)
            self.budget.usd += sum(o.usage.cost_usd for o in outcomes)
            self.memo[key] = outcomes
        return self.memo[key]


def _tools_change(before: str, after: str, path: str) -> str:
    """``, revising the description of `a`, `b``` when a candidate rewords tools."""
    old = {
        t.function.name: t.function.description for t in parse_prompt(before, path).settings.tools
    }
    new = parse_prompt(after, path).settings.tools
    names = [
        f"`{t.function.name}`" for t in new if old.get(t.function.name) != t.function.description
    ]
    return f", revising the description of {', '.join(names)}" if names else ""


def _describe_causes(causes: dict[str, int]) -> str:
    if not causes:
        return "no failing training cases"
    return ", ".join(f"{cause} ({plural(n, 'failing train case')})" for cause, n in causes.items())


def _rules_change(before: str, after: str) -> str:
    old, new = rules.parse_rules(before), rules.parse_rules(after)
    added = [r for r in new if r not in old]
    removed = [r for r in old if r not in new]
    parts = []
    if added:
        parts.append("added rules: " + "; ".join(added))
    if removed:
        parts.append("removed rules: " + "; ".join(removed))
    return ". ".join(parts) or "rules unchanged"


@dataclass
class _Loop:
    """Mutable state of one optimisation run; ``optimize`` is its only user."""

    settings: OptimizerSettings
    builder: CandidateBuilder
    run: _Run
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

    @property
    def budget(self) -> _Budget:
        return self.run.budget

    def _say(self, line: str) -> None:
        if self.progress is not None:
            self.progress(line)

    def _record(self, candidate: Candidate) -> None:
        self.trajectory.append(candidate)
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
        need_train = 0 if self.run.scored(self.current, "train") else len(self.train)
        need_val = len(self.val) * (1 if self.run.scored(self.current, "val") else 2)
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
        outcomes = await self.run.score(self.current, "train", self.train)
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
                Candidate(
                    round_no,
                    attempt,
                    proposal.text,
                    None,
                    False,
                    "identical to the current prompt",
                    rationale=proposal.rationale,
                    causes=causes,
                )
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
        self._say(
            f"round {round_no}: scoring the candidate on {plural(len(self.val), 'validation case')}"
        )
        before = await self.run.score(self.current, "val", self.val)
        try:
            after = await self.run.score(candidate, "val", self.val)
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
        val_before, val_after = SplitScore.of(before), SplitScore.of(after)
        self._record(
            Candidate(
                round_no,
                attempt,
                candidate,
                None,
                accepted,
                why,
                val_before=val_before,
                val_after=val_after,
                fixed=fixed,
                broken=broken,
                p_value=p,
                rationale=proposal.rationale,
                causes=causes,
            )
        )
        if not accepted:
            return
        change = (
            _rules_change(self.current, candidate)
            if self.builder.mode == "rules"
            else f"{plural(len(changed_ranges(self.current, candidate)), 'passage')} rewritten"
            + _tools_change(self.current, candidate, self.builder.path)
        )
        account = f"Optimizer's account: {proposal.rationale} " if proposal.rationale else ""
        self.accepted.append(
            f"Round {round_no}: {change}. {account}Answers critiques: {_describe_causes(causes)}. "
            f"Validation passes {val_before.passes}/{val_before.n} → {val_after.passes}/"
            f"{val_after.n} (fixed {fixed}, broken {broken}, exact McNemar p={p:.3g})."
        )
        self.current = candidate

    async def _breaks_reviewed(self, candidate: str) -> list[str]:
        """Ids of reviewer-approved cases the current prompt passes and ``candidate`` fails."""
        if not self.guarded:
            return []
        before = await self.run.score(self.current, "reviewed", self.guarded)
        after = await self.run.score(candidate, "reviewed", self.guarded)
        return [
            b.case.id
            for b, a in zip(before, after, strict=True)
            if b.passed and not a.passed and a.error is None
        ]

    def measured_scores(self, seed: str) -> Scores:
        """Train/val figures already scored, without scoring anything more: what a run that
        failed before it could finish still reports."""
        run, current = self.run, self.current

        def known(text: str, split: str) -> SplitScore | None:
            return SplitScore.of(run.memo[(text, split)]) if run.scored(text, split) else None

        return Scores(
            known(seed, "train"),
            known(current, "train"),
            known(seed, "val"),
            known(current, "val"),
        )

    async def final_scores(self, seed: str, test: Sequence[Case]) -> Scores:
        """Train/val figures from what was scored, then the held-out test, once, last."""
        run, current = self.run, self.current
        if not run.scored(current, "train") and self.budget.calls_left_for(
            len(self.train) + self.reserve
        ):
            await run.score(current, "train", self.train)
        measured = self.measured_scores(seed)
        if not test:
            self.notes.append("no test cases: the held-out figure is missing")
            return measured
        seed_test = await run.score(seed, "test", test)
        chosen_test = await run.score(current, "test", test)
        fixed, broken, _, _ = paired_counts(seed_test, chosen_test)
        return replace(
            measured,
            test_before=SplitScore.of(seed_test),
            test_after=SplitScore.of(chosen_test),
            test_fixed=fixed,
            test_broken=broken,
            test_p_value=mcnemar_exact(broken, fixed) if current != seed else None,
        )


async def optimize(
    *,
    seed_prompt: str,
    prompt_path: str,
    train: Sequence[Case],
    val: Sequence[Case],
    test: Sequence[Case],
    scorer: PromptScorer,
    optimizer: ModelClient,
    settings: OptimizerSettings,
    reviewer_notes: Sequence[reviewers.ReviewerNote] = (),
    goal: str = "",
    progress: OptimizerProgress | None = None,
) -> OptimizationResult:
    """Run up to ``settings.rounds`` rounds and return the chosen prompt with its evidence.

    ``goal`` says in words what the suite's evaluators check (``metaprompt.describe_goal``);
    every round's meta-prompt states it. Candidates are scored by ``scorer``, whose judge
    sees the rubric and the case, never the candidate prompt, so a candidate cannot
    steer the grader that accepts it.

    Raises ``UserError`` for unusable input (no train/val cases, a seed that does not
    parse, rules mode on a YAML file). A failing optimizer call does not raise: it ends
    the loop and is reported in ``errors`` (``status="error"`` if no round completed).
    Exceptions from the scorer propagate.
    """
    mode = resolve_mode(settings.mode, settings.optimizer_model, prompt_path)
    if not train or not val:
        raise UserError(
            f"the optimizer needs training and validation cases (got {len(train)} train, "
            f"{len(val)} val); add cases or change the split",
            path=prompt_path,
            key="optimizer",
        )
    loop = _Loop(
        settings=settings,
        builder=CandidateBuilder(
            mode, seed_prompt, prompt_path, settings, [*val, *test], reviewer_notes, goal
        ),
        run=_Run(scorer, _Budget(settings.max_calls, settings.max_usd)),
        optimizer=optimizer,
        train=train,
        val=val,
        reserve=2 * len(test),
        current=seed_prompt,
        guarded=[c for c in (*train, *val) if c.id in reviewers.marked_good(reviewer_notes)],
        progress=progress,
    )
    for round_no in range(1, settings.rounds + 1):
        if not await loop.round(round_no):
            break

    improved = loop.current != seed_prompt
    if loop.completed == 0 and not loop.errors:
        reason = loop.notes[-1] if loop.notes else "zero rounds configured"
        loop.errors.append(f"no optimisation round could run: {reason}")
    status: OptimizationStatus = (
        "improved" if improved else "error" if loop.completed == 0 else "no_improvement"
    )
    # A run that failed still shows the seed's figures it measured; the test split stays
    # unscored, since no candidate was chosen on it.
    scores = (
        loop.measured_scores(seed_prompt)
        if status == "error"
        else await loop.final_scores(seed_prompt, test)
    )
    revised = loop.current
    return OptimizationResult(
        status=status,
        improved=improved,
        mode=mode,
        prompt_path=prompt_path,
        seed_text=seed_prompt,
        revised_text=revised,
        unified_diff=unified_diff(seed_prompt, revised, prompt_path) if improved else "",
        changed_ranges=changed_ranges(seed_prompt, revised) if improved else (),
        rationale=_rationale(
            status, mode, loop.accepted, loop.trajectory, loop.errors, scores, settings
        ),
        scores=scores,
        calls_used=loop.budget.calls,
        usd_used=loop.budget.usd,
        stop_reason=loop.stop_reason,
        trajectory=tuple(loop.trajectory),
        errors=tuple(loop.errors),
        notes=tuple(loop.notes),
    )


def _rationale(
    status: str,
    mode: Mode,
    accepted: Sequence[str],
    trajectory: Sequence[Candidate],
    errors: Sequence[str],
    scores: Scores,
    settings: OptimizerSettings,
) -> str:
    if status == "error":
        return "Optimisation failed: " + "; ".join(errors)
    rejected = [c for c in trajectory if c.rejection is not None]
    scored = [c for c in trajectory if c.val_after is not None]
    unchanged = [
        c for c in trajectory if c.rejection is None and c.error is None and c.val_after is None
    ]
    summary = (
        f"{plural(len(scored), 'candidate')} scored on validation, "
        f"{len(rejected)} rejected by guards"
    )
    if rejected:
        summary += " (" + "; ".join(sorted({c.rejection or "" for c in rejected})) + ")"
    if unchanged:
        summary += f", {len(unchanged)} identical to the prompt they were to improve"
    failed_calls = [c.error for c in trajectory if c.error is not None]
    if failed_calls:
        summary += "; optimizer call failures: " + "; ".join(e or "" for e in failed_calls)
    if status != "improved":
        return f"No candidate beat the prompt on validation ({mode} mode): {summary}."
    lines = [*accepted, f"In all: {summary}."]
    before, after = scores.test_before, scores.test_after
    if before is not None and after is not None:
        p = scores.test_p_value
        alpha = 1 - settings.confidence
        verdict = (
            "significant" if p is not None and p < alpha else "not significant"
        ) + f" at {settings.confidence:.0%}"
        lines.append(
            f"Held-out test (never shown to the optimizer): {before.passes}/{before.n} → "
            f"{after.passes}/{after.n} passes, fixed {scores.test_fixed}, broken "
            f"{scores.test_broken}, exact McNemar p={p if p is None else f'{p:.3g}'} ({verdict})."
        )
    return "\n".join(lines)


__all__ = [
    "PromptScorer",
    "optimize",
    "paired_counts",
    "weigh_candidate",
]
