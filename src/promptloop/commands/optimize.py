"""The `promptloop optimize` job: learn a better prompt for one suite from its critiques."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path

from promptloop.commands.interrupts import Interrupted
from promptloop.commands.run import RunOptions, make_runner, preflight, project_for
from promptloop.dataset.splits import split_cases
from promptloop.engine.runner import TemplateScorer
from promptloop.errors import UserError
from promptloop.evaluators.specs import EvaluatorSpec
from promptloop.models.base import is_embedded
from promptloop.models.stop import RunStopped
from promptloop.optimize import OptimizationResult, OptimizerSettings, optimize
from promptloop.optimize.metaprompt import describe_goal
from promptloop.optimize.packing import Feedback
from promptloop.optimize.result import OptimizeOutcome, in_host_file
from promptloop.optimize.reviewers import notes_from
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


def run_optimizer(project: Project, plan: SuitePlan, opts: OptimizeOptions) -> OptimizationResult:
    splits = split_cases(plan.cases, project.loaded.config.splits.ratios())
    for split in ("train", "val"):
        if not splits[split]:
            raise UserError(
                f"suite {plan.name!r} has no {split} cases ({len(plan.cases)} cases in all); "
                "add cases or change `splits:` in the config"
            )
    preflight(project, [plan])
    runner = make_runner(project, opts.run, [plan])
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
        settings=settings_for(project, opts, plan),
        reviewer_notes=notes_from(plan.feedback, plan.cases),
        goal=describe_goal(_specs(project, plan)),
    )
    try:
        result = asyncio.run(optimizing)
    except RunStopped:
        # A half-scored candidate proves nothing; the cache keeps what was answered.
        raise Interrupted(runner.stop) from None
    host = plan.prompt.host
    return result if host is None else in_host_file(result, host, plan.prompt.path)


def _specs(project: Project, plan: SuitePlan) -> list[EvaluatorSpec]:
    suite = next(s for s in project.loaded.config.suites if s.name == plan.name)
    return list(suite.evaluators)


def revised_path(prompt_file: Path) -> Path:
    return prompt_file.with_name(f"{prompt_file.stem}.optimized{prompt_file.suffix}")


def execute_optimize(opts: OptimizeOptions, output_dir: Path) -> OptimizeOutcome:
    project = project_for(opts.run)
    plan = _pick_suite(project, opts.suite)
    prepare_output_dir(output_dir)
    result = run_optimizer(project, plan, opts)
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
