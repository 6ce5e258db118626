"""RetryingClient and ConcurrencyLimiter against in-process fake clients."""

from __future__ import annotations

import asyncio
import random

import pytest

from promptloop.models.base import Message, ModelCallError, ModelRequest, ModelResponse
from promptloop.models.retry import ConcurrencyLimiter, RetryingClient

REQUEST = ModelRequest("fake/model", (Message("user", "hi"),))


class Flaky:
    """Fails with the given errors in order, then answers."""

    def __init__(self, *errors: ModelCallError) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return ModelResponse(text=f"answer {self.calls}")


class Recorder:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.mark.parametrize("kind", ["rate_limit", "server", "timeout", "connection"])
def test_transient_kinds_are_retried(kind):
    inner = Flaky(ModelCallError("x", kind=kind), ModelCallError("x", kind=kind))
    sleeps = Recorder()
    response = asyncio.run(RetryingClient(inner, retries=2, sleep=sleeps).complete(REQUEST))
    assert response.text == "answer 3"
    assert inner.calls == 3
    assert len(sleeps.waits) == 2


@pytest.mark.parametrize("kind", ["auth", "bad_request", "bad_response", "unknown"])
def test_other_kinds_fail_at_once(kind):
    inner = Flaky(ModelCallError("nope", kind=kind))
    sleeps = Recorder()
    with pytest.raises(ModelCallError) as caught:
        asyncio.run(RetryingClient(inner, retries=5, sleep=sleeps).complete(REQUEST))
    assert caught.value.kind == kind
    assert caught.value.attempts == 1
    assert str(caught.value) == "nope"
    assert inner.calls == 1
    assert sleeps.waits == []


def test_gives_up_after_retries_with_attempts_and_cause():
    errors = [ModelCallError(f"boom {i}", kind="server") for i in range(10)]
    inner = Flaky(*errors)
    with pytest.raises(ModelCallError) as caught:
        asyncio.run(RetryingClient(inner, retries=3, sleep=Recorder()).complete(REQUEST))
    assert caught.value.attempts == 4
    assert caught.value.kind == "server"
    assert str(caught.value) == "boom 3 (gave up after 4 attempts)"
    assert isinstance(caught.value.__cause__, ModelCallError)
    assert inner.calls == 4


def test_zero_retries_means_one_attempt():
    inner = Flaky(ModelCallError("x", kind="server"))
    with pytest.raises(ModelCallError) as caught:
        asyncio.run(RetryingClient(inner, retries=0, sleep=Recorder()).complete(REQUEST))
    assert caught.value.attempts == 1


def test_backoff_is_full_jitter_under_a_growing_capped_ceiling():
    errors = [ModelCallError("x", kind="server") for _ in range(8)]
    sleeps = Recorder()
    client = RetryingClient(
        Flaky(*errors),
        retries=8,
        base_delay_s=1.0,
        max_delay_s=10.0,
        sleep=sleeps,
        rng=random.Random(1),
    )
    asyncio.run(client.complete(REQUEST))
    ceilings = [min(10.0, 2.0**n) for n in range(8)]
    assert len(sleeps.waits) == 8
    assert all(0.0 <= w <= c for w, c in zip(sleeps.waits, ceilings, strict=True))
    # Seeded: the same rng gives the same schedule.
    again = Recorder()
    errors = [ModelCallError("x", kind="server") for _ in range(8)]
    asyncio.run(
        RetryingClient(
            Flaky(*errors),
            retries=8,
            base_delay_s=1.0,
            max_delay_s=10.0,
            sleep=again,
            rng=random.Random(1),
        ).complete(REQUEST)
    )
    assert again.waits == sleeps.waits


def test_retry_after_is_a_floor_on_the_wait():
    inner = Flaky(ModelCallError("slow", kind="rate_limit", retry_after_s=12.0))
    sleeps = Recorder()
    client = RetryingClient(inner, retries=1, base_delay_s=0.1, max_delay_s=1.0, sleep=sleeps)
    asyncio.run(client.complete(REQUEST))
    assert sleeps.waits == [12.0]


def test_invalid_settings_are_refused():
    with pytest.raises(ValueError):
        RetryingClient(Flaky(), retries=-1)
    with pytest.raises(ValueError):
        ConcurrencyLimiter(Flaky(), 0)


class Gate:
    """Holds every call until released, counting how many are in flight."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.peak = 0
        self.release = asyncio.Event()

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await self.release.wait()
        self.in_flight -= 1
        return ModelResponse(text="ok")


def test_limiter_caps_calls_in_flight():
    async def scenario() -> tuple[int, int, list[str]]:
        gate = Gate()
        limiter = ConcurrencyLimiter(gate, 3)
        tasks = [asyncio.create_task(limiter.complete(REQUEST)) for _ in range(10)]
        for _ in range(20):
            await asyncio.sleep(0)
        waiting_peak = gate.peak
        gate.release.set()
        results = await asyncio.gather(*tasks)
        return waiting_peak, gate.peak, [r.text for r in results]

    waiting_peak, peak, texts = asyncio.run(scenario())
    assert waiting_peak == 3
    assert peak == 3
    assert texts == ["ok"] * 10
