"""The budget gate with many calls in flight: reservations made before each call keep the
spend under the limit whatever the order in which calls end; cases hold room before they
start, wait for room that is coming, and are refused only when it cannot come."""

from __future__ import annotations

import asyncio
import random

import pytest

from promptloop.models.base import Message, ModelRequest, ModelResponse, Usage
from promptloop.models.budget import (
    Budget,
    BudgetGate,
    BudgetLimits,
    BudgetRefused,
    Refusal,
    current_hold,
    worst_prompt_tokens,
)


def price(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    return prompt_tokens * 1e-6 + completion_tokens * 2e-6


def cap(request: ModelRequest) -> int:
    return request.max_tokens or 100


class SlowModel:
    """Answers after a random wait with a random share of its worst case, counting calls and
    the most calls it had in flight at once."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.calls = 0
        self.in_flight = 0
        self.most_in_flight = 0
        self.cost = 0.0

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.calls += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.rng.uniform(0, 0.01))
            usage = Usage(
                prompt_tokens=worst_prompt_tokens(request) // 2,
                completion_tokens=self.rng.randint(1, cap(request)),
            )
            usage = Usage(usage.prompt_tokens, usage.completion_tokens, price("m", *_tokens(usage)))
            self.cost += usage.cost_usd
            return ModelResponse(text="ok", usage=usage)
        finally:
            self.in_flight -= 1


def _tokens(usage: Usage) -> tuple[int, int]:
    return usage.prompt_tokens, usage.completion_tokens


def request(n: int) -> ModelRequest:
    return ModelRequest(
        model="m", messages=(Message("user", f"question {n} " * 20),), max_tokens=50
    )


async def call_all(gate: BudgetGate, n: int) -> tuple[int, int]:
    async def one(i: int) -> bool:
        try:
            await gate.complete(request(i))
        except BudgetRefused:
            return False
        return True

    done = await asyncio.gather(*(one(i) for i in range(n)))
    return sum(done), n - sum(done)


@pytest.mark.parametrize("seed", range(5))
def test_dollars_are_never_crossed_with_fifty_calls_in_flight(seed: int) -> None:
    budget = Budget(BudgetLimits(max_usd=0.004))
    model = SlowModel(seed)
    made, refused = asyncio.run(call_all(BudgetGate(model, budget, price, cap), 50))
    assert model.cost <= 0.004
    assert budget.spent.usd == pytest.approx(model.cost)
    assert budget.spent.calls == model.calls == made
    assert made > 0 and refused > 0
    assert model.most_in_flight > 1
    assert budget.exceeded


def test_calls_are_never_crossed_and_nothing_stays_reserved() -> None:
    budget = Budget(BudgetLimits(max_calls=7))
    model = SlowModel(0)
    made, refused = asyncio.run(call_all(BudgetGate(model, budget, price, cap), 30))
    assert (made, refused) == (7, 23) and model.calls == 7
    assert budget.calls_left() == 0 and budget.usd_left() is None


def test_a_case_waits_for_room_that_is_coming_and_is_refused_when_none_can_come() -> None:
    async def scenario() -> tuple[object, object, object]:
        budget = Budget(BudgetLimits(max_calls=3))
        first = await budget.hold(2, 0.0)
        assert not isinstance(first, Refusal)
        # One call is left now, two once the first case releases what it did not use.
        waiting = asyncio.ensure_future(budget.hold(2, 0.0))
        await asyncio.sleep(0)
        assert not waiting.done()
        token = current_hold.set(first)
        reservation = await budget.reserve(0.0)
        current_hold.reset(token)
        assert not isinstance(reservation, Refusal)
        budget.settle(reservation, 0.0)
        budget.release(first)  # one of its two calls unused
        second = await waiting
        # One call spent: a case needing three can never fit, so it is refused, not kept
        # waiting for the second case.
        third = await budget.hold(3, 0.0)
        return first, second, third

    _, second, third = asyncio.run(scenario())
    assert not isinstance(second, Refusal)
    assert isinstance(third, Refusal) and "needs 3 calls and 0 of 3 are left" in third.reason


def test_a_refusal_counts_one_call_in_the_singular() -> None:
    refusal = asyncio.run(Budget(BudgetLimits(max_calls=0)).hold(1, 0.0))
    assert isinstance(refusal, Refusal)
    assert refusal.reason == "the next case needs 1 call and 0 of 0 are left"


def test_a_call_inside_a_case_draws_on_its_hold_first() -> None:
    async def scenario() -> Budget:
        budget = Budget(BudgetLimits(max_calls=2))
        hold = await budget.hold(2, 0.0)
        assert not isinstance(hold, Refusal)
        token = current_hold.set(hold)
        try:
            for _ in range(2):
                reservation = await budget.reserve(0.0)
                assert not isinstance(reservation, Refusal)
                budget.settle(reservation, 0.0)
            # A third call (a judge's re-ask) finds no room and does not wait for any.
            assert isinstance(await budget.reserve(0.0), Refusal)
        finally:
            current_hold.reset(token)
            budget.release(hold)
        return budget

    budget = asyncio.run(scenario())
    assert budget.spent.calls == 2 and budget.exceeded
