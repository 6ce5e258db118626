"""Reviewers' notes in the optimizer: first, marked as a person's, never packed away, and a
candidate that breaks a case a reviewer marked good is refused."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from promptloop.dataset.feedback import FeedbackRecord, output_fingerprint
from promptloop.optimize import OptimizationResult, OptimizerSettings, optimize
from promptloop.optimize.reviewers import ReviewerNote, marked_good, notes_from
from tests.optimize.test_loop import (
    GOOD,
    SEED,
    SWAP,
    TEST,
    TRAIN,
    ScriptedOptimizer,
    WordScorer,
    make_cases,
    reply,
)

NOTE = ReviewerNote("train-0", "bad", "we always greet the customer by their name", "dana")


def _optimize(
    replies: list[str], notes: list[ReviewerNote], **settings: object
) -> tuple[OptimizationResult, WordScorer, ScriptedOptimizer]:
    scorer = WordScorer()
    optimizer = ScriptedOptimizer([reply(r) for r in replies])
    result = asyncio.run(
        optimize(
            seed_prompt=SEED,
            prompt_path="prompts/support.md",
            train=TRAIN,
            # Only "name" and "json" cases: a candidate may win validation while losing
            # the training case about email.
            val=make_cases("val", ["name", "name", "json"]),
            test=TEST,
            scorer=scorer,
            optimizer=optimizer,
            settings=OptimizerSettings(optimizer_model="openai/gpt-4.1", rounds=1, **settings),  # type: ignore[arg-type]
            reviewer_notes=notes,
        )
    )
    return result, scorer, optimizer


def test_notes_come_before_the_examples_marked_as_from_a_person() -> None:
    _, _, optimizer = _optimize([GOOD], [NOTE])
    ask = optimizer.requests[0].messages[-1].content
    notes_at = ask.index("we always greet the customer by their name")
    assert notes_at < ask.index("### Example 1")
    assert "human reviewers, not automated judges" in ask[:notes_at]
    assert "from reviewer dana" in ask


def test_a_tiny_budget_drops_examples_but_never_a_note() -> None:
    _, _, optimizer = _optimize([GOOD], [NOTE], context_tokens=5)
    ask = optimizer.requests[0].messages[-1].content
    assert "we always greet the customer by their name" in ask
    assert "### Example" not in ask


def test_a_candidate_breaking_a_case_a_reviewer_marked_good_is_rejected() -> None:
    # SWAP wins validation (name cases) but drops email, which train-2 needs.
    plain, _, _ = _optimize([SWAP], [])
    assert plain.status == "improved"
    approved = ReviewerNote("train-2", "good", "exactly right", "dana")
    result, _, _ = _optimize([SWAP], [approved])
    assert result.status == "no_improvement"
    [candidate] = result.trajectory
    assert not candidate.accepted
    assert "breaks 1 case a reviewer marked good: train-2" in candidate.why


def test_notes_keep_the_latest_verdict_per_output_and_known_cases_only() -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)

    def record(case: str, output: str, verdict: str) -> FeedbackRecord:
        return FeedbackRecord.model_validate(
            {
                "case": case,
                "output": output_fingerprint(output),
                "verdict": verdict,
                "note": f"{verdict} {case}",
                "by": "dana",
                "at": at,
                "source": "cli",
            }
        )

    records = [
        record("train-1", "a", "bad"),
        record("train-1", "a", "good"),
        record("gone", "a", "bad"),
        record("train-3", "b", "good"),
        record("train-3", "c", "bad"),
    ]
    notes = notes_from(records, TRAIN)
    assert [(n.case_id, n.verdict) for n in notes] == [
        ("train-1", "good"),
        ("train-3", "good"),
        ("train-3", "bad"),
    ]
    # The last word on a case decides whether it is protected.
    assert marked_good(notes) == frozenset({"train-1"})
