"""A case's earlier turns (``messages:``): validated once, in OpenAI's chat shape.

A case may carry the conversation so far: ``system``, ``user``, ``assistant`` and ``tool``
turns. An assistant turn may carry ``tool_calls`` (``{id, type: function, function: {name,
arguments}}``, the arguments a JSON object written as a string, or as a mapping that is
stored as one); a ``tool`` turn carries the ``tool_call_id`` it answers and the result
as ``content``. The turns are data: no template is ever rendered in them.

The order is checked the way OpenAI's API checks it, so a broken history is the dataset's
error at its line, not a provider's 400 halfway through a run: every call of an assistant
turn is answered by a ``tool`` turn before the conversation goes on, a ``tool`` turn answers
a call of the assistant turn just before it, and no call id is used twice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

HistoryRole = Literal["system", "user", "assistant", "tool"]


class HistoryFunction(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    arguments: str = "{}"

    @field_validator("arguments", mode="before")
    @classmethod
    def _json_object(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return json.dumps(value, ensure_ascii=False)
        if not isinstance(value, str):
            return value  # pydantic names the type
        try:
            parsed = json.loads(value)
        except ValueError as exc:
            raise PydanticCustomError(
                "tool_arguments", "arguments are not valid JSON ({error})", {"error": str(exc)}
            ) from None
        if not isinstance(parsed, dict):
            raise PydanticCustomError(
                "tool_arguments",
                "arguments must be a JSON object, got a JSON {kind}",
                {"kind": type(parsed).__name__},
            )
        return value


class HistoryToolCall(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    type: Literal["function"] = "function"
    function: HistoryFunction


class HistoryMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: HistoryRole
    content: str | None = None
    tool_calls: tuple[HistoryToolCall, ...] = ()
    tool_call_id: str | None = None

    @model_validator(mode="after")
    def _fields_fit_the_role(self) -> HistoryMessage:
        def fail(message: str, at: str) -> PydanticCustomError:
            return PydanticCustomError("history_turn", message, {"at": (at,)})

        if self.tool_calls and self.role != "assistant":
            raise fail(
                f"only an assistant turn may carry tool_calls, not a {self.role} turn", "tool_calls"
            )
        if self.role == "tool" and not self.tool_call_id:
            raise fail("a tool turn needs the tool_call_id of the call it answers", "tool_call_id")
        if self.role != "tool" and self.tool_call_id is not None:
            raise fail("only a tool turn carries a tool_call_id", "tool_call_id")
        if self.content is None and not (self.role == "assistant" and self.tool_calls):
            raise fail(f"a {self.role} turn needs content", "content")
        return self


class Conversation(BaseModel):
    """What ``messages:`` of one case holds (validated as ``{messages: [...]}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    messages: tuple[HistoryMessage, ...]

    @model_validator(mode="after")
    def _calls_are_answered(self) -> Conversation:
        check_order(self.messages)
        return self


def _problem(message: str, *at: str | int, **values: str) -> PydanticCustomError:
    return PydanticCustomError("history_order", message, {**values, "at": ("messages", *at)})


def check_order(turns: Sequence[HistoryMessage]) -> None:
    """Raise (pointing at the turn) when the turns are not in an order OpenAI accepts."""
    made: dict[str, int] = {}
    open_calls: dict[str, int] = {}
    answered: set[str] = set()
    for index, turn in enumerate(turns):
        if turn.role == "tool":
            call_id = turn.tool_call_id or ""
            if call_id in open_calls:
                del open_calls[call_id]
                answered.add(call_id)
                continue
            if call_id in answered:
                raise _problem(
                    "a second result for tool call {id}", index, "tool_call_id", id=repr(call_id)
                )
            if call_id in made:
                raise _problem(
                    "answers tool call {id} of messages[{turn}], but a result must follow the "
                    "assistant turn that made the call, before any other turn",
                    index,
                    "tool_call_id",
                    id=repr(call_id),
                    turn=str(made[call_id]),
                )
            raise _problem(
                "tool_call_id {id} matches no tool call of an earlier assistant turn",
                index,
                "tool_call_id",
                id=repr(call_id),
            )
        _unanswered(open_calls, turns, index)
        for number, call in enumerate(turn.tool_calls):
            if call.id in made:
                raise _problem(
                    "tool call id {id} is used twice (first in messages[{turn}])",
                    index,
                    "tool_calls",
                    number,
                    "id",
                    id=repr(call.id),
                    turn=str(made[call.id]),
                )
            made[call.id] = index
            open_calls[call.id] = index
    _unanswered(open_calls, turns, len(turns))


def _unanswered(open_calls: dict[str, int], turns: Sequence[HistoryMessage], index: int) -> None:
    if not open_calls:
        return
    call_id, made_in = next(iter(open_calls.items()))
    call = next(c for c in turns[made_in].tool_calls if c.id == call_id)
    after = "before the conversation ends" if index == len(turns) else f"before messages[{index}]"
    raise _problem(
        "tool call {id} ({name}) has no tool result {after}; add a `tool` turn with "
        "tool_call_id {id} (OpenAI's API refuses a call left unanswered)",
        made_in,
        "tool_calls",
        id=repr(call_id),
        name=call.function.name,
        after=after,
    )
