"""``optimizer:`` and ``splits:``: how the optimizer learns a better prompt, and how the
cases are split into the sets it learns on, validates on and is tested on."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError


class SplitsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    train: float = Field(default=0.5, ge=0, le=1)
    val: float = Field(default=0.25, ge=0, le=1)
    test: float = Field(default=0.25, ge=0, le=1)

    @model_validator(mode="after")
    def _sums_to_one(self) -> SplitsConfig:
        total = self.train + self.val + self.test
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise PydanticCustomError(
                "splits_sum",
                "train + val + test must add up to 1, got {total}",
                {"total": f"{total:g}"},
            )
        return self

    def ratios(self) -> tuple[float, float, float]:
        return (self.train, self.val, self.test)


class OptimizerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["auto", "rewrite", "rules"] = "auto"
    rounds: int = Field(default=3, ge=1)
    max_calls: int = Field(default=200, ge=1, description="Budget of model calls per run.")
    max_usd: float | None = Field(
        default=None,
        ge=0,
        description="Budget in US dollars (0 still lets runs on the free embedded model go).",
    )
    max_length_ratio: float = Field(
        default=2.0, gt=0, description="A candidate may be at most this many times longer."
    )
    context_tokens: int = Field(default=2000, ge=1)
    examples_per_cause: int = Field(default=3, ge=1)
    feedback: Literal["critiques", "scores-only"] = "critiques"
