"""What an optimisation run produced (its diff, the ranges to suggest) and what `optimize`
wrote; the value types themselves live in ``engine.optimization``."""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from pathlib import Path

from promptloop.engine.optimization import (
    Candidate,
    ChangedRange,
    Mode,
    OptimizationResult,
    OptimizationStatus,
    Scores,
    SplitScore,
)
from promptloop.project.hosted import PromptHost
from promptloop.project.suites import SuitePlan

# The value types live in ``engine.optimization`` (results.json carries them); the
# optimizer's modules and callers name them from here.
__all__ = [
    "Candidate",
    "ChangedRange",
    "Mode",
    "OptimizationResult",
    "OptimizationStatus",
    "OptimizeOutcome",
    "Scores",
    "SplitScore",
    "changed_ranges",
    "in_host_file",
    "unified_diff",
]


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


def in_host_file(result: OptimizationResult, host: PromptHost, path: str) -> OptimizationResult:
    """The result of learning a prompt written inside a larger file, as a change to that
    file: the seed and the revision are the whole file, the diff and the ranges its lines
    (the optimizer itself only ever sees the prompt's text)."""
    seed = host.file_text
    revised = host.embed(result.revised_text) if result.improved else seed
    return dataclasses.replace(
        result,
        prompt_path=path,
        seed_text=seed,
        revised_text=revised,
        unified_diff=unified_diff(seed, revised, path) if result.improved else "",
        changed_ranges=changed_ranges(seed, revised) if result.improved else (),
    )


@dataclass(frozen=True)
class OptimizeOutcome:
    """What `promptloop optimize` did for one suite: the result and the files it wrote."""

    plan: SuitePlan
    result: OptimizationResult
    prompt_file: Path
    written_to: Path | None
    diff_path: Path | None
    result_path: Path
