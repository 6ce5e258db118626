"""`promptloop ci`: evaluate what a pull request changed, say so on GitHub, gate the merge.

The steps, in order: read the Actions runtime and the event → decide which commits and suites
to evaluate → run them head vs base and learn a revision of each changed prompt that fails →
plan what the pull request should show → publish the difference (``github.publish``, the only
part that writes to GitHub) → report through the runner (job summary, outputs, annotations,
exit code), which keeps working when the token is read-only.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from promptloop.commands.optimize import OptimizeOptions, run_optimizer
from promptloop.commands.pr_commands import Learned, Updated, run_comment
from promptloop.commands.run import Prepared, RunOptions, execute_run, prepare
from promptloop.engine.optimization import RunOptimization
from promptloop.engine.results import RunResult, read_results
from promptloop.errors import PromptloopError, UserError
from promptloop.gate.verdicts import exit_code_for
from promptloop.github.api import Conclusion, GitHubClient, PullFiles
from promptloop.github.changes import (
    relevant_suites,
    suite_files,
)
from promptloop.github.comment_commands import COMMENT_EVENTS
from promptloop.github.event import DispatchContext, PullContext, PushContext, load_event
from promptloop.github.plan import (
    check_run_plan,
    check_title,
    content_fingerprint,
)
from promptloop.github.review import overall_delta_pp, overall_pass_rate, verdict_of
from promptloop.github.runtime import ActionsRuntime
from promptloop.github.session import (
    GitHubFactory,
    Revision,
    Session,
    Target,
    deliver_revisions,
    plan_findings_of,
    publish_check_run,
    publish_review,
    publish_summary,
    resolve_target,
    superseded_by,
)
from promptloop.github.summary import Link, optimizer_account, render_summary
from promptloop.github.workflow import (
    Annotation,
    annotation_commands,
    append_step_summary,
    emit,
    mask_commands,
    write_outputs,
)
from promptloop.models.stop import StopSignal
from promptloop.project.config import LoadedConfig, find_config, load_config
from promptloop.project.git import find_root, head_commit
from promptloop.report.files import write_reports
from promptloop.report.markdown import render_markdown
from promptloop.safety import escape_data, known_secrets

SUGGEST_MODES = ("off", "suggestion", "commit", "pull-request")
_CONCLUSIONS: dict[str, Conclusion] = {
    "pass": "success",
    "fail": "failure",
    "inconclusive": "neutral",
}
# Exit code when nothing could be published with a token that may write.
EXIT_UNPUBLISHED = 3


@dataclass
class CiOptions:
    working_directory: Path = Path(".")
    config_path: Path | None = None
    output_dir: Path | None = None
    comment: bool = True
    suggest: str = "suggestion"
    fail_on: str = "gate"
    concurrency: int | None = None
    cache_dir: Path | None = None
    # Post an existing results.json (e.g. `promptloop merge` of a sharded run) instead of
    # running the suites here; no revision is learned then.
    results_path: Path | None = None
    # Print what would be written to GitHub and write nothing there.
    dry_run: bool = False
    # The CLI's signal handlers: a cancelled job posts what finished, marked incomplete.
    stop: StopSignal | None = None


def collect_secrets(runtime: ActionsRuntime, env: Mapping[str, str]) -> list[str]:
    """The token plus every credential in the environment, by the one rule ``run`` uses."""
    return sorted({*runtime.secrets(), *known_secrets(env)})


@dataclass
class _Ci(Session):
    """The session plus the options this run was given."""

    opts: CiOptions = field(default_factory=CiOptions)


def run_ci(
    opts: CiOptions, env: Mapping[str, str], github_factory: GitHubFactory | None = None
) -> int:
    """Returns the exit code (0 pass/neutral, 1 gate failed, 3 errors decided the gate or
    nothing could be published)."""
    if opts.suggest not in SUGGEST_MODES:
        raise UserError(f"suggest must be one of {', '.join(SUGGEST_MODES)}", key="suggest")
    if opts.fail_on not in ("gate", "never"):
        raise UserError("fail-on must be gate or never", key="fail-on")
    runtime = ActionsRuntime.from_environ(env)
    secrets = collect_secrets(runtime, env)
    emit(mask_commands(secrets))
    ci = _Ci(
        runtime,
        secrets,
        github_factory or GitHubClient,
        comment=opts.comment,
        suggest=opts.suggest,
        dry_run=opts.dry_run,
        opts=opts,
    )
    if runtime.event_name in COMMENT_EVENTS:
        return run_comment(
            runtime,
            ci.github(),
            working_directory=opts.working_directory,
            config_path=opts.config_path,
            cache_dir=opts.cache_dir,
            mask=ci.mask,
            update=lambda pull, checkout_sha: update_pull_request(ci, pull, checkout_sha),
        )
    ctx = load_event(
        runtime.event_path, runtime.event_name, sha=runtime.sha, repository=runtime.repository
    )
    with _in_workdir(ci):
        loaded, config_path = _load_config(opts)
        root = find_root(Path(".")) or _workdir(ci)
        return _evaluate_and_report(ci, ctx, loaded, config_path, root).code


def update_pull_request(ci: _Ci, pull: PullContext, checkout_sha: str) -> Updated:
    """What a `pull_request` run on ``pull``'s head would do (evaluate, learn, publish the
    review, revision, summary and check run), for a reviewer's `learn`: the feedback they
    gave is on disk, and on the head when it was committed."""
    with _in_workdir(ci):
        loaded, config_path = _load_config(ci.opts)
        root = find_root(Path(".")) or _workdir(ci)
        done = _evaluate_and_report(ci, pull, loaded, config_path, root, checkout_sha)
    return Updated(
        head_sha=pull.head_sha,
        revisions=tuple(
            Learned(r.suite, r.path, optimizer_account(r.result.trajectory)) for r in done.revisions
        ),
        unlearned=tuple(done.unlearned.items()),
        links=tuple(ci.links),
        skipped=done.skipped,
    )


def _workdir(ci: _Ci) -> Path:
    return ((ci.runtime.workspace or Path.cwd()) / ci.opts.working_directory).resolve()


@contextlib.contextmanager
def _in_workdir(ci: _Ci) -> Iterator[None]:
    workdir = _workdir(ci)
    if not workdir.is_dir():
        raise UserError("working directory does not exist", path=str(workdir))
    with contextlib.chdir(workdir):
        yield


def _load_config(opts: CiOptions) -> tuple[LoadedConfig, Path]:
    config_path = opts.config_path or find_config(Path("."))
    if not config_path.is_absolute() and opts.config_path is None:
        config_path = Path(os.path.relpath(config_path.resolve(), Path.cwd()))
    return load_config(config_path), config_path


def _to_repo(root: Path) -> Callable[[Path], str | None]:
    def convert(path: Path) -> str | None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            return None

    return convert


def _output_dir(ci: _Ci) -> Path:
    if ci.opts.output_dir is not None:
        return (Path.cwd() / ci.opts.output_dir).resolve()
    return _workdir(ci) / "promptloop-results"


@dataclass(frozen=True)
class _Selection:
    """What this run evaluates: the suites the change touches, against which base."""

    suites: list[str]
    base_sha: str | None
    skip_reason: str | None = None


@dataclass(frozen=True)
class _Said:
    """What the run reported, for the runner's own outputs."""

    job_summary: str
    outputs: dict[str, str]
    annotations: list[Annotation]


@dataclass(frozen=True)
class _Reported:
    code: int
    revisions: list[Revision] = field(default_factory=list)
    # Suites whose changed prompt got no revision, and why.
    unlearned: dict[str, str] = field(default_factory=dict)
    skipped: str | None = None


def _evaluate_and_report(
    ci: _Ci,
    ctx: PullContext | PushContext | DispatchContext,
    loaded: LoadedConfig,
    config_path: Path,
    root: Path,
    checkout_sha: str | None = None,
) -> _Reported:
    to_repo = _to_repo(root)
    pull = ctx if isinstance(ctx, PullContext) else None
    target = replace(resolve_target(ci, ctx, root), checkout_sha=checkout_sha)
    selection = _select(ci, target, pull, loaded, to_repo, root)
    if selection.skip_reason is not None:
        code = _nothing_changed(ci, pull, target.head_sha, selection.skip_reason)
        return _Reported(code, skipped=selection.skip_reason)
    prepared, result, learned = _evaluate(ci, selection, config_path, target, to_repo)
    said = _say_on_the_pull_request(
        ci, pull, target, prepared, result, learned.revisions, to_repo, root
    )
    _runner_report(ci, said.job_summary, said.outputs, said.annotations)
    code = _exit_code(ci, exit_code_for(result, prepared.loaded.config.gate))
    return _Reported(code, learned.revisions, learned.unlearned)


def _select(
    ci: _Ci,
    target: Target,
    pull: PullContext | None,
    loaded: LoadedConfig,
    to_repo: Callable[[Path], str | None],
    root: Path,
) -> _Selection:
    if not target.head_sha:
        raise UserError("no commit to report on: GITHUB_SHA is not set", key="GITHUB_SHA")
    local_head = head_commit(root)
    if local_head and local_head != (target.checkout_sha or target.head_sha) and pull is not None:
        ci.ledger.warnings.append(
            f"the checked-out commit {local_head[:12]} is not the PR head "
            f"{target.head_sha[:12]}; use actions/checkout with "
            "ref: ${{ github.event.pull_request.head.sha }}"
        )
    by_suite = suite_files(loaded, to_repo)
    if target.changed is not None:
        suites, why = relevant_suites(by_suite, target.changed, to_repo(loaded.path))
        if not suites:
            return _Selection([], None, why)
        ci.ledger.notes.append(why[:1].upper() + why[1:] + ".")
    else:
        suites = list(by_suite)
    base_sha = target.base_sha
    if base_sha is not None and not ci.have_commit(root, base_sha):
        ci.ledger.notes.append(
            f"The base commit {base_sha[:12]} is not in this checkout (use actions/checkout "
            "with fetch-depth: 0), so there is no base-vs-head comparison."
        )
        base_sha = None
    return _Selection(suites, base_sha)


def _evaluate(
    ci: _Ci,
    selection: _Selection,
    config_path: Path,
    target: Target,
    to_repo: Callable[[Path], str | None],
) -> tuple[Prepared, RunResult, _Learned]:
    """Run the suites head vs base (or read an earlier job's results), and learn revisions."""
    run_opts = RunOptions(
        start_dir=Path("."),
        config_path=config_path,
        output_dir=_output_dir(ci),
        suites=tuple(selection.suites),
        concurrency=ci.opts.concurrency,
        baseline=selection.base_sha,
        stop=ci.opts.stop,
    )
    prepared = _with_cache_dir(ci, prepare(run_opts))
    results_path = ci.opts.results_path
    if results_path is not None:
        results_path = (Path.cwd() / results_path).resolve()
        ci.ledger.notes.append(
            f"Results from {results_path.name} (computed by earlier jobs), so no "
            "revision is learned in this job."
        )
        return prepared, read_results(results_path), _Learned()
    result = execute_run(run_opts, prepared)
    if result.incomplete:
        # A stopped run posts what finished; learning a revision would need the rest.
        return prepared, result, _Learned()
    learned = _learn_revisions(ci, prepared, run_opts, result, target.files, to_repo)
    return prepared, result, learned


def _say_on_the_pull_request(
    ci: _Ci,
    pull: PullContext | None,
    target: Target,
    prepared: Prepared,
    result: RunResult,
    revisions: list[Revision],
    to_repo: Callable[[Path], str | None],
    root: Path,
) -> _Said:
    """Plan what the pull request shows and publish it in order (revisions, review, summary,
    check run): each later part links to what the earlier ones became."""
    head_sha = target.head_sha
    inline, unplaced, annotations = plan_findings_of(
        prepared.loaded, result, target.files, head_sha, to_repo, root, ci.runtime.run_url
    )
    revision_md = deliver_revisions(
        ci, revisions, target.files, pull, head_sha, inline, root, target.checkout_sha
    )
    if revisions:
        optimization = RunOptimization(
            markdown="\n\n".join(revision_md), suites={r.suite: r.result for r in revisions}
        )
        result = result.model_copy(update={"optimization": optimization})
    paths = write_reports(result, _output_dir(ci))
    for p in paths.values():
        p.write_text(ci.mask(p.read_text(encoding="utf-8")), encoding="utf-8")

    verdict = verdict_of(result)
    on_github = False
    if ci.can_comment(pull) and pull is not None:
        on_github = publish_review(ci, pull, head_sha, inline, verdict, target.files)
    if not on_github:
        # The summary carries what could not become review comments.
        unplaced = [c for c in inline if c.kind != "suggestion"] + unplaced
    repo_url = f"{ci.runtime.server_url}/{ci.runtime.repository}"
    report_md = render_markdown(
        result, head_sha=head_sha, repo_url=repo_url, more_url=ci.runtime.run_url
    )
    content = content_fingerprint(head_sha, report_md)
    job_link = [Link("job summary", ci.runtime.run_url)] if ci.runtime.run_url else []
    summary = ci.mask(
        render_summary(report_md, notes=ci.notes(), links=ci.links + job_link, unplaced=unplaced)
    )
    if ci.can_comment(pull) and pull is not None:
        publish_summary(ci, pull.number, head_sha, content, summary)
    # A stopped run still blocks a required check, but as GitHub's own cancelled jobs do:
    # "failure" would tell the author their prompt failed when it was never finished.
    conclusion: Conclusion = "cancelled" if result.incomplete else _CONCLUSIONS[verdict]
    check = check_run_plan(
        head_sha,
        conclusion,
        check_title(result),
        summary,
        content,
        annotations,
        ci.runtime.run_url,
    )
    publish_check_run(ci, check)

    # Notes added while publishing (read-only, failed writes) belong in the job summary too.
    job_summary = render_summary(
        render_markdown(result, head_sha=head_sha, repo_url=repo_url, max_cases=50, chart=True),
        notes=ci.notes(),
        links=ci.links,
        unplaced=unplaced,
        findings=inline,
    )
    rate = overall_pass_rate(result)
    delta = overall_delta_pp(result)
    outputs = {
        "verdict": verdict,
        "pass-rate": "" if rate is None else f"{rate:.4f}",
        "delta": "" if delta is None else f"{delta:.2f}",
        "results-path": str(paths["results"]),
    }
    return _Said(job_summary, outputs, annotations)


def _with_cache_dir(ci: _Ci, prepared: Prepared) -> Prepared:
    if ci.opts.cache_dir is None:
        return prepared
    cache_dir = (Path.cwd() / ci.opts.cache_dir).resolve()
    cfg = prepared.loaded.config
    cache = cfg.cache.model_copy(update={"dir": str(cache_dir), "enabled": True})
    loaded = replace(prepared.loaded, config=cfg.model_copy(update={"cache": cache}))
    return replace(prepared, loaded=loaded)


@dataclass
class _Learned:
    revisions: list[Revision] = field(default_factory=list)
    unlearned: dict[str, str] = field(default_factory=dict)


def _learn_revisions(
    ci: _Ci,
    prepared: Prepared,
    run_opts: RunOptions,
    result: RunResult,
    files: PullFiles | None,
    to_repo: Callable[[Path], str | None],
) -> _Learned:
    learned = _Learned()
    if ci.opts.suggest == "off" or files is None:
        return learned
    seen_paths: set[str] = set()
    for plan in prepared.plans:
        suite = next((s for s in result.suites if s.name == plan.name), None)
        path = to_repo(Path(plan.prompt.path))
        pull_file = files.get(path) if path else None
        if suite is None or path is None or path in seen_paths:
            continue
        if pull_file is None or pull_file.status == "removed":
            learned.unlearned[plan.name] = "this pull request does not change its prompt"
            continue
        if not any(c.status == "fail" for c in suite.cases):
            learned.unlearned[plan.name] = "no case fails"
            continue
        seen_paths.add(path)
        try:
            optimized = run_optimizer(prepared, plan, OptimizeOptions(run=run_opts))
        except PromptloopError as exc:
            ci.ledger.notes.append(f"No revision learned for {plan.name}: {exc.one_line()}")
            learned.unlearned[plan.name] = exc.one_line()
            continue
        if optimized.improved and optimized.revised_text != optimized.seed_text:
            learned.revisions.append(Revision(plan.name, path, optimized))
        else:
            reason = optimized.stop_reason or optimized.status
            ci.ledger.notes.append(
                f"The optimizer found no better prompt for {plan.name} ({reason})."
            )
            learned.unlearned[plan.name] = f"the optimizer found no better prompt ({reason})"
    return learned


def _nothing_changed(ci: _Ci, pull: PullContext | None, head_sha: str, why: str) -> int:
    text = f"promptloop: nothing to evaluate ({why})."
    if ci.can_comment(pull) and pull is not None:
        # A head that undid the prompt change leaves earlier findings stale.
        by = f"{superseded_by(ci, head_sha)} ({why})"
        ci.publisher().supersede(pull.number, head_sha, by)
    summary = f"## promptloop — skipped\n\n{text}\n"
    plan = check_run_plan(
        head_sha,
        "neutral",
        "promptloop: no prompt changed",
        summary,
        content_fingerprint(head_sha, summary),
        details_url=ci.runtime.run_url,
    )
    publish_check_run(ci, plan)
    emit([ci.mask(f"::notice title=promptloop::{text}")])
    _runner_report(ci, summary, {"verdict": "skipped", "pass-rate": "", "delta": ""}, [])
    return _exit_code(ci, 0)


# --- step 5: the runner ----------------------------------------------------------------------


def _exit_code(ci: _Ci, gate_code: int) -> int:
    """The gate's exit code, unless a token that may write could publish nothing at all."""
    if ci.opts.fail_on == "never":
        return 0
    if not ci.published and not ci.ledger.read_only and not ci.opts.dry_run:
        answered = ci.ledger.last_failure or "no answer"
        sys.stderr.write(
            f"promptloop: nothing could be published to GitHub (no check run, no comment): "
            f"{ci.mask(answered)}\n"
        )
        return max(gate_code, EXIT_UNPUBLISHED)
    return gate_code


def _runner_report(
    ci: _Ci, summary: str, outputs: dict[str, str], annotations: Sequence[Annotation]
) -> None:
    if ci.opts.dry_run:
        lines = ci.ledger.planned or ["nothing: GitHub already shows this result"]
        sys.stdout.write("promptloop ci --dry-run would write to GitHub:\n")
        sys.stdout.write("".join(f"- {ci.mask(line)}\n" for line in lines))
        return
    outputs = {**outputs, "suggestion-url": ci.suggestion_url or ""}
    outputs.setdefault("results-path", "")
    commands, omitted = annotation_commands(annotations)
    emit(ci.mask(c) for c in commands)
    for warning in ci.ledger.warnings:
        emit([ci.mask(f"::warning title=promptloop::{escape_data(warning)}")])
    if omitted:
        summary += f"\n{omitted} more annotations are in the check run and results.json.\n"
    if ci.runtime.step_summary_path is not None:
        append_step_summary(ci.runtime.step_summary_path, ci.mask(summary))
    else:
        sys.stderr.write(ci.mask(summary))
    if ci.runtime.output_path is not None:
        write_outputs(ci.runtime.output_path, {k: ci.mask(v) for k, v in outputs.items()})
