"""Counting the calls that pass through a runner's client (and its embedding calls): sent,
answered from the cache, and failed for good."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field

from promptloop.models.base import (
    Embeddings,
    ModelCallError,
    ModelClient,
    ModelRequest,
    ModelResponse,
    Usage,
)
from promptloop.models.budget import Budget, embed_within


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


class RunEmbedder:
    """Embedding calls (promptfoo's ``similar``, ``answer-relevance``) as a run makes them:
    under its budget, like every completion, and counted in its tally."""

    def __init__(
        self, tally: Tally, budget: Budget | None, *, api_base: str | None, timeout_s: float
    ) -> None:
        self._tally = tally
        self._budget = budget
        self._api_base = api_base
        self._timeout_s = timeout_s

    async def __call__(self, model: str, texts: list[str]) -> Embeddings:
        from promptloop.models.litellm_client import embed
        from promptloop.models.model_map import price_tokens

        def call() -> Awaitable[Embeddings]:
            return embed(model, texts, api_base=self._api_base, timeout_s=self._timeout_s)

        try:
            if self._budget is None:
                found = await call()
            else:
                found = await embed_within(self._budget, model, texts, price_tokens, call)
        except ModelCallError as exc:
            self._tally.record_failure(exc)
            raise
        self._tally.record(False, found.usage)
        return found
