"""The `promptloop run` job: config → suites → runs → comparison → verdict → reports.

This module wires the pieces together and owns the file writes; the pieces stay pure.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from promptloop import __version__
from promptloop.config import LoadedConfig, find_config, load_config
from promptloop.dataset import split_of
from promptloop.errors import UserError
from promptloop.gitfiles import file_at, repo_root, resolve_ref
from promptloop.models.factory import build_client
from promptloop.outcome import CaseOutcome
from promptloop.prompts import PromptTemplate, parse_prompt
from promptloop.report.junit import write_junit
from promptloop.report.markdown import write_markdown
from promptloop.results import (
    CaseRecord,
    RunResult,
    SuiteResult,
    UsageTotals,
    case_record,
    summarise_evaluators,
    write_results,
)
from promptloop.runner import MoreWork, ProgressCallback, Runner, RunSettings, SuitePlan
from promptloop.suites import (
    ModelChoice,
    choose_models,
    plan_suites,
    relative_display,
    shard_cases,
)
from promptloop.verdicts import (
    FirstLooks,
    answers_repeated,
    confirmation_plan,
    first_looks,
    judge_run,
)
from promptloop.wording import plural


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


@dataclass
class Prepared:
    loaded: LoadedConfig
    models: ModelChoice
    plans: list[SuitePlan]
    warnings: list[str]
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
    return Prepared(loaded, models, plans, warnings)


def default_output_dir(opts: RunOptions) -> Path:
    return opts.output_dir or Path.cwd() / "promptloop-results"


def make_runner(prepared: Prepared, opts: RunOptions) -> Runner:
    cfg = prepared.loaded.config
    cache_dir = (
        None if opts.no_cache or not cfg.cache.enabled else (prepared.loaded.root / cfg.cache.dir)
    )
    client, _stats = build_client(
        cache_dir=cache_dir,
        redis_url=None if opts.no_cache else cfg.cache.redis_url,
        retries=cfg.retries,
        concurrency=opts.concurrency or cfg.concurrency,
    )
    settings = RunSettings(
        judge_model=prepared.models.judge_model,
        seed=cfg.seed,
        api_base=cfg.api_base,
        timeout_s=float(cfg.timeout),
    )
    return Runner(client, settings, progress=opts.progress)


def _records(
    rows: list[list[CaseOutcome]], split_ratios: tuple[float, float, float], first_repeat: int = 0
) -> list[CaseRecord]:
    return [
        case_record(outcome, split_of(outcome.case.id, split_ratios), first_repeat + index)
        for index, row in enumerate(rows)
        for outcome in row
    ]


def _suite_result(
    plan: SuitePlan,
    rows: list[list[CaseOutcome]],
    variant: str,
    prompt_source: str,
    split_ratios: tuple[float, float, float],
) -> SuiteResult:
    records = _records(rows, split_ratios)
    return SuiteResult(
        name=plan.name,
        variant="base" if variant == "base" else "head",
        prompt_path=plan.prompt.path,
        prompt_sha256=hashlib.sha256(prompt_source.encode()).hexdigest(),
        model=plan.model,
        threshold=plan.threshold,
        cases=records,
        evaluators=summarise_evaluators(records),
        usage=UsageTotals.of_records(records),
    )


@dataclass
class _Job:
    plan: SuitePlan
    variant: str
    source: str
    template: Any


def _parse_base_prompt(text: str, path: str, ref: str) -> PromptTemplate:
    """The prompt as it was at ``ref``. The real path picks the shape (its suffix says chat
    YAML or text); errors name the ref, since the file on disk is not the one that failed."""
    try:
        return parse_prompt(text, path)
    except UserError as exc:
        raise UserError(
            f"{exc.message} (in the version at {ref})", path=exc.path, line=exc.line, key=exc.key
        ) from None


@dataclass(frozen=True)
class Baseline:
    """Base runs for the prompts that changed since a ref, the suites left unchanged, and a
    line for each suite whose base cannot be compared (it is skipped)."""

    jobs: list[_Job]
    unchanged: list[str]
    notices: list[str]


def baseline_for(prepared: Prepared, ref: str) -> Baseline:
    """The baseline at ``ref``, read from git once per ``prepared``."""
    if ref not in prepared.baselines:
        prepared.baselines[ref] = _read_baseline(prepared, ref)
    return prepared.baselines[ref]


def _read_baseline(prepared: Prepared, ref: str) -> Baseline:
    root = repo_root(prepared.loaded.root)
    sha = resolve_ref(root, ref)
    jobs: list[_Job] = []
    unchanged: list[str] = []
    notices: list[str] = []
    for plan in prepared.plans:
        path = prepared.loaded.root / plan.prompt.path
        if not path.exists():
            path = Path.cwd() / plan.prompt.path
        old = file_at(root, sha, path)
        if old is None:
            # A prompt new in this change has no baseline; its head run stands alone.
            continue
        if old == plan.prompt.source:
            unchanged.append(plan.name)
            continue
        template = _parse_base_prompt(old, plan.prompt.path, ref)
        lacking = sorted({v for case in plan.cases for v in template.variables - set(case.vars)})
        if lacking:
            # A change that renames a variable in the prompt and the dataset together: the
            # old prompt cannot render the new cases, so there is nothing fair to pair.
            names = ", ".join(f"'{v}'" for v in lacking)
            notices.append(
                f"{plan.name}: not compared with {ref}: the prompt there uses {names}, "
                "which the current cases lack; the head ran alone"
            )
            continue
        jobs.append(_Job(plan, "base", old, template))
    return Baseline(jobs, unchanged, notices)


async def _measure(
    runner: Runner, jobs: list[_Job], repeat: int, prepared: Prepared, opts: RunOptions
) -> tuple[list[SuiteResult], list[SuiteResult], FirstLooks]:
    """Run every job, then confirm what the gate needs confirmed: head and base suites,
    and the first-look comparisons the verdicts start from."""
    cfg = prepared.loaded.config
    split_ratios = cfg.splits.ratios()
    outputs = await asyncio.gather(
        *(
            runner.run_suite(job.plan, prompt=job.template, variant=job.variant, repeat=repeat)
            for job in jobs
        )
    )
    head: list[SuiteResult] = []
    base: list[SuiteResult] = []
    for job, rows in zip(jobs, outputs, strict=True):
        suite = _suite_result(job.plan, rows, job.variant, job.source, split_ratios)
        (base if job.variant == "base" else head).append(suite)
    looks = first_looks(head, base, cfg.gate, cfg.seed)
    plan = confirmation_plan(head, looks, cfg.gate, always=opts.shard is not None)
    if plan:
        first_look: dict[tuple[str, str], SuiteResult] = {
            (s.name, s.variant): s for s in (*head, *base)
        }
        confirmed = await _run_confirmation(
            runner, jobs, plan, cfg.gate.confirm_runs, repeat, split_ratios, first_look, opts
        )
        head = [_with_confirmation(s, confirmed.get((s.name, "head"), [])) for s in head]
        base = [_with_confirmation(s, confirmed.get((s.name, "base"), [])) for s in base]
    return head, base, looks


async def _run_confirmation(
    runner: Runner,
    jobs: list[_Job],
    plan: dict[str, list[str]],
    runs: int,
    first_repeat: int,
    split_ratios: tuple[float, float, float],
    first_look: dict[tuple[str, str], SuiteResult],
    opts: RunOptions,
) -> dict[tuple[str, str], list[CaseRecord]]:
    """Run the planned cases up to ``runs`` more times on both sides, one run at a time,
    repeat indices after the first look's so every run is a fresh draw. When a run brings
    back every answer and verdict unchanged, the model and judge are deterministic on
    these cases and the remaining runs would only repeat it, so they are skipped."""
    wanted = {name: set(ids) for name, ids in plan.items()}
    chosen = [
        (job, [c for c in job.plan.cases if c.id in wanted[job.plan.name]])
        for job in jobs
        if job.plan.name in wanted
    ]
    per_run = sum(len(cases) for _, cases in chosen)
    cases = sum(len(ids) for ids in plan.values())
    _announce(
        opts,
        MoreWork(
            per_run * runs,
            f"re-running {plural(cases, 'changed case')} {plural(runs, 'more time')} on "
            "each side before the gate decides",
        ),
    )
    collected: dict[tuple[str, str], list[CaseRecord]] = {
        (job.plan.name, job.variant): [] for job, _ in chosen
    }
    for index in range(first_repeat, first_repeat + runs):
        outputs = await asyncio.gather(
            *(
                runner.run_suite(
                    job.plan,
                    prompt=job.template,
                    cases=cases,
                    variant=job.variant,
                    repeat=1,
                    first_repeat=index,
                )
                for job, cases in chosen
            )
        )
        repeated = True
        for (job, _), rows in zip(chosen, outputs, strict=True):
            key = (job.plan.name, job.variant)
            records = _records(rows, split_ratios, index)
            collected[key].extend(records)
            repeated = repeated and answers_repeated(first_look[key].cases, records)
        left = first_repeat + runs - index - 1
        if repeated and left:
            _announce(
                opts,
                MoreWork(
                    -per_run * left,
                    "every answer and verdict came back unchanged (the model and judge "
                    f"are deterministic here), so the {plural(left, 'remaining run')} "
                    f"{'is' if left == 1 else 'are'} skipped",
                ),
            )
            break
    return collected


def _announce(opts: RunOptions, event: MoreWork) -> None:
    if opts.progress is not None:
        opts.progress(event)


def _with_confirmation(suite: SuiteResult, records: list[CaseRecord]) -> SuiteResult:
    if not records:
        return suite
    return suite.model_copy(
        update={
            "confirmation_runs": records,
            "usage": suite.usage.add(UsageTotals.of_records(records)),
        }
    )


def execute_run(opts: RunOptions, prepared: Prepared | None = None) -> RunResult:
    started = time.perf_counter()
    prepared = prepared or prepare(opts)
    cfg = prepared.loaded.config
    repeat = opts.repeat or cfg.repeat
    if repeat < 1:
        raise UserError(f"--repeat must be at least 1, got {repeat}")
    head_jobs = [_Job(p, "head", p.prompt.source, p.prompt) for p in prepared.plans]
    baseline = baseline_for(prepared, opts.baseline) if opts.baseline else Baseline([], [], [])
    runner = make_runner(prepared, opts)
    head, base, looks = asyncio.run(
        _measure(runner, head_jobs + baseline.jobs, repeat, prepared, opts)
    )
    notices = [prepared.models.notice] if prepared.models.notice else []
    notices.extend(prepared.warnings)
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
    return judge_run(result, cfg.gate, seed=cfg.seed, looks=looks)


def prepare_output_dir(output_dir: Path) -> Path:
    """Create the report folder, or say in one line why it cannot be; called before a run
    so a bad --output-dir does not throw away a run's model calls."""
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"cannot write reports there: {exc.strerror or exc}", path=str(output_dir)
        ) from None
    return output_dir


def write_reports(result: RunResult, output_dir: Path) -> dict[str, Path]:
    prepare_output_dir(output_dir)
    paths = {
        "results": output_dir / "results.json",
        "junit": output_dir / "junit.xml",
        "report": output_dir / "report.md",
    }
    write_results(result, paths["results"])
    write_junit(result, paths["junit"])
    write_markdown(result, paths["report"])
    return paths
