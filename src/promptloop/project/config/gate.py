"""``gate:``: when a pull request's check fails, for the project and for one suite."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class GateCalibration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_labels: int = Field(
        default=20, ge=1, description="Outputs a reviewer judged that a judge needs to gate."
    )
    min_kappa: float = Field(
        default=0.4, ge=-1, le=1, description="Cohen's kappa with the reviewers a judge needs."
    )


GateMode = Literal["gate", "advisory"]


class SuiteGateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: GateMode = Field(
        default="gate",
        description="advisory: this suite is reported and commented on, never fails the check.",
    )


class GateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_pass_rate: float | None = Field(
        default=None, ge=0, le=1, description="Fail when head's pass rate is below this."
    )
    max_regression_pp: float = Field(
        default=5.0, ge=0, description="Largest tolerated drop, in percentage points."
    )
    confidence: float = Field(
        default=0.95, gt=0, lt=1, description="Confidence for calling a drop significant."
    )
    critical_tags: list[str] = Field(
        default_factory=lambda: ["critical"],
        description="Cases with these tags may never go from pass to fail.",
    )
    on_error: Literal["fail", "neutral", "ignore"] = Field(
        default="fail",
        description=(
            "What errors do to the gate: a provider that kept failing (exit 3), or an "
            "evaluator that could not judge a case, such as a python check that raised (exit 2)."
        ),
    )
    threshold_rule: Literal["plain", "statistical"] = Field(
        default="plain",
        description=(
            "plain: a pass rate below the suite's threshold fails. statistical: it fails only "
            "when it is below beyond doubt (the one-sided upper bound at `confidence`); a "
            "shortfall within noise is inconclusive."
        ),
    )
    inconclusive: Literal["pass", "fail"] = Field(
        default="pass",
        description=(
            "What a suite with too few cases to decide counts as: pass (exit 0, shown as "
            "inconclusive) or fail (exit 1)."
        ),
    )
    confirm_runs: int = Field(
        default=1,
        ge=0,
        le=20,
        description=(
            "When head looks worse than base, re-run every case whose result changed this "
            "many more times on each side before the gate decides (0: decide on one run)."
        ),
    )
    confirm_judge_temperature: float = Field(
        default=0.7,
        gt=0,
        le=2,
        description=(
            "Temperature of the judge on those re-runs: a judge at temperature 0 repeats "
            "its verdict on an identical request, so only sampling brings new evidence."
        ),
    )
    confirm_judge_samples: int = Field(
        default=3,
        ge=1,
        le=9,
        description=("On those re-runs a judge's verdict is the majority of this many samples."),
    )
    holm: bool = Field(
        default=True,
        description=(
            "With several suites, hold identical prompts to one false-fail rate of "
            "1 - confidence in all (Holm's step-down); false: the bound is per suite."
        ),
    )
    calibration: GateCalibration | None = Field(
        default=None,
        description=(
            "Judges that agree too little with the reviewers (fewer labels or a lower kappa "
            "than this) are advisory: reported and critiqued, but they do not fail the gate."
        ),
    )
    mode: GateMode = Field(
        default="gate",
        description=(
            "gate: a failing suite fails the check; advisory: every suite is reported and "
            "commented on, but never fails the check (a suite's own `gate: {mode: ...}` wins)."
        ),
    )
