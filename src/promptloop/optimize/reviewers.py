"""Reviewers' notes for the optimizer: a person's words come first and are never packed away.

Automated critiques imitate the judgement of the people who review the pull request; when
those people have said what is wrong, their words outrank every judge. So the notes are
shown before the examples, marked as from a person, and the example budget shrinks to make
room for them rather than the other way round. A case a reviewer marked good is one the
revised prompt must keep passing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from promptloop.dataset.cases import Case
from promptloop.dataset.feedback import FeedbackRecord, ReviewerVerdict, latest_by_output
from promptloop.optimize.compact import FailureLine
from promptloop.optimize.packing import DEFAULT_FIELD_CHARS, estimate_tokens, truncate

SECTION_TITLE = (
    "Notes from the people who review this prompt (human reviewers, not automated judges; "
    "where they disagree with a critique below, they are right):"
)


@dataclass(frozen=True)
class ReviewerNote:
    case_id: str
    verdict: ReviewerVerdict
    note: str
    by: str

    def render(self) -> str:
        note = truncate(self.note, DEFAULT_FIELD_CHARS) if self.note else "(no note)"
        return f"- [{self.verdict.upper()}] case {self.case_id}, from reviewer {self.by}: {note}"


def notes_from(records: Sequence[FeedbackRecord], cases: Sequence[Case]) -> list[ReviewerNote]:
    """One note per judged output of a case the suite still has, in the file's order."""
    known = {case.id for case in cases}
    return [
        ReviewerNote(r.case, r.verdict, r.note, r.by)
        for r in latest_by_output(records)
        if r.case in known
    ]


def render_section(notes: Sequence[ReviewerNote]) -> str:
    if not notes:
        return ""
    return "\n".join([SECTION_TITLE, *(note.render() for note in notes)])


def section_tokens(notes: Sequence[ReviewerNote]) -> int:
    text = render_section(notes)
    return estimate_tokens(text) + 1 if text else 0


def compact_lines(notes: Sequence[ReviewerNote]) -> list[FailureLine]:
    """For the compact meta-prompt: bad verdicts only (a small model needs problems to fix)."""
    return [
        FailureLine(1, f"a human reviewer says: {truncate(n.note, 100)}")
        for n in notes
        if n.verdict == "bad" and n.note
    ]


def marked_good(notes: Sequence[ReviewerNote]) -> frozenset[str]:
    """Cases whose latest verdict is good (a later bad on another output does not count)."""
    latest: dict[str, ReviewerVerdict] = {}
    for note in notes:
        latest[note.case_id] = note.verdict
    return frozenset(case for case, verdict in latest.items() if verdict == "good")
