"""Drawing progress events: a rich bar on a terminal, sparse plain lines in CI logs.

Both count cases, not model calls: a case run on the base and the head (``--baseline``)
is one case, done when both sides are. Answers and verdicts are counted apart, since on a
small model every answer comes before the first verdict."""

from __future__ import annotations

import math
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO

from promptloop.engine.progress import Answered, MoreWork, ProgressCallback, ProgressEvent


@dataclass
class ProgressTally:
    """Cases answered and judged so far, in cases (a side of a two-sided case is half)."""

    total: float
    sides: Mapping[str, int] = field(default_factory=dict)
    answered: float = 0.0
    judged: float = 0.0
    counts: Counter[str] = field(default_factory=Counter)
    # When the first verdict came and the cases judged by then: from there on, the pace of
    # verdicts is the run's (on a small model every answer comes before the first verdict,
    # and a judge's call is the slow one).
    first_verdict: tuple[float, float] | None = None

    def weight(self, suite: str) -> float:
        return 1 / max(self.sides.get(suite, 1), 1)

    def more(self, event: MoreWork) -> None:
        # The gate's second looks re-run changed cases on both sides.
        widest = max(self.sides.values(), default=1)
        self.total = max(self.total + event.cases / widest, self.judged, 1)

    def add(self, event: ProgressEvent, now: float) -> None:
        if isinstance(event, MoreWork):
            self.more(event)
        elif isinstance(event, Answered):
            self.answered += self.weight(event.suite)
        else:
            self.judged += self.weight(event.suite)
            if self.first_verdict is None:
                self.first_verdict = (now, self.judged)
            # A failed model call is answered by nothing: it still counts once.
            self.answered = max(self.answered, self.judged)
            # Pass and fail are the head's: the base's are the baseline, not this run.
            if event.variant != "base":
                self.counts[event.status] += 1
                if event.cached:
                    self.counts["cached"] += 1

    @staticmethod
    def whole(value: float) -> int:
        # 2.9999… after thirds add up is 3 cases, not 2.
        return math.floor(value + 1e-9)


def eta(started: float, tally: ProgressTally, now: float) -> str:
    """About how long is left: from the pace of verdicts once two have come, else from the
    pace so far (answers and verdicts both count)."""
    if tally.judged >= tally.total:
        return ""
    if tally.first_verdict is not None and tally.judged > tally.first_verdict[1]:
        since, judged_then = tally.first_verdict
        left = (now - since) / (tally.judged - judged_then) * (tally.total - tally.judged)
    else:
        done = (tally.answered + tally.judged) / 2
        if done <= 0:
            return ""
        left = (now - started) / done * (tally.total - done)
    return f", about {left:.0f}s left" if left < 120 else f", about {left / 60:.0f} min left"


class PlainProgress:
    """One line every 10% of the cases judged, so CI logs stay readable."""

    def __init__(self, total: int, stream: TextIO, sides: Mapping[str, int] | None = None) -> None:
        self._tally = ProgressTally(max(total, 1), sides or {})
        self._stream = stream
        self._next_mark = 0.1
        self._started = time.monotonic()

    def __call__(self, event: ProgressEvent) -> None:
        tally = self._tally
        before = tally.whole(tally.judged)
        tally.add(event, time.monotonic())
        if isinstance(event, MoreWork):
            # Lines keep coming every tenth of the new total, not of the old one.
            self._next_mark = (math.floor(10 * tally.judged / tally.total) + 1) / 10
            print(f"promptloop: {event.note}", file=self._stream, flush=True)
            if tally.whole(tally.judged) == tally.whole(tally.total):
                self._print_done()
            return
        if isinstance(event, Answered) or tally.whole(tally.judged) == before:
            return
        fraction = tally.judged / tally.total
        if fraction >= self._next_mark or tally.whole(tally.judged) == tally.whole(tally.total):
            while self._next_mark <= fraction:
                self._next_mark += 0.1
            self._print_done()

    def _print_done(self) -> None:
        t = self._tally
        c = t.counts
        done, total = t.whole(t.judged), t.whole(t.total)
        answered = f", {t.whole(t.answered)}/{total} answered" if done < total else ""
        print(
            f"promptloop: {done}/{total} cases done "
            f"({c['pass']} pass, {c['fail']} fail, {c['error']} error, {c['cached']} cached)"
            f"{answered}{eta(self._started, t, time.monotonic())}",
            file=self._stream,
            flush=True,
        )


@contextmanager
def progress_reporter(
    total: int,
    *,
    quiet: bool = False,
    stream: TextIO | None = None,
    sides: Mapping[str, int] | None = None,
) -> Iterator[ProgressCallback | None]:
    """``total`` cases; ``sides[suite]`` is 2 for a suite run on the base and the head."""
    out = stream or sys.stderr
    if quiet or total == 0:
        yield None
        return
    if not out.isatty():
        yield PlainProgress(total, out, sides)
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    tally = ProgressTally(total, sides or {})
    started = time.monotonic()
    with Progress(
        TextColumn("[bold]{task.description}[/bold]"),
        BarColumn(bar_width=24),
        TextColumn("{task.fields[count]}"),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=Console(file=out),
        transient=False,
    ) as bar:
        answering = bar.add_task("answered", total=total, count="", detail="")
        judging = bar.add_task("judged  ", total=total, count="", detail="")

        def draw() -> None:
            whole_total = tally.whole(tally.total)
            c = tally.counts
            left = eta(started, tally, time.monotonic())
            bar.update(
                answering,
                total=tally.total,
                completed=tally.answered,
                count=f"{tally.whole(tally.answered)}/{whole_total}",
                detail=left.lstrip(", "),
            )
            bar.update(
                judging,
                total=tally.total,
                completed=tally.judged,
                count=f"{tally.whole(tally.judged)}/{whole_total}",
                detail=f"{c['pass']} pass · {c['fail']} fail · {c['error']} error",
            )

        def on_event(event: ProgressEvent) -> None:
            tally.add(event, time.monotonic())
            if isinstance(event, MoreWork):
                bar.console.print(event.note, highlight=False)
            draw()

        draw()
        yield on_event
