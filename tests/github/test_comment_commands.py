"""Finding and parsing `/promptloop` commands in a comment (pure)."""

from __future__ import annotations

import json
from pathlib import Path

from promptloop.github.comment_commands import (
    Command,
    listed_cases,
    parse_commands,
    parse_comment_event,
    resolve_case,
)
from promptloop.github.review import Example, render_examples

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


def test_cases_resolve_across_suites_or_say_which_is_meant() -> None:
    ids = {"copy": ["c04-brewly", "c05"], "tone": ["c05", "c12"]}
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
