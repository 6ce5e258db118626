"""GitHub's diff and review-comment rules, free of HTTP.

Patches are in the form `GET /pulls/{n}/files` returns: hunks only (`@@ -a,b +c,d @@`),
three lines of context, no `---`/`+++` file headers.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

_HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
NO_NEWLINE = "\\ No newline at end of file"

MAX_BODY = 65536
MAX_ANNOTATIONS = 50
MAX_PR_FILES = 3000

LINE_NOT_IN_DIFF = "Pull request review thread line must be part of the diff"
START_NOT_SAME_HUNK = (
    "Pull request review thread start line must be part of the same hunk as the line."
)
START_NOT_BEFORE = "Pull request review thread start line must precede the end line."
PATH_INVALID = "Pull request review thread path is invalid"
HUNK_BLANK = "Pull request review thread diff hunk can't be blank"
BODY_TOO_LONG = f"Body is too long (maximum is {MAX_BODY} characters)"


def git_blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Hunk:
    header: str
    # Line numbers present in the hunk on each side: context plus removed (LEFT) / added (RIGHT).
    left: list[int] = field(default_factory=list)
    right: list[int] = field(default_factory=list)
    # Patch text from this hunk's header through the given RIGHT/LEFT line, for `diff_hunk`.
    lines: list[str] = field(default_factory=list)


def parse_hunks(patch: str | None) -> list[Hunk]:
    hunks: list[Hunk] = []
    if not patch:
        return hunks
    old = new = 0
    for raw in patch.split("\n"):
        m = _HUNK_RE.match(raw)
        if m:
            old, new = int(m.group(1)), int(m.group(3))
            hunks.append(Hunk(header=raw, lines=[raw]))
            continue
        if not hunks or raw == NO_NEWLINE:
            if hunks:
                hunks[-1].lines.append(raw)
            continue
        h = hunks[-1]
        h.lines.append(raw)
        tag = raw[:1]
        if tag == "+":
            h.right.append(new)
            new += 1
        elif tag == "-":
            h.left.append(old)
            old += 1
        else:
            h.left.append(old)
            h.right.append(new)
            old += 1
            new += 1
    return hunks


def find_hunk(hunks: list[Hunk], line: int, side: str) -> int | None:
    for i, h in enumerate(hunks):
        if line in (h.right if side == "RIGHT" else h.left):
            return i
    return None


def diff_hunk_for(hunks: list[Hunk], index: int, line: int, side: str) -> str:
    """The `diff_hunk` GitHub stores on a comment: the hunk up to and including its line."""
    h = hunks[index]
    old = new = 0
    out: list[str] = []
    for raw in h.lines:
        out.append(raw)
        m = _HUNK_RE.match(raw)
        if m:
            old, new = int(m.group(1)), int(m.group(3))
            continue
        tag = raw[:1]
        if raw == NO_NEWLINE:
            continue
        here = (new if tag != "-" else None) if side == "RIGHT" else (old if tag != "+" else None)
        if here == line:
            break
        if tag != "-":
            new += 1
        if tag != "+":
            old += 1
    return "\n".join(out)


def english_join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2:
        return f"{items[0]} and {items[1]}"
    return ", ".join(items[:-1]) + f", and {items[-1]}"


def check_thread(
    files: dict[str, dict[str, Any]], comment: dict[str, Any]
) -> tuple[list[str], int | None]:
    """GitHub's checks for one review thread. Returns (error messages, hunk index of `line`)."""
    path = comment.get("path")
    f = files.get(str(path))
    if f is None:
        return [PATH_INVALID], None
    if comment.get("subject_type") == "file":
        return [], None
    line = comment.get("line")
    if line is None:
        # `position` is the deprecated alternative; an anchorless thread has no hunk.
        if comment.get("position") is not None:
            return [], None
        return [LINE_NOT_IN_DIFF, HUNK_BLANK], None
    side = comment.get("side") or "RIGHT"
    hunks = parse_hunks(f.get("patch"))
    errors: list[str] = []
    idx = find_hunk(hunks, int(line), side)
    if idx is None:
        errors.append(LINE_NOT_IN_DIFF)
    start = comment.get("start_line")
    if start is not None:
        start_side = comment.get("start_side") or side
        if int(start) >= int(line):
            errors.append(START_NOT_BEFORE)
        elif idx is None or find_hunk(hunks, int(start), start_side) != idx:
            errors.append(START_NOT_SAME_HUNK)
    return errors, idx


def _split_keepends(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def make_patch(old: str | None, new: str | None) -> tuple[str, int, int]:
    """Unified diff in GitHub's `patch` format. Returns (patch, additions, deletions)."""
    a = _split_keepends(old or "")
    b = _split_keepends(new or "")
    out: list[str] = []
    adds = dels = 0
    for i, raw in enumerate(difflib.unified_diff(a, b, n=3, lineterm="")):
        if i < 2:  # the ---/+++ headers GitHub leaves out
            continue
        if raw.startswith("@@"):
            out.append(raw.rstrip("\n"))
            continue
        if raw.startswith("+"):
            adds += 1
        elif raw.startswith("-"):
            dels += 1
        if raw.endswith("\n"):
            out.append(raw[:-1])
        else:
            out.append(raw)
            out.append(NO_NEWLINE)
    return "\n".join(out), adds, dels


def file_entry(path: str, old: str | None, new: str | None) -> dict[str, Any] | None:
    """A PR file dict (as `add_pull` takes) for one path, or None when unchanged."""
    if old == new:
        return None
    patch, adds, dels = make_patch(old, new)
    status = "added" if old is None else "removed" if new is None else "modified"
    return {
        "filename": path,
        "status": status,
        "patch": patch,
        "additions": adds,
        "deletions": dels,
    }


def position_of(patch: str | None, line: int, side: str) -> int | None:
    """The deprecated diff `position`: lines below the first hunk header, headers included."""
    if not patch:
        return None
    pos = -1
    old = new = 0
    for raw in patch.split("\n"):
        pos += 1
        m = _HUNK_RE.match(raw)
        if m:
            old, new = int(m.group(1)), int(m.group(3))
            continue
        if raw == NO_NEWLINE:
            continue
        tag = raw[:1]
        here = (new if tag != "-" else None) if side == "RIGHT" else (old if tag != "+" else None)
        if here == line and pos > 0:
            return pos
        if tag != "-":
            new += 1
        if tag != "+":
            old += 1
    return None
