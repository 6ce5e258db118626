from __future__ import annotations

import re
from typing import Any

import pytest

from promptloop.github.markers import (
    parse_review_marker,
    read_marker,
    review_marker,
    summary_marker,
)
from promptloop.safety import (
    ZWJ,
    annotation_command,
    break_mentions,
    code_block,
    escape_data,
    escape_html,
    escape_property,
    fence_for,
    fingerprint,
    inline_code,
    mask_secrets,
    neutralize,
    open_fence,
    split_code,
    truncate_body,
)

# GitHub's own mention syntax: @ after a non-word character, then a login.
PING = re.compile(r"(?<![A-Za-z0-9_])@[A-Za-z0-9]")


def test_mentions_and_team_mentions_no_longer_ping() -> None:
    text = "cc @octocat and @my-org/reviewers, (@admin)"
    out = break_mentions(text)
    assert PING.search(out) is None
    # Visible text is unchanged apart from the invisible joiner.
    assert out.replace(ZWJ, "") == text


def test_email_addresses_are_left_alone() -> None:
    assert break_mentions("mail me at a@example.com") == "mail me at a@example.com"


def test_issue_references_do_not_cross_link() -> None:
    out = break_mentions("fixes #12 and other/repo#7 but not &#60;")
    assert "#12" not in out and "repo#7" not in out
    assert "&#60;" in out
    assert out.replace(ZWJ, "") == "fixes #12 and other/repo#7 but not &#60;"


def test_mentions_inside_code_are_kept_verbatim() -> None:
    text = "use `@decorator` here\n```python\n@dataclass\nclass A: ...\n```\nthen @bob"
    out = break_mentions(text)
    assert "`@decorator`" in out
    assert "\n@dataclass\n" in out
    assert f"@{ZWJ}bob" in out


def test_html_is_escaped_outside_code_only() -> None:
    text = (
        "<img src=x onerror=alert(1)> and `<b>` and\n```\n<div>\n```\n<!-- promptloop:summary -->"
    )
    out = escape_html(text)
    assert "<img" not in out and "&lt;img" in out
    assert "`<b>`" in out
    assert "\n<div>\n" in out
    # A model cannot forge our hidden marker.
    assert "<!-- promptloop:summary -->" not in out


def test_neutralize_does_both() -> None:
    out = neutralize("<b>@alice</b>")
    assert "<" not in out
    assert PING.search(out) is None


def test_unclosed_fence_runs_to_the_end_like_commonmark() -> None:
    pieces = split_code("text @a\n```\n@b <i>")
    assert pieces == [(False, "text @a\n"), (True, "```\n@b <i>")]
    assert open_fence("x\n````md\ny") == "````"
    assert open_fence("x\n```\ny\n```") is None
    # A shorter run does not close a longer fence.
    assert open_fence("````\n```\n") == "````"


def test_escaped_backtick_does_not_open_a_code_span() -> None:
    out = escape_html(r"\`<b> and `<i>`")
    assert out == r"\`&lt;b> and `<i>`"
    # CommonMark pairs the unescaped runs: the span is "` and `", so <i> is prose.
    assert escape_html(r"\`<b>` and `<i>`") == r"\`&lt;b>` and `&lt;i>`"


def test_backticks_in_a_fence_info_string_make_it_inline() -> None:
    # "``` a`b" is not a fence opening in CommonMark, so what follows stays prose.
    assert split_code("``` a`b\n<x>") == [(False, "``` a`b\n<x>")]


def test_unmatched_backtick_run_is_prose() -> None:
    assert escape_html("a `` b <c> ` d") == "a `` b &lt;c> ` d"


@pytest.mark.parametrize(
    ("text", "fence"),
    [("plain", "```"), ("has ``` inside", "````"), ("``````", "```````"), ("`x`", "```")],
)
def test_fence_is_longer_than_any_backtick_run(text: str, fence: str) -> None:
    assert fence_for(text) == fence


def test_code_block_cannot_be_broken_out_of() -> None:
    hostile = "```\n@everyone <script>\n```"
    block = code_block(hostile, "text")
    pieces = split_code(block + "\nafter")
    assert pieces[0] == (True, block + "\n")
    assert pieces[1] == (False, "after")


def test_inline_code_handles_backticks() -> None:
    assert inline_code("a`b") == "``a`b``"
    assert inline_code("`x") == "`` `x ``"
    assert split_code(inline_code("``<b>") + " <i>")[0][0] is True


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
    assert split_code(out)[-1][0] is False


def test_truncation_limit_too_small() -> None:
    with pytest.raises(ValueError, match="too small"):
        truncate_body("x" * 100, 10, suffix="y" * 20)


def test_mask_secrets() -> None:
    token = "ghs_abcdefghijklmnop"
    text = f"token={token}; prefix={token[:8]}; again {token}"
    out = mask_secrets(text, [token, None, ""])
    assert token not in out
    assert out.count("***") == 2
    assert token[:8] in out


def test_mask_multiline_secret_line_by_line() -> None:
    key = "-----BEGIN KEY-----\nAAAABBBBCCCC\n-----END KEY-----"
    out = mask_secrets("leaked AAAABBBBCCCC alone", [key])
    assert "AAAABBBBCCCC" not in out


def test_longer_secret_masked_whole_before_its_prefix() -> None:
    assert mask_secrets("abcdef12345", ["abcdef", "abcdef12345"]) == "***"


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
