"""The gate's figures as results.json carries them: intervals, comparisons, confirmations.

The gate (``gate/``) computes these and fills them in; every report reads them by
attribute and computes nothing of its own, so the console, report.md, junit.xml, the job
summary and the pull request show the same numbers. They live here, below the gate,
because the results document (``engine.results``) holds them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict
from pydantic.dataclasses import dataclass


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class Interval:
    """A point estimate with its two-sided interval at ``confidence``."""

    estimate: float
    lo: float
    hi: float
    confidence: float


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChangedCase(_Record):
    """A case whose verdict moved between base and head (or that only one side has), with
    the run on each side that shows the change: the better side passing, the worse failing."""

    case_id: str
    # Older results files (before criticality was recorded per case) lack it.
    critical: bool = False
    base_output: str | None
    head_output: str | None
    base_reason: str
    head_reason: str
    # Mean pass rate over the case's repeats on each side; None where the side lacks it.
    base_passed: float | None
    head_passed: float | None
    output_unchanged: bool = False


class ConfirmationSummary(_Record):
    """The gate's second look: the changed cases re-run ``runs`` more times on each side."""

    cases: int
    runs: int
    # Every case that changed on the first look was re-run: only then do ``delta_pp`` and
    # ``p_worse`` speak for the suite.
    complete: bool
    delta_pp: float
    broken: int
    fixed: int
    p_worse: float
    errored_runs: int = 0


class ComparisonSummary(_Record):
    """Base against head for one suite, over the cases paired on both sides.

    Δ, its interval and both p-values are the first look's; the second look's figures are
    under ``confirmation``.
    """

    confirmation: ConfirmationSummary | None = None
    paired: int
    look: Literal["first"] = "first"
    outputs_unchanged: int = 0
    # Why no second look was taken although head looked worse (nothing could sample).
    first_look_only: str | None = None
    base_pass_rate: float
    head_pass_rate: float
    delta_pp: float
    delta_lo_pp: float
    delta_hi_pp: float
    score_delta: float
    score_delta_lo: float
    score_delta_hi: float
    # Two-sided exact McNemar p-value, and the one-sided one for "head is worse".
    p_value: float
    p_worse: float
    confidence: float
    fixed: list[ChangedCase]
    broken: list[ChangedCase]
    errored: list[ChangedCase]
    added: list[ChangedCase]
    removed: list[ChangedCase]
    unchanged: int

    @property
    def decided_delta_pp(self) -> float:
        """The drop the gate decided on: the confirmed one when every changed case was
        re-run, the first look's otherwise."""
        confirmation = self.confirmation
        if confirmation is not None and confirmation.complete:
            return confirmation.delta_pp
        return self.delta_pp
