"""Ctrl-C and SIGTERM (GitHub's job cancellation, and every push under
``concurrency: cancel-in-progress``) stop a run instead of killing it.

The first signal stops new model calls and gives the calls in flight ``GRACE_S`` to end
before they are cancelled, along with any python check still running (it is stopped, or left
behind in its daemon thread); the command then writes its partial reports and exits 128 +
the signal number. A second signal exits at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from types import FrameType

from promptloop.models.stop import StopSignal
from promptloop.watchdog import abandon_all

GRACE_S = 2.0
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(Exception):
    """A command stopped by a signal; nothing worth reporting was finished."""

    def __init__(self, stop: StopSignal) -> None:
        self.exit_code = stop.exit_code
        super().__init__(
            f"interrupted by {stop.name}; every finished answer is in the cache, "
            "so running the command again resumes where this one stopped"
        )


@contextlib.contextmanager
def stop_on_signals(stop: StopSignal | None = None) -> Iterator[StopSignal]:
    """Handle SIGINT and SIGTERM while the block runs (main thread only; elsewhere the
    block runs with the default handlers)."""
    stop = stop or StopSignal()
    try:
        previous = {s: signal.signal(s, _handler(stop)) for s in _SIGNALS}
    except ValueError:  # not the main thread: signals cannot be handled here
        yield stop
        return
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _handler(stop: StopSignal) -> Callable[[int, FrameType | None], None]:
    def handle(signum: int, _frame: FrameType | None) -> None:
        if stop.requested:
            _say("promptloop: second signal: exiting now")
            os._exit(128 + signum)
        stop.request(signum)
        _say(
            f"promptloop: {stop.name} received: stopping; finished cases are kept "
            "(signal again to exit at once)"
        )
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # not inside a run: the next run starts no call
        loop.call_soon_threadsafe(loop.call_later, GRACE_S, _stop_now, stop)

    return handle


def _say(line: str) -> None:
    """Tell stderr, if anyone still reads it. An error raised in a signal handler surfaces
    wherever the run happened to be, so a closed pipe (`promptloop run 2>&1 | head`) would
    turn the stop into a crash with exit 1 and no reports."""
    with contextlib.suppress(OSError):
        os.write(2, f"{line}\n".encode())


def _stop_now(stop: StopSignal) -> None:
    stop.cancel_in_flight()
    # A check stuck in a loop would otherwise hold its case, and the reports, until its timeout.
    abandon_all()
