"""The ``human`` evaluator: a reviewer's verdict, applied while the output is the one judged.

A person's verdict on one output says nothing about a different output, so when the prompt
changes what the model says, this evaluator abstains and the others decide. Its reasons
name the reviewer, so reports and the optimizer can tell a person's verdict from a judge's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from promptloop.dataset.cases import Case
from promptloop.dataset.feedback import FeedbackRecord, verdict_for
from promptloop.evaluators.base import EvalContext, EvalResult, Evaluator
from promptloop.models.base import with_calls

HUMAN_KIND = "human"
# Reasons of reviewer verdicts start with this, which is how packing and reports find them.
REVIEWER_PREFIX = "reviewer "


def reviewer_reason(record: FeedbackRecord) -> str:
    said = "bad" if record.verdict == "bad" else "good"
    note = f": {record.note}" if record.note else ""
    return f"{REVIEWER_PREFIX}{record.by} marked this output {said}{note}"


# Not frozen: the ``Evaluator`` protocol declares name and weight as plain attributes.
@dataclass
class HumanEvaluator:
    name: str = HUMAN_KIND
    weight: float = 1.0
    records: tuple[FeedbackRecord, ...] = field(default=())

    def with_feedback(self, records: Sequence[FeedbackRecord]) -> HumanEvaluator:
        return HumanEvaluator(self.name, self.weight, tuple(records))

    async def evaluate(self, output: str, case: Case, ctx: EvalContext) -> EvalResult:
        # A verdict is on the output with its tool calls, as reviewers saw it.
        record = verdict_for(self.records, case.id, with_calls(output, ctx.tool_calls))
        if record is None:
            return EvalResult(
                evaluator=self.name,
                passed=True,
                score=1.0,
                reason="no reviewer has judged this output",
                weight=self.weight,
                abstained=True,
            )
        good = record.verdict == "good"
        return EvalResult(
            evaluator=self.name,
            passed=good,
            score=1.0 if good else 0.0,
            reason=reviewer_reason(record),
            error_type=None if good else "reviewer",
            weight=self.weight,
        )


def bind_feedback(evaluator: Evaluator, records: Sequence[FeedbackRecord]) -> Evaluator:
    """``evaluator`` with the suite's feedback, when it is a human evaluator."""
    if isinstance(evaluator, HumanEvaluator):
        return evaluator.with_feedback(records)
    return evaluator
