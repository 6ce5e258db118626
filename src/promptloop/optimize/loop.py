"""The optimisation loop: critique-driven candidates, accepted only on held-out evidence.

Splits have one job each. Train outcomes (with the judges' reasons) are shown to the
optimizer model. Validation decides acceptance: the candidate and the current prompt are
scored on the same cases and compared pair by pair (``acceptance``). Test is never shown
and never used to choose; the chosen prompt and the seed are scored on it once, at the
end, and that paired figure is what gets reported.

This module runs the rounds (``rounds``) within the budget (``scoring``), then scores the
held-out test and assembles the result with its rationale (``rationale``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from promptloop.dataset.cases import Case
from promptloop.errors import UserError
from promptloop.gate.stats import mcnemar_exact
from promptloop.models.base import ModelClient
from promptloop.optimize import reviewers
from promptloop.optimize.acceptance import paired_counts
from promptloop.optimize.candidates import CandidateBuilder
from promptloop.optimize.rationale import rationale
from promptloop.optimize.result import (
    OptimizationResult,
    OptimizationStatus,
    Scores,
    SplitScore,
    changed_ranges,
    unified_diff,
)
from promptloop.optimize.rounds import OptimizerProgress, Rounds
from promptloop.optimize.scoring import BudgetedScorer, OptimizerBudget, PromptScorer
from promptloop.optimize.settings import OptimizerSettings, resolve_mode


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

    ``goal`` says in words what the suite's evaluators check (``goal.describe_goal``);
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
    rounds = Rounds(
        settings=settings,
        builder=CandidateBuilder(
            mode, seed_prompt, prompt_path, settings, [*val, *test], reviewer_notes, goal
        ),
        scoring=BudgetedScorer(scorer, OptimizerBudget(settings.max_calls, settings.max_usd)),
        optimizer=optimizer,
        train=train,
        val=val,
        reserve=2 * len(test),
        current=seed_prompt,
        guarded=[c for c in (*train, *val) if c.id in reviewers.marked_good(reviewer_notes)],
        progress=progress,
    )
    for round_no in range(1, settings.rounds + 1):
        if not await rounds.round(round_no):
            break

    improved = rounds.current != seed_prompt
    if rounds.completed == 0 and not rounds.errors:
        reason = rounds.notes[-1] if rounds.notes else "zero rounds configured"
        rounds.errors.append(f"no optimisation round could run: {reason}")
    status: OptimizationStatus = (
        "improved" if improved else "error" if rounds.completed == 0 else "no_improvement"
    )
    # A run that failed still shows the seed's figures it measured; the test split stays
    # unscored, since no candidate was chosen on it.
    scores = (
        _measured_scores(rounds, seed_prompt)
        if status == "error"
        else await _final_scores(rounds, seed_prompt, test)
    )
    revised = rounds.current
    return OptimizationResult(
        status=status,
        improved=improved,
        mode=mode,
        prompt_path=prompt_path,
        seed_text=seed_prompt,
        revised_text=revised,
        unified_diff=unified_diff(seed_prompt, revised, prompt_path) if improved else "",
        changed_ranges=changed_ranges(seed_prompt, revised) if improved else (),
        rationale=rationale(
            status,
            mode,
            rounds.accepted,
            rounds.trajectory,
            rounds.errors,
            scores,
            settings,
            repeats=rounds.repeats,
        ),
        scores=scores,
        calls_used=rounds.budget.calls,
        usd_used=rounds.budget.usd,
        stop_reason=rounds.stop_reason,
        trajectory=tuple(rounds.trajectory),
        errors=tuple(rounds.errors),
        notes=tuple(rounds.notes),
    )


def _measured_scores(rounds: Rounds, seed: str) -> Scores:
    """Train/val figures already scored, without scoring anything more: what a run that
    failed before it could finish still reports."""
    scoring, current = rounds.scoring, rounds.current
    return Scores(
        scoring.known(seed, "train"),
        scoring.known(current, "train"),
        scoring.known(seed, "val"),
        scoring.known(current, "val"),
    )


async def _final_scores(rounds: Rounds, seed: str, test: Sequence[Case]) -> Scores:
    """Train/val figures from what was scored, then the held-out test, once, last."""
    scoring, current = rounds.scoring, rounds.current
    if not scoring.scored(current, "train") and rounds.budget.calls_left_for(
        len(rounds.train) + rounds.reserve
    ):
        await scoring.score(current, "train", rounds.train)
    measured = _measured_scores(rounds, seed)
    if not test:
        rounds.notes.append("no test cases: the held-out figure is missing")
        return measured
    seed_test = await scoring.score(seed, "test", test)
    chosen_test = await scoring.score(current, "test", test)
    fixed, broken, _, _ = paired_counts(seed_test, chosen_test)
    return replace(
        measured,
        test_before=SplitScore.of(seed_test),
        test_after=SplitScore.of(chosen_test),
        test_fixed=fixed,
        test_broken=broken,
        test_p_value=mcnemar_exact(broken, fixed) if current != seed else None,
    )


__all__ = ["optimize"]
