"""The model seam: one request type, one response type, one protocol.

Everything that talks to a model (the runner, judges, the optimizer) depends on
``ModelClient`` only. The litellm adapter is the one implementation that reaches
providers; caching and retries wrap it without changing the interface.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant"]

# The in-process SmolLM2 model (models/local.py): free, small, and greedy at temperature 0.
EMBEDDED_MODEL = "local/smollm2"


def is_embedded(model: str) -> bool:
    return model.startswith("local/")


@dataclass(frozen=True)
class Message:
    role: Role
    content: str

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class ModelRequest:
    """Everything that determines a model's answer, and so the cache key."""

    model: str
    messages: tuple[Message, ...]
    temperature: float = 0.0
    max_tokens: int | None = None
    seed: int | None = 0
    # When set, the model must answer with JSON matching this schema
    # (response_format for providers, a grammar for the embedded model).
    json_schema: dict[str, Any] | None = None
    api_base: str | None = None
    # Not part of the cache key: they change how we wait, not what comes back.
    timeout_s: float = 60.0
    purpose: Literal["generate", "judge", "optimize"] = "generate"

    def cache_key(self) -> str:
        payload = {
            "model": self.model,
            "messages": [m.as_dict() for m in self.messages],
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "json_schema": self.json_schema,
            "api_base": self.api_base,
        }
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cost_usd + other.cost_usd,
        )

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class ModelResponse:
    text: str
    usage: Usage = field(default_factory=Usage)
    # "length" means the answer was cut off by max_tokens.
    finish_reason: str | None = None
    cached: bool = False
    latency_s: float = 0.0


ErrorKind = Literal[
    "timeout",
    "rate_limit",
    "server",
    "bad_response",
    "auth",
    "bad_request",
    "connection",
    "unknown",
]


class ModelCallError(Exception):
    """A model call that failed for good (after retries where retrying made sense)."""

    def __init__(
        self,
        message: str,
        *,
        kind: ErrorKind = "unknown",
        attempts: int = 1,
        retry_after_s: float | None = None,
    ) -> None:
        self.kind = kind
        self.attempts = attempts
        # The provider's Retry-After, when it sent one; the retry loop waits at least this long.
        self.retry_after_s = retry_after_s
        super().__init__(message)


class ModelClient(Protocol):
    """One method. Raises ``ModelCallError`` when the call cannot succeed."""

    async def complete(self, request: ModelRequest) -> ModelResponse: ...
