"""Drawing progress events: a rich bar on a terminal, sparse plain lines in CI logs."""

from __future__ import annotations

import math
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from promptloop.engine.runner import MoreWork, ProgressCallback, ProgressEvent


class PlainProgress:
    """One line every 10% of the work, so CI logs stay readable."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self._total = max(total, 1)
        self._stream = stream
        self._done = 0
        self._counts: Counter[str] = Counter()
        self._next_mark = 0.1

    def __call__(self, event: ProgressEvent) -> None:
        if isinstance(event, MoreWork):
            # The total can also shrink (planned confirmation runs that were skipped).
            self._total = max(self._total + event.cases, self._done, 1)
            # Lines keep coming every tenth of the new total, not of the old one.
            self._next_mark = (math.floor(10 * self._done / self._total) + 1) / 10
            print(f"promptloop: {event.note}", file=self._stream, flush=True)
            if self._done == self._total:
                self._print_done()
            return
        self._done += 1
        self._counts[event.status] += 1
        if event.cached:
            self._counts["cached"] += 1
        if self._done / self._total >= self._next_mark or self._done == self._total:
            while self._next_mark <= self._done / self._total:
                self._next_mark += 0.1
            self._print_done()

    def _print_done(self) -> None:
        c = self._counts
        print(
            f"promptloop: {self._done}/{self._total} cases done "
            f"({c['pass']} pass, {c['fail']} fail, {c['error']} error, {c['cached']} cached)",
            file=self._stream,
            flush=True,
        )


@contextmanager
def progress_reporter(
    total: int, *, quiet: bool = False, stream: TextIO | None = None
) -> Iterator[ProgressCallback | None]:
    out = stream or sys.stderr
    if quiet or total == 0:
        yield None
        return
    if not out.isatty():
        yield PlainProgress(total, out)
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    counts: Counter[str] = Counter()
    with Progress(
        TextColumn("[bold]evaluating[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=Console(file=out),
        transient=False,
    ) as bar:
        task = bar.add_task("cases", total=total, detail="")

        def on_event(event: ProgressEvent) -> None:
            if isinstance(event, MoreWork):
                bar.console.print(event.note, highlight=False)
                bar.update(task, total=(bar.tasks[0].total or 0) + event.cases)
                return
            counts[event.status] += 1
            detail = f"{counts['pass']} pass · {counts['fail']} fail · {counts['error']} error"
            bar.update(task, advance=1, detail=detail)

        yield on_event
