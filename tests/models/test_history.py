"""A conversation's earlier turns on both model paths against the OpenAI-compatible stub:
the body carries them in order, in OpenAI's shape, with the tools and tool_choice; the
embedded model refuses tool turns in one line."""

from __future__ import annotations

import asyncio

import pytest

from promptloop.dataset.cases import parse_cases
from promptloop.models import local
from promptloop.models.base import Message, ModelCallError, ModelRequest
from promptloop.models.provider_client import LiteLLMClient
from promptloop.project.conversations import history_messages
from promptloop.project.prompts import parse_prompt
from promptloop.project.rendering import render_prompt

PROMPT = """tools:
  - type: function
    function:
      name: lookup_order
      description: Find an order.
      parameters: {type: object, properties: {order_id: {type: string}}, required: [order_id]}
tool_choice: auto
messages:
  - {role: system, content: You are a support agent.}
  - {role: user, content: "{{ message }}"}
"""
TURNS = [
    {"role": "user", "content": "Check A1 and A2"},
    {
        "role": "assistant",
        "content": "Looking both up.",
        "tool_calls": [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "lookup_order", "arguments": '{"order_id": "A1"}'},
            },
            {
                "id": "c2",
                "type": "function",
                "function": {"name": "lookup_order", "arguments": '{"order_id": "A2"}'},
            },
        ],
    },
    {"role": "tool", "tool_call_id": "c1", "content": "delivered"},
    {"role": "tool", "tool_call_id": "c2", "content": "in transit"},
    {"role": "assistant", "content": "A1 arrived; A2 is on its way."},
]
EXPECTED = [
    {"role": "system", "content": "You are a support agent."},
    *[
        {**turn, "content": turn.get("content")} if turn["role"] == "assistant" else turn
        for turn in TURNS
    ],
    {"role": "user", "content": "Refund A1, $5"},
]


def request(url: str) -> ModelRequest:
    prompt = parse_prompt(PROMPT, "prompts/agent.yaml")
    [case] = parse_cases([{"message": "Refund A1, $5", "messages": TURNS}], "d.jsonl", lines=[1])
    rendered = render_prompt(prompt, case.vars, history=history_messages(case))
    return ModelRequest(
        model="openai/stub",
        messages=rendered.conversation,
        tools=rendered.tools,
        tool_choice=rendered.tool_choice,
        api_base=url,
        timeout_s=5.0,
    )


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "litellm"])
def test_the_body_carries_the_turns_in_order_with_tools(serve, fast_path: bool) -> None:
    server, url = serve(record_bodies=True)
    client = LiteLLMClient(api_key="sk-test", fast_path=fast_path)
    asyncio.run(client.complete(request(url)))
    [body] = server.bodies
    assert body["messages"] == EXPECTED
    assert [tool["function"]["name"] for tool in body["tools"]] == ["lookup_order"]
    assert body["tool_choice"] == "auto"


def test_the_stub_agent_can_read_the_whole_conversation(serve) -> None:
    rules = (
        (
            r"(?s)\A(?=.*tool: in transit).*\buser: Refund (A\d)",
            "lookup_order",
            r'{"order_id": "\1"}',
        ),
    )
    _, url = serve(tool_rules=rules, tool_rules_read="conversation")
    response = asyncio.run(LiteLLMClient(api_key="sk-test").complete(request(url)))
    [call] = response.tool_calls
    assert call.arguments == {"order_id": "A1"}
    # Reading the last user message only, the rule sees no tool result.
    _, url = serve(tool_rules=rules)
    assert asyncio.run(LiteLLMClient(api_key="sk-test").complete(request(url))).tool_calls == ()


def test_the_embedded_model_refuses_tool_turns_in_one_line() -> None:
    turns = (
        Message("user", "hi"),
        Message("tool", "delivered", tool_call_id="c1"),
    )
    with pytest.raises(ModelCallError) as caught:
        asyncio.run(local.complete_request(ModelRequest("local/smollm2", turns)))
    assert caught.value.kind == "bad_request"
    [line] = str(caught.value).splitlines()
    assert line.startswith("local/smollm2 cannot call tools, so it cannot continue a conversation")
