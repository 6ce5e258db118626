"""What a run was forecast to cost and what its budget allowed, as results.json carries it.

``engine.forecast`` fills ``Forecast`` before the first call; the run fills ``BudgetReport``
from the budget it consulted (``models.budget``). Every report reads them from here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from promptloop.models.budget import BudgetLimits

OnExceeded = Literal["fail", "inconclusive"]

# How the forecast's tokens and dollars are reached, said wherever they are shown.
FORECAST_METHOD = (
    "prompt tokens at about 4 characters a token; answers at their max_tokens (a judge "
    "without one: 200 tokens); litellm's prices; base and head outputs not yet cached "
    "assumed to differ; every judge answer assumed usable at the first attempt"
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Forecast(_Model):
    """The calls, tokens and dollars of a run, reckoned from the dataset and the cache before
    its first call. ``calls`` is exact when every call succeeds at its first attempt and every
    judge answer is usable; tokens and dollars are estimates (``method``)."""

    # The first look: each case's answer and each judge verdict the cache cannot give.
    calls: int = 0
    # Calls the cache answers: free, and counted against no budget.
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    # At most this many more when the gate looks twice (only when head looks worse).
    confirmation_calls: int = 0
    # Models litellm has no price for: their calls are counted at $0.
    unpriced_models: list[str] = Field(default_factory=list)
    method: str = FORECAST_METHOD


class BudgetReport(_Model):
    """The run's budget (``budget:`` or --max-usd/--max-calls) and what it allowed."""

    max_usd: float | None = None
    max_calls: int | None = None
    on_exceeded: OnExceeded = "fail"
    # Provider calls made (each attempt), and what they cost; cached answers are not here.
    spent_calls: int = 0
    spent_usd: float = 0.0
    # Why the first call that did not fit was refused; None: the budget held.
    refused: str | None = None
    refused_calls: int = 0

    @property
    def exceeded(self) -> bool:
        return self.refused is not None

    def limits_shown(self) -> str:
        return BudgetLimits(self.max_usd, self.max_calls).shown()
