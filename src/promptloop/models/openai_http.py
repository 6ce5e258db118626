"""The fast path: OpenAI-compatible chat completions over one shared aiohttp session.

litellm decides that a request may take this path and what its body is (a ``Route``,
built in ``litellm_client``); this module only sends it and reads the answer. (The one
route made here, ``guess_route``, is held to litellm's word before its answer counts.) A call
here costs about a tenth of a millisecond of CPU, against several through
``litellm.acompletion`` (bench/results/throughput.md), and at high concurrency that
CPU, not the provider, is what bounds a run.

Failures come back as the same ``ModelCallError`` kinds and one-line messages as on
litellm's path (tests/models/test_fast_path.py runs every failure through both).
This module must not import litellm.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import re
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from promptloop.models.base import (
    ErrorKind,
    ModelCallError,
    ModelRequest,
    ModelResponse,
    Usage,
    tool_calls_from,
)

_MAX_MESSAGE = 200


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


def one_line(text: str) -> str:
    # A library's traceback inside an error message is noise to a user, and long.
    line = " ".join(text.split("Traceback (most recent call last)", 1)[0].split())
    # litellm prefixes its class name ("litellm.RateLimitError: RateLimitError: ..."); the
    # kind says that.
    if line.startswith("litellm.") and ": " in line:
        line = line.split(": ", 1)[1]
    line = re.sub(r"^[A-Z]\w*Error: ", "", line)
    # ...and names the provider adapter ("OpenAIException - "), which means nothing to users.
    line = re.sub(r"\b\w+Exception - ", "", line)
    return line if len(line) <= _MAX_MESSAGE else line[: _MAX_MESSAGE - 1] + "…"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def timed_out(timeout_s: float) -> ModelCallError:
    return ModelCallError(f"request timed out after {timeout_s:g} s", kind="timeout")


def not_text(model: str, type_name: str) -> ModelCallError:
    return ModelCallError(
        f"{model} returned content of type {type_name}, expected text", kind="bad_response"
    )


def text_content(model: str, content: object, *, calls_tools: bool = False) -> str:
    """The answer's text; anything else (a number, null, a list) is the provider's fault,
    except null beside tool calls, which is how providers say "no text, only calls"."""
    if isinstance(content, str):
        return content
    if content is None and calls_tools:
        return ""
    raise not_text(model, "null" if content is None else type(content).__name__)


def status_kind(status: int) -> ErrorKind:
    if status == 429:
        return "rate_limit"
    if status in (401, 403):
        return "auth"
    if status in (408, 504):
        return "timeout"
    if status >= 500:
        return "server"
    return "bad_request"


def _error_message(raw: bytes) -> str:
    try:
        payload = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace")
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    if isinstance(error, str):
        return error
    return raw.decode("utf-8", errors="replace")


def _rejects_response_format(status: int, message: str) -> bool:
    text = message.lower()
    return status in (400, 422) and (
        "response_format" in text or "json_schema" in text or "response format" in text
    )


_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[Any, asyncio.Task[None]]]
_sessions = weakref.WeakKeyDictionary()


async def _close_when_cancelled(session: Any) -> None:
    try:
        await asyncio.Event().wait()
    finally:
        await session.close()


def _session() -> Any:
    """One session (and connection pool) per event loop, closed with the loop."""
    import aiohttp

    loop = asyncio.get_running_loop()
    held = _sessions.get(loop)
    if held is not None and not held[0].closed:
        return held[0]
    # No cap of its own: the concurrency limiter in front bounds the calls in flight. The
    # environment's proxy is looked up once per URL (``_proxy``); aiohttp's trust_env would
    # look it and ~/.netrc up in a worker thread on every call.
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    # asyncio.run cancels what is still pending when its main coroutine returns; that is
    # when this task closes the session, while the loop can still run the close.
    _sessions[loop] = (session, loop.create_task(_close_when_cancelled(session)))
    return session


_proxies: dict[str, tuple[Any, Any]] = {}


def _proxy(url: str) -> tuple[Any, Any]:
    """The proxy (and its credentials) the environment names for ``url``, if any."""
    if url not in _proxies:
        from aiohttp.helpers import get_env_proxy_for_url
        from yarl import URL

        try:
            _proxies[url] = get_env_proxy_for_url(URL(url))
        except LookupError:
            _proxies[url] = (None, None)
    return _proxies[url]


async def _post(
    route: Route, body: dict[str, Any], timeout_s: float
) -> tuple[int, Mapping[str, str], bytes]:
    import aiohttp

    proxy, proxy_auth = _proxy(route.url)
    try:
        async with _session().post(
            route.url,
            json=body,
            headers=route.headers,
            proxy=proxy,
            proxy_auth=proxy_auth,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        ) as reply:
            return reply.status, reply.headers, await reply.read()
    except TimeoutError as exc:
        raise timed_out(timeout_s) from exc
    except aiohttp.ClientError as exc:
        raise ModelCallError("Connection error.", kind="connection") from exc


async def complete(route: Route, request: ModelRequest) -> ModelResponse:
    body = {**route.body, "messages": [m.as_dict() for m in request.messages]}
    started = time.perf_counter()
    status, headers, raw = await _post(route, body, request.timeout_s)
    rejected = status >= 400 and _rejects_response_format(status, _error_message(raw))
    if rejected and "response_format" in body:
        # Many OpenAI-compatible servers refuse json_schema; the judge parses the text
        # anyway, so ask once more without it (as on litellm's path).
        body.pop("response_format")
        status, headers, raw = await _post(route, body, request.timeout_s)
    if status >= 400:
        raise ModelCallError(
            one_line(_error_message(raw)),
            kind=status_kind(status),
            retry_after_s=parse_retry_after(headers.get("Retry-After")),
        )
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ModelCallError(one_line(str(exc)), kind="bad_response") from exc
    return _response(route, request, data, time.perf_counter() - started)


def _response(route: Route, request: ModelRequest, data: Any, latency: float) -> ModelResponse:
    try:
        choice = data["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError) as exc:
        raise ModelCallError(
            f"{request.model} returned a response without choices", kind="bad_response"
        ) from exc
    content = message.get("content") if isinstance(message, dict) else None
    calls = tool_calls_from(message.get("tool_calls") if isinstance(message, dict) else None)
    text = text_content(request.model, content, calls_tools=bool(calls))
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    prompt_tokens = int(usage.get("prompt_tokens") or 0)
    completion_tokens = int(usage.get("completion_tokens") or 0)
    finish_reason = choice.get("finish_reason")
    return ModelResponse(
        text=text,
        usage=Usage(prompt_tokens, completion_tokens, route.cost(prompt_tokens, completion_tokens)),
        finish_reason=finish_reason if isinstance(finish_reason, str) else None,
        cached=False,
        latency_s=latency,
        tool_calls=calls,
    )
