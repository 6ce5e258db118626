"""A provider's answer read into promptloop's values: a chat completion as the fast path
receives it (JSON) or as litellm hands it over (its response object), and embeddings.

Both roads read an answer the same way and fail with the same words; what the answer cost
is the caller's to say (litellm prices its own objects, a ``Route`` prices the fast path's).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from promptloop.models.base import Embeddings, ModelCallError, ModelResponse, Usage, tool_calls_from
from promptloop.models.call_errors import not_text


def text_content(model: str, content: object, *, calls_tools: bool = False) -> str:
    """The answer's text; anything else (a number, null, a list) is the provider's fault,
    except null beside tool calls, which is how providers say "no text, only calls"."""
    if isinstance(content, str):
        return content
    if content is None and calls_tools:
        return ""
    raise not_text(model, "null" if content is None else type(content).__name__)


def _without_choices(model: str) -> ModelCallError:
    return ModelCallError(f"{model} returned a response without choices", kind="bad_response")


def from_json(
    model: str, data: Any, *, cost: Callable[[int, int], float], latency_s: float
) -> ModelResponse:
    """A chat completion's JSON body; ``cost`` prices it from its token counts."""
    try:
        choice = data["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError) as exc:
        raise _without_choices(model) from exc
    content = message.get("content") if isinstance(message, dict) else None
    calls = tool_calls_from(message.get("tool_calls") if isinstance(message, dict) else None)
    text = text_content(model, content, calls_tools=bool(calls))
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    prompt_tokens = int(usage.get("prompt_tokens") or 0)
    completion_tokens = int(usage.get("completion_tokens") or 0)
    finish_reason = choice.get("finish_reason")
    return ModelResponse(
        text=text,
        usage=Usage(prompt_tokens, completion_tokens, cost(prompt_tokens, completion_tokens)),
        finish_reason=finish_reason if isinstance(finish_reason, str) else None,
        cached=False,
        latency_s=latency_s,
        tool_calls=calls,
    )


def from_litellm(model: str, raw: Any, *, cost_usd: float, latency_s: float) -> ModelResponse:
    """A chat completion as litellm's response object, which it has priced at ``cost_usd``."""
    try:
        choice = raw.choices[0]
        content = choice.message.content
        finish_reason = choice.finish_reason
        calls = tool_calls_from(getattr(choice.message, "tool_calls", None))
    except (AttributeError, IndexError, TypeError) as exc:
        raise _without_choices(model) from exc
    usage = getattr(raw, "usage", None)
    prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
    return ModelResponse(
        text=text_content(model, content, calls_tools=bool(calls)),
        usage=Usage(prompt_tokens, completion_tokens, cost_usd),
        finish_reason=finish_reason if isinstance(finish_reason, str) else None,
        cached=False,
        latency_s=latency_s,
        tool_calls=calls,
    )


def embeddings_from(model: str, raw: Any, count: int) -> Embeddings:
    """The ``count`` vectors of an embedding answer (litellm's object), in the texts' order."""
    try:
        items = sorted(raw.data, key=lambda item: _field_of(item, "index") or 0)
        vectors = tuple(tuple(float(x) for x in _field_of(item, "embedding")) for item in items)
    except (AttributeError, TypeError, ValueError) as exc:
        raise ModelCallError(
            f"{model} returned embeddings in an unexpected shape", kind="bad_response"
        ) from exc
    if len(vectors) != count:
        raise ModelCallError(
            f"{model} returned {len(vectors)} embeddings for {count} texts", kind="bad_response"
        )
    usage = getattr(raw, "usage", None)
    tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
    return Embeddings(vectors, Usage(prompt_tokens=tokens))


def _field_of(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else getattr(item, name)
