"""`promptloop ci`: evaluate what a pull request changed, say so on GitHub, gate the merge.

The dispatcher: read the Actions runtime → choose the activity from the event
(``github.activities.find_activity``, pure) → run it (``ci_evaluate.evaluate`` for a pull
request, a push, a dispatch, a schedule or a merge queue's group; ``ci_publish`` for what a
fork's read-only run left as its artifact; ``pr_commands.on_comment`` for a reviewer's
comment), each
writing to GitHub only through the one publisher → report to the runner (job summary,
outputs, annotations; with ``--dry-run`` the plan instead) → exit code.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import cache
from pathlib import Path

from promptloop.commands.ci_evaluate import evaluate
from promptloop.commands.ci_job import Ci, CiOptions
from promptloop.commands.ci_publish import publish_artifact
from promptloop.commands.pr_commands import on_comment
from promptloop.errors import UserError
from promptloop.github.activities import find_activity
from promptloop.github.api import GitHubClient
from promptloop.github.event import WorkflowRunContext, load_event
from promptloop.github.publish import Publisher
from promptloop.github.pull_request import Said
from promptloop.github.runtime import ActionsRuntime
from promptloop.github.workflow import (
    annotation_commands,
    append_step_summary,
    emit,
    mask_commands,
    write_outputs,
)
from promptloop.safety import escape_data, known_secrets, mask_secrets

__all__ = ["EXIT_UNPUBLISHED", "SUGGEST_MODES", "CiOptions", "collect_secrets", "run_ci"]

SUGGEST_MODES = ("off", "suggestion", "commit", "pull-request")
# Exit code when nothing could be published with a token that may write.
EXIT_UNPUBLISHED = 3

GitHubFactory = Callable[[str, str, str], GitHubClient]


def collect_secrets(runtime: ActionsRuntime, env: Mapping[str, str]) -> list[str]:
    """The token plus every credential in the environment, by the one rule ``run`` uses."""
    return sorted({*runtime.secrets(), *known_secrets(env)})


def run_ci(
    opts: CiOptions, env: Mapping[str, str], github_factory: GitHubFactory | None = None
) -> int:
    """Returns the exit code (0 pass/neutral, 1 gate failed, 3 errors decided the gate or
    nothing could be published)."""
    if opts.suggest not in SUGGEST_MODES:
        raise UserError(f"suggest must be one of {', '.join(SUGGEST_MODES)}", key="suggest")
    if opts.fail_on not in ("gate", "never"):
        raise UserError("fail-on must be gate or never", key="fail-on")
    if opts.cache_dir is not None and not opts.cache_dir.is_absolute():
        # Relative to where `promptloop ci` starts (the repository root in the action), as
        # actions/cache's `path` is: not to --working-directory.
        opts = replace(opts, cache_dir=Path.cwd() / opts.cache_dir)
    runtime = ActionsRuntime.from_environ(env)
    secrets = tuple(collect_secrets(runtime, env))
    emit(mask_commands(secrets))
    activity = find_activity(runtime.event_name)
    ci = _start(opts, runtime, secrets, github_factory or GitHubClient)
    if activity == "comment":
        answered = on_comment(ci)
        evaluated = answered.evaluated
        _report(ci, evaluated.said if evaluated else None)
        print(f"promptloop: comment {answered.outcome}")
        return 0
    ctx = load_event(
        runtime.event_path,
        runtime.event_name,
        sha=runtime.sha,
        repository=runtime.repository,
        ref_env=runtime.ref,
    )
    if isinstance(ctx, WorkflowRunContext):
        published = publish_artifact(ci, ctx)
        _report(ci, published.said)
        return _exit_code(ci, published.gate_code)
    evaluated = evaluate(ci, ctx)
    _report(ci, evaluated.said)
    _telemetry(ci, env, evaluated.said)
    return _exit_code(ci, evaluated.gate_code)


def _telemetry(ci: Ci, env: Mapping[str, str], said: Said) -> None:
    """The run's verdicts to the user's OpenTelemetry collector, when they set one; a
    collector that is down is a warning, never a failed check. ``--dry-run`` sends nothing."""
    from promptloop.commands import telemetry

    if ci.opts.dry_run or said.result is None or not telemetry.wanted(env, None):
        return
    for problem in telemetry.export_telemetry(said.result, None, env):
        emit([ci.mask(f"::warning title=promptloop::{escape_data(problem)}")])


def _start(
    opts: CiOptions, runtime: ActionsRuntime, secrets: tuple[str, ...], factory: GitHubFactory
) -> Ci:
    """The run's one client (made on first use: a run that never asks GitHub needs no
    token) and its one publisher."""
    github = cache(lambda: factory(runtime.require_token(), runtime.api_url, runtime.repository))
    publisher = Publisher(
        github, mask=lambda text: mask_secrets(text, secrets), dry_run=opts.dry_run
    )
    return Ci(opts, runtime, github, publisher, secrets)


def _exit_code(ci: Ci, gate_code: int) -> int:
    """The gate's exit code, unless a token that may write could publish nothing at all."""
    ledger = ci.publisher.ledger
    if ci.opts.fail_on == "never":
        return 0
    if not ledger.published and not ledger.read_only and not ci.opts.dry_run:
        answered = ledger.last_failure or "no answer"
        sys.stderr.write(
            f"promptloop: nothing could be published to GitHub (no check run, no comment): "
            f"{ci.mask(answered)}\n"
        )
        return max(gate_code, EXIT_UNPUBLISHED)
    return gate_code


def _report(ci: Ci, report: Said | None) -> None:
    """What the runner shows; with ``--dry-run``, what would have been written instead."""
    if ci.opts.dry_run:
        ledger = ci.publisher.ledger
        unknown = [f"(could not plan) {w}" for w in ledger.warnings]
        lines = ledger.planned + unknown or ["nothing: GitHub already shows this result"]
        sys.stdout.write("promptloop ci --dry-run would write to GitHub:\n")
        sys.stdout.write("".join(f"- {ci.mask(line)}\n" for line in lines))
        return
    if report is None:
        # Nothing was evaluated (a comment answered): what publishing met is still shown.
        ledger = ci.publisher.ledger
        emit(ci.mask(f"::warning title=promptloop::{escape_data(w)}") for w in ledger.warnings)
        return
    emit(ci.mask(f"::notice title=promptloop::{escape_data(text)}") for text in report.notices)
    outputs = {**report.outputs, "suggestion-url": report.suggestion_url or ""}
    outputs.setdefault("results-path", "")
    commands, omitted = annotation_commands(report.annotations)
    emit(ci.mask(c) for c in commands)
    for warning in report.warnings:
        emit([ci.mask(f"::warning title=promptloop::{escape_data(warning)}")])
    summary = report.job_summary
    if omitted:
        summary += f"\n{omitted} more annotations are in the check run and results.json.\n"
    runtime = ci.runtime
    if runtime.step_summary_path is not None:
        append_step_summary(runtime.step_summary_path, ci.mask(summary))
    else:
        sys.stderr.write(ci.mask(summary))
    if runtime.output_path is not None:
        write_outputs(runtime.output_path, {k: ci.mask(v) for k, v in outputs.items()})
