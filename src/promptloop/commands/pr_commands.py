"""`promptloop ci`'s comment activity: a reviewer's `/promptloop` commands, from comment to
commit.

Read → decide → publish → report, like the pull-request activity: ``comment_plan.plan_comment``
(pure) asks for each fact it needs in turn (who promptloop is, the author's permission — as
``author_association`` says nothing about write access — the pull request's head, the
checkout's cases, the finding a reply answers, the head's outputs for the named cases) and
returns one plan; ``_carry_out`` applies it through the publisher: the reaction and reply, or
the verdicts appended to the feedback files on the head branch (one commit for the batch),
then the head holding them evaluated when it moved or on `learn` (the evaluating activity,
called directly, as the one step after the plan that needs the network). Every write goes
through the publisher, so a dry run writes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

from promptloop.commands.ci_evaluate import Evaluated, evaluate
from promptloop.commands.ci_job import Ci
from promptloop.commands.pr_feedback import record_verdicts
from promptloop.commands.run import RunOptions, make_runner
from promptloop.dataset.naming import CaseNames
from promptloop.errors import PromptloopError, UserError
from promptloop.github import replies
from promptloop.github.api import GitHubClient
from promptloop.github.comment_commands import CommentEvent, listed_cases, parse_comment_event
from promptloop.github.comment_plan import CommentFacts, CommentPlan, Need, plan_comment
from promptloop.github.event import PullContext
from promptloop.github.state import PullHead
from promptloop.models.base import with_calls
from promptloop.project.git import find_root, head_commit
from promptloop.project.loaded import LoadedConfig
from promptloop.project.loader import project_from


@dataclass(frozen=True)
class CommentOutcome:
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
    project = project_from(loaded, suites=tuple(wanted))
    runner = make_runner(project, RunOptions())
    found: dict[tuple[str, str], str] = {}
    for plan in project.plans:
        cases = [c for c in plan.cases if c.id in wanted.get(plan.name, ())]
        [outcomes] = asyncio.run(runner.run_suite(plan, cases=cases))
        for outcome in outcomes:
            if outcome.output is not None:
                # The calls are part of the output a reviewer judged.
                found[(plan.name, outcome.case.id)] = with_calls(outcome.output, outcome.tool_calls)
    return found


def on_comment(ci: Ci) -> CommentOutcome:
    """`promptloop ci` on ``issue_comment`` and ``pull_request_review_comment``."""
    runtime = ci.runtime
    try:
        payload = json.loads(runtime.event_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(
            f"cannot read the event payload: {exc}", path=str(runtime.event_path)
        ) from None
    with contextlib.chdir(ci.workdir()):
        reader = _Reader(ci)
        event = parse_comment_event(runtime.event_name, payload)
        facts = CommentFacts(event, runtime.repository)
        while isinstance(step := plan_comment(facts), Need):
            facts = reader.read(facts, step)
        return _carry_out(ci, facts, step, reader)


class _Reader:
    """Each fact ``plan_comment`` asks for, read from GitHub, the checkout or the model."""

    def __init__(self, ci: Ci) -> None:
        self.ci = ci

    @cached_property
    def gh(self) -> GitHubClient:
        return self.ci.github()

    @cached_property
    def loaded(self) -> LoadedConfig:
        """The project as the checkout has it, with the cache the pull request's own run
        filled (so the outputs are the ones it showed)."""
        return self.ci.load_config()

    @cached_property
    def root(self) -> Path:
        """The checkout's top folder: the feedback files' paths on the branch start there."""
        checkout = self.ci.workdir()
        return (find_root(checkout) or checkout).resolve()

    def read(self, facts: CommentFacts, need: Need) -> CommentFacts:
        event = facts.event
        assert event is not None  # plan_comment asks for nothing before it has a comment
        match need.what:
            case "login":
                return replace(facts, own_login=self.gh.own_login() or "")
            case "role":
                return replace(facts, role=self.gh.permission_of(event.author))
            case "head":
                checked_out = head_commit(self.ci.workdir()) or ""
                return replace(facts, head=self.gh.pull_head(event.number), checked_out=checked_out)
            case "cases":
                loaded = self.loaded
                names = {s.name: CaseNames.of(loaded.load_cases(s)) for s in loaded.config.suites}
                return replace(facts, cases=names)
            case "thread":
                return replace(facts, thread_cases=tuple(_thread_cases(self.gh, event)))
            case "outputs":
                return replace(facts, outputs=head_outputs(self.loaded, need.wanted))


def _carry_out(ci: Ci, facts: CommentFacts, plan: CommentPlan, reader: _Reader) -> CommentOutcome:
    event, head = facts.event, facts.head
    if event is None or plan.reaction is None:
        return CommentOutcome(plan.outcome)
    answer = _Answer(ci, event)
    if not plan.record or head is None:
        return answer(plan.reaction, plan.reply, plan.outcome)
    recorded = record_verdicts(ci, reader.loaded, reader.root, event, head, plan)
    ci.publisher.react(event.comment_id, plan.reaction, review_comment=event.kind == "review")
    parts = [recorded.said] if recorded.said else []
    evaluated = None
    # A commit pushed with the Actions token starts no workflow run, so promptloop does what
    # the push would have started: without it the new head has no review, summary or check.
    if recorded.commits or plan.learn:
        pull = _pull_context(event, head, recorded.head_sha or head.head_sha, ci.runtime.repository)
        try:
            evaluated = evaluate(ci, pull, facts.checked_out or None)
        except PromptloopError as exc:
            # The verdicts are recorded either way; the reviewer learns why nothing else
            # changed, and the job still fails with the error.
            answer.reply("\n\n".join([*parts, replies.nothing_learned(exc.one_line())]))
            raise
        learned = [(r.suite, r.path, r.rationale) for r in evaluated.revisions]
        parts.append(
            replies.updated(
                evaluated.head_sha,
                learned,
                evaluated.unlearned,
                evaluated.said.links,
                plan.concerned,
                evaluated.skipped,
            )
        )
    answer.reply("\n\n".join(parts))
    return CommentOutcome("recorded", recorded.total, recorded.commits, evaluated)


class _Answer:
    """The reaction and the one reply a comment gets, through the publisher."""

    def __init__(self, ci: Ci, event: CommentEvent) -> None:
        self.ci = ci
        self.event = event

    def __call__(self, reaction: str, text: str, outcome: str) -> CommentOutcome:
        event = self.event
        self.ci.publisher.react(event.comment_id, reaction, review_comment=event.kind == "review")
        self.reply(text)
        return CommentOutcome(outcome)

    def reply(self, text: str) -> None:
        event = self.event
        thread = event.thread_id if event.kind == "review" else None
        body = self.ci.mask(text)
        self.ci.publisher.reply(event.number, event.comment_id, body, in_thread_of=thread)


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
