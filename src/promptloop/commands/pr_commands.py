"""`promptloop ci` on a comment: a reviewer's `/promptloop` commands, from comment to commit.

The steps: read the comment → ignore bots, ourselves and comments without a command → ask
GitHub for the author's permission (``author_association`` says nothing about write access)
→ refuse forks without running anything → resolve every case, or answer why not and record
nothing → run the named cases on the checked-out head to fingerprint their outputs → append
the verdicts to the feedback files on the head branch (one commit for the batch; a push in
between is answered by reading the branch again) → acknowledge with a reaction and one reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from promptloop.commands.pr_feedback import OutputsFn, record_verdicts
from promptloop.commands.run import RunOptions, make_runner, prepare
from promptloop.errors import InfraError, PromptloopError, UserError
from promptloop.github.api import GitHubClient, PullHead
from promptloop.github.comment_commands import (
    HELP,
    PREFIX,
    Command,
    CommentEvent,
    Problem,
    listed_cases,
    parse_commands,
    parse_comment_event,
    resolve_case,
)
from promptloop.github.event import PullContext
from promptloop.github.runtime import ActionsRuntime
from promptloop.github.summary import Link
from promptloop.models.base import with_calls
from promptloop.project.config import LoadedConfig, find_config, load_config
from promptloop.project.git import find_root, head_commit
from promptloop.safety import code_block, inline_code, neutralize
from promptloop.wording import one_line

ALLOWED_ROLES = frozenset({"admin", "maintain", "write"})


@dataclass(frozen=True)
class Learned:
    """A revision `learn` delivered, and the optimizer's own reason for it."""

    suite: str
    path: str
    rationale: str


@dataclass(frozen=True)
class Updated:
    """What updating the pull request for a head (``ci``'s whole pull-request road) did."""

    head_sha: str
    revisions: tuple[Learned, ...] = ()
    # (suite, why no revision) for the suites whose changed prompt got none.
    unlearned: tuple[tuple[str, str], ...] = ()
    links: tuple[Link, ...] = ()
    # Why nothing was evaluated (no suite concerns the pull request's changes).
    skipped: str | None = None


# Evaluates the pull request at its head (the checked-out commit, or it plus promptloop's
# feedback commit) and publishes the review, revision, summary and check run.
UpdateFn = Callable[[PullContext, str], Updated]


@dataclass
class Handled:
    """What one comment led to, for the runner's log and the tests."""

    outcome: str
    recorded: int = 0
    commits: tuple[str, ...] = ()


def head_outputs(
    loaded: LoadedConfig, wanted: Mapping[str, Sequence[str]]
) -> dict[tuple[str, str], str]:
    """Run just the named cases; with the response cache these are the outputs the pull
    request's own run produced, so the fingerprints match what the reviewer read."""
    opts = RunOptions(config_path=loaded.path, suites=tuple(wanted))
    # ``loaded`` may point the cache elsewhere (the action's cache-dir); the runner uses it.
    prepared = replace(prepare(opts), loaded=loaded)
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


class _Conversation:
    def __init__(self, gh: GitHubClient, event: CommentEvent, mask: Callable[[str], str]) -> None:
        self.gh = gh
        self.event = event
        self.mask = mask

    def react(self, content: str) -> None:
        self.gh.react(self.event.comment_id, content, review_comment=self.event.kind == "review")

    def reply(self, text: str) -> None:
        """``text`` is promptloop's Markdown (its links and code blocks stay live); whatever
        the commenter, a model or an error wrote is neutralised where it is put in."""
        thread = self.event.thread_id if self.event.kind == "review" else None
        self.gh.reply(self.event.number, self.mask(text), in_thread_of=thread)


def handle_comment(
    gh: GitHubClient,
    event_name: str,
    payload: Mapping[str, Any],
    *,
    repository: str,
    load: Callable[[], LoadedConfig],
    checkout: Path,
    outputs: OutputsFn = head_outputs,
    update: UpdateFn,
    mask: Callable[[str], str] = str,
) -> Handled:
    event = parse_comment_event(event_name, payload)
    if event is None or event.action != "created":
        return Handled("not a new comment on a pull request")
    own = gh.own_login()
    if event.author_is_bot or (own is not None and event.author == own):
        return Handled("written by a bot")
    commands, problems = parse_commands(event.body)
    if not commands and not problems:
        return Handled("no command")
    talk = _Conversation(gh, event, mask)
    role = gh.permission_of(event.author)
    if role not in ALLOWED_ROLES:
        talk.react("-1")
        talk.reply(
            f"Sorry, {event.author}: promptloop takes commands only from people with write, "
            f"maintain or admin permission on this repository (yours: {role}). Nothing was "
            "recorded. A maintainer can repeat the command if they agree."
        )
        return Handled("refused: no write permission")
    head = gh.pull_head(event.number)
    if (head.head_repo_full_name or "").lower() != repository.lower():
        talk.react("eyes")
        talk.reply(_fork_reply(commands))
        return Handled("refused: a fork")
    if any(c.verb == "help" for c in commands) and not problems:
        talk.react("+1")
        talk.reply(HELP)
        return Handled("help")
    checked_out = head_commit(checkout)
    if checked_out != head.head_sha:
        raise InfraError(
            f"the checkout is at {checked_out or 'no commit'}, not the pull request's head "
            f"{head.head_sha}; check out refs/pull/{event.number}/head before `promptloop ci`"
        )
    loaded = load()
    ids = {s.name: [c.id for c in loaded.load_cases(s)] for s in loaded.config.suites}
    verdicts: list[tuple[Command, str, str]] = []
    for command in commands:
        if command.verb not in ("good", "bad"):
            continue
        named = [command.case] if command.case else _thread_cases(gh, event)
        if not named:
            why = (
                f"name the case: `{PREFIX} {command.verb} CASE: note` (only a reply to one of "
                "promptloop's findings may leave it out)"
            )
            problems.append(Problem(command.line, "", why))
        for wanted in named:
            resolved = resolve_case(wanted, ids)
            if isinstance(resolved, str):
                problems.append(Problem(command.line, "", resolved))
            else:
                verdicts.append((command, *resolved))
    if problems:
        talk.react("confused")
        talk.reply(_problems_reply(problems))
        return Handled("refused: not understood")
    root = (find_root(checkout) or checkout).resolve()
    recorded = record_verdicts(gh, loaded, root, event, head, verdicts, outputs, talk.mask)
    if recorded.missing:
        talk.react("confused")
        talk.reply(
            "Nothing was recorded: the model gave no output for "
            + ", ".join(inline_code(m) for m in recorded.missing)
            + " on this head, so there is nothing to judge. Try again once it answers."
        )
        return Handled("refused: no output to judge")
    talk.react("+1")
    parts = [recorded.said] if recorded.said else []
    # A commit pushed with the Actions token starts no workflow run, so promptloop does what
    # the push would have started: without it the new head has no review, summary or check.
    if recorded.commits or any(c.verb == "learn" for c in commands):
        pull = _pull_context(event, head, recorded.head_sha or head.head_sha, repository)
        try:
            updated = update(pull, checked_out)
        except PromptloopError as exc:
            # The verdicts are recorded either way; the reviewer learns why nothing else
            # changed, and the job still fails with the error.
            talk.reply("\n\n".join([*parts, f"Nothing was learned: {neutralize(exc.one_line())}"]))
            raise
        parts.append(_updated_reply(updated, sorted({s for _, s, _ in verdicts})))
    talk.reply("\n\n".join(parts))
    return Handled("recorded", recorded.total, recorded.commits)


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


def _updated_reply(updated: Updated, concerned: Sequence[str]) -> str:
    """Where the review, the summary and the revision now are, and why a suite the verdicts
    concern got no revision."""
    if updated.skipped is not None:
        return f"Nothing to learn: {neutralize(updated.skipped)}."
    lines = []
    for learned in updated.revisions:
        reason = f" The optimizer's reason: {neutralize(one_line(learned.rationale, 400))}"
        lines.append(
            f"**{inline_code(learned.suite)}**: learned a revision of "
            f"{inline_code(learned.path)}.{reason if learned.rationale.strip() else ''}"
        )
    why_not = dict(updated.unlearned)
    for suite in [*concerned, *(s for s in why_not if s not in concerned)]:
        if suite in why_not and not any(r.suite == suite for r in updated.revisions):
            lines.append(f"**{inline_code(suite)}**: no revision: {neutralize(why_not[suite])}.")
    head = inline_code(updated.head_sha[:7])
    links = " · ".join(f"[the {link.label}]({link.url})" for link in updated.links)
    lines.append(f"Updated for {head}" + (f": {links}." if links else "."))
    return "\n\n".join(lines)


def _thread_cases(gh: GitHubClient, event: CommentEvent) -> list[str]:
    """The cases listed by the promptloop finding this comment replies to; only a comment
    promptloop itself posted (its identity and marker) is read, never someone else's."""
    if event.kind != "review" or event.thread_id is None:
        return []
    for comment in gh.our_review_comments(event.number):
        if comment.id == event.thread_id:
            return listed_cases(comment.body)
    return []


def _problems_reply(problems: Sequence[Problem]) -> str:
    lines = [
        "Nothing was recorded; promptloop did not understand "
        + ("this line:" if len(problems) == 1 else "these lines:")
    ]
    # The reasons quote the commenter's words (a case id, a verb).
    lines += [f"- {neutralize(p.render())}" for p in sorted(problems, key=lambda p: p.line)]
    lines.append(f"\n`{PREFIX} help` lists the commands.")
    return "\n".join(lines)


def _fork_reply(commands: Sequence[Command]) -> str:
    verdicts = [c for c in commands if c.verb in ("good", "bad") and c.case]
    how = (
        "\n".join(f'promptloop feedback add SUITE {c.case} {c.verb} "{c.note}"' for c in verdicts)
        or 'promptloop feedback add SUITE CASE bad "what is wrong"'
    )
    return (
        "This pull request comes from a fork, so promptloop records nothing here: it would "
        "have to run the fork's code with this repository's secrets. The fork's author can "
        "add the feedback by hand on the branch, after `promptloop run`:\n\n"
        f"{code_block(how, 'sh')}\n\nand commit the suite's `.feedback.jsonl` file."
    )


def run_comment(
    runtime: ActionsRuntime,
    gh: GitHubClient,
    *,
    working_directory: Path,
    config_path: Path | None,
    cache_dir: Path | None = None,
    update: UpdateFn,
    mask: Callable[[str], str] = str,
    outputs: OutputsFn = head_outputs,
) -> int:
    """`promptloop ci` on ``issue_comment`` and ``pull_request_review_comment``; ``update``
    is ``ci``'s pull-request road, which `learn` takes."""
    try:
        payload = json.loads(runtime.event_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(
            f"cannot read the event payload: {exc}", path=str(runtime.event_path)
        ) from None
    workdir = ((runtime.workspace or Path.cwd()) / working_directory).resolve()
    with contextlib.chdir(workdir):
        handled = handle_comment(
            gh,
            runtime.event_name,
            payload,
            repository=runtime.repository,
            load=lambda: _with_cache(load_config(config_path or find_config(Path("."))), cache_dir),
            checkout=workdir,
            outputs=outputs,
            mask=mask,
            update=update,
        )
    print(f"promptloop: comment {handled.outcome}")
    return 0


def _with_cache(loaded: LoadedConfig, cache_dir: Path | None) -> LoadedConfig:
    """The cache the pull request's own run filled, so the outputs are the ones it showed."""
    if cache_dir is None:
        return loaded
    cache = loaded.config.cache.model_copy(
        update={"dir": str((Path.cwd() / cache_dir).resolve()), "enabled": True}
    )
    return replace(loaded, config=loaded.config.model_copy(update={"cache": cache}))
