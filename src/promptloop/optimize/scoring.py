"""Scoring prompts on cases for the optimizer, each text on each split once, within its budget.

Budget: ``max_calls`` counts optimizer calls plus cases scored (one per case per prompt,
cached or not; judges called while scoring are not counted separately). Room for the
final test scoring (2 × |test|) is reserved up front. ``max_usd`` stops new work once
reached; the final test scoring, bounded by the reserve, still runs so the result is never
reported without its held-out figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from promptloop.dataset.cases import Case
from promptloop.engine.outcome import CaseOutcome
from promptloop.errors import InfraError
from promptloop.optimize.result import SplitScore


class PromptScorer(Protocol):
    """Scores a whole prompt file's text on cases: one outcome per case, in order."""

    async def score(self, prompt_source: str, cases: Sequence[Case]) -> list[CaseOutcome]: ...


@dataclass
class OptimizerBudget:
    """What the optimizer may spend and has spent: calls (optimizer calls plus cases
    scored) and dollars."""

    max_calls: int | None
    max_usd: float | None
    calls: int = 0
    usd: float = 0.0

    def calls_left_for(self, calls: int) -> bool:
        return self.max_calls is None or self.calls + calls <= self.max_calls

    def usd_left(self) -> bool:
        return self.max_usd is None or self.usd < self.max_usd


@dataclass
class BudgetedScorer:
    """The scorer with a memory: a prompt text is scored on a split once, and charged to
    the budget once."""

    scorer: PromptScorer
    budget: OptimizerBudget
    memo: dict[tuple[str, str], list[CaseOutcome]] = field(default_factory=dict)

    def scored(self, text: str, split: str) -> bool:
        return (text, split) in self.memo

    def known(self, text: str, split: str) -> SplitScore | None:
        """The figure of ``text`` on ``split`` if it was scored; nothing is scored for it."""
        return SplitScore.of(self.memo[(text, split)]) if self.scored(text, split) else None

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
