"""A case's earlier turns: each mistake is one line naming the file, the line and the key,
in every dataset format; a valid history keeps OpenAI's shape and becomes part of the id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptloop.dataset.cases import history_dicts, load_dataset, parse_cases
from promptloop.errors import UserError


def call(call_id: str, name: str = "lookup_order", arguments: object = '{"order_id": "A1"}'):
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


ASKED = {"role": "user", "content": "Where is A1?"}
LOOKED = {"role": "assistant", "content": None, "tool_calls": [call("c1")]}
ANSWER = {"role": "tool", "tool_call_id": "c1", "content": '{"status": "late"}'}


def jsonl_error(tmp_path: Path, messages: object) -> str:
    path = tmp_path / "cases.jsonl"
    rows = [{"message": "first"}, {"message": "hi", "messages": messages}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with pytest.raises(UserError) as caught:
        load_dataset(path, "evals/cases.jsonl")
    [line] = str(caught.value).splitlines()
    return line


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        (
            [{"role": "bot", "content": "x"}],
            "evals/cases.jsonl:2: messages[0].role: Input should be 'system', 'user', "
            "'assistant' or 'tool', got 'bot'",
        ),
        ([{"role": "user"}], "evals/cases.jsonl:2: messages[0].content: a user turn needs content"),
        (
            [ASKED, {"role": "tool", "tool_call_id": "c9", "content": "x"}],
            "evals/cases.jsonl:2: messages[1].tool_call_id: tool_call_id 'c9' matches no tool "
            "call of an earlier assistant turn",
        ),
        (
            [ASKED, {"role": "assistant", "tool_calls": [call("c1"), call("c1")]}, ANSWER],
            "evals/cases.jsonl:2: messages[1].tool_calls[1].id: tool call id 'c1' is used "
            "twice (first in messages[1])",
        ),
        (
            [ASKED, {"role": "assistant", "tool_calls": [call("c1", arguments='{"order_id": ')]}],
            "evals/cases.jsonl:2: messages[1].tool_calls[0].function.arguments: arguments are "
            "not valid JSON (Expecting value: line 1 column 14 (char 13))",
        ),
        (
            [ASKED, {"role": "assistant", "tool_calls": [call("c1", arguments="[1]")]}],
            "evals/cases.jsonl:2: messages[1].tool_calls[0].function.arguments: arguments must "
            "be a JSON object, got a JSON list",
        ),
        (
            [ASKED, LOOKED, {"role": "user", "content": "hello?"}],
            "evals/cases.jsonl:2: messages[1].tool_calls: tool call 'c1' (lookup_order) has no "
            "tool result before messages[2]; add a `tool` turn with tool_call_id 'c1' "
            "(OpenAI's API refuses a call left unanswered)",
        ),
        (
            [ASKED, LOOKED],
            "evals/cases.jsonl:2: messages[1].tool_calls: tool call 'c1' (lookup_order) has no "
            "tool result before the conversation ends; add a `tool` turn with tool_call_id "
            "'c1' (OpenAI's API refuses a call left unanswered)",
        ),
        (
            [ASKED, LOOKED, ANSWER, dict(ANSWER)],
            "evals/cases.jsonl:2: messages[3].tool_call_id: a second result for tool call 'c1'",
        ),
        (
            [ASKED, LOOKED, {"role": "user", "content": "x"}, ANSWER],
            "evals/cases.jsonl:2: messages[1].tool_calls: tool call 'c1' (lookup_order) has no "
            "tool result before messages[2]; add a `tool` turn with tool_call_id 'c1' "
            "(OpenAI's API refuses a call left unanswered)",
        ),
        (
            [{"role": "user", "content": "x", "tool_call": []}],
            "evals/cases.jsonl:2: messages[0].tool_call: unknown key 'tool_call' — did you "
            "mean 'tool_calls'?",
        ),
        (
            [{"role": "user", "content": "x", "tool_calls": [call("c1")]}],
            "evals/cases.jsonl:2: messages[0].tool_calls: only an assistant turn may carry "
            "tool_calls, not a user turn",
        ),
        (
            [ASKED, LOOKED, {"role": "tool", "content": "x"}],
            "evals/cases.jsonl:2: messages[2].tool_call_id: a tool turn needs the tool_call_id "
            "of the call it answers",
        ),
        (
            "hello",
            "evals/cases.jsonl:2: messages: `messages` is a str: it holds the conversation's "
            "earlier turns, a list of {role, content} (a variable named messages goes inside "
            "`vars:`)",
        ),
    ],
)
def test_each_mistake_is_one_line_with_file_line_and_key(
    tmp_path: Path, messages: object, expected: str
) -> None:
    assert jsonl_error(tmp_path, messages) == expected


def test_a_yaml_dataset_points_at_the_turns_own_line(tmp_path: Path) -> None:
    path = tmp_path / "cases.yaml"
    path.write_text(
        "- message: hi\n"
        "  messages:\n"
        "    - role: user\n"
        "      content: Where is A1?\n"
        "    - role: assistant\n"
        "      tool_calls:\n"
        "        - id: c1\n"
        "          function: {name: lookup_order, arguments: '{\"order_id\": 1'}\n"
        "    - role: tool\n"
        "      tool_call_id: c1\n"
        "      content: late\n"
    )
    with pytest.raises(UserError) as caught:
        load_dataset(path, "evals/cases.yaml")
    assert str(caught.value).startswith(
        "evals/cases.yaml:8: messages[1].tool_calls[0].function.arguments: arguments are not "
        "valid JSON"
    )
    path.write_text(path.read_text().replace("tool_call_id: c1", "tool_call_id: c2"))
    path.write_text(path.read_text().replace("'{\"order_id\": 1'", "'{}'"))
    with pytest.raises(UserError) as caught:
        load_dataset(path, "evals/cases.yaml")
    assert str(caught.value) == (
        "evals/cases.yaml:10: messages[2].tool_call_id: tool_call_id 'c2' matches no tool "
        "call of an earlier assistant turn"
    )


def test_a_csv_cell_holds_the_turns_as_json(tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    turns = json.dumps([ASKED, LOOKED, ANSWER]).replace('"', '""')
    path.write_text(f'message,messages\nhi,"{turns}"\nbye,"[oops"\n')
    with pytest.raises(UserError) as caught:
        load_dataset(path, "evals/cases.csv")
    assert (
        str(caught.value) == "evals/cases.csv:3: messages: `messages` must be a JSON list of turns"
    )
    path.write_text(f'message,messages\nhi,"{turns}"\n')
    [case] = load_dataset(path, "evals/cases.csv")
    assert [turn.role for turn in case.messages] == ["user", "assistant", "tool"]


def test_a_valid_history_keeps_openai_shape_and_mapping_arguments_become_json() -> None:
    looked = {"role": "assistant", "tool_calls": [call("c1", arguments={"order_id": "A1"})]}
    [case] = parse_cases([{"message": "hi", "messages": [ASKED, looked, ANSWER]}], "d", lines=[1])
    assert history_dicts(case.messages) == [
        ASKED,
        {"role": "assistant", "tool_calls": [call("c1")]},
        ANSWER,
    ]
    assert "messages" not in case.vars


def test_the_history_is_part_of_a_case_without_an_id() -> None:
    plain, short, longer = parse_cases(
        [
            {"message": "hi"},
            {"message": "hi", "messages": [ASKED]},
            {"message": "hi", "messages": [ASKED, LOOKED, ANSWER]},
        ],
        "d",
    )
    assert len({plain.id, short.id, longer.id}) == 3
    # A case without turns keeps the id it always had.
    [again] = parse_cases([{"message": "hi"}], "d")
    assert again.id == plain.id


def test_inline_cases_in_the_config_point_at_the_turns_line(tmp_path: Path) -> None:
    from promptloop.project.loaded import load_config

    (tmp_path / "p.md").write_text("{{ message }}")
    (tmp_path / "promptloop.yaml").write_text(
        "model: openai/x\n"
        "suites:\n"
        "  - name: s\n"
        "    prompt: p.md\n"
        "    dataset:\n"
        "      - message: hi\n"
        "        messages:\n"
        "          - role: user\n"
        "            content: hello\n"
        "          - role: robot\n"
        "            content: beep\n"
        "    evaluators: [{contains: x}]\n"
    )
    loaded = load_config(tmp_path / "promptloop.yaml")
    with pytest.raises(UserError) as caught:
        loaded.load_cases(loaded.config.suites[0])
    assert str(caught.value).startswith(
        f"{tmp_path / 'promptloop.yaml'}:10: messages[1].role: Input should be"
    )


def test_the_readme_example_loads(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Conversations", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "cases.yaml"
    path.write_text(block)
    [case] = load_dataset(path, "evals/cases.yaml")
    assert [turn.role for turn in case.messages] == ["user", "assistant", "tool", "assistant"]
    assert case.vars["expected_tool"] == "issue_refund"


def test_a_case_without_an_id_is_named_by_its_line_in_reports() -> None:
    from promptloop.engine.outcome import CaseOutcome
    from promptloop.engine.results import case_record
    from promptloop.report.names import case_label

    [case] = parse_cases([{"message": "hi", "messages": [ASKED]}], "evals/c.jsonl", lines=[4])
    record = case_record(CaseOutcome(case=case, output="x", passed=True, score=1.0), "test")
    assert record.messages == [ASKED]
    assert case_label(record) == "evals/c.jsonl:4"
