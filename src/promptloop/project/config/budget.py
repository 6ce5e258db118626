"""``budget:``: a hard cap on what one run spends, in dollars and in model calls."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class BudgetConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_usd: float | None = Field(
        default=None,
        ge=0,
        description="Dollars one run may spend on every call it makes (the model under test, "
        "judges, the gate's second look, the optimizer), at litellm's prices; cached answers "
        "are free. A model litellm has no price for costs $0 here: cap it with max_calls.",
    )
    max_calls: int | None = Field(
        default=None,
        ge=0,
        description="Model calls one run may make (each retry is a call; cached answers are not).",
    )
    on_exceeded: Literal["fail", "inconclusive"] = Field(
        default="fail",
        description="The verdict of a run the budget stopped part-way: fail (exit 1, a "
        "failed check) or inconclusive (exit 0, a neutral check). Never a pass.",
    )
