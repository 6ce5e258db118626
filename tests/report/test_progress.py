"""Progress output grows with work added mid-run (the gate's confirmation runs)."""

from __future__ import annotations

import io

from promptloop.engine.runner import CaseFinished, MoreWork
from promptloop.report.progress import progress_reporter

NOTE = "re-running 1 changed case 2 more times on each side before the gate decides"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _feed(stream: io.StringIO) -> str:
    with progress_reporter(2, stream=stream) as on_event:
        assert on_event is not None
        on_event(CaseFinished("s", "head", "pass", False))
        on_event(CaseFinished("s", "base", "fail", False))
        on_event(MoreWork(2, NOTE))
        on_event(CaseFinished("s", "head", "pass", False))
        on_event(CaseFinished("s", "base", "pass", True))
    return stream.getvalue()


def test_plain_progress_says_why_the_total_grew() -> None:
    lines = _feed(io.StringIO()).splitlines()
    assert f"promptloop: {NOTE}" in lines
    assert lines[-1] == "promptloop: 4/4 cases done (3 pass, 1 fail, 0 error, 1 cached)"
    assert "promptloop: 2/2 cases done (1 pass, 1 fail, 0 error, 0 cached)" in lines
    # Progress lines go on at tenths of the new total (3 of 4 is past 60%).
    assert "promptloop: 3/4 cases done (2 pass, 1 fail, 0 error, 0 cached)" in lines


def test_terminal_bar_ends_at_the_grown_total() -> None:
    text = _feed(_Terminal())
    assert NOTE in text
    assert "4/4" in text and "3 pass · 1 fail · 0 error" in text


def test_plain_progress_ends_when_planned_work_is_dropped() -> None:
    stream = io.StringIO()
    with progress_reporter(2, stream=stream) as on_event:
        assert on_event is not None
        on_event(CaseFinished("s", "head", "pass", False))
        on_event(CaseFinished("s", "base", "pass", False))
        on_event(MoreWork(4, "re-running 1 changed case 2 more times on each side"))
        on_event(CaseFinished("s", "head", "pass", False))
        on_event(CaseFinished("s", "base", "pass", False))
        on_event(MoreWork(-2, "the 1 remaining run is skipped"))
    lines = stream.getvalue().splitlines()
    assert lines[-2:] == [
        "promptloop: the 1 remaining run is skipped",
        "promptloop: 4/4 cases done (4 pass, 0 fail, 0 error, 0 cached)",
    ]
