"""The `promptloop optimize` job: learn a better prompt for one suite from its critiques."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from promptloop.commands.interrupts import Interrupted
from promptloop.commands.run import (
    RunOptions,
    default_output_dir,
    make_runner,
    preflight,
    run_budget,
)
from promptloop.dataset.cases import Case
from promptloop.dataset.splits import Split, split_cases
from promptloop.engine.runner import TemplateScorer
from promptloop.errors import PromptloopError, UserError
from promptloop.evaluators.specs import EvaluatorSpec
from promptloop.models.base import is_embedded
from promptloop.models.budget import Budget
from promptloop.models.stop import RunStopped
from promptloop.optimize import OptimizationResult, OptimizerSettings, optimize
from promptloop.optimize.goal import describe_goal
from promptloop.optimize.packing import Feedback
from promptloop.optimize.result import OptimizeOutcome, in_host_file
from promptloop.optimize.reviewers import notes_from
from promptloop.optimize.rounds import OptimizerProgress
from promptloop.optimize.settings import ModeSetting
from promptloop.project.loader import Project
from promptloop.project.suites import SuitePlan
from promptloop.report.files import prepare_output_dir
from promptloop.safety import mask_secrets
from promptloop.yamlpos import suggest


@dataclass
class OptimizeOptions:
    run: RunOptions = field(default_factory=RunOptions)
    suite: str | None = None
    rounds: int | None = None
    max_calls: int | None = None
    max_usd: float | None = None
    mode: ModeSetting | None = None
    feedback: Feedback | None = None
    in_place: bool = False


def _pick_suite(project: Project, name: str | None) -> SuitePlan:
    names = [p.name for p in project.plans]
    if name is not None:
        for plan in project.plans:
            if plan.name == name:
                return plan
        raise UserError(
            f"no suite named {name!r}{suggest(name, names)} (suites: {', '.join(names)})",
            path=str(project.loaded.path),
        )
    if len(project.plans) == 1:
        return project.plans[0]
    raise UserError(
        f"name the suite to optimize: promptloop optimize SUITE (suites: {', '.join(names)})"
    )


# The embedded model has a 2048-token window that must hold the meta-prompt, the examples,
# and on a re-ask the rejected reply too; the defaults (2000 + 1024, two re-asks) overflow
# it, and the third call fails with "Requested tokens exceed context window".
EMBEDDED_CONTEXT_TOKENS = 600
EMBEDDED_MAX_TOKENS = 384
EMBEDDED_CANDIDATE_ATTEMPTS = 1


def settings_for(
    project: Project, opts: OptimizeOptions, plan: SuitePlan | None = None
) -> OptimizerSettings:
    cfg = project.loaded.config
    oc = cfg.optimizer
    models = project.models
    embedded = is_embedded(models.optimizer_model)
    max_usd = opts.max_usd if opts.max_usd is not None else oc.max_usd
    tested = plan.model if plan is not None else models.model
    if max_usd == 0 and all(
        is_embedded(m) for m in (tested, models.judge_model, models.optimizer_model)
    ):
        # Every call goes to the embedded model, which costs nothing: a zero dollar budget
        # cannot be exceeded, and stopping before round 1 would only refuse a free run.
        max_usd = None
    return OptimizerSettings(
        optimizer_model=project.models.optimizer_model,
        mode=opts.mode or oc.mode,
        rounds=opts.rounds or oc.rounds,
        max_calls=opts.max_calls or oc.max_calls,
        max_usd=max_usd,
        max_length_ratio=oc.max_length_ratio,
        context_tokens=min(oc.context_tokens, EMBEDDED_CONTEXT_TOKENS)
        if embedded
        else oc.context_tokens,
        max_tokens=EMBEDDED_MAX_TOKENS if embedded else OptimizerSettings.max_tokens,
        candidate_attempts=EMBEDDED_CANDIDATE_ATTEMPTS
        if embedded
        else OptimizerSettings.candidate_attempts,
        examples_per_cause=oc.examples_per_cause,
        feedback=opts.feedback or oc.feedback,
        seed=cfg.seed,
        confidence=cfg.gate.confidence,
        api_base=cfg.api_base,
        timeout_s=float(cfg.timeout) * 2,
    )


# One case to learn from and one to check the candidate on: fewer, and there is no loop.
MIN_CASES = 2


def split_line(splits: dict[Split, list[Case]]) -> str:
    """``6 to learn from (train), 3 to validate on, 3 held out (test)``."""
    return (
        f"{len(splits['train'])} to learn from (train), {len(splits['val'])} to validate "
        f"candidates on, {len(splits['test'])} held out (test)"
    )


def plan_splits(project: Project, plan: SuitePlan) -> dict[Split, list[Case]]:
    """The suite's cases by split, or one line saying what is missing and what to do."""
    splits_config = project.loaded.config.splits
    splits = split_cases(plan.cases, splits_config.ratios())
    if splits["train"] and splits["val"]:
        return splits
    problem = (
        f"optimize needs at least {MIN_CASES} cases in suite {plan.name!r}, one to learn "
        f"from and one to validate on; it has {len(plan.cases)}"
        if len(plan.cases) < MIN_CASES
        else f"optimize needs train and validation cases; suite {plan.name!r} has "
        f"{split_line(splits)}"
    )
    fix = (
        "add cases to its dataset, or try optimize on examples/taglines first"
        if len(plan.cases) < MIN_CASES
        else "give the splits a share each in the config, e.g. "
        "`splits: {train: 0.5, val: 0.25, test: 0.25}`, or add cases"
    )
    raise UserError(f"{problem}: {fix}", path=str(project.loaded.path), key="splits")


def run_optimizer(
    project: Project,
    plan: SuitePlan,
    opts: OptimizeOptions,
    progress: OptimizerProgress | None = None,
) -> OptimizationResult:
    splits = plan_splits(project, plan)
    if progress is not None:
        progress(f"suite {plan.name!r}: {len(plan.cases)} cases, {split_line(splits)}")
    preflight(project, [plan])
    # In `ci` the run's budget is already set, and the optimizer spends from what it left.
    runner = make_runner(project, opts.run, [plan], budget=run_budget(opts.run, project))
    scorer = TemplateScorer(runner, plan)
    # The optimizer's calls share the runner's client, so they are cached, retried and counted.
    client = runner.client
    optimizing = optimize(
        seed_prompt=plan.prompt.source,
        prompt_path=plan.prompt.text_path,
        train=splits["train"],
        val=splits["val"],
        test=splits["test"],
        scorer=scorer,
        optimizer=client,
        settings=_within(settings_for(project, opts, plan), runner.budget),
        reviewer_notes=notes_from(plan.feedback, plan.cases),
        goal=describe_goal(
            _specs(project, plan),
            [
                plan.case_checks[c.id].evaluators
                for c in splits["train"]
                if c.id in plan.case_checks
            ],
        ),
        progress=progress,
    )
    try:
        result = asyncio.run(optimizing)
    except RunStopped:
        # A half-scored candidate proves nothing; the cache keeps what was answered.
        if runner.budget is not None and runner.budget.exceeded:
            raise BudgetSpent(runner.budget.limits.shown()) from None
        raise Interrupted(runner.stop) from None
    host = plan.prompt.host
    return result if host is None else in_host_file(result, host, plan.prompt.path)


def _within(settings: OptimizerSettings, budget: Budget | None) -> OptimizerSettings:
    """The optimizer's own limits, no larger than what the run's budget has left, so it
    stops between rounds rather than being refused in the middle of one."""
    if budget is None:
        return settings
    calls, usd = budget.calls_left(), budget.usd_left()
    if calls is not None and (settings.max_calls is None or calls < settings.max_calls):
        settings = replace(settings, max_calls=calls)
    if usd is not None and (settings.max_usd is None or usd < settings.max_usd):
        settings = replace(settings, max_usd=usd)
    return settings


class BudgetSpent(PromptloopError):
    """The run's budget ran out while the optimizer was learning (exit 2, like a budget
    that allows no round)."""

    exit_code = 2

    def __init__(self, limits: str) -> None:
        super().__init__(
            f"the budget of {limits} was reached while learning a revision; nothing is "
            "suggested (raise `budget:` to let the optimizer finish)"
        )


def _specs(project: Project, plan: SuitePlan) -> list[EvaluatorSpec]:
    suite = next(s for s in project.loaded.config.suites if s.name == plan.name)
    return list(suite.evaluators)


def revised_path(prompt_file: Path) -> Path:
    return prompt_file.with_name(f"{prompt_file.stem}.optimized{prompt_file.suffix}")


def execute_optimize(
    opts: OptimizeOptions, project: Project, progress: OptimizerProgress | None = None
) -> OptimizeOutcome:
    """Learn a revision of the chosen suite's prompt, write it beside the prompt (or over it
    with ``--in-place``) with its diff, and every candidate to optimize-SUITE.json."""
    plan = _pick_suite(project, opts.suite)
    output_dir = default_output_dir(opts.run, project)
    prepare_output_dir(output_dir)
    result = run_optimizer(project, plan, opts, progress)
    prompt_file = project.loaded.root / plan.prompt.path
    if not prompt_file.exists():
        prompt_file = Path.cwd() / plan.prompt.path
    written_to = None
    diff_path = None
    if result.improved:
        written_to = prompt_file if opts.in_place else revised_path(prompt_file)
        written_to.write_text(result.revised_text, encoding="utf-8")
        diff_path = output_dir / f"{plan.name}.diff"
        diff_path.write_text(result.unified_diff, encoding="utf-8")
    result_path = output_dir / f"optimize-{plan.name}.json"
    payload = {"schema_version": 1, "suite": plan.name, **result.to_dict()}
    text = mask_secrets(json.dumps(payload, indent=1, ensure_ascii=False), project.secrets)
    result_path.write_text(text, encoding="utf-8")
    return OptimizeOutcome(plan, result, prompt_file, written_to, diff_path, result_path)
