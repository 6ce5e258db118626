"""Counting the calls that pass through a runner's client: sent, answered from the cache, and
failed for good."""

from __future__ import annotations

from dataclasses import dataclass, field

from promptloop.models.base import ModelCallError, ModelClient, ModelRequest, ModelResponse, Usage


@dataclass
class Tally:
    """Counts model calls actually sent versus answered from the cache."""

    calls: int = 0
    cache_hits: int = 0
    # Calls that failed for good; their attempts are counted in ``calls`` too.
    failed_calls: int = 0
    usage: Usage = field(default_factory=Usage)

    def record(self, cached: bool, usage: Usage) -> None:
        if cached:
            self.cache_hits += 1
        else:
            self.calls += 1
            self.usage = self.usage + usage

    def record_failure(self, error: ModelCallError) -> None:
        self.calls += max(error.attempts, 1)
        self.failed_calls += 1


class TallyingClient:
    """Counts every call (generation and judge) that passes through."""

    def __init__(self, inner: ModelClient, tally: Tally) -> None:
        self._inner = inner
        self._tally = tally

    async def complete(self, request: ModelRequest) -> ModelResponse:
        try:
            response = await self._inner.complete(request)
        except ModelCallError as exc:
            self._tally.record_failure(exc)
            raise
        self._tally.record(response.cached, response.usage)
        return response


class FailureRecorder:
    """Notes model calls that failed for good (after retries) while evaluating one case."""

    def __init__(self, inner: ModelClient) -> None:
        self._inner = inner
        self.failures: list[ModelCallError] = []

    async def complete(self, request: ModelRequest) -> ModelResponse:
        try:
            return await self._inner.complete(request)
        except ModelCallError as exc:
            self.failures.append(exc)
            raise
