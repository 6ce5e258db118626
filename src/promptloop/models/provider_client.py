"""The client at the bottom of every stack, which sends each call down its road: the
embedded model directly, an OpenAI-compatible chat completion on the fast path
(``openai_http``), everything else through litellm (``litellm_client``, the door to it).

litellm decides every road but the embedded model's; this module never imports it, so it
can send a call on a guess while litellm is still importing and hold the answer to
litellm's word afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import weakref

from promptloop.models import litellm_client, local, openai_http, routes
from promptloop.models.base import ModelCallError, ModelRequest, ModelResponse, is_embedded
from promptloop.models.routes import Route, RouteKey

__all__ = ["LiteLLMClient"]


class LiteLLMClient:
    """The ``ModelClient`` for every provider; no retries of its own (see ``retry``).

    Requests go where litellm says: OpenAI-compatible chat completions on the fast path
    (unless ``fast_path=False``), everything else through ``litellm.acompletion``; the
    embedded model is called directly. ``api_key`` is for tests and stub servers;
    normally the provider's key comes from the environment (``OPENAI_API_KEY`` and friends).

    With ``speculate=True`` (a run's client, see ``factory``) an ``openai/`` call may go
    out while litellm is still importing, on the route litellm would most likely choose
    (``routes.guess_route``). Such an answer is held to litellm's word: ``settle``
    (run by the concurrency limiter once the call has left its slot) waits for litellm,
    prices the answer with litellm's prices when litellm's route is the one guessed, and
    asks again on litellm's route when it is not. The limiter calls ``before`` first, which
    starts the import and waits for it when a call cannot go out without it.
    """

    def __init__(
        self, *, api_key: str | None = None, fast_path: bool = True, speculate: bool = False
    ) -> None:
        self._api_key = api_key
        self._fast_path = fast_path
        self._speculate = speculate and fast_path
        self._routes: dict[RouteKey, Route | None] = {}
        self._guesses: dict[RouteKey, Route | None] = {}
        # Answers and failures of calls sent on a guess, until ``settle`` has seen them.
        self._unsettled: weakref.WeakSet[object] = weakref.WeakSet()

    def _guess(self, request: ModelRequest) -> Route | None:
        key = routes.route_key(request)
        if key not in self._guesses:
            self._guesses[key] = routes.guess_route(request, self._api_key)
        return self._guesses[key]

    def _route(self, request: ModelRequest) -> Route | None:
        key = routes.route_key(request)
        if key not in self._routes:
            self._routes[key] = litellm_client.openai_route(request, self._api_key)
        return self._routes[key]

    async def before(self, request: ModelRequest) -> None:
        """Start importing litellm; wait for it unless this call may go out on a guess."""
        if litellm_client.is_loaded() or is_embedded(request.model):
            return
        loading = litellm_client.start_loading()
        if self._speculate and self._guess(request) is not None:
            return
        # On failure the call itself imports again and reports it as it always has.
        with contextlib.suppress(Exception):
            await asyncio.wrap_future(loading)

    async def settle(
        self, request: ModelRequest, outcome: ModelResponse | ModelCallError
    ) -> ModelResponse | ModelCallError | None:
        """``outcome`` as litellm would have it, or ``None``: ask again (see the class)."""
        if not self._went_on_guess(outcome):
            return outcome
        await asyncio.wrap_future(litellm_client.start_loading())
        route, guess = self._route(request), self._guess(request)
        if route is None or guess is None or not route.sends_like(guess):
            return None
        if isinstance(outcome, ModelCallError):
            return outcome
        usage = outcome.usage
        cost = route.cost(usage.prompt_tokens, usage.completion_tokens)
        return dataclasses.replace(outcome, usage=dataclasses.replace(usage, cost_usd=cost))

    def _went_on_guess(self, outcome: BaseException | ModelResponse) -> bool:
        current: BaseException | ModelResponse | None = outcome
        while current is not None:
            if current in self._unsettled:
                self._unsettled.discard(current)
                return True
            # The retry loop wraps the last failure it saw in one of its own.
            current = current.__cause__ if isinstance(current, BaseException) else None
        return False

    async def complete(self, request: ModelRequest) -> ModelResponse:
        if is_embedded(request.model):
            return await local.complete_request(request)
        if self._speculate and not litellm_client.is_loaded():
            guess = self._guess(request)
            if guess is not None:
                try:
                    response = await openai_http.complete(guess, request)
                except ModelCallError as exc:
                    self._unsettled.add(exc)
                    raise
                self._unsettled.add(response)
                return response
        if self._fast_path:
            route = self._route(request)
            if route is not None:
                return await openai_http.complete(route, request)
        return await litellm_client.complete(request, self._api_key)
