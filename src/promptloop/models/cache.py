"""A content-addressed response cache in front of any ``ModelClient``.

The key is ``ModelRequest.cache_key()``: the same model, messages and sampling settings
give the same answer, so a re-run of an unchanged suite costs nothing. Failures are
never stored (they may be transient); truncated answers are, with their finish_reason,
because a deterministic request truncates the same way every time.

A cached answer is trusted as the model's own, so whoever can write the cache can decide a
gate. With ``PROMPTLOOP_CACHE_SECRET`` set, every entry carries an HMAC-SHA256 of its key and
content under that secret, and an entry that does not verify (forged, edited, moved to
another key, or written without the secret) is ignored: the model is asked again and the
signed answer replaces it.

This module must not import litellm: a run answered wholly from the cache never does.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from promptloop.errors import InfraError
from promptloop.models.base import (
    ModelCallError,
    ModelClient,
    ModelRequest,
    ModelResponse,
    ToolCall,
    Usage,
    tool_calls_from,
)
from promptloop.safety import mask_secrets

REDIS_PREFIX = "promptloop:"
# Named like every other secret (*_SECRET), so the masking rule hides it everywhere.
CACHE_KEY_ENV = "PROMPTLOOP_CACHE_SECRET"
_MAC = "mac"


class CacheSigner:
    """Signs entries as they are stored and verifies them as they are read."""

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode("utf-8")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CacheSigner | None:
        secret = env.get(CACHE_KEY_ENV, "")
        return cls(secret) if secret else None

    def _mac(self, key: str, body: Mapping[str, Any]) -> str:
        message = json.dumps([key, body], sort_keys=True, separators=(",", ":"))
        return hmac.new(self._secret, message.encode("utf-8"), hashlib.sha256).hexdigest()

    def sign(self, key: str, value: dict[str, Any]) -> dict[str, Any]:
        return {**value, _MAC: self._mac(key, value)}

    def verify(self, key: str, value: dict[str, Any]) -> dict[str, Any] | None:
        """The entry without its MAC, or None when the MAC is missing or wrong."""
        mac = value.get(_MAC)
        body = {k: v for k, v in value.items() if k != _MAC}
        if not isinstance(mac, str) or not hmac.compare_digest(mac, self._mac(key, body)):
            return None
        return body


class CacheStore(Protocol):
    # A remote store answers over the network; its lookups run in a worker thread so a
    # slow round trip does not stall every other call in flight.
    remote: bool

    def get(self, key: str) -> dict[str, Any] | None: ...

    def set(self, key: str, value: dict[str, Any]) -> None: ...


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0

    @property
    def lookups(self) -> int:
        return self.hits + self.misses


class MemoryStore:
    """A per-process store, for tests and ``--no-cache``-style runs that still dedupe."""

    remote = False

    def __init__(self) -> None:
        self.data: dict[str, dict[str, Any]] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        value = self.data.get(key)
        return dict(value) if value is not None else None

    def set(self, key: str, value: dict[str, Any]) -> None:
        self.data[key] = dict(value)


class DiskStore:
    """A directory cache on ``diskcache`` (SQLite): shared by runs and processes, safe for
    concurrent access. Values are stored as JSON text so any version can read them."""

    remote = False

    def __init__(self, directory: Path | str) -> None:
        import diskcache

        self.directory = Path(directory)
        self._cache = diskcache.Cache(str(self.directory))

    def get(self, key: str) -> dict[str, Any] | None:
        raw = self._cache.get(key)
        return _decode(raw)

    def set(self, key: str, value: dict[str, Any]) -> None:
        self._cache.set(key, json.dumps(value, sort_keys=True))

    def close(self) -> None:
        self._cache.close()


class RedisStore:
    """A cache shared by a team, on Redis; configured with ``cache.redis_url`` in
    promptloop.yaml (e.g. ``redis://cache.internal:6379/0``). Keys are prefixed
    ``promptloop:``. Needs the ``redis`` extra."""

    remote = True

    def __init__(self, url: str) -> None:
        try:
            import redis
        except ImportError as exc:
            raise InfraError(
                "the Redis cache needs the 'redis' extra: pip install 'promptloop[redis]'",
                key="cache.redis_url",
            ) from exc
        self.url = url
        self._client: Any = redis.Redis.from_url(url)

    def _fail(self, exc: Exception) -> InfraError:
        detail = " ".join(str(exc).split())[:160]
        return InfraError(
            f"cannot use the Redis cache at {self._safe_url()}: {detail}", key="cache.redis_url"
        )

    def _safe_url(self) -> str:
        # Never echo a password embedded in the URL.
        if "@" in self.url:
            scheme, _, rest = self.url.partition("://")
            return f"{scheme}://***@{rest.split('@', 1)[1]}"
        return self.url

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            raw = self._client.get(REDIS_PREFIX + key)
        except Exception as exc:
            raise self._fail(exc) from exc
        return _decode(raw)

    def set(self, key: str, value: dict[str, Any]) -> None:
        try:
            self._client.set(REDIS_PREFIX + key, json.dumps(value, sort_keys=True))
        except Exception as exc:
            raise self._fail(exc) from exc


def _decode(raw: object) -> dict[str, Any] | None:
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    if not isinstance(raw, str):
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return None  # a damaged entry is a miss, and the fresh answer overwrites it
    return value if isinstance(value, dict) else None


def encode_response(response: ModelResponse) -> dict[str, Any]:
    return {
        "text": response.text,
        "prompt_tokens": response.usage.prompt_tokens,
        "completion_tokens": response.usage.completion_tokens,
        "cost_usd": response.usage.cost_usd,
        "finish_reason": response.finish_reason,
        **(
            {"tool_calls": [c.as_dict() for c in response.tool_calls]}
            if response.tool_calls
            else {}
        ),
    }


def decode_response(value: dict[str, Any]) -> ModelResponse | None:
    try:
        text = value["text"]
        usage = Usage(
            int(value.get("prompt_tokens", 0)),
            int(value.get("completion_tokens", 0)),
            float(value.get("cost_usd", 0.0)),
        )
    except (KeyError, TypeError, ValueError):
        return None
    if not isinstance(text, str):
        return None
    finish = value.get("finish_reason")
    calls = tool_calls_from(
        [
            {
                "id": c.get("id"),
                "function": {"name": c.get("name"), "arguments": c.get("raw_arguments")},
            }
            for c in value.get("tool_calls") or []
            if isinstance(c, dict)
        ]
    )
    return ModelResponse(
        text=text,
        usage=usage,
        finish_reason=finish if isinstance(finish, str) else None,
        cached=True,
        latency_s=0.0,
        tool_calls=calls,
    )


class CachingClient:
    """Answer from ``store`` when it can, else ask ``inner`` and remember the answer.

    A hit keeps the original usage (tokens and cost of the call that produced it) and is
    marked ``cached=True``; callers totalling spend should skip cached responses.
    """

    def __init__(
        self,
        inner: ModelClient,
        store: CacheStore,
        stats: CacheStats | None = None,
        signer: CacheSigner | None = None,
    ) -> None:
        self.inner = inner
        self.store = store
        self.stats = stats or CacheStats()
        self.signer = signer

    @property
    def hits(self) -> int:
        return self.stats.hits

    @property
    def misses(self) -> int:
        return self.stats.misses

    def peek(self, request: ModelRequest) -> ModelResponse | None:
        """The answer the cache would give ``request``, counted as neither hit nor miss
        (the forecast asks before the run)."""
        key = request.cache_key()
        return self._stored(key, self.store.get(key))

    def _stored(self, key: str, stored: dict[str, Any] | None) -> ModelResponse | None:
        if stored is not None and self.signer is not None:
            stored = self.signer.verify(key, stored)  # unverified: asked again, then replaced
        return decode_response(stored) if stored is not None else None

    async def complete(self, request: ModelRequest) -> ModelResponse:
        key = request.cache_key()
        if self.store.remote:
            stored = await asyncio.to_thread(self.store.get, key)
        else:
            stored = self.store.get(key)
        response = self._stored(key, stored)
        if response is not None:
            self.stats.hits += 1
            return response
        self.stats.misses += 1
        response = await self.inner.complete(request)
        value = encode_response(response)
        if self.signer is not None:
            value = self.signer.sign(key, value)
        if self.store.remote:
            await asyncio.to_thread(self.store.set, key, value)
        else:
            self.store.set(key, value)
        return response


class MaskingClient:
    """Mask every known secret in answers and errors as they arrive, so a model that echoes
    a provider key cannot put it in the cache (which workflows save as an artifact), nor in
    the results, reports and logs made from what it answered."""

    def __init__(self, inner: ModelClient, secrets: Sequence[str]) -> None:
        self.inner = inner
        self.secrets = list(secrets)

    async def complete(self, request: ModelRequest) -> ModelResponse:
        try:
            response = await self.inner.complete(request)
        except ModelCallError as exc:
            masked = mask_secrets(str(exc), self.secrets)
            if masked == str(exc):
                raise
            raise ModelCallError(
                masked, kind=exc.kind, attempts=exc.attempts, retry_after_s=exc.retry_after_s
            ) from None
        text = mask_secrets(response.text, self.secrets)
        calls = tuple(
            ToolCall.parse(c.name, mask_secrets(c.raw_arguments, self.secrets), c.id)
            if mask_secrets(c.raw_arguments, self.secrets) != c.raw_arguments
            else c
            for c in response.tool_calls
        )
        if text == response.text and calls == response.tool_calls:
            return response
        return dataclasses.replace(response, text=text, tool_calls=calls)
