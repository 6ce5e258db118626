"""`promptloop run`: the caller loads the project (``project_for``), then ``execute_run``
checks the models → makes the runner → forecasts → runs the cases and looks twice where the
gate needs it → advises → assembles the result → decides (the CLI writes the reports).
``ci``, ``optimize`` and ``calibrate`` start from the same loaded project, so
``project_for``, ``run_budget`` and ``make_runner`` live here for them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from promptloop import __version__
from promptloop.engine.forecast import forecast_run
from promptloop.engine.jobs import Job, head_job, run_jobs
from promptloop.engine.progress import ProgressCallback
from promptloop.engine.results import (
    RunResult,
    SuiteResult,
    UsageTotals,
    mark_incomplete,
    mask_result,
)
from promptloop.engine.reviews import with_reviews
from promptloop.engine.runner import Runner, build_runner
from promptloop.engine.spending import BudgetReport, Forecast
from promptloop.errors import UserError
from promptloop.gate.advisory import advise
from promptloop.gate.confirmation import look_twice
from promptloop.gate.verdicts import FirstLooks, confirmation_plan, judge_run
from promptloop.models.base import is_embedded
from promptloop.models.budget import Budget, BudgetLimits
from promptloop.models.preflight import check_models, is_own
from promptloop.models.stop import StopSignal
from promptloop.project.layout import default_results_dir
from promptloop.project.loaded import find_config
from promptloop.project.loader import Project, load_project
from promptloop.project.suites import SuitePlan


@dataclass(frozen=True)
class ProjectQuery:
    """Which project a command works on, and how it is loaded: the config file (``--config``,
    else the nearest promptloop.yaml from ``start_dir``), the suites selected, the models and
    shard asked for, and the ref the changed prompts are compared against."""

    start_dir: Path = field(default_factory=Path.cwd)
    config_path: Path | None = None
    suites: tuple[str, ...] = ()
    model: str | None = None
    optimizer_model: str | None = None
    shard: str | None = None
    baseline: str | None = None

    def config_file(self) -> Path:
        """``--config``, else the nearest promptloop.yaml."""
        return self.config_path or find_config(self.start_dir)


@dataclass
class RunOptions:
    """How a loaded project is run: where the reports go, how many calls at once, the cache,
    the repeats, the progress shown, the stop signal and the budget."""

    output_dir: Path | None = None
    concurrency: int | None = None
    no_cache: bool = False
    repeat: int | None = None
    progress: ProgressCallback | None = None
    # Set by the CLI's signal handlers; a stopped run returns what finished, marked incomplete.
    stop: StopSignal | None = None
    # The command line's budget, over the config's `budget:`.
    max_usd: float | None = None
    max_calls: int | None = None
    # The budget every call of this command consults, when the command holds one already
    # (in `ci` the run, its second look and the optimizer share one); else ``run_budget``
    # makes one from the limits.
    budget: Budget | None = None


def project_for(query: ProjectQuery) -> Project:
    """The project this query selects, loaded once."""
    return load_project(
        query.config_file(),
        suites=query.suites,
        model=query.model,
        optimizer_model=query.optimizer_model,
        shard=query.shard,
        baseline=query.baseline,
    )


def preflight(project: Project, plans: Sequence[SuitePlan] | None = None) -> None:
    """Refuse, before any work, a model promptloop serves itself that does not exist. The
    models litellm routes are checked by the runner before its first provider call."""
    uses = project.model_uses(plans)
    check_models([u for u in uses if is_own(u.model)], api_base=project.loaded.config.api_base)
    # The first uses are the suites' models, in the plans' order.
    for plan, use in zip(project.plans if plans is None else plans, uses, strict=False):
        if plan.prompt.settings.tools and is_embedded(use.model):
            raise UserError(
                f"{use.model} cannot call tools, and {plan.prompt.path} declares `tools:`; "
                "run it with a tool-capable model, e.g. --model openai/gpt-4o-mini",
                path=use.path,
                line=use.line,
                key=use.key,
            )


def default_output_dir(opts: RunOptions, project: Project) -> Path:
    """``--output-dir``, else the project's promptloop-results/ (where `feedback add`,
    `calibrate` and `view` look for it)."""
    return opts.output_dir or default_results_dir(project.loaded.root)


def chosen_repeat(opts: RunOptions, project: Project) -> int:
    """How many times each case runs: ``--repeat``, else the config's ``repeat:``."""
    repeat = opts.repeat or project.loaded.config.repeat
    if repeat < 1:
        raise UserError(f"--repeat must be at least 1, got {repeat}")
    return repeat


def run_budget(opts: RunOptions, project: Project) -> Budget | None:
    """The budget every call of this command consults: the one the command holds already
    (``ci``'s run, second look and optimizer share one), else one from the command line's
    limits over the config's `budget:`, or None when neither limits."""
    if opts.budget is not None:
        return opts.budget
    written = project.loaded.config.budget
    limits = BudgetLimits(
        max_usd=written.max_usd if opts.max_usd is None else opts.max_usd,
        max_calls=written.max_calls if opts.max_calls is None else opts.max_calls,
    )
    return Budget(limits) if limits.limited else None


def make_runner(
    project: Project,
    opts: RunOptions,
    plans: Sequence[SuitePlan] | None = None,
    *,
    budget: Budget | None = None,
) -> Runner:
    """The runner for these plans (default: all), its calls held to ``budget`` (from
    ``run_budget``; None: unlimited)."""
    # Checked at the first call the cache cannot answer: the models litellm routes, and the
    # embedded one (is it installed?); a scripted model has nothing to check.
    gated = [u for u in project.model_uses(plans) if not is_own(u.model) or is_embedded(u.model)]
    return build_runner(
        project.loaded,
        judge_model=project.models.judge_model,
        no_cache=opts.no_cache,
        concurrency=opts.concurrency,
        progress=opts.progress,
        secrets=project.secrets,
        stop=opts.stop,
        preflight=gated,
        budget=budget,
    )


def _jobs(project: Project) -> list[Job]:
    """Every plan on the head, and each prompt changed since the baseline on the base."""
    jobs = [head_job(plan) for plan in project.plans]
    return jobs + [Job(v.plan, "base", v.source, v.template) for v in project.baseline.versions]


def _forecast(runner: Runner, jobs: list[Job], repeat: int, project: Project) -> Forecast:
    compared = bool(project.baseline.versions) or project.shard is not None
    return forecast_run(runner, jobs, repeat, project.loaded.config.gate, compared)


def estimate_run(opts: RunOptions, project: Project) -> Forecast:
    """What ``execute_run`` with these options would call and spend, calling no model."""
    preflight(project)
    runner = make_runner(project, opts)
    return _forecast(runner, _jobs(project), chosen_repeat(opts, project), project)


async def _measure(
    runner: Runner,
    jobs: list[Job],
    repeat: int,
    project: Project,
    progress: ProgressCallback | None,
) -> tuple[list[SuiteResult], list[SuiteResult], FirstLooks]:
    cfg = project.loaded.config
    split_ratios = cfg.splits.ratios()
    head, base = await run_jobs(runner, jobs, repeat, split_ratios)
    # A partial run is not compared (nor looked at twice). A stop that came after every
    # case finished leaves the run whole: it is compared, and a second look it stops short
    # leaves the gate its first look.
    stopped_short = runner.stop.requested and any(s.not_run for s in (*head, *base))
    if stopped_short or (runner.budget is not None and runner.budget.exceeded):
        return head, base, {}
    return await look_twice(
        runner,
        jobs,
        head,
        base,
        gate=cfg.gate,
        seed=cfg.seed,
        first_repeat=repeat,
        split_ratios=split_ratios,
        always=project.shard is not None,
        progress=progress,
    )


@dataclass(frozen=True)
class _Advised:
    """The measured suites once the advisory judges are set aside and the reviewers'
    verdicts attached, with the notices that says."""

    head: list[SuiteResult]
    base: list[SuiteResult]
    notices: list[str]
    # The first looks the gate may reuse; None when advising changed what they counted.
    looks: FirstLooks | None


def _advised(
    project: Project, head: list[SuiteResult], base: list[SuiteResult], looks: FirstLooks
) -> _Advised:
    feedback = {plan.name: plan.feedback for plan in project.plans}
    relieved, base, calibration_notices = advise(project.loaded, head, base, feedback)
    notices = [project.models.notice] if project.models.notice else []
    notices += [*calibration_notices, *project.notices]
    # The first looks counted the advisory judges' failures; the gate must look again.
    first = looks if relieved == head else None
    return _Advised(with_reviews(relieved, project.plans), base, notices, first)


def _budget_report(budget: Budget | None, project: Project) -> BudgetReport | None:
    if budget is None:
        return None
    refusal = budget.refusal
    return BudgetReport(
        max_usd=budget.limits.max_usd,
        max_calls=budget.limits.max_calls,
        on_exceeded=project.loaded.config.budget.on_exceeded,
        spent_calls=budget.spent.calls,
        spent_usd=budget.spent.usd,
        refused=refusal.reason if refusal is not None else None,
        refused_calls=budget.refused,
    )


def with_spending(result: RunResult, project: Project, opts: RunOptions) -> RunResult:
    """``result`` with what its budget has spent by now (``ci`` adds the optimizer's calls)."""
    return result.model_copy(update={"budget": _budget_report(opts.budget, project)})


def _result(
    project: Project, runner: Runner, advised: _Advised, forecast: Forecast, wall_s: float
) -> RunResult:
    """The run as the reports read it, before the gate's verdict."""
    tally = runner.tally
    return RunResult(
        promptloop_version=__version__,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        config_path=project.loaded.shown(),
        model=project.models.model,
        judge_model=project.models.judge_model,
        shard=project.shard,
        wall_s=wall_s,
        usage=UsageTotals(
            model_calls=tally.calls,
            cache_hits=tally.cache_hits,
            prompt_tokens=tally.usage.prompt_tokens,
            completion_tokens=tally.usage.completion_tokens,
            cost_usd=tally.usage.cost_usd,
        ),
        suites=advised.head,
        baseline_ref=project.baseline_ref,
        baseline=advised.base,
        unchanged_suites=project.baseline.unchanged,
        notices=advised.notices,
        forecast=forecast,
        budget=_budget_report(runner.budget, project),
    )


def _concluded(
    result: RunResult, runner: Runner, project: Project, looks: FirstLooks | None
) -> RunResult:
    """A run a stop or its budget cut short is incomplete; any other is judged, whatever
    signal came after its last case."""
    cfg = project.loaded.config
    budget = runner.budget
    if runner.stop.requested and (result.not_run or _second_look_wanted(result, looks, project)):
        return mark_incomplete(result, f"interrupted by {runner.stop.name}")
    if budget is not None and budget.exceeded:
        why = f"the budget of {budget.limits.shown()} was reached"
        return mark_incomplete(result, why, status=cfg.budget.on_exceeded, check="budget")
    return judge_run(result, cfg.gate, seed=cfg.seed, looks=looks)


def _second_look_wanted(result: RunResult, looks: FirstLooks | None, project: Project) -> bool:
    """Whether the gate asked for a second look, which a stop may have cut short: the
    gate would then decide on less than it asked for, as partial as a case not run."""
    if not looks:
        return False
    gate = project.loaded.config.gate
    plan = confirmation_plan(result.suites, looks, gate, always=project.shard is not None)
    return any(s.first_look_only is None for s in result.suites if s.name in plan)


def execute_run(opts: RunOptions, project: Project) -> RunResult:
    """Run the project's cases on the head (and the changed prompts on the base), look
    twice where the gate needs it and decide: the result the reports are written from."""
    started = time.perf_counter()
    preflight(project)
    jobs, repeat = _jobs(project), chosen_repeat(opts, project)
    runner = make_runner(project, opts, budget=run_budget(opts, project))
    # Before the first call: what the run will cost, with the cache as it is now.
    forecast = _forecast(runner, jobs, repeat, project)
    head, base, looks = asyncio.run(_measure(runner, jobs, repeat, project, opts.progress))
    advised = _advised(project, head, base, looks)
    result = _result(project, runner, advised, forecast, time.perf_counter() - started)
    return mask_result(_concluded(result, runner, project, advised.looks), project.secrets)
