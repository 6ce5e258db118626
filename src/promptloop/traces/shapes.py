"""Chat turns in OpenAI's shape, built from the pieces tracers record."""

from __future__ import annotations

import json
from typing import Any


def json_value(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def tool_call(name: Any, arguments: Any, call_id: Any) -> dict[str, Any]:
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments if arguments is not None else {})
    call: dict[str, Any] = {
        "type": "function",
        "function": {"name": str(name or ""), "arguments": arguments},
    }
    if call_id:
        call["id"] = str(call_id)
    return call


def turn(
    role: str, content: str, calls: list[dict[str, Any]], answered: str | None
) -> dict[str, Any]:
    turn: dict[str, Any] = {"role": role, "content": content}
    if calls:
        turn["tool_calls"] = calls
    if role == "tool" and answered:
        turn["tool_call_id"] = answered
    return turn


def text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # content parts
        return "".join(str(p.get("text") or "") for p in value if isinstance(p, dict))
    if isinstance(value, dict) and "content" in value:
        return text_of(value["content"])
    return "" if value is None else json.dumps(value)


def optional_str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def chat_turns(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict) and isinstance(value.get("messages"), list):
        value = value["messages"]
    if isinstance(value, list):
        return [
            turn(
                str(m.get("role") or "user"),
                text_of(m.get("content")),
                list(m.get("tool_calls") or []),
                optional_str(m.get("tool_call_id")),
            )
            for m in value
            if isinstance(m, dict)
        ]
    if value is None:
        return []
    return [{"role": "user", "content": text_of(value)}]
