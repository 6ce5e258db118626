"""Turn a revised prompt file into GitHub suggestion comments that fit the PR's diff.

GitHub accepts a review comment only on RIGHT-side lines inside one hunk, so a change to a line
the PR did not touch cannot be a suggestion; those changes are returned as ``unplaceable`` and the
caller falls back to committing the revision or opening a PR with it.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from promptloop.github.diff import Hunk
from promptloop.safety import fence_for

EditKind = Literal["replace", "delete", "insert"]


@dataclass(frozen=True)
class LineEdit:
    """One edit, in head-file line numbers (1-based).

    ``start..end`` (inclusive) are the replaced original lines; for an insertion ``end`` is
    ``start - 1`` and the new lines go before original line ``start``.
    """

    kind: EditKind
    start: int
    end: int
    new_lines: tuple[str, ...]
    old_lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class Suggestion:
    line: int
    body: str
    # Only set when the comment spans several lines (GitHub rejects start_line == line).
    start_line: int | None = None
    change: LineEdit | None = None


@dataclass(frozen=True)
class SuggestionPlan:
    suggestions: tuple[Suggestion, ...] = ()
    unplaceable: tuple[LineEdit, ...] = field(default_factory=tuple)

    @property
    def complete(self) -> bool:
        return not self.unplaceable


def line_edits(original: str, revised: str) -> list[LineEdit]:
    """Line-level edits turning ``original`` into ``revised`` (trailing-newline changes ignored)."""
    old = original.splitlines()
    new = revised.splitlines()
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    ranges: list[LineEdit] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        kind: EditKind = "insert" if tag == "insert" else "delete" if tag == "delete" else "replace"
        ranges.append(
            LineEdit(
                kind=kind,
                start=i1 + 1,
                end=i2,
                new_lines=tuple(new[j1:j2]),
                old_lines=tuple(old[i1:i2]),
            )
        )
    return ranges


def suggestion_block(lines: Sequence[str]) -> str:
    """A ```suggestion block whose content replaces the commented lines (empty = delete them)."""
    text = "\n".join(lines)
    fence = fence_for(text)
    return f"{fence}suggestion\n{text}\n{fence}" if lines else f"{fence}suggestion\n{fence}"


def _in_one_hunk(hunks: Sequence[Hunk], start: int, end: int) -> bool:
    return any(h.contains_range(start, end) for h in hunks)


def place_change(
    change: LineEdit, original_lines: Sequence[str], hunks: Sequence[Hunk]
) -> Suggestion | None:
    """The suggestion expressing ``change``, or None when GitHub would not accept it there."""
    if change.kind != "insert":
        if not _in_one_hunk(hunks, change.start, change.end):
            return None
        return Suggestion(
            line=change.end,
            start_line=change.start if change.start != change.end else None,
            body=suggestion_block(change.new_lines),
            change=change,
        )
    before, after = change.start - 1, change.start
    # An insertion needs an existing line to hang on; the block repeats that line.
    if before >= 1 and _in_one_hunk(hunks, before, before):
        lines = (original_lines[before - 1], *change.new_lines)
        return Suggestion(line=before, body=suggestion_block(lines), change=change)
    if after <= len(original_lines) and _in_one_hunk(hunks, after, after):
        lines = (*change.new_lines, original_lines[after - 1])
        return Suggestion(line=after, body=suggestion_block(lines), change=change)
    return None


def plan_suggestions(original: str, revised: str, hunks: Sequence[Hunk]) -> SuggestionPlan:
    """Split the edits from ``original`` (the head file) to ``revised`` into placeable/unplaceable.

    Each placed suggestion owns distinct lines, so accepting them all in one batch reproduces
    ``revised`` exactly when nothing is unplaceable.
    """
    original_lines = original.splitlines()
    placed: list[Suggestion] = []
    unplaceable: list[LineEdit] = []
    used: set[int] = set()
    for change in line_edits(original, revised):
        suggestion = place_change(change, original_lines, hunks)
        if suggestion is not None:
            first = suggestion.start_line or suggestion.line
            span = set(range(first, suggestion.line + 1))
            # Two edits anchored on the same line would fight when applied together.
            if span & used:
                suggestion = None
            else:
                used |= span
        if suggestion is None:
            unplaceable.append(change)
        else:
            placed.append(suggestion)
    return SuggestionPlan(suggestions=tuple(placed), unplaceable=tuple(unplaceable))
