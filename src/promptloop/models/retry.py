"""Retries with backoff, and a cap on calls in flight; both wrap any ``ModelClient``."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Protocol

from promptloop.models.base import (
    ErrorKind,
    ModelCallError,
    ModelClient,
    ModelRequest,
    ModelResponse,
)

RETRYABLE: frozenset[ErrorKind] = frozenset({"rate_limit", "server", "timeout", "connection"})

Sleep = Callable[[float], Awaitable[None]]
Outcome = ModelResponse | ModelCallError


class Admission(Protocol):
    """What a call needs done before it takes a slot and after it has left it (the
    provider client's library import, and checking an answer sent on a guess)."""

    async def before(self, request: ModelRequest) -> None: ...

    async def settle(self, request: ModelRequest, outcome: Outcome) -> Outcome | None:
        """The outcome to report, or ``None`` to make the call again."""
        ...


class RetryingClient:
    """Retry transient failures with exponential backoff and full jitter.

    Attempt ``n`` (from 0) waits a uniform draw from ``[0, min(max_delay_s, base_delay_s *
    2**n)]``; spreading waits out stops many concurrent callers from hitting a recovering
    provider in lockstep. A provider's Retry-After is a floor on the wait. Auth and
    bad-request failures are not retried: asking again cannot fix them. The final error
    carries how many attempts were made.
    """

    def __init__(
        self,
        inner: ModelClient,
        *,
        retries: int,
        base_delay_s: float = 0.5,
        max_delay_s: float = 30.0,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.inner = inner
        self.retries = retries
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self._sleep = sleep
        self._rng = rng or random.Random()

    def delay_for(self, attempt: int, retry_after_s: float | None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (from 0)."""
        ceiling = min(self.max_delay_s, self.base_delay_s * (2**attempt))
        delay = self._rng.uniform(0.0, ceiling)
        if retry_after_s is not None:
            delay = max(delay, retry_after_s)
        return delay

    async def complete(self, request: ModelRequest) -> ModelResponse:
        attempt = 0
        while True:
            try:
                return await self.inner.complete(request)
            except ModelCallError as error:
                made = attempt + 1
                if error.kind not in RETRYABLE or attempt >= self.retries:
                    message = str(error)
                    if made > 1:
                        message = f"{message} (gave up after {made} attempts)"
                    raise ModelCallError(
                        message, kind=error.kind, attempts=made, retry_after_s=error.retry_after_s
                    ) from error
                await self._sleep(self.delay_for(attempt, error.retry_after_s))
                attempt += 1


class ConcurrencyLimiter:
    """At most ``limit`` calls in flight; the rest queue here.

    The request's timeout is applied by the provider call inside, so time spent waiting
    for a slot never counts against it. ``admission``'s waits happen outside the slot: a
    slot held while a library imports, or while an answer waits to be checked, would idle.
    """

    def __init__(
        self, inner: ModelClient, limit: int, *, admission: Admission | None = None
    ) -> None:
        if limit < 1:
            raise ValueError("concurrency limit must be >= 1")
        self.inner = inner
        self.limit = limit
        self._admission = admission
        self._semaphore = asyncio.Semaphore(limit)

    async def complete(self, request: ModelRequest) -> ModelResponse:
        if self._admission is None:
            async with self._semaphore:
                return await self.inner.complete(request)
        while True:
            await self._admission.before(request)
            outcome: Outcome
            async with self._semaphore:
                try:
                    outcome = await self.inner.complete(request)
                except ModelCallError as exc:
                    outcome = exc
            settled = await self._admission.settle(request, outcome)
            if isinstance(settled, ModelCallError):
                raise settled
            if settled is not None:
                return settled
