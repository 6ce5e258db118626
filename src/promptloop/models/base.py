"""The model seam: one request type, one response type, one protocol.

Everything that talks to a model (the runner, judges, the optimizer) depends on
``ModelClient`` only. The litellm adapter is the one implementation that reaches
providers; caching and retries wrap it without changing the interface.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from promptloop.wording import one_line, plural

Role = Literal["system", "user", "assistant"]
# A conversation's turns may also be tool results (a dataset case's earlier turns).
TurnRole = Literal["system", "user", "assistant", "tool"]

# The in-process SmolLM2 model (models/local.py): free, small, and greedy at temperature 0.
EMBEDDED_MODEL = "local/smollm2"


def is_embedded(model: str) -> bool:
    return model.startswith("local/")


@dataclass(frozen=True)
class Message:
    """One turn in OpenAI's chat shape. ``tool_calls`` are an assistant turn's calls (its
    content may then be empty); ``tool_call_id`` says which call a ``tool`` turn answers."""

    role: TurnRole
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None

    @classmethod
    def from_dict(cls, turn: Mapping[str, Any]) -> Message:
        """A turn written in OpenAI's shape (a dataset's, already validated)."""
        call_id = turn.get("tool_call_id")
        return cls(
            role=turn["role"],
            content=str(turn.get("content") or ""),
            tool_calls=tool_calls_from(list(turn.get("tool_calls") or ())),
            tool_call_id=call_id if isinstance(call_id, str) else None,
        )

    def as_dict(self) -> dict[str, Any]:
        if self.role == "tool":
            return {"role": "tool", "tool_call_id": self.tool_call_id, "content": self.content}
        if not self.tool_calls:
            # The plain shape: requests without tool turns keep the cache keys they had.
            return {"role": self.role, "content": self.content}
        return {
            "role": self.role,
            "content": self.content or None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.raw_arguments},
                }
                for call in self.tool_calls
            ],
        }

    def shown(self) -> str:
        """The turn as people (and judges) read it, one ``[role]`` line per part."""
        return "\n".join(self.shown_parts())

    def shown_parts(self) -> list[str]:
        """The ``[role]`` parts of ``shown``: the text, then each tool call."""
        if self.role == "tool":
            return [f"[tool result {self.tool_call_id}] {self.content}"]
        lines = [f"[{self.role}] {self.content}"] if self.content or not self.tool_calls else []
        lines += [f"[tool call {call.id}] {call.shown()}" for call in self.tool_calls]
        return lines


# Enough of a conversation to read a critique like "looked the order up again" by: the
# latest turns matter most, and an optimizer's context or a review comment has little room.
RECENT_TURNS = 6
TURN_LINE_CHARS = 200
RECENT_TURNS_CHARS = 1200


def recent_turns(
    turns: Sequence[Message],
    *,
    max_turns: int = RECENT_TURNS,
    line_chars: int = TURN_LINE_CHARS,
    max_chars: int = RECENT_TURNS_CHARS,
) -> str | None:
    """The last turns, one line per part each cut to ``line_chars``, as many as fit in
    ``max_chars`` (always the last one), after a line saying how many earlier turns are left
    out; the whole within ``max_chars``. None without turns. Not neutralised: the caller
    knows where the text goes."""
    # Room for the line saying how many turns are left out.
    budget = max(max_chars - 40, 2)
    kept: list[str] = []
    size = 0
    for turn in reversed(turns):
        text = "\n".join(one_line(part, line_chars) for part in turn.shown_parts())
        if kept and (len(kept) == max_turns or size + len(text) + 1 > budget):
            break
        if len(text) > budget:
            # The last turn alone, with many calls: its end is what was answered.
            text = "…" + text[1 - budget :]
        kept.append(text)
        size += len(text) + 1
    if not kept:
        return None
    left_out = len(turns) - len(kept)
    head = [f"[… {plural(left_out, 'earlier turn')} not shown]"]
    return "\n".join([*(head if left_out else []), *reversed(kept)])


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
    # OpenAI function-calling tool definitions and tool_choice, sent as they are written.
    tools: tuple[dict[str, Any], ...] = ()
    tool_choice: str | dict[str, Any] | None = None
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
        # Only when set, so requests without tools keep the keys they always had.
        if self.tools:
            payload["tools"] = list(self.tools)
        if self.tool_choice is not None:
            payload["tool_choice"] = self.tool_choice
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
class ToolCall:
    """One function call the model asked for. ``arguments`` is ``None`` when
    ``raw_arguments`` is not a JSON object, and ``error`` says why."""

    name: str
    raw_arguments: str
    # Out of equality and hashing (responses are hashed): ``raw_arguments`` decides it.
    arguments: dict[str, Any] | None = field(default=None, compare=False)
    error: str | None = None
    id: str | None = None

    @classmethod
    def parse(cls, name: str, raw_arguments: str, id: str | None = None) -> ToolCall:
        try:
            parsed = json.loads(raw_arguments) if raw_arguments.strip() else {}
        except ValueError as exc:
            return cls(name, raw_arguments, None, f"arguments are not valid JSON ({exc})", id)
        if not isinstance(parsed, dict):
            kind = type(parsed).__name__
            return cls(name, raw_arguments, None, f"arguments are a JSON {kind}, not an object", id)
        return cls(name, raw_arguments, parsed, None, id)

    def shown(self) -> str:
        """``name({"key": value})`` for people; broken arguments shown as they came."""
        if self.arguments is None:
            return f"{self.name}({self.raw_arguments}) [{self.error}]"
        return f"{self.name}({json.dumps(self.arguments, ensure_ascii=False)})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "arguments": self.arguments,
            "raw_arguments": self.raw_arguments,
            "error": self.error,
        }


def with_calls(text: str, calls: Sequence[ToolCall]) -> str:
    """An answer as people (and judges) read it: its text, then each call on a line."""
    lines = [text] if text else []
    lines += [f"[tool call] {call.shown()}" for call in calls]
    return "\n".join(lines)


def tool_calls_from(raw: object) -> tuple[ToolCall, ...]:
    """The calls in an OpenAI-style ``message.tool_calls`` list (dicts or objects)."""
    if not isinstance(raw, list | tuple):
        return ()
    calls = []
    for item in raw:
        function = _field(item, "function")
        name = _field(function, "name")
        arguments = _field(function, "arguments")
        if not isinstance(name, str):
            continue
        if not isinstance(arguments, str):
            arguments = "" if arguments is None else json.dumps(arguments)
        call_id = _field(item, "id")
        calls.append(ToolCall.parse(name, arguments, call_id if isinstance(call_id, str) else None))
    return tuple(calls)


def _field(item: object, name: str) -> Any:
    if isinstance(item, dict):
        return item.get(name)
    return getattr(item, name, None)


@dataclass(frozen=True)
class Embeddings:
    """One embedding vector per input text, in order."""

    vectors: tuple[tuple[float, ...], ...]
    usage: Usage = field(default_factory=Usage)


class Embedder(Protocol):
    """Embedding calls as a run makes them: under its budget, counted with its calls."""

    async def __call__(self, model: str, texts: list[str]) -> Embeddings: ...


@dataclass(frozen=True)
class ModelResponse:
    text: str
    usage: Usage = field(default_factory=Usage)
    # "length" means the answer was cut off by max_tokens.
    finish_reason: str | None = None
    cached: bool = False
    latency_s: float = 0.0
    tool_calls: tuple[ToolCall, ...] = ()


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
