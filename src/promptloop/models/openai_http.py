"""The fast path: OpenAI-compatible chat completions over one shared aiohttp session.

litellm decides that a request may take this path and what its body is (a ``routes.Route``);
this module only sends it and reads the answer (``replies``). A call here costs about a
tenth of a millisecond of CPU, against several through ``litellm.acompletion``
(bench/results/throughput.md), and at high concurrency that CPU, not the provider, is what
bounds a run.

Failures come back as the same ``ModelCallError`` kinds and one-line messages as on
litellm's path (tests/models/test_fast_path.py runs every failure through both).
This module must not import litellm.
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from collections.abc import Mapping
from typing import Any

from promptloop.models import replies
from promptloop.models.base import ErrorKind, ModelCallError, ModelRequest, ModelResponse
from promptloop.models.call_errors import (
    parse_retry_after,
    provider_message,
    timed_out,
    unreachable,
)
from promptloop.models.routes import Route


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
        raise unreachable(route.url) from exc
    except ValueError as exc:
        # A request aiohttp refuses to send (a base URL holding a user and password beside
        # the key's header, say): the same words as litellm's, and no retry can help.
        raise ModelCallError(provider_message(str(exc)), kind="bad_request") from exc


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
            provider_message(_error_message(raw)),
            kind=status_kind(status),
            retry_after_s=parse_retry_after(headers.get("Retry-After")),
        )
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ModelCallError(provider_message(str(exc)), kind="bad_response") from exc
    latency = time.perf_counter() - started
    return replies.from_json(request.model, data, cost=route.cost, latency_s=latency)
