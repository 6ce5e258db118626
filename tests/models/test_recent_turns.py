"""The compact view of a case's earlier turns: the latest ones, within a size."""

from __future__ import annotations

from promptloop.models.base import Message, ToolCall, recent_turns


def test_without_turns_there_is_nothing_to_show() -> None:
    assert recent_turns(()) is None


def test_the_last_turns_are_kept_and_the_rest_counted() -> None:
    turns = [Message("user", f"question {i}") for i in range(9)]
    shown = recent_turns(turns, max_turns=3)
    assert shown == "[… 6 earlier turns not shown]\n[user] question 6\n[user] question 7\n" + (
        "[user] question 8"
    )


def test_each_part_is_one_line_and_the_whole_stays_within_its_size() -> None:
    calls = tuple(
        ToolCall.parse("lookup_order", f'{{"order_id": "A{i:04d}"}}', id=f"c{i}") for i in range(40)
    )
    turns = [
        Message("user", "line one\nline two " + "x" * 500),
        Message("assistant", "", tool_calls=calls),
    ]
    shown = recent_turns(turns, line_chars=80, max_chars=300)
    assert shown is not None and len(shown) <= 300
    # The one turn too long for the room keeps its end: the latest call.
    assert shown.startswith("[… 1 earlier turn not shown]\n…")
    assert shown.endswith('[tool call c39] lookup_order({"order_id": "A0039"})')
    short = recent_turns(turns[:1], line_chars=80)
    assert short is not None and "\n" not in short and len(short) == 80
