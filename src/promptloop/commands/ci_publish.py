"""`promptloop ci` on `workflow_run`: publish what a fork's read-only pull request run decided.

A fork's `pull_request` run has a read-only token, so it gates through its exit code and
leaves what it would have said in its artifact (``github.saying``). This activity, run by the
base repository's `workflow_run` workflow with a token that may write, reads that artifact
as untrusted input (checked, bound to the pull request and head commit GitHub names in the
payload, neutralised; nothing in it is run), then publishes the review, the sticky summary
and the check run through the one publisher, exactly as a same-repository run would.
"""

from __future__ import annotations

from dataclasses import dataclass

from promptloop.commands.ci_evaluate import Ci
from promptloop.errors import InfraError, UserError
from promptloop.github.event import WorkflowRunContext
from promptloop.github.pull_request import Said, Speaker, speak
from promptloop.github.saying import SAYING_FILE, read_saying
from promptloop.github.state import PullFiles


@dataclass(frozen=True)
class Published:
    said: Said
    # Always 0: this job's own exit code gates nothing (it runs on the default branch);
    # the check run it posts on the pull request's head is the gate.
    gate_code: int = 0


def publish_artifact(ci: Ci, ctx: WorkflowRunContext) -> Published:
    # Read.
    if ctx.number is None:
        raise UserError(
            "the workflow_run payload names no pull request for its head commit "
            f"{ctx.head_sha[:12]}, so there is nothing to publish the fork's results on",
            key="workflow_run.pull_requests",
        )
    if ci.opts.results_path is None:
        raise UserError(
            "on workflow_run, pass --results (the action's `results` input): the "
            "results.json in the artifact the pull request's run uploaded",
            key="--results",
        )
    folder = (ci.workdir() / ci.opts.results_path).resolve().parent
    runtime = ci.runtime
    saying, number = read_saying(
        folder / SAYING_FILE,
        number=ctx.number,
        head_sha=ctx.head_sha,
        run_url=ctx.run_url,
        repo_url=f"{runtime.server_url}/{runtime.repository}",
    )
    notes: list[str] = []
    comment = ci.opts.comment
    if ctx.pull_head_sha is not None and ctx.pull_head_sha != ctx.head_sha:
        # The review and summary belong to the newest head: only the check run is posted.
        comment = False
        notes.append(
            f"Pull request #{number} has moved on to {ctx.pull_head_sha[:12]} since this run "
            f"evaluated {ctx.head_sha[:12]}: only its check run is posted; the new head's "
            "own run will review it."
        )
    files = _pull_files(ci, number)
    # Decide and publish: the fork's words, through the one publisher.
    speaker = Speaker(ci.publisher, runtime, ci.mask, comment, ci.opts.suggest)
    spoken = speak(speaker, number if comment else None, saying, files)
    # Report.
    summary = (
        f"## promptloop — published the results of pull request #{number}'s run\n\n"
        + "".join(f"> {n}\n\n" for n in notes)
        + spoken.summary
    )
    outputs = {"verdict": saying.verdict, "pass-rate": "", "delta": "", "results-path": ""}
    warnings = [*ci.publisher.ledger.warnings]
    said = Said(summary, outputs, warnings=warnings, notices=notes, links=spoken.links)
    return Published(said)


def _pull_files(ci: Ci, number: int) -> PullFiles | None:
    """The pull request's files as GitHub lists them now (where review comments may go)."""
    try:
        return ci.github().pull_files(number)
    except InfraError:
        return None
