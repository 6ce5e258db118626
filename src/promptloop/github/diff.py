"""Hunks of GitHub's per-file ``patch`` text, seen from the RIGHT (head) side.

A review comment may only sit on a RIGHT-side line inside a hunk, and a multi-line comment
must stay inside one hunk; everything here exists to answer "is this line commentable?".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$")


class PatchError(ValueError):
    """The patch text is not a unified diff GitHub would produce."""


@dataclass(frozen=True)
class Hunk:
    old_start: int
    old_count: int
    new_start: int
    new_count: int
    section: str
    # RIGHT-side line numbers, split by how the diff shows them.
    added: frozenset[int]
    context: frozenset[int]
    # LEFT-side line numbers that were removed.
    deleted: frozenset[int]

    @property
    def new_lines(self) -> range:
        return range(self.new_start, self.new_start + self.new_count)

    def contains(self, line: int) -> bool:
        return line in self.new_lines

    def contains_range(self, start: int, end: int) -> bool:
        return start <= end and self.contains(start) and self.contains(end)


def parse_patch(patch: str | None) -> list[Hunk]:
    """No patch (binary file, or too large for GitHub to include) means no commentable lines."""
    if not patch:
        return []
    lines = patch.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    hunks: list[Hunk] = []
    i = 0
    while i < len(lines):
        header = _HEADER.match(lines[i].rstrip("\r"))
        if header is None:
            raise PatchError(f"patch line {i + 1}: expected a hunk header '@@ -a,b +c,d @@'")
        old_start, new_start = int(header.group(1)), int(header.group(3))
        old_count = 1 if header.group(2) is None else int(header.group(2))
        new_count = 1 if header.group(4) is None else int(header.group(4))
        i += 1
        old_seen = new_seen = 0
        added: set[int] = set()
        context: set[int] = set()
        deleted: set[int] = set()
        while old_seen < old_count or new_seen < new_count:
            if i >= len(lines):
                raise PatchError(f"patch ends inside the hunk starting '{header.group(0)}'")
            text = lines[i]
            # Some tools strip the lone space of an empty context line.
            marker = text[:1] if text else " "
            if marker == " ":
                if old_seen >= old_count or new_seen >= new_count:
                    raise PatchError(f"patch line {i + 1}: more context lines than the header says")
                context.add(new_start + new_seen)
                old_seen += 1
                new_seen += 1
            elif marker == "+":
                if new_seen >= new_count:
                    raise PatchError(f"patch line {i + 1}: more added lines than the header says")
                added.add(new_start + new_seen)
                new_seen += 1
            elif marker == "-":
                if old_seen >= old_count:
                    raise PatchError(f"patch line {i + 1}: more removed lines than the header says")
                deleted.add(old_start + old_seen)
                old_seen += 1
            elif marker != "\\":
                raise PatchError(f"patch line {i + 1}: unexpected line inside a hunk")
            i += 1
        # "\ No newline at end of file" may follow the last line of a hunk.
        while i < len(lines) and lines[i].startswith("\\"):
            i += 1
        hunks.append(
            Hunk(
                old_start=old_start,
                old_count=old_count,
                new_start=new_start,
                new_count=new_count,
                section=header.group(5),
                added=frozenset(added),
                context=frozenset(context),
                deleted=frozenset(deleted),
            )
        )
    return hunks


def hunk_containing(hunks: Sequence[Hunk], line: int) -> Hunk | None:
    return next((h for h in hunks if h.contains(line)), None)
