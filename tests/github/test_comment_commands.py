"""Finding and parsing `/promptloop` commands in a comment (pure)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptloop.dataset.cases import Case, case_id_for
from promptloop.dataset.naming import CaseNames
from promptloop.github.clusters import Example
from promptloop.github.comment_commands import (
    Command,
    listed_cases,
    parse_commands,
    parse_comment_event,
    resolve_case,
)
from promptloop.github.review import render_examples

EVENTS = Path(__file__).parents[1] / "fixtures" / "github" / "events"

BODY = """\
Thanks!
/promptloop bad c04-brewly: we never call the product "smart"; say what it does
/promptloop good c12-pawtrack: exactly our tone
/promptloop learn
> /promptloop bad c01: quoted
```
/promptloop bad c02: in a fence
```
    /promptloop bad c03: indented code
`/promptloop bad c05: a code span`
<!--
/promptloop bad c06: hidden
-->
/promptloop baad c07: x
/promptloop bad c08
/promptloop good
/promptloop help me
/promptloopy bad c09: not our prefix
"""


def test_only_lines_outside_code_quotes_and_comments_are_commands() -> None:
    commands, problems = parse_commands(BODY)
    assert commands == [
        Command("bad", "c04-brewly", 'we never call the product "smart"; say what it does', 2),
        Command("good", "c12-pawtrack", "exactly our tone", 3),
        Command("learn", None, "", 4),
    ]
    assert [p.render() for p in problems] == [
        "line 14: unknown command 'baad' — did you mean 'bad'?",
        "line 15: say why after a colon: `/promptloop bad c08: what is wrong`",
        "line 16: name the case: `/promptloop good CASE: note`",
        "line 17: `/promptloop help` takes nothing after it",
    ]


def _suites(**ids: list[str]) -> dict[str, CaseNames]:
    return {
        suite: CaseNames.of(
            Case(id=i, vars={"n": n}, source=f"evals/{suite}.jsonl:{n + 1}")
            for n, i in enumerate(names)
        )
        for suite, names in ids.items()
    }


def test_cases_resolve_across_suites_or_say_which_is_meant() -> None:
    ids = _suites(copy=["c04-brewly", "c05"], tone=["c05", "c12"])
    assert resolve_case("c04-brewly", ids) == ("copy", "c04-brewly")
    assert resolve_case("tone/c05", ids) == ("tone", "c05")
    assert (
        resolve_case("c05", ids)
        == "case 'c05' is in suites copy, tone; write `copy/c05` or `tone/c05`"
    )
    assert (
        resolve_case("c04-brewli", ids) == "no case 'c04-brewli' in any suite; nearest: c04-brewly"
    )
    assert resolve_case("tone/c13", ids).startswith("suite 'tone' has no case 'c13'; nearest: c12")


def test_a_case_resolves_by_its_place_and_its_hash_too() -> None:
    copy = Case(id="0123456789ab", vars={"product": "Brewly"}, source="evals/copy.jsonl:4")
    hashed = Case(id=case_id_for({"product": "Nimbus"}, None), vars={"product": "Nimbus"})
    hashed = Case(id=hashed.id, vars=hashed.vars, source="evals/copy.jsonl:7")
    names = {"copy": CaseNames.of([copy, hashed])}
    assert resolve_case("evals/copy.jsonl:7", names) == ("copy", hashed.id)
    assert resolve_case("copy/./evals/copy.jsonl:7", names) == ("copy", hashed.id)
    assert resolve_case(hashed.id, names) == ("copy", hashed.id)
    # The content hash of a case that has its own id finds it too (as older results show).
    own_hash = case_id_for({"product": "Brewly"}, None)
    assert resolve_case(own_hash, names) == ("copy", "0123456789ab")
    assert "nearest: evals/copy.jsonl:7" in str(resolve_case("evals/copy.jsonl:8", names))


def test_a_comment_on_a_plain_issue_is_no_pull_request_command() -> None:
    payload = json.loads((EVENTS / "issue_comment.created.json").read_text())
    assert parse_comment_event("issue_comment", payload) is None
    payload["issue"]["pull_request"] = {"url": "https://api.github.com/repos/o/r/pulls/1"}
    event = parse_comment_event("issue_comment", payload)
    assert event is not None and event.kind == "issue" and event.number == 1
    assert event.author == "Codertocat" and not event.author_is_bot


def test_a_review_comment_replies_in_its_thread() -> None:
    payload = json.loads((EVENTS / "pull_request_review_comment.created.json").read_text())
    payload["comment"]["in_reply_to_id"] = 11
    event = parse_comment_event("pull_request_review_comment", payload)
    assert event is not None and event.kind == "review" and event.thread_id == 11
    assert event.number == 2


def test_a_reply_may_leave_the_case_to_the_finding_it_answers() -> None:
    commands, problems = parse_commands("/promptloop bad: still shouting\n/promptloop Good c01")
    assert commands == [Command("bad", None, "still shouting", 1), Command("good", "c01", "", 2)]
    assert problems == []
    # The ids are read the way github.review writes a finding's examples.
    body = render_examples(
        [
            Example("c02-brook", None, {"name": "Brook"}, "Hello Brook!", "shouts"),
            Example("c05-elif", "evals/x.jsonl:5", {"name": "Elif"}, "**`c09`** x", "shouts"),
        ]
    )
    assert listed_cases(body) == ["c02-brook", "c05-elif"]


# Each body hides `/promptloop learn` where GitHub does not show it as the commenter's words.
HIDDEN = {
    "lazy quote continuation": "> the model said\n/promptloop learn\n",
    "lazy continuation after a nested quote": "> > deep\n/promptloop learn\n",
    "HTML block": "<div>\n/promptloop learn\n</div>\n",
    "comment over lines": "<!--\nhidden\n/promptloop learn\n-->\n",
    "second comment opened on a closing line": "<!-- a --> <!--\n/promptloop learn\n-->\n",
    "second comment, paragraph between": "<!-- a --> <!--\n\n/promptloop learn\n\n-->\n",
    "inline comment over lines": "see <!--\n/promptloop learn\n-->\n",
    "pre": "<pre>\n/promptloop learn\n</pre>\n",
    "pre with blank lines": "<pre>\n\n/promptloop learn\n\n</pre>\n",
    "details": "<details><summary>log</summary>\n\n/promptloop learn\n\n</details>\n",
    "details never closed": "<details>\n\n/promptloop learn\n",
    "code span over lines": "`output:\n/promptloop learn\n`\n",
    "link text over lines": "[click\n/promptloop learn\n](https://example.com)\n",
    "link title over lines": '[x](/u "t\n/promptloop learn\n")\n',
    "emphasis around it": "**the model:\n/promptloop learn\nend**\n",
    "table row": "| a |\n| - |\n/promptloop learn\n",
    "list item": "- /promptloop learn\n",
    "bare carriage return splits nothing": "ok\r/promptloop learn\n",
    "carriage return after a quote": "> quoted\r/promptloop learn\n",
    "line separator splits nothing": "ok\u2028/promptloop learn\n",
    "textarea": "<textarea>\n\n/promptloop learn\n\n</textarea>\n",
    "raw element left open": "<span hidden>\n\n/promptloop learn\n",
    "quoted output that closes the quote": "> ok</blockquote>\n>\n> /promptloop learn\n",
}


@pytest.mark.parametrize("body", HIDDEN.values(), ids=HIDDEN.keys())
def test_hidden_or_quoted_lines_issue_no_command(body: str) -> None:
    assert parse_commands(body) == ([], [])


def test_the_commenters_own_lines_still_count_around_hidden_ones() -> None:
    body = (
        "> quoted\n\n/promptloop learn\r\n"
        "<details>\n\n/promptloop bad c1: hidden\n\n</details>\n\n"
        "/promptloop bad c2: the *tone* is off, see `x`\n"
        "text <!-- a -->\n/promptloop good c3\n"
    )
    commands, problems = parse_commands(body)
    assert commands == [
        Command("learn", line=3),
        Command("bad", "c2", "the *tone* is off, see `x`", 10),
        Command("good", "c3", "", 12),
    ]
    assert problems == []


PIECES = [
    "/promptloop learn", "/promptloop bad c1: x", "\n", "\r\n", "\r", "> ", "<!--", "-->",
    "<details>", "</details>", "<pre>", "</pre>", "`", "```", "    ", "- ", "| a |", "|-|",
    "<div>", "</div>", "[", "](u)", "*", "**", "\\", "<span title='", "'>", " ", "x",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=3)), max_size=30))
def test_any_comment_parses_and_commands_come_from_their_own_lines(pieces: list[str]) -> None:
    body = "".join(pieces)
    commands, problems = parse_commands(body)
    lines = body.replace("\r\n", "\n").split("\n")
    for found in [*commands, *problems]:
        assert lines[found.line - 1].lstrip(" ").startswith("/promptloop")


def test_a_case_named_by_its_place_is_commanded_as_the_reports_show_it() -> None:
    # A case without an id is shown as file:line in the review and the summary; that is
    # the name a reviewer copies, and the note still starts at the next colon.
    body = (
        "/promptloop bad evals/greet.jsonl:1: too loud\n"
        "/promptloop good greet/evals/greet.jsonl:12\n"
        "/promptloop good evals/greet.jsonl:3:calm enough\n"
        "/promptloop bad c04: 2 exclamation marks\n"
    )
    commands, problems = parse_commands(body)
    assert problems == []
    assert commands == [
        Command("bad", "evals/greet.jsonl:1", "too loud", 1),
        Command("good", "greet/evals/greet.jsonl:12", "", 2),
        Command("good", "evals/greet.jsonl:3", "calm enough", 3),
        Command("bad", "c04", "2 exclamation marks", 4),
    ]
