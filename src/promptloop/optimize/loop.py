"""The optimisation loop: critique-driven candidates, accepted only on held-out evidence.

Splits have one job each. Train outcomes (with the judges' reasons) are shown to
the optimizer model. Validation decides acceptance: the candidate and the current
prompt are scored on the same cases and compared pair by pair. Test is never
shown and never used to choose; the chosen prompt and the seed are scored on it
once, at the end, and that paired figure is what gets reported.

Acceptance rule: accept when the candidate fixes more validation cases than it
breaks (``fixed - broken > 0``) and its mean score on the paired cases is not
lower. The exact McNemar p-value is recorded but not required to be small: on a
validation set of 20-50 cases a real improvement of a few cases can never reach
p < 0.05 (5 fixed, 0 broken gives p = 0.0625), so a significance requirement
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

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from promptloop.dataset import Case
from promptloop.errors import InfraError, UserError
from promptloop.models.base import Message, ModelCallError, ModelClient, ModelRequest
from promptloop.optimize import guards, metaprompt, rules
from promptloop.optimize.packing import Feedback, Packed, estimate_tokens, pack_examples
from promptloop.optimize.result import (
    Candidate,
    Mode,
    OptimizationResult,
    Scores,
    SplitScore,
    changed_ranges,
    unified_diff,
)
from promptloop.outcome import CaseOutcome
from promptloop.prompts import is_chat_path, template_variables
from promptloop.stats import mcnemar_exact

ModeSetting = Literal["auto", "rewrite", "rules"]


class PromptScorer(Protocol):
    """Scores a whole prompt file's text on cases: one outcome per case, in order."""

    async def score(self, prompt_source: str, cases: Sequence[Case]) -> list[CaseOutcome]: ...


@dataclass(frozen=True)
class OptimizerSettings:
    optimizer_model: str
    mode: ModeSetting = "auto"
    rounds: int = 3
    # Optimizer calls + cases scored; None = bounded by rounds only.
    max_calls: int | None = None
    max_usd: float | None = None
    max_length_ratio: float = 2.0
    context_tokens: int = 2000
    examples_per_cause: int = 3
    feedback: Feedback = "critiques"
    seed: int = 0
    confidence: float = 0.95
    api_base: str | None = None
    temperature: float = 0.0
    # Floor for the optimizer's output budget; raised to fit a prompt at the length limit.
    max_tokens: int = 1024
    # Re-asks after a guard rejects a reply, per round.
    candidate_attempts: int = 2
    leakage_ngram: int = 8
    timeout_s: float = 120.0


def resolve_mode(mode: str, optimizer_model: str) -> Mode:
    """ "auto" → rules for a small local optimizer (rewriting a whole prompt is beyond
    it), rewrite otherwise."""
    if mode == "rewrite":
        return "rewrite"
    if mode == "rules":
        return "rules"
    if mode == "auto":
        return "rules" if optimizer_model.startswith("local/") else "rewrite"
    raise UserError(
        f"unknown optimizer mode {mode!r}; use auto, rewrite or rules", key="optimizer.mode"
    )


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


def decide(
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


def _with_ending(body: str, like: str) -> str:
    body = body.strip("\n")
    return body + "\n" if like.endswith("\n") else body


@dataclass(frozen=True)
class _Proposal:
    text: str | None
    rejection: str | None
    rationale: str


class _Builder:
    """Everything that differs between rewrite and rules mode."""

    def __init__(
        self,
        mode: Mode,
        seed: str,
        prompt_path: str,
        settings: OptimizerSettings,
        held_out: Sequence[Case],
    ) -> None:
        self.mode = mode
        self.seed = seed
        self.settings = settings
        self.held_out = held_out
        self.is_yaml = is_chat_path(prompt_path)
        if mode == "rules":
            rules.ensure_supported(prompt_path)
        self.path = prompt_path
        # Raises UserError (file:line) when the seed itself does not parse.
        self.variables = template_variables(seed, prompt_path)
        self.front, seed_body = ("", seed) if self.is_yaml else guards.split_front_matter(seed)
        self.limit_tokens = int(settings.max_length_ratio * max(estimate_tokens(seed_body), 1))
        self.format_lines = guards.format_instruction_lines(seed)
        # The rules block's markers and heading are scaffolding, not prompt growth.
        self.allowance = estimate_tokens(rules.render_block([])) + 1 if mode == "rules" else 0
        self.closing = metaprompt.RULES_CLOSE if mode == "rules" else metaprompt.PROMPT_CLOSE

    def max_tokens(self) -> int:
        # Room for a prompt at the length limit plus the rationale, so a legal
        # candidate is never cut off by our own output cap.
        return max(self.settings.max_tokens, self.limit_tokens + 400)

    def messages(self, current: str, packed: Packed) -> tuple[Message, ...]:
        if self.mode == "rules":
            base = guards.split_front_matter(rules.apply_rules(self.seed, []))[1]
            return metaprompt.rules_messages(
                base_prompt=base,
                current_rules=rules.parse_rules(current),
                packed=packed,
                variables=self.variables,
                max_rules_tokens=max(self.limit_tokens - estimate_tokens(base), 50),
                feedback=self.settings.feedback,
            )
        body = current if self.is_yaml else guards.split_front_matter(current)[1]
        return metaprompt.rewrite_messages(
            current_prompt=body,
            packed=packed,
            variables=self.variables,
            format_lines=self.format_lines,
            max_prompt_tokens=self.limit_tokens,
            feedback=self.settings.feedback,
        )

    def propose(self, reply: str) -> _Proposal:
        rationale = metaprompt.parse_rationale(reply)
        if self.mode == "rules":
            new_rules = metaprompt.parse_rules_reply(reply)
            if new_rules is None:
                return _Proposal(None, "no <rules> list found in the reply", rationale)
            if not new_rules:
                return _Proposal(None, "the reply's rule list is empty", rationale)
            text = rules.apply_rules(self.seed, new_rules)
        else:
            body = metaprompt.parse_prompt(reply)
            if body is None:
                return _Proposal(None, "no <prompt>…</prompt> found in the reply", rationale)
            text = self.front + _with_ending(body, self.seed)
        rejection = guards.check_candidate(
            seed=self.seed,
            candidate=text,
            held_out=self.held_out,
            max_length_ratio=self.settings.max_length_ratio,
            check_format=self.mode == "rewrite",
            leakage_ngram=self.settings.leakage_ngram,
            path=self.path,
            length_allowance=self.allowance,
        )
        return _Proposal(text, rejection, rationale)


def _describe_causes(causes: dict[str, int]) -> str:
    if not causes:
        return "no failing training cases"
    return ", ".join(
        f"{cause} ({n} failing train case{'s' if n != 1 else ''})" for cause, n in causes.items()
    )


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
) -> OptimizationResult:
    mode = resolve_mode(settings.mode, settings.optimizer_model)
    if not train or not val:
        raise UserError(
            f"the optimizer needs training and validation cases (got {len(train)} train, "
            f"{len(val)} val); add cases or change the split",
            path=prompt_path,
            key="optimizer",
        )
    builder = _Builder(mode, seed_prompt, prompt_path, settings, [*val, *test])
    budget = _Budget(settings.max_calls, settings.max_usd)
    run = _Run(scorer, budget)
    reserve = 2 * len(test)
    current = seed_prompt
    trajectory: list[Candidate] = []
    errors: list[str] = []
    notes: list[str] = []
    accepted_notes: list[str] = []
    completed = 0
    stop_reason = "rounds"

    for round_no in range(1, settings.rounds + 1):
        need_train = 0 if run.scored(current, "train") else len(train)
        need_val = len(val) * (1 if run.scored(current, "val") else 2)
        if not budget.calls_left_for(need_train + 1 + need_val + reserve):
            stop_reason = "budget"
            notes.append(
                f"stopped before round {round_no}: max_calls={settings.max_calls} "
                f"leaves no room for a round ({budget.calls} used)"
            )
            break
        if not budget.usd_left():
            stop_reason = "usd"
            notes.append(f"stopped before round {round_no}: max_usd={settings.max_usd} reached")
            break

        train_outcomes = await run.score(current, "train", train)
        packed = pack_examples(
            train_outcomes,
            context_tokens=settings.context_tokens,
            examples_per_cause=settings.examples_per_cause,
            feedback=settings.feedback,
        )
        causes = dict(packed.cause_counts)
        messages = builder.messages(current, packed)
        proposal: _Proposal | None = None
        failed = False
        for attempt in range(1, settings.candidate_attempts + 2):
            if attempt > 1 and not (
                budget.calls_left_for(1 + need_val + reserve) and budget.usd_left()
            ):
                stop_reason = "budget"
                notes.append(f"round {round_no}: no budget left to re-ask the optimizer")
                break
            request = ModelRequest(
                model=settings.optimizer_model,
                messages=messages,
                temperature=settings.temperature,
                max_tokens=builder.max_tokens(),
                seed=settings.seed + round_no,
                api_base=settings.api_base,
                timeout_s=settings.timeout_s,
                purpose="optimize",
            )
            try:
                response = await optimizer.complete(request)
            except ModelCallError as exc:
                budget.calls += exc.attempts
                message = (
                    f"round {round_no}: optimizer call to {settings.optimizer_model} "
                    f"failed ({exc.kind}): {exc}"
                )
                errors.append(message)
                trajectory.append(
                    Candidate(
                        round_no,
                        attempt,
                        "",
                        message,
                        False,
                        "optimizer call failed",
                        causes=causes,
                    )
                )
                failed = True
                break
            budget.calls += 1
            budget.usd += response.usage.cost_usd
            rejection = guards.check_reply(response, builder.closing)
            attempt_proposal = (
                _Proposal(None, rejection, "") if rejection else builder.propose(response.text)
            )
            if attempt_proposal.rejection is None:
                proposal = attempt_proposal
                break
            reason = attempt_proposal.rejection or ""
            trajectory.append(
                Candidate(
                    round_no,
                    attempt,
                    attempt_proposal.text or response.text,
                    reason,
                    False,
                    f"rejected by guard: {reason}",
                    rationale=attempt_proposal.rationale,
                    causes=causes,
                )
            )
            messages = (
                *messages,
                Message("assistant", response.text),
                metaprompt.retry_message(reason, builder.closing),
            )
        if failed:
            stop_reason = "error"
            break
        completed += 1
        if proposal is None or proposal.text is None:
            if stop_reason == "budget":
                break
            continue
        candidate = proposal.text
        if candidate == current:
            trajectory.append(
                Candidate(
                    round_no,
                    attempt,
                    candidate,
                    None,
                    False,
                    "identical to the current prompt",
                    rationale=proposal.rationale,
                    causes=causes,
                )
            )
            continue

        current_val = await run.score(current, "val", val)
        candidate_val = await run.score(candidate, "val", val)
        accepted, why, fixed, broken, p = decide(current_val, candidate_val)
        trajectory.append(
            Candidate(
                round_no,
                attempt,
                candidate,
                None,
                accepted,
                why,
                val_before=SplitScore.of(current_val),
                val_after=SplitScore.of(candidate_val),
                fixed=fixed,
                broken=broken,
                p_value=p,
                rationale=proposal.rationale,
                causes=causes,
            )
        )
        if accepted:
            change = (
                _rules_change(current, candidate)
                if mode == "rules"
                else f"{len(changed_ranges(current, candidate))} passage(s) rewritten"
            )
            accepted_notes.append(
                f"Round {round_no}: {change}. "
                + (f"Optimizer's account: {proposal.rationale} " if proposal.rationale else "")
                + f"Answers critiques: {_describe_causes(causes)}. "
                f"Validation passes {SplitScore.of(current_val).passes}/"
                f"{SplitScore.of(current_val).n} → {SplitScore.of(candidate_val).passes}/"
                f"{SplitScore.of(candidate_val).n} ({why.split('(', 1)[1].rstrip(')')})."
            )
            current = candidate

    improved = current != seed_prompt
    no_round = completed == 0
    if no_round and not errors:
        errors.append(
            f"no optimisation round could run: {notes[-1] if notes else 'zero rounds configured'}"
        )
    status: Literal["improved", "no_improvement", "error"] = (
        "improved" if improved else "error" if no_round else "no_improvement"
    )

    scores = Scores()
    if status != "error":
        train_before = SplitScore.of(run.memo[(seed_prompt, "train")])
        if not run.scored(current, "train") and budget.calls_left_for(len(train) + reserve):
            await run.score(current, "train", train)
        train_after = (
            SplitScore.of(run.memo[(current, "train")]) if run.scored(current, "train") else None
        )
        val_before = (
            SplitScore.of(run.memo[(seed_prompt, "val")])
            if run.scored(seed_prompt, "val")
            else None
        )
        val_after = (
            SplitScore.of(run.memo[(current, "val")]) if run.scored(current, "val") else None
        )
        scores = Scores(train_before, train_after, val_before, val_after)
        if test:
            seed_test = await run.score(seed_prompt, "test", test)
            chosen_test = await run.score(current, "test", test)
            fixed, broken, _, _ = paired_counts(seed_test, chosen_test)
            scores = Scores(
                train_before,
                train_after,
                val_before,
                val_after,
                SplitScore.of(seed_test),
                SplitScore.of(chosen_test),
                test_fixed=fixed,
                test_broken=broken,
                test_p_value=mcnemar_exact(broken, fixed) if improved else None,
            )
        else:
            notes.append("no test cases: the held-out figure is missing")

    rationale = _rationale(status, mode, accepted_notes, trajectory, errors, scores, settings)
    revised = current
    return OptimizationResult(
        status=status,
        improved=improved,
        mode=mode,
        prompt_path=prompt_path,
        seed_text=seed_prompt,
        revised_text=revised,
        unified_diff=unified_diff(seed_prompt, revised, prompt_path) if improved else "",
        changed_ranges=changed_ranges(seed_prompt, revised) if improved else (),
        rationale=rationale,
        scores=scores,
        calls_used=budget.calls,
        usd_used=budget.usd,
        stop_reason=stop_reason,
        trajectory=tuple(trajectory),
        errors=tuple(errors),
        notes=tuple(notes),
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
    scored = [c for c in trajectory if c.rejection is None]
    summary = f"{len(scored)} candidate(s) scored on validation, {len(rejected)} rejected by guards"
    if rejected:
        summary += " (" + "; ".join(sorted({c.rejection or "" for c in rejected})) + ")"
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
    "OptimizerSettings",
    "PromptScorer",
    "decide",
    "optimize",
    "paired_counts",
    "resolve_mode",
]
