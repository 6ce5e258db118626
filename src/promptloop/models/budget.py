"""A run's hard budget: dollars and/or calls that no call may cross, whatever is in flight.

The budget is a value every call consults before it starts (``BudgetGate`` sits right above
the provider, below the retries, so every attempt is a call). A call first reserves its
worst case (its prompt's UTF-8 bytes as tokens, a byte-level tokenizer never makes more, and
its ``max_tokens`` as the answer), so N calls in flight can never cross the limit together;
when it ends the reservation is settled at what it cost. The first call that does not fit is
refused, and so is every call after it: a run does not pick cheap calls to fill the rest.
The runner holds room for a case's calls before the case starts (``hold``), so the cases
that start can finish: a budget spent part-way leaves whole cases done and whole cases not
run, not answers without their verdicts.
A refused call raises ``BudgetRefused``, a ``RunStopped``: its case reports "not run".

Cached answers never reach the gate (the cache sits above it): they cost nothing and count
nothing.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass

from promptloop.models.base import Embeddings, ModelClient, ModelRequest, ModelResponse, Usage
from promptloop.models.stop import RunStopped
from promptloop.wording import plural

# Tokens a chat request adds around each message and the whole (OpenAI's documented counting).
TOKENS_PER_MESSAGE = 4
TOKENS_PER_REQUEST = 3
# The rule of thumb for English text, for the forecast; the reservation uses bytes instead.
CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class BudgetLimits:
    """What a run may spend; ``None`` is no limit."""

    max_usd: float | None = None
    max_calls: int | None = None

    @property
    def limited(self) -> bool:
        return self.max_usd is not None or self.max_calls is not None

    def shown(self) -> str:
        parts = []
        if self.max_usd is not None:
            parts.append(f"${self.max_usd:g}")
        if self.max_calls is not None:
            parts.append(f"{self.max_calls} calls")
        return " and ".join(parts) or "no limit"


@dataclass(frozen=True)
class Spent:
    calls: int = 0
    usd: float = 0.0


@dataclass(frozen=True)
class Reservation:
    calls: int
    usd: float


@dataclass
class Hold:
    """Room held for the calls one case will make, so a case that starts can finish: its
    calls draw from it first (see ``Budget.reserve``); what is left is released after."""

    calls: int
    usd: float


# The case whose calls the current task makes (set by the runner around each case).
current_hold: ContextVar[Hold | None] = ContextVar("promptloop_budget_hold", default=None)


@dataclass(frozen=True)
class Refusal:
    """Why a call was not started."""

    reason: str


class BudgetRefused(RunStopped):
    """The call was not made: the run's budget would be crossed."""


def request_text(request: ModelRequest) -> str:
    """Everything a request sends that the provider counts as prompt tokens."""
    parts = [m.content for m in request.messages]
    parts += [call.raw_arguments for m in request.messages for call in m.tool_calls]
    if request.tools:
        parts.append(json.dumps(list(request.tools), ensure_ascii=False))
    if request.json_schema is not None:
        parts.append(json.dumps(request.json_schema, ensure_ascii=False))
    return "\n".join(parts)


def _overhead(request: ModelRequest) -> int:
    return TOKENS_PER_MESSAGE * len(request.messages) + TOKENS_PER_REQUEST


def worst_prompt_tokens(request: ModelRequest) -> int:
    """An upper bound: no byte-level BPE token is shorter than one byte."""
    return len(request_text(request).encode("utf-8")) + _overhead(request)


def expected_prompt_tokens(request: ModelRequest) -> int:
    """An estimate: about four characters a token."""
    return math.ceil(len(request_text(request)) / CHARS_PER_TOKEN) + _overhead(request)


# The price of a call: (model, prompt tokens, completion tokens) -> dollars, 0 when unknown.
Pricer = Callable[[str, int, int], float]
# The most tokens a request may answer with (its max_tokens, else the model's limit).
OutputCap = Callable[[ModelRequest], int]


def worst_cost(request: ModelRequest, price: Pricer, output_cap: OutputCap) -> float:
    """The most ``request`` can cost: every prompt byte a token, the answer at its cap."""
    return price(request.model, worst_prompt_tokens(request), output_cap(request))


class Budget:
    """The run's budget: what was spent, what is reserved by calls in flight, and the first
    refusal. One per command run, shared by the run, its second look and the optimizer.

    A case that would fit once the calls in flight have settled waits for them; one that
    could not fit even then is refused, and so is everything after it. A call inside a case
    never waits (its case may hold room another waits for): it fits now, or is refused."""

    def __init__(self, limits: BudgetLimits) -> None:
        self.limits = limits
        self.spent = Spent()
        self._reserved = Spent()
        self.refusal: Refusal | None = None
        self.refused = 0
        self._waiters: list[asyncio.Future[None]] = []

    @property
    def exceeded(self) -> bool:
        return self.refusal is not None

    def calls_left(self, *, in_flight: bool = True) -> int | None:
        if self.limits.max_calls is None:
            return None
        held = self._reserved.calls if in_flight else 0
        return max(self.limits.max_calls - self.spent.calls - held, 0)

    def usd_left(self, *, in_flight: bool = True) -> float | None:
        if self.limits.max_usd is None:
            return None
        held = self._reserved.usd if in_flight else 0.0
        return max(self.limits.max_usd - self.spent.usd - held, 0.0)

    async def reserve(self, usd: float, calls: int = 1) -> Reservation | Refusal:
        """Room for a call whose worst case is ``usd``: from the current case's hold as far
        as it goes, the rest fresh; or a refusal (and every fresh reservation after it)."""
        hold = current_hold.get()
        held_calls = min(calls, hold.calls) if hold is not None else 0
        held_usd = min(usd, hold.usd) if hold is not None and held_calls else 0.0
        fresh = await self._admit(usd - held_usd, calls - held_calls, wait=hold is None)
        if isinstance(fresh, Refusal):
            return fresh
        if hold is not None:
            hold.calls -= held_calls
            hold.usd -= held_usd
        return Reservation(calls, usd)

    async def hold(self, calls: int, usd: float) -> Hold | Refusal:
        """Room for a whole case's calls before it starts, or a refusal."""
        fresh = await self._admit(usd, calls, wait=True)
        return fresh if isinstance(fresh, Refusal) else Hold(calls, usd)

    def release(self, hold: Hold) -> None:
        """The case ended: what it held and did not use is free again."""
        self._reserved = Spent(self._reserved.calls - hold.calls, self._reserved.usd - hold.usd)
        hold.calls, hold.usd = 0, 0.0
        self._wake()

    def settle(self, reservation: Reservation, usd: float) -> None:
        """The call ended: release its reservation, count what it cost."""
        self._reserved = Spent(
            self._reserved.calls - reservation.calls, self._reserved.usd - reservation.usd
        )
        self.spent = Spent(self.spent.calls + reservation.calls, self.spent.usd + usd)
        self._wake()

    async def _admit(self, usd: float, calls: int, *, wait: bool) -> Reservation | Refusal:
        while True:
            if calls <= 0 and usd <= 0:
                return Reservation(0, 0.0)
            if self.refusal is not None:
                self.refused += 1
                return self.refusal
            crossing = self._would_cross(usd, calls, in_flight=True)
            if crossing is None:
                self._reserved = Spent(self._reserved.calls + calls, self._reserved.usd + usd)
                return Reservation(calls, usd)
            settled_fit = self._would_cross(usd, calls, in_flight=False) is None
            if not (wait and settled_fit and self._reserved != Spent()):
                self.refusal = crossing
                self.refused += 1
                return crossing
            await self._changed()

    def _would_cross(self, usd: float, calls: int, *, in_flight: bool) -> Refusal | None:
        left_calls = self.calls_left(in_flight=in_flight)
        left_usd = self.usd_left(in_flight=in_flight)
        if left_calls is not None and calls > left_calls:
            return Refusal(
                f"the next case needs {plural(calls, 'call')} and {left_calls} of "
                f"{self.limits.max_calls} are left"
            )
        if left_usd is not None and usd > left_usd + 1e-12:
            return Refusal(
                f"the next case could cost up to ${usd:.6f} and ${left_usd:.6f} of "
                f"${self.limits.max_usd:g} is left"
            )
        return None

    async def _changed(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        await waiter

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done() and not waiter.get_loop().is_closed():
                waiter.set_result(None)


class BudgetGate:
    """Reserve before each call, settle after it; refuse once the budget would be crossed.

    A call is settled at the larger of the cost its answer reports and the cost of its
    tokens at ``price`` (an answer sent before litellm had priced it reports none)."""

    def __init__(
        self, inner: ModelClient, budget: Budget, price: Pricer, output_cap: OutputCap
    ) -> None:
        self._inner = inner
        self._budget = budget
        self._price = price
        self._output_cap = output_cap

    async def complete(self, request: ModelRequest) -> ModelResponse:
        held = await self._budget.reserve(worst_cost(request, self._price, self._output_cap))
        if isinstance(held, Refusal):
            raise BudgetRefused(held.reason)
        # A call that failed or was cancelled still counts, at no cost.
        cost = 0.0
        try:
            response = await self._inner.complete(request)
            cost = self._cost(request, response.usage)
            return response
        finally:
            self._budget.settle(held, cost)

    def _cost(self, request: ModelRequest, usage: Usage) -> float:
        priced = self._price(request.model, usage.prompt_tokens, usage.completion_tokens)
        return max(usage.cost_usd, priced)


async def embed_within(
    budget: Budget,
    model: str,
    texts: Sequence[str],
    price: Pricer,
    call: Callable[[], Awaitable[Embeddings]],
) -> Embeddings:
    """An embedding call (promptfoo's ``similar``, ``answer-relevance``) under the budget, as
    ``BudgetGate`` does a completion: reserve its worst case (every input byte a token),
    settle at the tokens it reports; a refusal raises ``BudgetRefused``."""
    worst = price(model, sum(len(t.encode("utf-8")) for t in texts), 0)
    held = await budget.reserve(worst)
    if isinstance(held, Refusal):
        raise BudgetRefused(held.reason)
    cost = 0.0
    try:
        found = await call()
        cost = max(found.usage.cost_usd, price(model, found.usage.prompt_tokens, 0))
        return found
    finally:
        budget.settle(held, cost)
