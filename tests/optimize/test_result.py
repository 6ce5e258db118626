from __future__ import annotations

import json

import pytest

from promptloop.optimize.reply import parse_prompt_reply, parse_rationale, parse_rules_reply
from promptloop.optimize.result import (
    ChangedRange,
    OptimizationResult,
    Scores,
    SplitScore,
    changed_ranges,
    unified_diff,
)

BEFORE = "line 1\nline 2\nline 3\nline 4\nline 5\n"


def apply(original: str, ranges: tuple[ChangedRange, ...]) -> str:
    lines = original.splitlines(keepends=True)
    for r in sorted(ranges, key=lambda r: r.start_line, reverse=True):
        lines[r.start_line - 1 : r.end_line] = r.replacement.splitlines(keepends=True)
    return "".join(lines)


@pytest.mark.parametrize(
    "after",
    [
        "line 1\nLINE 2\nline 3\nline 4\nline 5\n",
        "line 1\nline 2\nnew a\nnew b\nline 3\nline 4\nline 5\n",
        "line 1\nline 3\nline 4\nline 5\n",
        "first\nline 1\nline 2\nline 3\nline 4\nline 5\n",
        "line 1\nline 2\nline 3\nline 4\nline 5\nlast\n",
        "LINE 1\nline 2\nline 3\nline 4\nLINE 5\nmore\n",
    ],
)
def test_changed_ranges_reproduce_the_revision(after: str) -> None:
    ranges = changed_ranges(BEFORE, after)
    assert ranges
    assert all(1 <= r.start_line <= r.end_line <= 5 for r in ranges)
    assert apply(BEFORE, ranges) == after


def test_replacement_range_is_the_original_lines() -> None:
    [only] = changed_ranges(BEFORE, BEFORE.replace("line 3", "LINE 3"))
    assert only == ChangedRange(3, 3, "LINE 3\n")


def test_result_serialises_to_json() -> None:
    scores = Scores(val_before=SplitScore(1, 4, 0.25), test_after=SplitScore.of([]))
    result = OptimizationResult(
        status="no_improvement",
        improved=False,
        mode="rewrite",
        prompt_path="p.md",
        seed_text="a",
        revised_text="a",
        unified_diff=unified_diff("a\n", "a\n", "p.md"),
        changed_ranges=(ChangedRange(1, 1, "b\n"),),
        rationale="r",
        scores=scores,
        calls_used=3,
        usd_used=0.0,
        stop_reason="rounds",
    )
    data = json.loads(json.dumps(result.to_dict()))
    assert data["scores"]["val_before"]["pass_rate"] == 0.25
    assert data["scores"]["test_after"]["n"] == 0
    assert data["changed_ranges"] == [{"start_line": 1, "end_line": 1, "replacement": "b\n"}]
    assert result.unified_diff == ""


def test_reply_parsing() -> None:
    reply = "<rationale>  Fixed\n tone. </rationale>\n<prompt>\n```\nHi {{ a }}\n```\n</prompt>"
    assert parse_prompt_reply(reply) == "Hi {{ a }}"
    assert parse_rationale(reply) == "Fixed tone."
    assert parse_prompt_reply("<prompt>never closed") is None
    assert parse_rules_reply("<rules>\n- One.\n* Two.\nnoise\n-\n</rules>") == ["One.", "Two."]
    assert parse_rules_reply("no rules here") is None
