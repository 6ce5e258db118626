"""Where a chat completion goes and what it sends: a ``Route`` (URL, headers, every field of
the body but the messages, and the price of an answer).

litellm decides a request's route (``litellm_client.openai_route`` asks it, and
``from_litellm`` puts its answer into a ``Route``); before litellm has loaded, ``guess_route``
says where it would most likely go. ``route_key`` says when two requests go the same way, so
each route is asked for once. The request's parameters are written here in OpenAI's names,
which litellm takes too.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from promptloop.models.base import ModelRequest


@dataclass(frozen=True)
class Route:
    """Where and how litellm would send one kind of request, so the fast path can."""

    url: str
    headers: Mapping[str, str]
    # Every field of the body but the messages, exactly as litellm would send them.
    body: Mapping[str, Any]
    # Price of a call from its token counts (litellm's prices).
    cost: Callable[[int, int], float]

    def sends_like(self, other: Route) -> bool:
        return (self.url, self.headers, self.body) == (other.url, other.headers, other.body)


def unpriced(prompt_tokens: int, completion_tokens: int) -> float:
    return 0.0


def response_format(schema: dict[str, Any]) -> dict[str, Any]:
    """How a judge's schema is asked for, on either path."""
    return {"type": "json_schema", "json_schema": {"name": "judgement", "schema": schema}}


def sampling(request: ModelRequest) -> dict[str, Any]:
    """The request's parameters in OpenAI's names, which litellm takes too."""
    params: dict[str, Any] = {"temperature": request.temperature}
    if request.max_tokens is not None:
        params["max_tokens"] = request.max_tokens
    if request.seed is not None:
        params["seed"] = request.seed
    if request.json_schema is not None:
        params["response_format"] = response_format(request.json_schema)
    if request.tools:
        params["tools"] = [dict(tool) for tool in request.tools]
    if request.tool_choice is not None:
        params["tool_choice"] = request.tool_choice
    return params


RouteKey = tuple[str, str | None, float, int | None, int | None, str | None, str | None]


def route_key(request: ModelRequest) -> RouteKey:
    """What decides a request's route: two requests with the same key go the same way."""
    schema = request.json_schema
    shape = None if schema is None else json.dumps(schema, sort_keys=True)
    tools = None
    if request.tools or request.tool_choice is not None:
        tools = json.dumps([list(request.tools), request.tool_choice], sort_keys=True)
    return (
        request.model,
        request.api_base,
        request.temperature,
        request.max_tokens,
        request.seed,
        shape,
        tools,
    )


def from_litellm(
    model: str,
    params: dict[str, Any],
    *,
    api_base: str,
    api_key: str,
    organization: str | None,
    headers: Mapping[str, str],
    cost: Callable[[int, int], float],
) -> Route:
    """The route of an OpenAI-compatible chat completion, from what litellm said of it: the
    model's name at the provider, the parameters as litellm would send them, the credentials
    and headers it found, and its price."""
    extra = params.pop("extra_body", None) or {}
    if params.get("stream") is False:
        params.pop("stream")  # litellm does not send it either
    body = {"model": model, **{k: v for k, v in params.items() if v is not None}, **extra}
    sent = dict(headers)
    sent["Authorization"] = f"Bearer {api_key}"
    if organization:
        sent["OpenAI-Organization"] = organization
    return Route(url=api_base.rstrip("/") + "/chat/completions", headers=sent, body=body, cost=cost)


_REASONING = re.compile(r"^(o\d|gpt-5)")


def guess_route(request: ModelRequest, api_key: str | None) -> Route | None:
    """The route litellm most likely takes for an ``openai/`` model: its documented
    prefix for any OpenAI-compatible server, the standard parameters passed through, the
    key and base URL from the usual variables. Only ever a guess: a call sent on it is
    checked against litellm's own route before its answer counts
    (``LiteLLMClient.settle``), so litellm still decides; the guess only saves waiting
    seconds for litellm's import before the first calls can go out."""
    if not request.model.startswith("openai/"):
        return None
    if _REASONING.match(request.model.removeprefix("openai/")):
        # litellm sends these max_completion_tokens and no temperature: a guess would be
        # thrown away and the call sent twice, so they wait for litellm
        return None
    key = api_key or os.environ.get("OPENAI_API_KEY")
    if not key:
        return None
    base = (
        request.api_base
        or os.environ.get("OPENAI_BASE_URL")
        or os.environ.get("OPENAI_API_BASE")
        or "https://api.openai.com/v1"
    )
    body = {"model": request.model.removeprefix("openai/"), **sampling(request)}
    headers = {"Authorization": f"Bearer {key}"}
    organization = os.environ.get("OPENAI_ORGANIZATION")
    if organization:
        headers["OpenAI-Organization"] = organization
    return Route(base.rstrip("/") + "/chat/completions", headers, body, unpriced)
