"""Tools on both model paths against the stub: the body litellm would send (tools,
tool_choice), calls parsed from OpenAI-style replies, broken arguments kept raw, and the
cache remembering calls under a key that includes the tools."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from promptloop.models.base import Message, ModelRequest, ToolCall, tool_calls_from
from promptloop.models.cache import CachingClient, MemoryStore
from promptloop.models.provider_client import LiteLLMClient

FAST = LiteLLMClient(api_key="sk-test")
LITELLM = LiteLLMClient(api_key="sk-test", fast_path=False)
TOOLS = (
    {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "description": "Find an order by number.",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}},
                "required": ["order_id"],
            },
        },
    },
)
CHOICE = {"type": "function", "function": {"name": "lookup_order"}}
RULES = ((r"CALL (\w+) (.*)", r"\1", r"\2"),)


def ask(url: str, text: str, **fields: Any) -> ModelRequest:
    return ModelRequest(
        model="openai/stub",
        messages=(Message("user", text),),
        api_base=url,
        timeout_s=5.0,
        tools=TOOLS,
        **fields,
    )


@pytest.mark.parametrize("client", [FAST, LITELLM], ids=["fast-path", "litellm"])
def test_a_reply_with_tool_calls_is_parsed_on_both_paths(serve, client):
    _, url = serve(tool_rules=RULES)
    request = ask(url, 'CALL lookup_order {"order_id": "A1"}')
    response = asyncio.run(client.complete(request))
    assert response.text == ""
    assert response.finish_reason == "tool_calls"
    [call] = response.tool_calls
    assert (call.name, call.arguments, call.error) == ("lookup_order", {"order_id": "A1"}, None)
    assert call.raw_arguments == '{"order_id": "A1"}'


@pytest.mark.parametrize("client", [FAST, LITELLM], ids=["fast-path", "litellm"])
def test_malformed_arguments_are_kept_raw_with_the_parse_error(serve, client):
    _, url = serve(tool_rules=RULES)
    response = asyncio.run(client.complete(ask(url, 'CALL lookup_order {"order_id": ')))
    [call] = response.tool_calls
    assert call.arguments is None
    assert call.raw_arguments == '{"order_id": '
    assert call.error is not None and call.error.startswith("arguments are not valid JSON")


def test_both_paths_send_the_tools_and_tool_choice_alike(serve):
    server, url = serve(record_bodies=True)
    for client in (FAST, LITELLM):
        asyncio.run(client.complete(ask(url, "hello", tool_choice=CHOICE)))
    fast, slow = server.bodies
    assert fast["tools"] == slow["tools"] == list(TOOLS)
    assert fast["tool_choice"] == slow["tool_choice"] == CHOICE


def test_a_request_without_tools_sends_no_tool_fields(serve):
    server, url = serve(record_bodies=True)
    request = ModelRequest("openai/stub", (Message("user", "hi"),), api_base=url, timeout_s=5.0)
    for client in (FAST, LITELLM):
        assert asyncio.run(client.complete(request)).tool_calls == ()
    assert all("tools" not in b and "tool_choice" not in b for b in server.bodies)


def test_tools_and_tool_choice_are_part_of_the_cache_key():
    plain = ModelRequest("openai/x", (Message("user", "hi"),))
    tooled = ModelRequest("openai/x", (Message("user", "hi"),), tools=TOOLS)
    forced = ModelRequest("openai/x", (Message("user", "hi"),), tools=TOOLS, tool_choice=CHOICE)
    assert len({plain.cache_key(), tooled.cache_key(), forced.cache_key()}) == 3


def test_the_cache_remembers_calls_including_broken_ones(serve):
    server, url = serve(tool_rules=RULES)
    client = CachingClient(FAST, MemoryStore())
    text = 'CALL lookup_order {"order_id": "A1"}\nCALL lookup_order {oops'
    first = asyncio.run(client.complete(ask(url, text)))
    again = asyncio.run(client.complete(ask(url, text)))
    assert again.cached and server.snapshot()["requests"] == 1
    assert again.tool_calls == first.tool_calls
    assert again.tool_calls[0].arguments == {"order_id": "A1"}
    assert again.tool_calls[1].arguments is None and again.tool_calls[1].error


def test_arguments_that_are_json_but_not_an_object_are_an_error():
    call = ToolCall.parse("f", "[1, 2]")
    assert call.arguments is None and call.error == "arguments are a JSON list, not an object"
    assert tool_calls_from([{"function": {"name": "f", "arguments": ""}}])[0].arguments == {}
