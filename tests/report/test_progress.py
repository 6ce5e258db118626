"""Progress counts cases (a case run on both sides is one), answers and verdicts apart, and
grows with work added mid-run (the gate's confirmation runs)."""

from __future__ import annotations

import io

from promptloop.engine.progress import Answered, CaseFinished, MoreWork
from promptloop.report.progress import ProgressTally, eta, progress_reporter

NOTE = "re-running 1 changed case 2 more times on each side before the gate decides"
BOTH_SIDES = {"s": 2}


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _feed(stream: io.StringIO) -> str:
    # One case on both sides, then two more runs of it on each side.
    with progress_reporter(1, stream=stream, sides=BOTH_SIDES) as on_event:
        assert on_event is not None
        on_event(CaseFinished("s", "head", "pass", False))
        on_event(CaseFinished("s", "base", "fail", False))
        on_event(MoreWork(4, NOTE))
        for _ in range(2):
            on_event(CaseFinished("s", "head", "pass", False))
            on_event(CaseFinished("s", "base", "pass", True))
    return stream.getvalue()


def test_plain_progress_says_why_the_total_grew() -> None:
    lines = _feed(io.StringIO()).splitlines()
    assert f"promptloop: {NOTE}" in lines
    assert "promptloop: 1/1 cases done (1 pass, 0 fail, 0 error, 0 cached)" in lines
    assert lines[-1] == "promptloop: 3/3 cases done (3 pass, 0 fail, 0 error, 0 cached)"


def test_terminal_bar_ends_at_the_grown_total() -> None:
    text = _feed(_Terminal())
    assert NOTE in text
    assert "3/3" in text and "3 pass · 0 fail · 0 error" in text


def test_a_baseline_run_counts_cases_not_calls() -> None:
    stream = io.StringIO()
    with progress_reporter(3, stream=stream, sides=BOTH_SIDES) as on_event:
        assert on_event is not None
        for _ in range(3):
            on_event(CaseFinished("s", "head", "pass", False))
            on_event(CaseFinished("s", "base", "fail", False))
    lines = stream.getvalue().splitlines()
    assert lines[-1] == "promptloop: 3/3 cases done (3 pass, 0 fail, 0 error, 0 cached)"
    assert not any("/6" in line for line in lines)


def test_answers_count_before_any_verdict_with_an_eta() -> None:
    stream = io.StringIO()
    with progress_reporter(10, stream=stream) as on_event:
        assert on_event is not None
        for _ in range(10):
            on_event(Answered("s", "head"))
        on_event(CaseFinished("s", "head", "pass", False))
    line = stream.getvalue().splitlines()[-1]
    assert line.startswith("promptloop: 1/10 cases done (1 pass")
    assert ", 10/10 answered, about " in line and " left" in line


def test_terminal_shows_answered_and_judged_apart() -> None:
    stream = _Terminal()
    with progress_reporter(4, stream=stream) as on_event:
        assert on_event is not None
        for _ in range(4):
            on_event(Answered("s", "head"))
        for _ in range(4):
            on_event(CaseFinished("s", "head", "pass", False))
    text = stream.getvalue()
    assert "answered" in text and "judged" in text
    assert text.count("4/4") >= 2 and "4 pass · 0 fail · 0 error" in text


def test_plain_progress_ends_when_planned_work_is_dropped() -> None:
    stream = io.StringIO()
    with progress_reporter(1, stream=stream, sides=BOTH_SIDES) as on_event:
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
        "promptloop: 2/2 cases done (2 pass, 0 fail, 0 error, 0 cached)",
    ]


def test_the_time_left_follows_the_pace_of_verdicts_once_they_come() -> None:
    # A small model: ten answers in 10 s, then a judge call of 5 s per case.
    tally = ProgressTally(10)
    for second in range(1, 11):
        tally.add(Answered("s", "head"), float(second))
    for case in range(1, 6):
        tally.add(CaseFinished("s", "head", "pass", False), 10.0 + 5 * case)
    # Five verdicts left at 5 s each, not the 12 s the mixed pace of answers would say.
    assert eta(0.0, tally, 35.0) == ", about 25s left"
