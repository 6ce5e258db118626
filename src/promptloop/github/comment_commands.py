"""Reviewers' `/promptloop` commands in pull-request comments: found, parsed, resolved (pure).

A comment is untrusted text that may quote model output, a dataset, or another comment, so a
command counts only on a line GitHub shows as the commenter's own words (``rendered``): not in
a code block or span, a quote (lazy continuation lines too), an HTML block or comment, a
``<pre>`` or a ``<details>``. Lines end at ``\n`` or ``\r\n`` only: quoted output can never
issue one. Parsing is strict: anything that is not exactly a
known command is answered with why, never guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from promptloop.dataset.naming import CaseNames, nearest_names
from promptloop.github.rendered import own_lines
from promptloop.yamlpos import suggest

PREFIX = "/promptloop"
Verb = Literal["good", "bad", "learn", "help"]
VERBS: tuple[Verb, ...] = ("good", "bad", "learn", "help")
COMMENT_EVENTS = frozenset({"issue_comment", "pull_request_review_comment"})
MAX_NOTE_CHARS = 1000

_COMMAND = re.compile(rf"^ {{0,3}}{re.escape(PREFIX)}(?:\s+(?P<rest>.*))?$")
_VERB = re.compile(r"^([A-Za-z]+)\b(.*)$")
# A case the dataset gave no id is shown as ``file:line``: a colon followed by digits and then
# a space, a colon or the end belongs to the case, the next colon starts the note.
_VERDICT = re.compile(r"^(?P<case>[^\s:]+(?::\d+(?=[\s:]|$))?)?\s*(?::\s*(?P<note>.*))?$")

HELP = f"""\
**promptloop commands** (one per line, from people with write access):

- `{PREFIX} bad CASE: what is wrong` marks the output of CASE as wrong, and why
- `{PREFIX} good CASE: why it is right` marks it right (the note is optional)
- `{PREFIX} learn` evaluates this head again and learns a prompt revision from the feedback \
so far
- `{PREFIX} help` shows this

CASE is a case id as the reports show it (`SUITE/CASE` when two suites share one). The \
verdicts are committed to the suite's feedback file on this branch, and promptloop evaluates \
that commit as it would a push: the review, the revision, the summary and the check follow."""


@dataclass(frozen=True)
class Command:
    verb: Verb
    case: str | None = None
    note: str = ""
    line: int = 0


@dataclass(frozen=True)
class Problem:
    line: int
    text: str
    why: str

    def render(self) -> str:
        return f"line {self.line}: {self.why}"


@dataclass(frozen=True)
class CommentEvent:
    """The facts of a comment webhook that the command flow needs."""

    kind: Literal["issue", "review"]
    action: str
    number: int
    comment_id: int
    body: str
    author: str
    author_is_bot: bool
    html_url: str
    # A review comment's thread: replies go there.
    thread_id: int | None = None


def parse_comment_event(event_name: str, payload: Mapping[str, Any]) -> CommentEvent | None:
    """None when the event is not a comment on a pull request."""
    comment = payload.get("comment")
    if event_name not in COMMENT_EVENTS or not isinstance(comment, Mapping):
        return None
    if event_name == "issue_comment":
        issue = payload.get("issue")
        # An issue_comment on a plain issue has no `pull_request` key.
        if not isinstance(issue, Mapping) or not issue.get("pull_request"):
            return None
        number = issue.get("number")
        thread = None
    else:
        pull = payload.get("pull_request")
        number = pull.get("number") if isinstance(pull, Mapping) else None
        thread = comment.get("in_reply_to_id") or comment.get("id")
    raw_user = comment.get("user")
    user: Mapping[str, Any] = raw_user if isinstance(raw_user, Mapping) else {}
    login = str(user.get("login") or "")
    if not isinstance(number, int) or not isinstance(comment.get("id"), int) or not login:
        return None
    return CommentEvent(
        kind="issue" if event_name == "issue_comment" else "review",
        action=str(payload.get("action") or ""),
        number=number,
        comment_id=int(comment["id"]),
        body=str(comment.get("body") or ""),
        author=login,
        author_is_bot=user.get("type") == "Bot" or login.endswith("[bot]"),
        html_url=str(comment.get("html_url") or ""),
        thread_id=thread if isinstance(thread, int) else None,
    )


def parse_commands(body: str) -> tuple[list[Command], list[Problem]]:
    commands: list[Command] = []
    problems: list[Problem] = []
    for number, text in own_lines(body, _COMMAND):
        match = _COMMAND.match(text)
        assert match is not None
        rest = (match.group("rest") or "").strip()
        split = _VERB.match(rest)
        verb, args = (split.group(1).lower(), split.group(2).strip()) if split else (rest, "")
        if verb not in VERBS:
            hint = suggest(verb, VERBS) if verb else ""
            problems.append(
                Problem(
                    number,
                    text,
                    f"unknown command {verb!r}{hint or '; commands: ' + ', '.join(VERBS)}"
                    if verb
                    else f"say what to do: {', '.join(VERBS)}",
                )
            )
            continue
        if verb in ("learn", "help"):
            if args:
                problems.append(Problem(number, text, f"`{PREFIX} {verb}` takes nothing after it"))
            else:
                commands.append(Command(verb, line=number))
            continue
        found = _VERDICT.match(args)
        case = found.group("case") if found else None
        note = " ".join((found.group("note") or "").split()) if found else ""
        if found is None or (case is None and not note):
            problems.append(Problem(number, text, f"name the case: `{PREFIX} {verb} CASE: note`"))
        elif verb == "bad" and not note:
            problems.append(
                Problem(
                    number, text, f"say why after a colon: `{PREFIX} bad {case}: what is wrong`"
                )
            )
        elif len(note) > MAX_NOTE_CHARS:
            problems.append(Problem(number, text, f"the note is over {MAX_NOTE_CHARS} characters"))
        else:
            commands.append(Command(verb, case, note, number))
    return commands, problems


def resolve_case(wanted: str, names_by_suite: Mapping[str, CaseNames]) -> tuple[str, str] | str:
    """(suite, case id) for ``CASE`` or ``SUITE/CASE``, CASE being any of a case's names
    (its id, file:line, its hash); otherwise why not, with the nearest names."""
    suite_part, slash, case_part = wanted.partition("/")
    if slash and suite_part in names_by_suite:
        found = names_by_suite[suite_part].find(case_part)
        if found is not None:
            return suite_part, found.id
        close = names_by_suite[suite_part].nearest(case_part)
        hint = f"; nearest: {', '.join(close)}" if close else ""
        return f"suite {suite_part!r} has no case {case_part!r}{hint}"
    holders = [
        (suite, case)
        for suite, names in names_by_suite.items()
        if (case := names.find(wanted)) is not None
    ]
    if len(holders) == 1:
        return holders[0][0], holders[0][1].id
    if len(holders) > 1:
        suites = [suite for suite, _ in holders]
        return f"case {wanted!r} is in suites {', '.join(suites)}; write " + " or ".join(
            f"`{s}/{wanted}`" for s in suites
        )
    every = [name for names in names_by_suite.values() for name in names.shown()]
    close = nearest_names(wanted, every)
    hint = f"; nearest: {', '.join(close)}" if close else ""
    return f"no case {wanted!r} in any suite{hint}"


# How github.review names each example case of a finding: a bold code span on its own line.
_LISTED_CASE = re.compile(r"^\*\*`([^`\n]+)`\*\*")


def listed_cases(body: str) -> list[str]:
    """The case ids one of promptloop's own finding comments shows, in order; the model
    output it quotes sits in code blocks and is never read for ids."""
    found = (_LISTED_CASE.match(text) for _, text in own_lines(body, _LISTED_CASE, shown=False))
    return list(dict.fromkeys(m.group(1) for m in found if m))
