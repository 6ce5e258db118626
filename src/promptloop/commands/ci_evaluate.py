"""`promptloop ci`'s evaluating activity (a pull request, a push, a manual dispatch): read what
changed → run the suites head vs base and learn a revision of each changed prompt that fails →
decide what the pull request should show → publish it through the one publisher → hand the
runner's report back. Every step returns its outcome; nothing is shared but the publisher.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

from promptloop.commands.ci_baseline import (
    baseline_note,
    cache_folder,
    covered_suites,
    read_manifest,
    save_manifest,
)
from promptloop.commands.optimize import OptimizeOptions, run_optimizer
from promptloop.commands.run import (
    RunOptions,
    execute_run,
    project_for,
    run_budget,
    with_spending,
)
from promptloop.engine.results import RunResult, read_results
from promptloop.errors import PromptloopError, UserError
from promptloop.gate.verdicts import exit_code_for
from promptloop.github.api import GitHubClient
from promptloop.github.changes import relevant_suites, suite_files
from promptloop.github.deliver import Revision
from promptloop.github.event import (
    DispatchContext,
    MergeGroupContext,
    PullContext,
    PushContext,
)
from promptloop.github.publish import Publisher
from promptloop.github.pull_request import Said, Speaker, decide, say, say_nothing_changed
from promptloop.github.run_figures import advisory_only
from promptloop.github.runtime import ActionsRuntime
from promptloop.github.saying import SAYING_FILE, write_saying
from promptloop.github.state import PullFiles
from promptloop.github.summary import optimizer_account
from promptloop.github.target import FORK_NOTE, Target, read_target
from promptloop.models.stop import StopSignal
from promptloop.project.git import ensure_commit, find_root, head_commit
from promptloop.project.loader import LoadedConfig, Project, find_config, load_config
from promptloop.safety import mask_secrets


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
    # The job's budget (every call: run, second look, optimizer), over the config's `budget:`.
    max_usd: float | None = None
    max_calls: int | None = None
    # Post an existing results.json (e.g. `promptloop merge` of a sharded run) instead of
    # running the suites here; no revision is learned then.
    results_path: Path | None = None
    # Print what would be written to GitHub and write nothing there.
    dry_run: bool = False
    # The CLI's signal handlers: a cancelled job posts what finished, marked incomplete.
    stop: StopSignal | None = None


@dataclass(frozen=True)
class Ci:
    """What every activity of one `promptloop ci` run starts from: the options, the runner's
    environment, GitHub to read from, and the one publisher that writes to it."""

    opts: CiOptions
    runtime: ActionsRuntime
    github: Callable[[], GitHubClient]
    publisher: Publisher
    secrets: tuple[str, ...] = ()

    def mask(self, text: str) -> str:
        return mask_secrets(text, self.secrets)

    def workdir(self) -> Path:
        return ((self.runtime.workspace or Path.cwd()) / self.opts.working_directory).resolve()


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
        loaded, config_path = _load_config(ci.opts)
        root = find_root(Path(".")) or workdir
        to_repo, output_dir = _to_repo(root), _output_dir(ci)
        have_commit = cache(lambda sha: ensure_commit(root, sha))
        pull = ctx if isinstance(ctx, PullContext) else None
        # Read.
        target = read_target(ci.github, ctx, root, have_commit=have_commit, sha=ci.runtime.sha)
        target = replace(target, checkout_sha=checkout_sha)
        if target.read_only:
            ci.publisher.hold()
        selection = _select(target, pull, loaded, root, to_repo, have_commit)
        folder = cache_folder(loaded, ci.opts.cache_dir)
        if pull is not None and selection.skip_reason is None and ci.opts.results_path is None:
            note = baseline_note(read_manifest(folder), selection.base_sha, selection.suites)
            selection = replace(selection, notes=(*selection.notes, *filter(None, [note])))
        speaker = Speaker(
            ci.publisher,
            ci.runtime,
            ci.mask,
            ci.opts.comment,
            ci.opts.suggest,
            (*target.notes, *selection.notes),
            (*target.warnings, *selection.warnings),
        )
        if selection.skip_reason is not None:
            why = selection.skip_reason
            said = say_nothing_changed(speaker, pull, target.head_sha, why)
            _leave_baseline(ci, ctx, folder, target, [], every_suite=False)
            return Evaluated(target.head_sha, 0, said, skipped=why)
        # Run and learn.
        ran = _run(ci, selection, config_path, target, to_repo, output_dir)
        if not ran.result.incomplete and ci.opts.results_path is None:
            every = target.changed is None
            _leave_baseline(ci, ctx, folder, target, selection.suites, every_suite=every)
        # Decide and publish.
        speaker = replace(speaker, notes=(*speaker.notes, *ran.notes))
        advisory = ran.prepared.loaded.config.advisory_suites()
        said = say(
            speaker,
            pull,
            target,
            ran.prepared.loaded,
            ran.result,
            ran.revisions,
            root,
            output_dir,
            to_repo,
            advisory,
        )
        if target.read_only and pull is not None:
            # What a run that could write would say, for the base repository to publish.
            unheld = replace(speaker, notes=tuple(n for n in speaker.notes if n != FORK_NOTE))
            decided = decide(
                unheld,
                pull,
                target,
                ran.prepared.loaded,
                ran.result,
                ran.revisions,
                root,
                to_repo,
                can_comment=ci.opts.comment,
                advisory=advisory,
            )
            # Masked like every report: the artifact is as public as the pull request.
            write_saying(output_dir / SAYING_FILE, pull.number, decided.saying, mask=ci.mask)
    learned = [(r.suite, r.path, optimizer_account(r.result.trajectory)) for r in ran.revisions]
    gate_code = exit_code_for(ran.result, ran.prepared.loaded.config.gate)
    if advisory_only(ran.result, advisory) and not ran.result.incomplete:
        gate_code = 0
    return Evaluated(
        target.head_sha,
        gate_code,
        said,
        tuple(Learned(*each) for each in learned),
        tuple(ran.unlearned.items()),
    )


def _leave_baseline(
    ci: Ci,
    ctx: Evaluable,
    folder: Path | None,
    target: Target,
    evaluated: list[str],
    *,
    every_suite: bool,
) -> None:
    """On the default branch, say for which commit and suites the response cache (that
    actions/cache saves after this job) holds the answers: pull requests restore it."""
    if not isinstance(ctx, PushContext | DispatchContext) or not ctx.on_default_branch:
        return
    if folder is None or not target.head_sha:
        return
    before = ctx.before if isinstance(ctx, PushContext) else None
    suites = covered_suites(read_manifest(folder), before, evaluated, every_suite=every_suite)
    save_manifest(folder, target.head_sha, ctx.ref, suites)


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


def _output_dir(ci: Ci) -> Path:
    if ci.opts.output_dir is not None:
        return (Path.cwd() / ci.opts.output_dir).resolve()
    return ci.workdir() / "promptloop-results"


@dataclass(frozen=True)
class _Selection:
    """What this run evaluates: the suites the change touches, against which base."""

    suites: list[str]
    base_sha: str | None
    loaded: LoadedConfig
    skip_reason: str | None = None
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def _select(
    target: Target,
    pull: PullContext | None,
    loaded: LoadedConfig,
    root: Path,
    to_repo: Callable[[Path], str | None],
    have_commit: Callable[[str], bool],
) -> _Selection:
    if not target.head_sha:
        raise UserError("no commit to report on: GITHUB_SHA is not set", key="GITHUB_SHA")
    notes: list[str] = []
    warnings: list[str] = []
    local_head = head_commit(root)
    if local_head and local_head != (target.checkout_sha or target.head_sha) and pull is not None:
        warnings.append(
            f"the checked-out commit {local_head[:12]} is not the PR head "
            f"{target.head_sha[:12]}; use actions/checkout with "
            "ref: ${{ github.event.pull_request.head.sha }}"
        )
    by_suite = suite_files(loaded, to_repo)
    if target.changed is not None:
        suites, why = relevant_suites(by_suite, target.changed, to_repo(loaded.path))
        if not suites:
            return _Selection([], None, loaded, why, tuple(notes), tuple(warnings))
        notes.append(why[:1].upper() + why[1:] + ".")
    else:
        suites = list(by_suite)
    base_sha = target.base_sha
    if base_sha is not None and not have_commit(base_sha):
        notes.append(
            f"The base commit {base_sha[:12]} is not in this checkout (use actions/checkout "
            "with fetch-depth: 0), so there is no base-vs-head comparison."
        )
        base_sha = None
    return _Selection(suites, base_sha, loaded, None, tuple(notes), tuple(warnings))


@dataclass(frozen=True)
class _Ran:
    prepared: Project
    result: RunResult
    revisions: list[Revision] = field(default_factory=list)
    unlearned: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def _run(
    ci: Ci,
    selection: _Selection,
    config_path: Path,
    target: Target,
    to_repo: Callable[[Path], str | None],
    output_dir: Path,
) -> _Ran:
    """Run the suites head vs base (or read an earlier job's results), and learn revisions."""
    run_opts = RunOptions(
        start_dir=Path("."),
        config_path=config_path,
        output_dir=output_dir,
        suites=tuple(selection.suites),
        concurrency=ci.opts.concurrency,
        baseline=selection.base_sha,
        stop=ci.opts.stop,
        max_usd=ci.opts.max_usd,
        max_calls=ci.opts.max_calls,
    )
    prepared = _with_cache_dir(ci.opts.cache_dir, project_for(run_opts))
    # One budget for the run, its second look and the optimizer.
    run_opts = replace(run_opts, budget=run_budget(run_opts, prepared))
    results_path = ci.opts.results_path
    if results_path is not None:
        results_path = (Path.cwd() / results_path).resolve()
        note = (
            f"Results from {results_path.name} (computed by earlier jobs), so no "
            "revision is learned in this job."
        )
        return _Ran(prepared, read_results(results_path), notes=(note,))
    result = execute_run(run_opts, prepared)
    if result.incomplete or ci.opts.suggest == "off" or target.files is None:
        # A stopped run posts what finished; learning a revision would need the rest.
        return _Ran(prepared, result)
    learned = _learn(prepared, run_opts, result, target, to_repo)
    # The optimizer spent from the same budget: the reports say what the whole job spent.
    return replace(learned, result=with_spending(learned.result, prepared, run_opts))


def _adds_verdicts(
    loaded: LoadedConfig, suite: str, files: PullFiles, to_repo: Callable[[Path], str | None]
) -> bool:
    """Whether the pull request changes the suite's feedback file: reviewers' verdicts to
    learn from although the prompt itself is unchanged."""
    config = next(s for s in loaded.config.suites if s.name == suite)
    path = to_repo(loaded.resolve(loaded.feedback_file(config)))
    changed = files.get(path) if path else None
    return changed is not None and changed.status != "removed"


def _with_cache_dir(cache_dir: Path | None, prepared: Project) -> Project:
    if cache_dir is None:
        return prepared
    cfg = prepared.loaded.config
    where = str((Path.cwd() / cache_dir).resolve())
    cache = cfg.cache.model_copy(update={"dir": where, "enabled": True})
    loaded = replace(prepared.loaded, config=cfg.model_copy(update={"cache": cache}))
    return replace(prepared, loaded=loaded)


def _learn(
    prepared: Project,
    run_opts: RunOptions,
    result: RunResult,
    target: Target,
    to_repo: Callable[[Path], str | None],
) -> _Ran:
    revisions: list[Revision] = []
    unlearned: dict[str, str] = {}
    notes: list[str] = []
    seen_paths: set[str] = set()
    files = target.files
    for plan in prepared.plans:
        suite = next((s for s in result.suites if s.name == plan.name), None)
        path = to_repo(Path(plan.prompt.path))
        pull_file = files.get(path) if files and path else None
        if suite is None or path is None or path in seen_paths:
            continue
        # People's verdicts the pull request brings (e.g. imported from production) are
        # something to learn from, even with the prompt itself unchanged.
        brings_verdicts = (
            pull_file is None
            and files is not None
            and _adds_verdicts(prepared.loaded, plan.name, files, to_repo)
        )
        if not brings_verdicts and (pull_file is None or pull_file.status == "removed"):
            unlearned[plan.name] = "this pull request does not change its prompt"
            continue
        if not any(c.status == "fail" for c in suite.cases):
            unlearned[plan.name] = "no case fails"
            continue
        seen_paths.add(path)
        try:
            optimized = run_optimizer(prepared, plan, OptimizeOptions(run=run_opts))
        except PromptloopError as exc:
            notes.append(f"No revision learned for {plan.name}: {exc.one_line()}")
            unlearned[plan.name] = exc.one_line()
            continue
        if optimized.improved and optimized.revised_text != optimized.seed_text:
            revisions.append(Revision(plan.name, path, optimized))
        else:
            reason = optimized.stop_reason or optimized.status
            notes.append(f"The optimizer found no better prompt for {plan.name} ({reason}).")
            unlearned[plan.name] = f"the optimizer found no better prompt ({reason})"
    return _Ran(prepared, result, revisions, unlearned, tuple(notes))
