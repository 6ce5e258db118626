"""`promptloop run`: load the project → run the cases → look twice where the gate needs it
and decide → (the CLI writes the reports). ``ci`` and ``optimize`` start from the same
loaded project, so ``prepare`` and ``make_runner`` live here for them."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from promptloop import __version__
from promptloop.engine.jobs import Job, head_job, run_jobs
from promptloop.engine.results import (
    RunResult,
    SuiteResult,
    UsageTotals,
    mark_incomplete,
    mask_result,
    reviewer_verdicts,
)
from promptloop.engine.runner import ProgressCallback, Runner, build_runner
from promptloop.errors import UserError
from promptloop.evaluators.human import HumanEvaluator
from promptloop.gate.advisory import advise
from promptloop.gate.confirmation import look_twice
from promptloop.gate.verdicts import FirstLooks, judge_run
from promptloop.models.base import is_embedded
from promptloop.models.preflight import ModelUse, check_models, is_own
from promptloop.models.stop import StopSignal
from promptloop.project.baseline import NO_BASELINE, Baseline, read_baseline
from promptloop.project.config import LoadedConfig, find_config, load_config
from promptloop.project.suites import (
    ModelChoice,
    SuitePlan,
    choose_models,
    judge_notices,
    model_uses,
    plan_suites,
    relative_display,
    shard_cases,
)
from promptloop.safety import known_secrets


@dataclass
class RunOptions:
    start_dir: Path = field(default_factory=Path.cwd)
    config_path: Path | None = None
    output_dir: Path | None = None
    model: str | None = None
    suites: tuple[str, ...] = ()
    concurrency: int | None = None
    no_cache: bool = False
    repeat: int | None = None
    baseline: str | None = None
    shard: str | None = None
    optimizer_model: str | None = None
    progress: ProgressCallback | None = None
    # Set by the CLI's signal handlers; a stopped run returns what finished, marked incomplete.
    stop: StopSignal | None = None


@dataclass
class Prepared:
    loaded: LoadedConfig
    models: ModelChoice
    plans: list[SuitePlan]
    warnings: list[str]
    # Values to mask wherever promptloop writes: provider keys, tokens, the Redis password.
    secrets: list[str] = field(default_factory=list)
    # Baselines already read from git, by ref: the CLI sizes its progress bar from one
    # before the run uses it.
    baselines: dict[str, Baseline] = field(default_factory=dict)


def locate_config(opts: RunOptions) -> LoadedConfig:
    path = opts.config_path or find_config(opts.start_dir)
    return load_config(path)


def prepare(opts: RunOptions) -> Prepared:
    loaded = locate_config(opts)
    models = choose_models(loaded, opts.model)
    if opts.optimizer_model:
        models = replace(models, optimizer_model=opts.optimizer_model)
    warnings: list[str] = []
    plans = plan_suites(
        loaded, models, only=opts.suites, model_override=opts.model, warnings=warnings
    )
    if opts.shard is not None:
        plans = [replace(p, cases=tuple(shard_cases(p.cases, opts.shard))) for p in plans]
    secrets = known_secrets(os.environ, urls=[loaded.config.cache.redis_url])
    return Prepared(loaded, models, plans, warnings, secrets)


def _model_uses(
    prepared: Prepared, opts: RunOptions, plans: Sequence[SuitePlan] | None
) -> list[ModelUse]:
    return model_uses(
        prepared.loaded,
        prepared.models,
        prepared.plans if plans is None else plans,
        model_override=opts.model,
        optimizer_override=opts.optimizer_model,
    )


def preflight(
    prepared: Prepared, opts: RunOptions, plans: Sequence[SuitePlan] | None = None
) -> None:
    """Refuse, before any work, a model promptloop serves itself that does not exist. The
    models litellm routes are checked by the runner before its first provider call."""
    uses = _model_uses(prepared, opts, plans)
    own = [u for u in uses if is_own(u.model)]
    check_models(own, api_base=prepared.loaded.config.api_base)
    # The first uses are the suites' models, in the plans' order (``model_uses``).
    for plan, use in zip(prepared.plans if plans is None else plans, uses, strict=False):
        if plan.prompt.settings.tools and is_embedded(use.model):
            raise UserError(
                f"{use.model} cannot call tools, and {plan.prompt.path} declares `tools:`; "
                "run it with a tool-capable model, e.g. --model openai/gpt-4o-mini",
                path=use.path,
                line=use.line,
                key=use.key,
            )


def default_output_dir(opts: RunOptions) -> Path:
    return opts.output_dir or Path.cwd() / "promptloop-results"


def make_runner(
    prepared: Prepared, opts: RunOptions, plans: Sequence[SuitePlan] | None = None
) -> Runner:
    routed = [u for u in _model_uses(prepared, opts, plans) if not is_own(u.model)]
    return build_runner(
        prepared.loaded,
        judge_model=prepared.models.judge_model,
        no_cache=opts.no_cache,
        concurrency=opts.concurrency,
        progress=opts.progress,
        secrets=prepared.secrets,
        stop=opts.stop,
        preflight=routed,
    )


def baseline_for(prepared: Prepared, ref: str) -> Baseline:
    """The baseline at ``ref``, read from git once per ``prepared``."""
    if ref not in prepared.baselines:
        prepared.baselines[ref] = read_baseline(prepared.loaded.root, prepared.plans, ref)
    return prepared.baselines[ref]


async def _measure(
    runner: Runner, jobs: list[Job], repeat: int, prepared: Prepared, opts: RunOptions
) -> tuple[list[SuiteResult], list[SuiteResult], FirstLooks]:
    cfg = prepared.loaded.config
    split_ratios = cfg.splits.ratios()
    head, base = await run_jobs(runner, jobs, repeat, split_ratios)
    if runner.stop.requested:
        return head, base, {}  # a partial run is not compared (nor looked at twice)
    return await look_twice(
        runner,
        jobs,
        head,
        base,
        gate=cfg.gate,
        seed=cfg.seed,
        first_repeat=repeat,
        split_ratios=split_ratios,
        always=opts.shard is not None,
        progress=opts.progress,
    )


def _with_reviews(prepared: Prepared, head: list[SuiteResult]) -> list[SuiteResult]:
    """Each suite with its reviewers' verdicts on the cases this run gave."""
    configs = {s.name: s for s in prepared.loaded.config.suites}
    plans = {p.name: p for p in prepared.plans}
    out = []
    for suite in head:
        config, plan = configs.get(suite.name), plans.get(suite.name)
        records = prepared.loaded.load_feedback(config) if config is not None else []
        if not records or plan is None:
            out.append(suite)
            continue
        counted = any(isinstance(e, HumanEvaluator) for e in plan.evaluators)
        reviews = reviewer_verdicts(suite.cases, records, counted=counted)
        out.append(suite.model_copy(update={"reviews": reviews}))
    return out


def execute_run(opts: RunOptions, prepared: Prepared | None = None) -> RunResult:
    started = time.perf_counter()
    prepared = prepared or prepare(opts)
    preflight(prepared, opts)
    cfg = prepared.loaded.config
    repeat = opts.repeat or cfg.repeat
    if repeat < 1:
        raise UserError(f"--repeat must be at least 1, got {repeat}")
    baseline = baseline_for(prepared, opts.baseline) if opts.baseline else NO_BASELINE
    jobs = [head_job(plan) for plan in prepared.plans]
    jobs += [Job(v.plan, "base", v.source, v.template) for v in baseline.versions]
    runner = make_runner(prepared, opts)
    head, base, looks = asyncio.run(_measure(runner, jobs, repeat, prepared, opts))
    relieved, base, calibration_notices = advise(prepared.loaded, head, base)
    # The first looks counted the advisory judges' failures; the gate must look again.
    first: FirstLooks | None = looks if relieved == head else None
    head = _with_reviews(prepared, relieved)
    notices = [prepared.models.notice] if prepared.models.notice else []
    notices.extend(calibration_notices)
    notices.extend(prepared.warnings)
    notices.extend(judge_notices(prepared.plans, prepared.models.judge_model))
    notices.extend(baseline.notices)
    result = RunResult(
        promptloop_version=__version__,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        config_path=relative_display(prepared.loaded.path, prepared.loaded.root),
        model=prepared.models.model,
        judge_model=prepared.models.judge_model,
        shard=opts.shard,
        wall_s=time.perf_counter() - started,
        usage=UsageTotals(
            model_calls=runner.tally.calls,
            cache_hits=runner.tally.cache_hits,
            prompt_tokens=runner.tally.usage.prompt_tokens,
            completion_tokens=runner.tally.usage.completion_tokens,
            cost_usd=runner.tally.usage.cost_usd,
        ),
        suites=head,
        baseline_ref=opts.baseline,
        baseline=base,
        unchanged_suites=baseline.unchanged,
        notices=notices,
    )
    if runner.stop.requested:
        result = mark_incomplete(result, f"interrupted by {runner.stop.name}")
    else:
        result = judge_run(result, cfg.gate, seed=cfg.seed, looks=first)
    return mask_result(result, prepared.secrets)
