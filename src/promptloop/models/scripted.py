"""A scripted model for tests: ``scripted/<name>`` answers from a registered script.

Tests register a script, then use the model string ``scripted/<name>`` anywhere a real
model goes. The call travels through ``LiteLLMClient`` and litellm's custom-provider
path, exactly like a provider call, so tests exercise the code users run.

A script is either a sequence of answers, consumed in order (an ``Exception`` item is
raised instead of answered), or a function of the call (a dict with ``model``,
``messages``, ``temperature``, ``max_tokens``, ``seed`` and ``json_schema``) returning
the answer or an exception. An answer may be ``Calls(...)``: tool calls (name and raw
arguments, sent as written so they can be broken JSON) with optional text; the call dict
then also has the request's ``tools`` and ``tool_choice``. Raise or return
``ModelCallError(kind=...)`` to simulate a provider failure of that kind. Token counts
are whitespace-separated words, and ``max_tokens`` cuts the answer with
``finish_reason="length"``, so accounting and truncation are testable.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from promptloop.models.base import ModelCallError


@dataclass(frozen=True)
class Calls:
    """A scripted answer that calls tools: ``Calls(("refund", '{"amount": 1}'))``."""

    calls: tuple[tuple[str, str], ...]
    text: str = ""

    def __init__(self, *calls: tuple[str, str], text: str = "") -> None:
        object.__setattr__(self, "calls", tuple(calls))
        object.__setattr__(self, "text", text)


ScriptedCall = dict[str, Any]
ResponderFn = Callable[[ScriptedCall], "str | Calls | BaseException"]
Responder = Iterable["str | Calls | BaseException"] | ResponderFn


@dataclass(frozen=True)
class ScriptedResult:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    tool_calls: tuple[tuple[str, str], ...] = ()

    def as_chat_completion(self) -> dict[str, Any]:
        """The answer's ``choices`` and ``usage`` as a provider sends them (litellm builds
        its response object from these)."""
        message: dict[str, Any] = {"role": "assistant", "content": self.text}
        if self.tool_calls:
            message["content"] = self.text or None
            message["tool_calls"] = [
                {"id": f"call_{i}", "type": "function", "function": {"name": n, "arguments": a}}
                for i, (n, a) in enumerate(self.tool_calls)
            ]
        prompt, completion = self.prompt_tokens, self.completion_tokens
        return {
            "choices": [
                {"index": 0, "message": message, "finish_reason": self.finish_reason or "stop"}
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }


def settings_from(optional_params: dict[str, Any]) -> dict[str, Any]:
    """The request settings ``run_script`` takes, from the parameters litellm hands a custom
    provider."""
    return {
        "temperature": optional_params.get("temperature"),
        "max_tokens": optional_params.get("max_tokens"),
        "seed": optional_params.get("seed"),
        "json_schema": _schema_from(optional_params),
        "tools": optional_params.get("tools"),
        "tool_choice": optional_params.get("tool_choice"),
    }


def _schema_from(optional_params: dict[str, Any]) -> dict[str, Any] | None:
    response_format = optional_params.get("response_format")
    if not isinstance(response_format, dict):
        return None
    inner = response_format.get("json_schema")
    if isinstance(inner, dict) and isinstance(inner.get("schema"), dict):
        return dict(inner["schema"])
    schema = response_format.get("schema")
    return dict(schema) if isinstance(schema, dict) else None


class _Script:
    def __init__(self, responder: Responder) -> None:
        self.function: ResponderFn | None = None
        self.queue: deque[str | Calls | BaseException] = deque()
        if callable(responder):
            self.function = responder
        else:
            self.queue.extend(responder)
        self.calls: list[ScriptedCall] = []


_lock = threading.Lock()
_scripts: dict[str, _Script] = {}


def register_script(name: str, responder: Responder) -> None:
    """Register (or replace) the script answering ``scripted/<name>``."""
    if not name or "/" in name:
        raise ValueError(f"script name must be non-empty without '/': {name!r}")
    with _lock:
        _scripts[name] = _Script(responder)


def has_script(name: str) -> bool:
    with _lock:
        return name in _scripts


def unregister_script(name: str) -> None:
    with _lock:
        _scripts.pop(name, None)


def clear_scripts() -> None:
    with _lock:
        _scripts.clear()


def script_calls(name: str) -> list[ScriptedCall]:
    """The calls the script ``name`` has answered so far, oldest first."""
    with _lock:
        script = _scripts.get(name)
        return list(script.calls) if script else []


def _words(text: str) -> list[str]:
    return text.split()


def run_script(
    name: str,
    messages: list[dict[str, Any]],
    *,
    temperature: float | None = None,
    max_tokens: int | None = None,
    seed: int | None = None,
    json_schema: dict[str, Any] | None = None,
    tools: list[dict[str, Any]] | None = None,
    tool_choice: Any = None,
) -> ScriptedResult:
    """Answer one call from the script ``name``; raises what the script says to raise."""
    call: ScriptedCall = {
        "model": f"scripted/{name}",
        "messages": [dict(m) for m in messages],
        "temperature": temperature,
        "max_tokens": max_tokens,
        "seed": seed,
        "json_schema": json_schema,
        "tools": tools,
        "tool_choice": tool_choice,
    }
    with _lock:
        script = _scripts.get(name)
        if script is None:
            raise ModelCallError(f"no script registered for 'scripted/{name}'", kind="bad_request")
        script.calls.append(call)
        function = script.function
        if function is None:
            if not script.queue:
                raise ModelCallError(
                    f"script 'scripted/{name}' has no answers left", kind="bad_request"
                )
            answer: str | Calls | BaseException = script.queue.popleft()
    if function is not None:
        answer = function(call)
    if isinstance(answer, BaseException):
        raise answer
    prompt_tokens = sum(len(_words(str(m.get("content") or ""))) for m in messages)
    if isinstance(answer, Calls):
        return ScriptedResult(answer.text, prompt_tokens, 0, "tool_calls", answer.calls)
    words = _words(answer)
    finish_reason = "stop"
    if max_tokens is not None and len(words) > max_tokens:
        answer = " ".join(words[:max_tokens])
        words = words[:max_tokens]
        finish_reason = "length"
    return ScriptedResult(answer, prompt_tokens, len(words), finish_reason)
