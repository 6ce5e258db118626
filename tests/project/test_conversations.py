"""A case's earlier turns meet the prompt: where they go in what the model is sent, that
they are data (never a template), and the checks only the prompt can make."""

from __future__ import annotations

import pytest

from promptloop.dataset.cases import parse_cases
from promptloop.errors import UserError
from promptloop.models.base import ModelRequest
from promptloop.project.conversations import check_conversations, history_messages
from promptloop.project.prompts import parse_prompt
from promptloop.project.rendering import render_prompt

TOOLS = """tools:
  - type: function
    function:
      name: lookup_order
      parameters: {type: object, properties: {order_id: {type: string}}}
"""
AGENT = (
    TOOLS
    + """messages:
  - role: system
    content: You help {{ shop }}'s customers.
  - role: user
    content: "{{ message }}"
"""
)
TURNS = [
    {"role": "user", "content": "Where is A1? {{ shop }}"},
    {
        "role": "assistant",
        "tool_calls": [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "lookup_order", "arguments": '{"order_id": "A1"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "c1", "content": '{"status": "late"}'},
    {"role": "assistant", "content": "It is late, sorry."},
]


def case(messages=TURNS, **vars):
    [one] = parse_cases(
        [{"message": "Refund it", "shop": "Acme", **vars, "messages": messages}],
        "evals/c.jsonl",
        lines=[7],
    )
    return one


def sent(prompt_text: str, the_case) -> list[dict]:
    prompt = parse_prompt(prompt_text, "prompts/agent.yaml")
    check_conversations(prompt, [the_case])
    rendered = render_prompt(prompt, the_case.vars, history=history_messages(the_case))
    return [m.as_dict() for m in rendered.conversation]


def test_the_turns_go_between_the_system_message_and_the_new_user_message() -> None:
    messages = sent(AGENT, case())
    assert [m["role"] for m in messages] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
    ]
    assert messages[0]["content"] == "You help Acme's customers."
    assert messages[-1] == {"role": "user", "content": "Refund it"}
    assert messages[2]["tool_calls"][0]["function"] == {
        "name": "lookup_order",
        "arguments": '{"order_id": "A1"}',
    }
    assert messages[3] == {"role": "tool", "tool_call_id": "c1", "content": '{"status": "late"}'}
    # The turns are data: a template in them is sent as written.
    assert messages[1]["content"] == "Where is A1? {{ shop }}"


def test_example_turns_of_the_prompt_come_before_the_cases_turns() -> None:
    prompt = (
        TOOLS
        + """messages:
  - {role: system, content: Be brief.}
  - {role: user, content: "Where is A9?"}
  - {role: assistant, content: "Let me look."}
  - {role: user, content: "{{ message }}"}
"""
    )
    roles_and_text = [(m["role"], m.get("content")) for m in sent(prompt, case())]
    assert roles_and_text[:3] == [
        ("system", "Be brief."),
        ("user", "Where is A9?"),
        ("assistant", "Let me look."),
    ]
    assert roles_and_text[3] == ("user", "Where is A1? {{ shop }}")
    assert roles_and_text[-1] == ("user", "Refund it")


def test_a_system_prompt_alone_is_followed_by_the_turns_and_the_model_answers_the_last() -> None:
    prompt = TOOLS + "messages:\n  - {role: system, content: 'You help {{ shop }}.'}\n"
    messages = sent(prompt, case(TURNS[:3]))
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool"]


def test_a_case_without_turns_sends_the_prompt_as_before() -> None:
    [plain] = parse_cases([{"message": "hi", "shop": "Acme"}], "d")
    assert sent(AGENT, plain) == [
        {"role": "system", "content": "You help Acme's customers."},
        {"role": "user", "content": "hi"},
    ]


def test_a_call_to_a_tool_the_prompt_does_not_declare_names_the_case_line_and_key() -> None:
    prompt = parse_prompt(
        "messages:\n  - {role: user, content: '{{ message }}'}\n", "prompts/plain.yaml"
    )
    with pytest.raises(UserError) as caught:
        check_conversations(prompt, [case()])
    assert str(caught.value) == (
        "evals/c.jsonl:7: messages[1].tool_calls[0].function.name: case "
        f"'{case().id}' calls `lookup_order`, which prompts/plain.yaml does not declare "
        "(it declares no tools)"
    )
    other = parse_prompt(AGENT.replace("lookup_order", "find_order"), "prompts/agent.yaml")
    with pytest.raises(UserError, match=r"does not declare \(its tools are find_order\)"):
        check_conversations(other, [case()])


def test_a_system_prompt_alone_cannot_follow_an_assistant_turn() -> None:
    prompt = parse_prompt(TOOLS + "messages:\n  - {role: system, content: Hi.}\n", "prompts/s.yaml")
    with pytest.raises(UserError) as caught:
        check_conversations(prompt, [case()])
    assert str(caught.value).startswith(
        "evals/c.jsonl:7: messages[3]: case '" + case().id + "' ends its conversation with "
        "an assistant turn, and prompts/s.yaml has no user message to follow it"
    )


def test_the_cache_key_changes_when_the_turns_change() -> None:
    prompt = parse_prompt(AGENT, "prompts/agent.yaml")

    def key(the_case) -> str:
        rendered = render_prompt(prompt, the_case.vars, history=history_messages(the_case))
        return ModelRequest("openai/x", rendered.conversation, tools=rendered.tools).cache_key()

    changed = [dict(turn) for turn in TURNS]
    changed[2] = {**changed[2], "content": '{"status": "delivered"}'}
    [plain] = parse_cases([{"message": "Refund it", "shop": "Acme"}], "d")
    keys = {key(case()), key(case(changed)), key(case(TURNS[:1])), key(plain)}
    assert len(keys) == 4
    assert key(case()) == key(case())
