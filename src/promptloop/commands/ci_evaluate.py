"""`promptloop ci`'s evaluating activity (a pull request, a push, a manual dispatch, a merge
queue's group): read what changed and what it concerns (``ci_select``) → run the suites head
vs base and learn a revision of each changed prompt that fails (``ci_learn``), or take the
results earlier jobs computed → decide what GitHub should show and publish it through the
one publisher (``github.pull_request.say``) → hand the runner's report back. Every step
returns its outcome; nothing is shared but the publisher.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from functools import cache, partial
from pathlib import Path

from promptloop.commands.ci_baseline import leave_baseline, restored_note
from promptloop.commands.ci_job import Ci
from promptloop.commands.ci_learn import earlier_results, run_and_learn
from promptloop.commands.ci_select import select
from promptloop.errors import UserError
from promptloop.gate.verdicts import exit_code_for
from promptloop.github.event import (
    DispatchContext,
    MergeGroupContext,
    PullContext,
    PushContext,
)
from promptloop.github.pull_request import (
    Checkout,
    Evaluation,
    Said,
    Speaker,
    compose,
    say,
    say_nothing_changed,
)
from promptloop.github.run_figures import advisory_only
from promptloop.github.saying import SAYING_FILE, write_saying
from promptloop.github.summary import optimizer_account
from promptloop.github.target import FORK_NOTE, read_target
from promptloop.project.git import ensure_commit, find_root


@dataclass(frozen=True)
class Learned:
    """A revision the run learned, and the optimizer's own reason for it."""

    suite: str
    path: str
    rationale: str


@dataclass(frozen=True)
class Evaluated:
    """What evaluating a head did, for the runner and for a reviewer's `learn`."""

    head_sha: str
    gate_code: int
    # What the runner shows, and where on GitHub the words are.
    said: Said
    revisions: tuple[Learned, ...] = ()
    # (suite, why no revision) for the suites whose changed prompt got none.
    unlearned: tuple[tuple[str, str], ...] = ()
    # Why nothing was evaluated (no suite concerns the change).
    skipped: str | None = None


Evaluable = PullContext | PushContext | DispatchContext | MergeGroupContext


def evaluate(ci: Ci, ctx: Evaluable, checkout_sha: str | None = None) -> Evaluated:
    """``checkout_sha``: the commit on disk, when the head is it plus promptloop's own
    feedback commit (a reviewer's `learn`)."""
    workdir = ci.workdir()
    if not workdir.is_dir():
        raise UserError("working directory does not exist", path=str(workdir))
    with contextlib.chdir(workdir):
        # Read: the config, the commits and files, what the change concerns.
        loaded = ci.load_config()
        checkout = Checkout(find_root(Path(".")) or workdir)
        have_commit = cache(partial(ensure_commit, checkout.root))
        pull = ctx if isinstance(ctx, PullContext) else None
        target = read_target(
            ci.github, ctx, checkout.root, have_commit=have_commit, sha=ci.runtime.sha
        )
        target = replace(target, checkout_sha=checkout_sha)
        if target.read_only:
            ci.publisher.hold()
        selection = select(target, pull, loaded, checkout, have_commit)
        notes = [*target.notes, *selection.notes]
        speaker = Speaker(
            ci.publisher,
            ci.runtime,
            ci.secrets,
            ci.opts.comment,
            ci.opts.suggest,
            warnings=(*target.warnings, *selection.warnings),
        )
        if selection.skip_reason is not None:
            why = selection.skip_reason
            said = say_nothing_changed(speaker, pull, target.head_sha, why)
            leave_baseline(ctx, loaded, target.head_sha, [], every_suite=False)
            return Evaluated(target.head_sha, 0, said, skipped=why)
        # Run and learn here, or post what earlier jobs computed.
        if ci.opts.results_path is None:
            if pull is not None:
                # Whether the base side's answers came from the default branch's baseline.
                restored = restored_note(loaded, selection.base_sha, selection.suites)
                notes.extend([restored] if restored else [])
            ran = run_and_learn(ci, loaded, selection, target.files, checkout)
            if not ran.result.incomplete:
                every = target.changed is None
                leave_baseline(ctx, loaded, target.head_sha, selection.suites, every_suite=every)
        else:
            ran = earlier_results((workdir / ci.opts.results_path).resolve())
        # Decide and publish.
        speaker = replace(speaker, notes=(*notes, *ran.notes))
        evaluation = Evaluation(pull, target, loaded, ran.result, ran.revisions, checkout)
        said = say(speaker, evaluation, ci.output_dir())
        if target.read_only and pull is not None:
            _leave_saying(ci, speaker, evaluation, pull.number)
    # Report.
    learned = (
        Learned(r.suite, r.path, optimizer_account(r.result.trajectory)) for r in ran.revisions
    )
    return Evaluated(
        target.head_sha,
        _gate_code(evaluation),
        said,
        tuple(learned),
        tuple(ran.unlearned.items()),
    )


def _leave_saying(ci: Ci, speaker: Speaker, evaluation: Evaluation, number: int) -> None:
    """A fork's read-only run: what a run that could write would say, left in its artifact
    for the base repository's `workflow_run` to publish."""
    unheld = replace(speaker, notes=tuple(n for n in speaker.notes if n != FORK_NOTE))
    decided = compose(unheld, evaluation, can_comment=ci.opts.comment)
    # Masked like every report: the artifact is as public as the pull request.
    write_saying(ci.output_dir() / SAYING_FILE, number, decided.saying, mask=ci.mask)


def _gate_code(evaluation: Evaluation) -> int:
    """The gate's exit code; failures in advisory suites alone never fail the job."""
    result = evaluation.result
    if advisory_only(result, evaluation.advisory) and not result.incomplete:
        return 0
    return exit_code_for(result, evaluation.loaded.config.gate)
