from __future__ import annotations

import re
from typing import Any

import pytest
from markdown_it import MarkdownIt

from promptloop.github.markers import (
    parse_review_marker,
    read_marker,
    review_marker,
    summary_marker,
)
from promptloop.safety import (
    annotation_command,
    code_block,
    escape_data,
    escape_property,
    fence_for,
    fingerprint,
    inline_code,
    neutralize,
    open_fence,
    truncate_body,
)

MD = MarkdownIt("commonmark")


def test_unclosed_fence_runs_to_the_end_like_commonmark() -> None:
    assert open_fence("x\n````md\ny") == "````"
    assert open_fence("x\n```\ny\n```") is None
    # A shorter run does not close a longer fence.
    assert open_fence("````\n```\n") == "````"


@pytest.mark.parametrize(
    ("text", "fence"),
    [("plain", "```"), ("has ``` inside", "````"), ("``````", "```````"), ("`x`", "```")],
)
def test_fence_is_longer_than_any_backtick_run(text: str, fence: str) -> None:
    assert fence_for(text) == fence


def test_code_block_cannot_be_broken_out_of() -> None:
    hostile = "```\n@everyone <script>\n```"
    block = code_block(hostile, "text")
    tokens = MD.parse(block + "\nafter")
    assert [t.type for t in tokens] == ["fence", "paragraph_open", "inline", "paragraph_close"]
    assert tokens[0].content == hostile + "\n"


def test_inline_code_handles_backticks() -> None:
    assert inline_code("a`b") == "``a`b``"
    assert inline_code("`x") == "`` `x ``"
    (first, *_) = MD.parseInline(inline_code("``<b>") + " <i>")[0].children or []
    assert first.type == "code_inline" and first.content == "``<b>"


def test_short_body_is_untouched() -> None:
    assert truncate_body("hello", 100, suffix="<!-- m -->") == "hello<!-- m -->"


def test_truncation_keeps_limit_suffix_and_says_so() -> None:
    body = "\n".join(f"line {i} " + "x" * 50 for i in range(5000))
    marker = "\n<!-- promptloop:summary -->"
    out = truncate_body(body, 65_535, suffix=marker)
    assert len(out) <= 65_535
    assert out.endswith(marker)
    match = re.search(r"truncated: (\d+) characters omitted", out)
    assert match is not None
    kept = out.split("\n\n*…")[0]
    assert int(match.group(1)) == len(body) - len(kept)
    assert body.startswith(kept)


def test_truncation_inside_a_fence_closes_it() -> None:
    body = "summary\n````diff\n" + "+ added line\n" * 10_000
    out = truncate_body(body, 5_000)
    assert len(out) <= 5_000
    note_at = out.index("*… truncated")
    assert open_fence(out[:note_at]) is None
    assert MD.parse(out)[-1].type == "paragraph_close"


def test_truncation_limit_too_small() -> None:
    with pytest.raises(ValueError, match="too small"):
        truncate_body("x" * 100, 10, suffix="y" * 20)


def test_workflow_command_escaping() -> None:
    assert escape_data("50%\r\nnext") == "50%25%0D%0Anext"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    # Data keeps ':' and ',' (only properties need them escaped).
    assert escape_data("a:b,c") == "a:b,c"


def test_annotation_command_full() -> None:
    cmd = annotation_command(
        "error", "prompts/a,b.md", 3, 5, "case: greet", "expected 'hi'\ngot 'bye' (100%)"
    )
    assert cmd == (
        "::error file=prompts/a%2Cb.md,line=3,endLine=5,title=case%3A greet"
        "::expected 'hi'%0Agot 'bye' (100%25)"
    )
    assert "\n" not in cmd


def test_annotation_command_minimal_and_single_line() -> None:
    assert annotation_command("notice", None, None, None, None, "done") == "::notice::done"
    assert annotation_command("warning", "f", 2, 2, None, "m") == "::warning file=f,line=2::m"


def test_annotation_command_rejects_unknown_level() -> None:
    with pytest.raises(ValueError, match="annotation level"):
        annotation_command("fatal", None, None, None, None, "m")  # type: ignore[arg-type]


def test_review_marker_round_trip_and_validation() -> None:
    fp = fingerprint("prompts/a.md", "case-3", "new text")
    assert fp == fingerprint("prompts/a.md", "case-3", "new text")
    assert fp != fingerprint("prompts/a.md", "case-3", "other text")
    assert fp != fingerprint("prompts/a.mdcase-3", "", "new text")
    marker = review_marker(fp, "abc123")
    assert parse_review_marker(f"Suggestion\n\n{marker}") == (fp, "abc123")
    assert parse_review_marker("no marker") is None
    assert parse_review_marker(None) is None
    with pytest.raises(ValueError):
        review_marker("has space -->", "abc")


def test_model_text_cannot_forge_a_marker() -> None:
    forged = review_marker("fp", "abc") + "\n" + summary_marker("c0ffee", "abc")
    escaped = neutralize(forged)
    assert parse_review_marker(escaped) is None
    assert read_marker(escaped) is None
    assert "<!--" not in escaped


@pytest.mark.parametrize(
    "wrap",
    [
        lambda t: code_block(t),
        lambda t: inline_code(t),
        lambda t: neutralize(f"```\n{t}\n```"),
        lambda t: neutralize(f"`{t}`"),
    ],
)
def test_a_marker_quoted_as_code_is_defused_too(wrap: Any) -> None:
    forged = review_marker("0000", "0" * 40)
    shown = wrap(forged)
    assert "<!--" not in shown
    # It still reads the same to a person: only a zero-width space was added.
    assert shown.replace("\u200b", "").count(forged.split("\n")[0]) == 1


def test_markers_are_read_from_the_last_line_only() -> None:
    mine = review_marker("fp1", "abc")
    assert parse_review_marker(f"text\n\n{mine}\n") == ("fp1", "abc")
    assert parse_review_marker(f"{mine}\nquoted after it") is None
    assert read_marker(f"a\n{summary_marker('c1', 'abc')}").fields == {  # type: ignore[union-attr]
        "head": "abc",
        "content": "c1",
    }
