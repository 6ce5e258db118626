"""Talk to the Actions runner itself: step outputs, the job summary, masks and annotations."""

from __future__ import annotations

import secrets as _random
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TextIO

from promptloop.safety import AnnotationLevel, annotation_command, escape_data

STEP_SUMMARY_LIMIT = 1024 * 1024
ANNOTATIONS_SHOWN_PER_LEVEL = 10
_LEVEL_ORDER: dict[str, int] = {"error": 0, "warning": 1, "notice": 2}
_CHECK_LEVEL: dict[str, Literal["failure", "warning", "notice"]] = {
    "error": "failure",
    "warning": "warning",
    "notice": "notice",
}


@dataclass(frozen=True)
class Annotation:
    level: AnnotationLevel
    message: str
    path: str | None = None
    line: int | None = None
    end_line: int | None = None
    title: str | None = None
    # Higher is more important; decides which annotations make GitHub's per-level cut.
    priority: float = 0.0

    def command(self) -> str:
        return annotation_command(
            self.level, self.path, self.line, self.end_line, self.title, self.message
        )

    def to_check_run(self) -> dict[str, object]:
        """The check-run API form; it needs a path and line, so callers filter on ``path``."""
        if self.path is None:
            raise ValueError("a check-run annotation needs a path")
        start = self.line or 1
        data: dict[str, object] = {
            "path": self.path,
            "start_line": start,
            "end_line": max(start, self.end_line or start),
            "annotation_level": _CHECK_LEVEL[self.level],
            "message": self.message,
        }
        if self.title:
            data["title"] = self.title
        return data


def format_output(name: str, value: str, *, delimiter: Callable[[], str] | None = None) -> str:
    """One GITHUB_OUTPUT entry; multi-line values use a heredoc delimiter absent from the value."""
    if not name or any(c in name for c in "=\r\n<"):
        raise ValueError(f"invalid output name {name!r}")
    if "\n" not in value and "\r" not in value:
        return f"{name}={value}\n"
    make = delimiter or (lambda: f"ghadelimiter_{_random.token_hex(16)}")
    for _ in range(100):
        marker = make()
        if marker not in value:
            break
    else:
        raise ValueError("could not find a delimiter that does not occur in the value")
    return f"{name}<<{marker}\n{value}\n{marker}\n"


def write_outputs(path: Path, outputs: Mapping[str, str]) -> None:
    with path.open("a", encoding="utf-8", newline="\n") as handle:
        for name, value in outputs.items():
            handle.write(format_output(name, value))


def append_step_summary(path: Path, markdown: str, *, limit: int = STEP_SUMMARY_LIMIT) -> bool:
    """Append ``markdown`` so the file stays within GitHub's 1 MiB; returns False if it was cut."""
    used = path.stat().st_size if path.exists() else 0
    data = markdown if markdown.endswith("\n") else markdown + "\n"
    encoded = data.encode("utf-8")
    room = limit - used
    if len(encoded) <= room:
        with path.open("a", encoding="utf-8", newline="\n") as handle:
            handle.write(data)
        return True
    note = "\n\n*… job summary truncated: GitHub shows at most 1 MiB per step.*\n".encode()
    budget = room - len(note)
    if budget <= 0:
        return False
    kept = encoded[:budget].decode("utf-8", errors="ignore")
    with path.open("a", encoding="utf-8", newline="\n") as handle:
        handle.write(kept + note.decode())
    return False


def mask_commands(secrets: Iterable[str | None]) -> list[str]:
    """``::add-mask::`` lines; a multi-line secret is masked line by line, as the runner needs."""
    lines: list[str] = []
    for secret in secrets:
        if not secret:
            continue
        for part in secret.splitlines() or [secret]:
            if part.strip():
                lines.append(f"::add-mask::{escape_data(part)}")
    return lines


def rank_annotations(annotations: Sequence[Annotation]) -> list[Annotation]:
    """Most severe first, then most important, then file order (stable for equal keys)."""
    return sorted(
        annotations,
        key=lambda a: (_LEVEL_ORDER[a.level], -a.priority, a.path or "", a.line or 0),
    )


def annotation_commands(
    annotations: Sequence[Annotation], *, per_level: int | None = ANNOTATIONS_SHOWN_PER_LEVEL
) -> tuple[list[str], int]:
    """Workflow commands for the annotations GitHub will show, and how many were left out."""
    counts: dict[str, int] = {}
    commands: list[str] = []
    omitted = 0
    for annotation in rank_annotations(annotations):
        seen = counts.get(annotation.level, 0)
        if per_level is not None and seen >= per_level:
            omitted += 1
            continue
        counts[annotation.level] = seen + 1
        commands.append(annotation.command())
    return commands, omitted


def emit(lines: Iterable[str], stream: TextIO | None = None) -> None:
    out = stream or sys.stdout
    for line in lines:
        out.write(line + "\n")
    out.flush()
