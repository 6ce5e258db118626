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

from promptloop.commands.ci_job import Ci
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
    if ci.opts.results_path is None:
        raise UserError(
            "on workflow_run, pass --results (the action's `results` input): the "
            "results.json in the artifact the pull request's run uploaded",
            key="--results",
        )
    results = (ci.workdir() / ci.opts.results_path).resolve()
    folder = results.parent
    runtime = ci.runtime
    number, pull_head = _the_pull_request(ci, ctx)
    saying, number = read_saying(
        folder / SAYING_FILE,
        number=number,
        head_sha=ctx.head_sha,
        run_url=ctx.run_url,
        repo_url=f"{runtime.server_url}/{runtime.repository}",
    )
    notes: list[str] = []
    comment = ci.opts.comment
    if pull_head is not None and pull_head != ctx.head_sha:
        # The review and summary belong to the newest head: only the check run is posted.
        comment = False
        notes.append(
            f"Pull request #{number} has moved on to {pull_head[:12]} since this run "
            f"evaluated {ctx.head_sha[:12]}: only its check run is posted; the new head's "
            "own run will review it."
        )
    files = _pull_files(ci, number)
    # Decide and publish: the fork's words, through the one publisher.
    speaker = Speaker(ci.publisher, runtime, ci.secrets, comment, ci.opts.suggest)
    spoken = speak(speaker, number if comment else None, saying, files)
    # Report.
    summary = (
        f"## promptloop — published the results of pull request #{number}'s run\n\n"
        + "".join(f"> {n}\n\n" for n in notes)
        + spoken.summary
    )
    outputs = {
        "verdict": saying.verdict,
        "pass-rate": "" if saying.pass_rate is None else f"{saying.pass_rate:.4f}",
        "delta": "" if saying.delta_pp is None else f"{saying.delta_pp:.2f}",
        "results-path": str(results),
    }
    warnings = [*ci.publisher.ledger.warnings]
    said = Said(
        summary,
        outputs,
        warnings=warnings,
        notices=notes,
        links=spoken.links,
        suggestion_url=spoken.suggestion_url,
    )
    return Published(said)


def _the_pull_request(ci: Ci, ctx: WorkflowRunContext) -> tuple[int, str | None]:
    """(number, current head) of the pull request the run was for, in GitHub's words: the
    payload's, else (a fork's run, which GitHub lists with none) the one open pull request
    from the run's head branch."""
    if ctx.number is not None:
        return ctx.number, ctx.pull_head_sha
    owner, branch = ctx.head_owner, ctx.head_branch
    if owner is None or branch is None:
        raise UserError(
            "the workflow_run payload names neither a pull request nor the head branch",
            key="workflow_run.head_branch",
        )
    pulls = ci.github().pulls_from(owner, branch)
    found = [(n, sha) for n, sha in pulls if sha == ctx.head_sha] or pulls
    if len(found) != 1:
        why = f"{len(found)} open pull requests come" if found else "no open pull request comes"
        raise UserError(
            f"{why} from {owner}:{branch}, so the run's cannot be told",
            key="workflow_run.head_branch",
        )
    return found[0]


def _pull_files(ci: Ci, number: int) -> PullFiles | None:
    """The pull request's files as GitHub lists them now (where review comments may go)."""
    try:
        return ci.github().pull_files(number)
    except InfraError:
        return None
