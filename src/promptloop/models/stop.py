"""Stopping a run part-way (Ctrl-C, or the SIGTERM GitHub sends to a cancelled job).

Once a stop is requested no new model call starts; the calls already in flight may finish
(their answers reach the cache, so a re-run resumes) until ``cancel_in_flight`` ends them.
"""

from __future__ import annotations

import asyncio
import signal

from promptloop.models.base import ModelClient, ModelRequest, ModelResponse


class RunStopped(Exception):
    """The call was not made, or was cancelled, because the run is stopping."""


class StopSignal:
    """Shared by the CLI's signal handlers and the client layer that honours them."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._in_flight: set[asyncio.Future[ModelResponse]] = set()

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else ""

    @property
    def exit_code(self) -> int:
        """The shell's convention: 128 + the signal number (130 SIGINT, 143 SIGTERM)."""
        return 128 + (self.signum or 0)

    def request(self, signum: int) -> None:
        if self.signum is None:
            self.signum = signum

    def cancel_in_flight(self) -> None:
        for task in list(self._in_flight):
            task.cancel()


class StopGate:
    """Refuse to start calls once a stop is requested; run each call as its own task so a
    stop can cancel the call without cancelling the case (which then reports "not run")."""

    def __init__(self, inner: ModelClient, stop: StopSignal) -> None:
        self._inner = inner
        self._stop = stop

    async def complete(self, request: ModelRequest) -> ModelResponse:
        if self._stop.requested:
            raise RunStopped
        task = asyncio.ensure_future(self._inner.complete(request))
        self._stop._in_flight.add(task)
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task.cancelled() and not (current is not None and current.cancelling()):
                raise RunStopped from None
            raise
        finally:
            self._stop._in_flight.discard(task)
