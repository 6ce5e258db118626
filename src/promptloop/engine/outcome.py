"""What one case produced under one prompt: the unit every later stage consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from promptloop.dataset.cases import Case
from promptloop.evaluators.base import EvalResult
from promptloop.models.base import ToolCall, Usage

Status = Literal["pass", "fail", "error"]


@dataclass(frozen=True)
class CaseOutcome:
    case: Case
    output: str | None
    passed: bool
    score: float
    evaluations: tuple[EvalResult, ...] = ()
    # Infrastructure error (the model call failed after retries): neither pass nor fail.
    error: str | None = None
    usage: Usage = field(default_factory=Usage)
    cached: bool = False
    latency_s: float = 0.0
    # The run was stopped (a signal) before this case finished: it has no result at all.
    not_run: bool = False
    # The function calls the model asked for, beside (or instead of) its text.
    tool_calls: tuple[ToolCall, ...] = ()

    @property
    def unevaluated(self) -> bool:
        """An evaluator could not decide (a python check raised, a judge answered garbage):
        the case is an error, which says nothing about the prompt."""
        return any(e.error is not None and not e.abstained for e in self.evaluations)

    @property
    def status(self) -> Status:
        if self.error is not None or self.unevaluated:
            return "error"
        return "pass" if self.passed else "fail"
