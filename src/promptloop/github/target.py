"""What one `promptloop ci` run evaluates: which commits, and which files changed, read from
the event, the checkout and the pull request's file list."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from promptloop.errors import InfraError
from promptloop.github.api import GitHubClient
from promptloop.github.event import (
    DispatchContext,
    MergeGroupContext,
    PullContext,
    PushContext,
)
from promptloop.github.state import PullFile, PullFiles
from promptloop.project.git import changed_paths

FORK_NOTE = (
    "This pull request comes from a fork, so its token is read-only: no review, comment or "
    "check run is posted from this run; the gate is this job's exit code, its annotations "
    "and this summary. What it would say is in its artifact, for the base repository's "
    "workflow_run to publish (see promptloop's README)."
)


@dataclass(frozen=True)
class Target:
    """Which commits to compare and which files changed (None: unknown, run everything)."""

    head_sha: str
    base_sha: str | None
    changed: list[PullFile] | None
    files: PullFiles | None = None
    # The commit checked out, when the head is not it: the head is then that commit plus
    # promptloop's own commit of reviewers' verdicts, whose lines are on disk too.
    checkout_sha: str | None = None
    # The token may not write here (a fork's pull request): nothing is posted.
    read_only: bool = False
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def changed_between(root: Path, before: str, after: str) -> list[PullFile] | None:
    """The files a push changed, shaped like a pull request's file list."""
    changed = changed_paths(root, before, after)
    if changed is None:
        return None
    return [
        PullFile(path, "renamed", None, previous_filename=previous)
        if previous
        else PullFile(path, "modified", None)
        for path, previous in changed
    ]


def read_target(
    github: Callable[[], GitHubClient],
    ctx: PullContext | PushContext | DispatchContext | MergeGroupContext,
    root: Path,
    *,
    have_commit: Callable[[str], bool],
    sha: str | None,
) -> Target:
    """``sha`` is GITHUB_SHA, the commit a dispatch without one of its own evaluates."""
    if isinstance(ctx, PushContext):
        changed = None
        if ctx.before is not None and have_commit(ctx.before):
            changed = changed_between(root, ctx.before, ctx.after)
        return Target(ctx.after, ctx.before, changed)
    if isinstance(ctx, MergeGroupContext):
        # The group's head is its base plus the queued pull requests: what they change
        # together decides which suites run, as on a push.
        changed = None
        if have_commit(ctx.base_sha):
            changed = changed_between(root, ctx.base_sha, ctx.head_sha)
        return Target(ctx.head_sha, ctx.base_sha, changed)
    if isinstance(ctx, DispatchContext):
        return Target(ctx.sha or sha or "", ctx.inputs.get("baseline") or None, None)
    notes: list[str] = []
    read_only = ctx.is_fork and ctx.event_name == "pull_request"
    if read_only:
        notes.append(FORK_NOTE)
    if ctx.event_name == "pull_request_target":
        notes.append(
            "Running on pull_request_target: the token can write, so check out and run "
            "only code you trust (never the fork's code with secrets)."
        )
    try:
        files = github().pull_files(ctx.number)
    except InfraError as exc:
        notes.append("The PR's files could not be listed, so every suite runs.")
        return Target(
            ctx.head_sha,
            ctx.base_sha,
            None,
            read_only=read_only,
            notes=tuple(notes),
            warnings=(exc.one_line(),),
        )
    if files.truncated:
        notes.append(
            "GitHub lists at most 3000 files of a pull request and this one has more, "
            "so every suite runs."
        )
        return Target(
            ctx.head_sha, ctx.base_sha, None, files, read_only=read_only, notes=tuple(notes)
        )
    return Target(
        ctx.head_sha,
        ctx.base_sha,
        list(files.files),
        files,
        read_only=read_only,
        notes=tuple(notes),
    )
