"""`promptloop ci`'s comment activity: a reviewer's `/promptloop` commands, from comment to
commit.

Read the comment → ignore bots, ourselves and comments without a command → ask GitHub for
the author's permission (``author_association`` says nothing about write access) → refuse
forks without running anything → resolve every case, or answer why not and record nothing →
run the named cases on the checked-out head to fingerprint their outputs → append the
verdicts to the feedback files on the head branch (one commit for the batch) → evaluate the
head holding them when it moved or on `learn` (the evaluating activity, called directly) →
acknowledge with a reaction and one reply. Every write goes through the publisher, so a dry
run writes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from promptloop.commands.ci_evaluate import Ci, Evaluated, evaluate
from promptloop.commands.pr_feedback import OutputsFn, record_verdicts
from promptloop.commands.run import RunOptions, make_runner, project_for
from promptloop.dataset.naming import CaseNames
from promptloop.errors import InfraError, PromptloopError, UserError
from promptloop.github import replies
from promptloop.github.api import GitHubClient
from promptloop.github.comment_commands import (
    HELP,
    Command,
    CommentEvent,
    Problem,
    listed_cases,
    parse_commands,
    parse_comment_event,
    resolve_case,
)
from promptloop.github.event import PullContext
from promptloop.github.state import PullHead
from promptloop.models.base import with_calls
from promptloop.project.git import find_root, head_commit
from promptloop.project.loader import LoadedConfig, find_config, load_config

ALLOWED_ROLES = frozenset({"admin", "maintain", "write"})


@dataclass(frozen=True)
class Answered:
    """What one comment led to: for the runner's log, and the evaluation it caused."""

    outcome: str
    recorded: int = 0
    commits: tuple[str, ...] = ()
    evaluated: Evaluated | None = None


def head_outputs(
    loaded: LoadedConfig, wanted: Mapping[str, Sequence[str]]
) -> dict[tuple[str, str], str]:
    """Run just the named cases; with the response cache these are the outputs the pull
    request's own run produced, so the fingerprints match what the reviewer read."""
    opts = RunOptions(config_path=loaded.path, suites=tuple(wanted))
    # ``loaded`` may point the cache elsewhere (the action's cache-dir); the runner uses it.
    prepared = replace(project_for(opts), loaded=loaded)
    runner = make_runner(prepared, opts)
    found: dict[tuple[str, str], str] = {}
    for plan in prepared.plans:
        cases = [c for c in plan.cases if c.id in wanted.get(plan.name, ())]
        [outcomes] = asyncio.run(runner.run_suite(plan, cases=cases))
        for outcome in outcomes:
            if outcome.output is not None:
                # The calls are part of the output a reviewer judged.
                found[(plan.name, outcome.case.id)] = with_calls(outcome.output, outcome.tool_calls)
    return found


def on_comment(ci: Ci, outputs: OutputsFn = head_outputs) -> Answered:
    """`promptloop ci` on ``issue_comment`` and ``pull_request_review_comment``."""
    runtime = ci.runtime
    try:
        payload = json.loads(runtime.event_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(
            f"cannot read the event payload: {exc}", path=str(runtime.event_path)
        ) from None
    with contextlib.chdir(ci.workdir()):
        return _handle(ci, payload, outputs)


def _handle(ci: Ci, payload: Mapping[str, Any], outputs: OutputsFn) -> Answered:
    runtime = ci.runtime
    event = parse_comment_event(runtime.event_name, payload)
    if event is None or event.action != "created":
        return Answered("not a new comment on a pull request")
    gh = ci.github()
    own = gh.own_login()
    if event.author_is_bot or (own is not None and event.author == own):
        return Answered("written by a bot")
    commands, problems = parse_commands(event.body)
    if not commands and not problems:
        return Answered("no command")
    answer = _Answer(ci, event)
    role = gh.permission_of(event.author)
    if role not in ALLOWED_ROLES:
        return answer("-1", replies.refused(event.author, role), "refused: no write permission")
    head = gh.pull_head(event.number)
    if (head.head_repo_full_name or "").lower() != runtime.repository.lower():
        return answer("eyes", replies.from_a_fork(commands), "refused: a fork")
    if any(c.verb == "help" for c in commands) and not problems:
        return answer("+1", HELP, "help")
    checkout = ci.workdir()
    checked_out = head_commit(checkout)
    if checked_out != head.head_sha:
        raise InfraError(
            f"the checkout is at {checked_out or 'no commit'}, not the pull request's head "
            f"{head.head_sha}; check out refs/pull/{event.number}/head before `promptloop ci`"
        )
    loaded = _load(ci)
    verdicts = _resolve(gh, event, commands, problems, loaded)
    if problems:
        return answer("confused", replies.not_understood(problems), "refused: not understood")
    root = (find_root(checkout) or checkout).resolve()
    recorded = record_verdicts(
        ci.publisher, gh, loaded, root, event, head, verdicts, outputs, ci.mask
    )
    if recorded.missing:
        return answer(
            "confused", replies.no_output(recorded.missing), "refused: no output to judge"
        )
    ci.publisher.react(event.comment_id, "+1", review_comment=event.kind == "review")
    parts = [recorded.said] if recorded.said else []
    evaluated = None
    # A commit pushed with the Actions token starts no workflow run, so promptloop does what
    # the push would have started: without it the new head has no review, summary or check.
    if recorded.commits or any(c.verb == "learn" for c in commands):
        pull = _pull_context(event, head, recorded.head_sha or head.head_sha, runtime.repository)
        try:
            evaluated = evaluate(ci, pull, checked_out)
        except PromptloopError as exc:
            # The verdicts are recorded either way; the reviewer learns why nothing else
            # changed, and the job still fails with the error.
            answer.reply("\n\n".join([*parts, replies.nothing_learned(exc.one_line())]))
            raise
        concerned = sorted({s for _, s, _ in verdicts})
        learned = [(r.suite, r.path, r.rationale) for r in evaluated.revisions]
        parts.append(
            replies.updated(
                evaluated.head_sha,
                learned,
                evaluated.unlearned,
                evaluated.said.links,
                concerned,
                evaluated.skipped,
            )
        )
    answer.reply("\n\n".join(parts))
    return Answered("recorded", recorded.total, recorded.commits, evaluated)


class _Answer:
    """The reaction and the one reply a comment gets, through the publisher."""

    def __init__(self, ci: Ci, event: CommentEvent) -> None:
        self.ci = ci
        self.event = event

    def __call__(self, reaction: str, text: str, outcome: str) -> Answered:
        event = self.event
        self.ci.publisher.react(event.comment_id, reaction, review_comment=event.kind == "review")
        self.reply(text)
        return Answered(outcome)

    def reply(self, text: str) -> None:
        event = self.event
        thread = event.thread_id if event.kind == "review" else None
        body = self.ci.mask(text)
        self.ci.publisher.reply(event.number, event.comment_id, body, in_thread_of=thread)


def _load(ci: Ci) -> LoadedConfig:
    """The project as the checkout has it, with the cache the pull request's own run filled
    (so the outputs are the ones it showed)."""
    loaded = load_config(ci.opts.config_path or find_config(Path(".")))
    if ci.opts.cache_dir is None:
        return loaded
    where = str((Path.cwd() / ci.opts.cache_dir).resolve())
    cache = loaded.config.cache.model_copy(update={"dir": where, "enabled": True})
    return replace(loaded, config=loaded.config.model_copy(update={"cache": cache}))


def _resolve(
    gh: GitHubClient,
    event: CommentEvent,
    commands: Sequence[Command],
    problems: list[Problem],
    loaded: LoadedConfig,
) -> list[tuple[Command, str, str]]:
    """Each verdict's (command, suite, case); what cannot be resolved joins ``problems``."""
    names = {s.name: CaseNames.of(loaded.load_cases(s)) for s in loaded.config.suites}
    verdicts: list[tuple[Command, str, str]] = []
    for command in commands:
        if command.verb not in ("good", "bad"):
            continue
        named = [command.case] if command.case else _thread_cases(gh, event)
        if not named:
            problems.append(Problem(command.line, "", replies.name_the_case(command.verb)))
        for wanted in named:
            resolved = resolve_case(wanted, names)
            if isinstance(resolved, str):
                problems.append(Problem(command.line, "", resolved))
            else:
                verdicts.append((command, *resolved))
    return verdicts


def _pull_context(
    event: CommentEvent, head: PullHead, head_sha: str, repository: str
) -> PullContext:
    return PullContext(
        event_name="pull_request_review_comment" if event.kind == "review" else "issue_comment",
        number=event.number,
        base_sha=head.base_sha,
        base_ref=head.base_ref,
        head_sha=head_sha,
        head_ref=head.head_ref,
        head_repo_full_name=head.head_repo_full_name,
        base_repo_full_name=repository,
        is_fork=False,
    )


def _thread_cases(gh: GitHubClient, event: CommentEvent) -> list[str]:
    """The cases listed by the promptloop finding this comment replies to; only a comment
    promptloop itself posted (its identity and marker) is read, never someone else's."""
    if event.kind != "review" or event.thread_id is None:
        return []
    for comment in gh.our_review_comments(event.number):
        if comment.id == event.thread_id:
            return listed_cases(comment.body)
    return []
