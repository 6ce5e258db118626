"""What promptloop does with one reviewer comment, decided from what was read (pure).

``plan_comment`` looks at the facts gathered so far and returns either the plan for the comment or
the one fact it needs next (``Need``). The reads come in the order the decision asks for them,
so a bot's comment costs no permission read and a fork's checkout is never loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from promptloop.dataset.naming import CaseNames
from promptloop.errors import InfraError
from promptloop.github import replies
from promptloop.github.comment_commands import (
    HELP,
    Command,
    CommentEvent,
    Problem,
    parse_commands,
    resolve_case,
)
from promptloop.github.state import PullHead

ALLOWED_ROLES = frozenset({"admin", "maintain", "write"})

# One verdict to record: the command that gave it, its suite and its case id.
VerdictToRecord = tuple[Command, str, str]
# (suite, case id) -> the output the checked-out head gives for it.
Outputs = Mapping[tuple[str, str], str]


@dataclass(frozen=True)
class CommentFacts:
    """What was read about one comment. ``None``: not read yet; ``""``: read, and absent
    (GitHub would not say who promptloop is; the checkout has no commit)."""

    event: CommentEvent | None
    # The repository the workflow runs in ("owner/name").
    repository: str = ""
    own_login: str | None = None
    role: str | None = None
    head: PullHead | None = None
    checked_out: str | None = None
    # Each suite's cases as the checked-out head has them.
    cases: Mapping[str, CaseNames] | None = None
    # The cases listed by the promptloop finding a review comment replies to.
    thread_cases: tuple[str, ...] | None = None
    outputs: Outputs | None = None


@dataclass(frozen=True)
class Need:
    """The next fact ``plan_comment`` needs; ``wanted`` (suite -> case ids) names the outputs."""

    what: Literal["login", "role", "head", "cases", "thread", "outputs"]
    wanted: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class CommentPlan:
    """The answer to one comment. Without verdicts to record or a learn, ``reaction`` and
    ``reply`` are all of it (no reaction: the comment is ignored). Otherwise the verdicts are
    recorded, the comment gets ``reaction``, the head is evaluated when the recording moved
    it or on ``learn``, and the reply is built from what those did."""

    outcome: str
    reaction: str | None = None
    reply: str = ""
    record: bool = False
    verdicts: tuple[VerdictToRecord, ...] = ()
    outputs: Outputs = field(default_factory=dict)
    learn: bool = False
    # The suites the verdicts concern: the reply says why one got no revision.
    concerned: tuple[str, ...] = ()


def plan_comment(facts: CommentFacts) -> CommentPlan | Need:
    event = facts.event
    if event is None or event.action != "created":
        return CommentPlan("not a new comment on a pull request")
    if facts.own_login is None:
        return Need("login")
    if event.author_is_bot or (facts.own_login and event.author == facts.own_login):
        return CommentPlan("written by a bot")
    commands, problems = parse_commands(event.body)
    if not commands and not problems:
        return CommentPlan("no command")
    if facts.role is None:
        return Need("role")
    if facts.role not in ALLOWED_ROLES:
        reply = replies.refused(event.author, facts.role)
        return CommentPlan("refused: no write permission", "-1", reply)
    head = facts.head
    if head is None:
        return Need("head")
    if (head.head_repo_full_name or "").lower() != facts.repository.lower():
        return CommentPlan("refused: a fork", "eyes", replies.from_a_fork(commands))
    if any(c.verb == "help" for c in commands) and not problems:
        return CommentPlan("help", "+1", HELP)
    if facts.checked_out != head.head_sha:
        raise InfraError(
            f"the checkout is at {facts.checked_out or 'no commit'}, not the pull request's "
            f"head {head.head_sha}; check out refs/pull/{event.number}/head before "
            "`promptloop ci`"
        )
    if facts.cases is None:
        return Need("cases")
    if facts.thread_cases is None and _needs_thread(event, commands):
        return Need("thread")
    verdicts, unresolved = _resolve(commands, facts.cases, facts.thread_cases or ())
    if problems or unresolved:
        reply = replies.not_understood([*problems, *unresolved])
        return CommentPlan("refused: not understood", "confused", reply)
    if verdicts and facts.outputs is None:
        wanted: dict[str, tuple[str, ...]] = {}
        for _, suite, case in verdicts:
            wanted[suite] = (*wanted.get(suite, ()), case)
        return Need("outputs", wanted)
    found = facts.outputs or {}
    missing = [f"{s}/{c}" for _, s, c in verdicts if (s, c) not in found]
    if missing:
        return CommentPlan("refused: no output to judge", "confused", replies.no_output(missing))
    return CommentPlan(
        "recorded",
        "+1",
        record=True,
        verdicts=tuple(verdicts),
        outputs=found,
        learn=any(c.verb == "learn" for c in commands),
        concerned=tuple(sorted({s for _, s, _ in verdicts})),
    )


def _needs_thread(event: CommentEvent, commands: list[Command]) -> bool:
    """Only a reply to one of promptloop's findings may leave the case out."""
    unnamed = any(c.verb in ("good", "bad") and not c.case for c in commands)
    return unnamed and event.kind == "review" and event.thread_id is not None


def _resolve(
    commands: list[Command], names: Mapping[str, CaseNames], thread_cases: tuple[str, ...]
) -> tuple[list[VerdictToRecord], list[Problem]]:
    """Each verdict's (command, suite, case), and why a case could not be resolved."""
    verdicts: list[VerdictToRecord] = []
    problems: list[Problem] = []
    for command in commands:
        if command.verb not in ("good", "bad"):
            continue
        named = [command.case] if command.case else list(thread_cases)
        if not named:
            problems.append(Problem(command.line, "", replies.name_the_case(command.verb)))
        for wanted in named:
            resolved = resolve_case(wanted, names)
            if isinstance(resolved, str):
                problems.append(Problem(command.line, "", resolved))
            else:
                verdicts.append((command, *resolved))
    return verdicts, problems
