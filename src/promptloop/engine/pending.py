"""The calls a case will make that the cache cannot answer (``Runner.pending_calls``): what
the forecast counts and what a case holds room for in the budget before it starts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from promptloop.dataset.cases import Case
from promptloop.evaluators.base import EvalContext, TemplateRenderError
from promptloop.evaluators.judge import JudgeEvaluator
from promptloop.models.base import ModelRequest


@dataclass(frozen=True)
class PendingCalls:
    """The calls one case will make that the cache cannot answer."""

    # The case's answer, None when the cache has it.
    answer: ModelRequest | None
    judges: tuple[ModelRequest, ...]
    # Calls the cache answers: free.
    cached: int
    # The evaluation key of a cached answer (``evaluation_key``): base and head share one.
    key: tuple[object, ...] | None

    @property
    def requests(self) -> tuple[ModelRequest, ...]:
        return ((self.answer,) if self.answer is not None else ()) + self.judges


def judge_requests(
    judges: Sequence[JudgeEvaluator], output: str, case: Case, ctx: EvalContext
) -> tuple[ModelRequest, ...]:
    asked = []
    for judge in judges:
        try:
            asked.append(judge.request(output, case, ctx))
        except TemplateRenderError:
            continue  # a rubric that cannot render is an evaluator error, not a call
    return tuple(asked)
