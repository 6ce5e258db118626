"""What prompt learning produced, as results.json and the optimizer's own file carry it.

The optimizer (``optimize/``) fills these values and the reports and GitHub code read
them by attribute. They live here, below the optimizer, because the results document
(``engine.results``) holds them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter, computed_field
from pydantic.dataclasses import dataclass

from promptloop.engine.outcome import CaseOutcome

OptimizationStatus = Literal["improved", "no_improvement", "error"]
Mode = Literal["rewrite", "rules"]

_FORBID = ConfigDict(extra="forbid")


# ``pass_rate`` is written for readers of the file and recomputed on reading, so it is
# ignored as input rather than refused.
@dataclass(frozen=True, config=ConfigDict(extra="ignore"))
class SplitScore:
    """Pass/fail and mean score of one prompt on one split. Errored cases (the model
    call failed) are neither passes nor fails and are left out of ``n``."""

    passes: int
    n: int
    mean_score: float
    errors: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def pass_rate(self) -> float:
        return self.passes / self.n if self.n else 0.0

    @classmethod
    def of(cls, outcomes: Sequence[CaseOutcome]) -> SplitScore:
        ok = [o for o in outcomes if o.error is None]
        mean = sum(o.score for o in ok) / len(ok) if ok else 0.0
        return cls(sum(o.passed for o in ok), len(ok), mean, len(outcomes) - len(ok))


@dataclass(frozen=True, config=_FORBID)
class Scores:
    train_before: SplitScore | None = None
    train_after: SplitScore | None = None
    val_before: SplitScore | None = None
    val_after: SplitScore | None = None
    test_before: SplitScore | None = None
    test_after: SplitScore | None = None
    # Paired on the test split, chosen prompt vs seed: fixed = seed failed, chosen passed.
    test_fixed: int = 0
    test_broken: int = 0
    test_p_value: float | None = None


@dataclass(frozen=True, config=_FORBID)
class ChangedRange:
    """Lines ``start_line``..``end_line`` (1-based, inclusive) of the ORIGINAL file are
    replaced by ``replacement`` (which ends with a newline unless empty). Pure insertions
    are widened to include the neighbouring original line, so every range can be posted
    as a GitHub suggestion."""

    start_line: int
    end_line: int
    replacement: str


@dataclass(frozen=True, config=_FORBID)
class Candidate:
    round: int
    attempt: int
    text: str
    # Why the guards refused it before scoring, or None when it was scored.
    rejection: str | None
    accepted: bool
    why: str
    val_before: SplitScore | None = None
    val_after: SplitScore | None = None
    fixed: int = 0
    broken: int = 0
    p_value: float | None = None
    rationale: str = ""
    # Failing training cases per cause that the optimizer was shown this round.
    causes: dict[str, int] = field(default_factory=dict)
    # Set when the optimizer call itself failed (no text came back).
    error: str | None = None


@dataclass(frozen=True, config=_FORBID)
class OptimizationResult:
    status: OptimizationStatus
    improved: bool
    mode: Mode
    prompt_path: str
    seed_text: str
    revised_text: str
    unified_diff: str
    changed_ranges: tuple[ChangedRange, ...]
    rationale: str
    scores: Scores
    calls_used: int
    usd_used: float
    stop_reason: str
    trajectory: tuple[Candidate, ...] = ()
    errors: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def stopped(self) -> str:
        """Why the optimizer stopped, in words that follow "it" ("it stopped after ...");
        ``stop_reason`` is the file's short name for it."""
        words = _STOPPED.get(self.stop_reason)
        return f"stopped {words}" if words else f"stopped: {self.stop_reason or self.status}"

    def to_dict(self) -> dict[str, JsonValue]:
        """The result as JSON data, for the optimizer's own file (optimize-SUITE.json)."""
        return _RESULT.dump_python(self, mode="json")  # type: ignore[no-any-return]


_RESULT = TypeAdapter(OptimizationResult)
# The optimizer's stop reasons (optimize.rounds), as people read them.
_STOPPED = {
    "rounds": "after the rounds it was given (optimizer.rounds)",
    "budget": "when its call budget ran out",
    "usd": "when its dollar budget ran out",
    "error": "when an optimizer call failed",
}


class RunOptimization(BaseModel):
    """The revisions ``ci`` learned for a run: per suite, what the optimizer produced, and
    the Markdown that presents them (how each was delivered: suggestions, a commit, a pull
    request), placed in report.md as it was posted."""

    model_config = _FORBID

    markdown: str = ""
    suites: dict[str, OptimizationResult] = Field(default_factory=dict)
