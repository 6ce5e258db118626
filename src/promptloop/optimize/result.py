"""What an optimisation run produced: a value the reports and GitHub code use directly."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from promptloop.engine.outcome import CaseOutcome
from promptloop.project.suites import SuitePlan

Status = Literal["improved", "no_improvement", "error"]
Mode = Literal["rewrite", "rules"]


@dataclass(frozen=True)
class SplitScore:
    """Pass/fail and mean score of one prompt on one split. Errored cases (the model
    call failed) are neither passes nor fails and are left out of ``n``."""

    passes: int
    n: int
    mean_score: float
    errors: int = 0

    @property
    def pass_rate(self) -> float:
        return self.passes / self.n if self.n else 0.0

    @classmethod
    def of(cls, outcomes: Sequence[CaseOutcome]) -> SplitScore:
        ok = [o for o in outcomes if o.error is None]
        mean = sum(o.score for o in ok) / len(ok) if ok else 0.0
        return cls(sum(o.passed for o in ok), len(ok), mean, len(outcomes) - len(ok))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "pass_rate": self.pass_rate}


@dataclass(frozen=True)
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

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in ("train", "val", "test"):
            for when in ("before", "after"):
                score: SplitScore | None = getattr(self, f"{name}_{when}")
                out[f"{name}_{when}"] = None if score is None else score.to_dict()
        out.update(
            test_fixed=self.test_fixed,
            test_broken=self.test_broken,
            test_p_value=self.test_p_value,
        )
        return out


@dataclass(frozen=True)
class ChangedRange:
    """Lines ``start_line``..``end_line`` (1-based, inclusive) of the ORIGINAL file are
    replaced by ``replacement`` (which ends with a newline unless empty). Pure insertions
    are widened to include the neighbouring original line, so every range can be posted
    as a GitHub suggestion."""

    start_line: int
    end_line: int
    replacement: str


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class OptimizationResult:
    status: Status
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

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["scores"] = self.scores.to_dict()
        data["trajectory"] = [
            {
                **asdict(c),
                "val_before": None if c.val_before is None else c.val_before.to_dict(),
                "val_after": None if c.val_after is None else c.val_after.to_dict(),
            }
            for c in self.trajectory
        ]
        data["changed_ranges"] = [asdict(r) for r in self.changed_ranges]
        data["errors"] = list(self.errors)
        data["notes"] = list(self.notes)
        return data


def unified_diff(before: str, after: str, path: str) -> str:
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"a/{path}",
            tofile=f"b/{path}",
        )
    )


def changed_ranges(before: str, after: str) -> tuple[ChangedRange, ...]:
    old = before.splitlines(keepends=True)
    new = after.splitlines(keepends=True)
    spans: list[tuple[int, int, int, int]] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if i1 == i2:
            # An insertion has no original line to anchor a suggestion on: take a neighbour.
            if i1 > 0:
                i1, j1 = i1 - 1, j1 - 1
            elif old:
                i2, j2 = i2 + 1, j2 + 1
        if spans and i1 <= spans[-1][1]:
            s_i1, _, s_j1, _ = spans[-1]
            spans[-1] = (s_i1, max(i2, spans[-1][1]), s_j1, max(j2, spans[-1][3]))
        else:
            spans.append((i1, i2, j1, j2))
    ranges = []
    for i1, i2, j1, j2 in spans:
        replacement = "".join(new[j1:j2])
        if replacement and not replacement.endswith("\n"):
            replacement += "\n"
        ranges.append(ChangedRange(i1 + 1, max(i2, i1 + 1), replacement))
    return tuple(ranges)


@dataclass(frozen=True)
class OptimizeOutcome:
    """What `promptloop optimize` did for one suite: the result and the files it wrote."""

    plan: SuitePlan
    result: OptimizationResult
    prompt_file: Path
    written_to: Path | None
    diff_path: Path | None
    result_path: Path
