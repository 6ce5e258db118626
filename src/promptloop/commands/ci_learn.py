"""Running and learning, for `promptloop ci`: the selected suites run head vs base from the
config already read, then a revision learned for each changed prompt that fails; or the
results an earlier job computed (a sharded run merged), from which nothing is learned."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from promptloop.commands.ci_job import Ci
from promptloop.commands.ci_select import Selection
from promptloop.commands.optimize import OptimizeOptions, run_optimizer
from promptloop.commands.run import RunOptions, execute_run, run_budget, with_spending
from promptloop.engine.results import RunResult, read_results
from promptloop.errors import PromptloopError
from promptloop.github.deliver import Revision
from promptloop.github.pull_request import Checkout
from promptloop.github.state import PullFiles
from promptloop.project.loaded import LoadedConfig
from promptloop.project.loader import Project, project_from


@dataclass(frozen=True)
class Ran:
    """The run's result, the revisions learned, and why each changed suite got none."""

    result: RunResult
    revisions: tuple[Revision, ...] = ()
    # suite -> why no revision was learned for it.
    unlearned: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def earlier_results(path: Path) -> Ran:
    """The results.json earlier jobs computed (``--results``), to post as this run's."""
    note = (
        f"Results from {path.name} (computed by earlier jobs), so no revision is learned in "
        "this job."
    )
    return Ran(read_results(path), notes=(note,))


def run_and_learn(
    ci: Ci, loaded: LoadedConfig, selection: Selection, files: PullFiles | None, checkout: Checkout
) -> Ran:
    """Run the selected suites head vs base, then learn revisions of the changed prompts
    (``files``: the pull request's; None when the changes are unknown, and nothing is learned)."""
    project = project_from(loaded, suites=selection.suites, baseline=selection.base_sha)
    run_opts = RunOptions(
        concurrency=ci.opts.concurrency,
        stop=ci.opts.stop,
        max_usd=ci.opts.max_usd,
        max_calls=ci.opts.max_calls,
    )
    # One budget for the run, its second look and the optimizer.
    run_opts = replace(run_opts, budget=run_budget(run_opts, project))
    result = execute_run(run_opts, project)
    stopped = ci.opts.stop is not None and ci.opts.stop.requested
    if result.incomplete or stopped or ci.opts.suggest == "off" or files is None:
        # A stopped run posts what finished; learning a revision would need the rest.
        return Ran(result)
    learned = _learn(project, run_opts, result, files, checkout)
    # The optimizer spent from the same budget: the reports say what the whole job spent.
    return replace(learned, result=with_spending(result, project, run_opts))


def _learn(
    project: Project, run_opts: RunOptions, result: RunResult, files: PullFiles, checkout: Checkout
) -> Ran:
    revisions: list[Revision] = []
    unlearned: dict[str, str] = {}
    notes: list[str] = []
    seen_paths: set[str] = set()
    for plan in project.plans:
        suite = next((s for s in result.suites if s.name == plan.name), None)
        path = checkout.path_of(Path(plan.prompt.path))
        pull_file = files.get(path) if path else None
        if suite is None or path is None or path in seen_paths:
            continue
        # People's verdicts the pull request brings (e.g. imported from production) are
        # something to learn from, even with the prompt itself unchanged.
        brings_verdicts = pull_file is None and _adds_verdicts(
            project.loaded, plan.name, files, checkout
        )
        if not brings_verdicts and (pull_file is None or pull_file.status == "removed"):
            unlearned[plan.name] = "this pull request does not change its prompt"
            continue
        if not any(c.status == "fail" for c in suite.cases):
            unlearned[plan.name] = "no case fails"
            continue
        seen_paths.add(path)
        try:
            optimized = run_optimizer(project, plan, OptimizeOptions(run=run_opts))
        except PromptloopError as exc:
            notes.append(f"No revision learned for {plan.name}: {exc.one_line()}")
            unlearned[plan.name] = exc.one_line()
            continue
        if optimized.improved and optimized.revised_text != optimized.seed_text:
            revisions.append(Revision(plan.name, path, optimized))
        else:
            stopped = optimized.stopped()
            notes.append(f"The optimizer found no better prompt for {plan.name}; it {stopped}.")
            unlearned[plan.name] = f"the optimizer found no better prompt; it {stopped}"
    return Ran(result, tuple(revisions), unlearned, tuple(notes))


def _adds_verdicts(loaded: LoadedConfig, suite: str, files: PullFiles, checkout: Checkout) -> bool:
    """Whether the pull request changes the suite's feedback file: reviewers' verdicts to
    learn from although the prompt itself is unchanged."""
    config = next(s for s in loaded.config.suites if s.name == suite)
    path = checkout.path_of(loaded.resolve(loaded.feedback_file(config)))
    changed = files.get(path) if path else None
    return changed is not None and changed.status != "removed"
