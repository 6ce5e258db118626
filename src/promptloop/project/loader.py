"""Load the project once: promptloop.yaml and everything it names, read and checked.

``load_project`` (or ``project_from``, for a config ``load_config`` already read) returns
a ``Project``: for each selected suite its prompt, cases, reviewers' feedback, evaluators
(each built once) and the model it runs on with where that choice was written; the judge
and optimizer models likewise; with a baseline ref, each changed prompt as it was there.
`run`, `ci`, `optimize` and `calibrate` start from it, so nothing below reads a project
file again. The config file itself is read by ``loaded``; a suite's evaluators are built
and checked in ``evaluator_checks``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from promptloop.dataset.splits import parse_shard, select_shard
from promptloop.errors import UserError
from promptloop.evaluators.human import bind_feedback
from promptloop.models.preflight import ModelUse
from promptloop.project.baseline import NO_BASELINE, Baseline, read_baseline
from promptloop.project.choices import ModelChoice, choose_models, suite_model
from promptloop.project.conversations import check_conversations
from promptloop.project.evaluator_checks import (
    build_evaluators,
    check_evaluator_variables,
    evaluator_variables,
)
from promptloop.project.loaded import LoadedConfig, load_config
from promptloop.project.rendering import check_variables
from promptloop.project.suites import SuitePlan, judge_notices, unchecked_notices
from promptloop.safety import known_secrets

if TYPE_CHECKING:
    from promptloop.dataset.cases import Case

T = TypeVar("T")


@dataclass(frozen=True)
class Project:
    """A project loaded and checked: what a run starts from."""

    loaded: LoadedConfig
    models: ModelChoice
    plans: tuple[SuitePlan, ...]
    # Soft problems found while loading (a prompt variable no case sets, ...).
    warnings: tuple[str, ...] = ()
    # Values to mask wherever promptloop writes: provider keys, tokens, the Redis password.
    secrets: tuple[str, ...] = ()
    # With a baseline ref: each changed prompt as it was there, for these plans.
    baseline_ref: str | None = None
    baseline: Baseline = field(default=NO_BASELINE)
    # With a shard ("I/N"): the plans hold only that part of each suite's cases.
    shard: str | None = None

    @property
    def notices(self) -> list[str]:
        """What a reader of the results should know from loading: soft problems, suites no
        evaluator grades, judges grading their own model or shown the prompt, suites not
        compared with the base."""
        judges = judge_notices(self.plans, self.models.judge_model)
        return [*self.warnings, *unchecked_notices(self.plans), *judges, *self.baseline.notices]

    def narrowed(self, plans: Sequence[SuitePlan]) -> Project:
        """The project run on these plans only (some suites, or some of their cases): the
        base side is read again, since which prompts can be compared depends on the cases."""
        chosen = tuple(plans)
        return replace(
            self, plans=chosen, baseline=_baseline(self.loaded, chosen, self.baseline_ref)
        )

    def model_uses(self, plans: Sequence[SuitePlan] | None = None) -> list[ModelUse]:
        """Every model the plans, the judge and the optimizer call, each with the place it
        was chosen: the suites' first, in the plans' order."""
        chosen = self.plans if plans is None else plans
        uses = [plan.model_use or ModelUse(plan.model, "model") for plan in chosen]
        models = self.models
        uses.append(models.judge_use or ModelUse(models.judge_model, "judge_model"))
        uses.append(models.optimizer_use or ModelUse(models.optimizer_model, "optimizer_model"))
        return uses


def load_project(
    path: Path,
    *,
    suites: Sequence[str] = (),
    model: str | None = None,
    optimizer_model: str | None = None,
    shard: str | None = None,
    baseline: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Project:
    """Read promptloop.yaml at ``path`` and every file its selected ``suites`` (default:
    all) name, check them against each other before any model is called, and choose the
    models (``model`` and ``optimizer_model`` come from the command line)."""
    return project_from(
        load_config(path),
        suites=suites,
        model=model,
        optimizer_model=optimizer_model,
        shard=shard,
        baseline=baseline,
        env=env,
    )


def project_from(
    loaded: LoadedConfig,
    *,
    suites: Sequence[str] = (),
    model: str | None = None,
    optimizer_model: str | None = None,
    shard: str | None = None,
    baseline: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Project:
    """``load_project`` for a config already read (``ci`` reads it first, to choose the
    suites a change concerns): every file the selected suites name, read and checked."""
    environ = os.environ if env is None else env
    config = loaded.config
    models = choose_models(
        config,
        str(loaded.path),
        environ,
        model_override=model,
        optimizer_override=optimizer_model,
    )
    names = [s.name for s in config.suites]
    for wanted in suites:
        if wanted not in names:
            raise UserError(
                f"no suite named {wanted!r}; the config has: {', '.join(names)}",
                path=str(loaded.path),
            )
    plans: list[SuitePlan] = []
    warnings: list[str] = []
    for index, suite in enumerate(config.suites):
        if suites and suite.name not in suites:
            continue
        plan, found = _plan_suite(loaded, index, models, model_override=model)
        if shard is not None:
            plan = replace(plan, cases=tuple(shard_cases(plan.cases, shard)))
        plans.append(plan)
        warnings.extend(found)
    if loaded.source is not None:
        warnings.extend(loaded.source.notices)
    secrets = known_secrets(environ, urls=[config.cache.redis_url])
    return Project(
        loaded,
        models,
        tuple(plans),
        tuple(warnings),
        tuple(secrets),
        baseline_ref=baseline,
        baseline=_baseline(loaded, plans, baseline),
        shard=shard,
    )


def _baseline(loaded: LoadedConfig, plans: Sequence[SuitePlan], ref: str | None) -> Baseline:
    return read_baseline(loaded.root, plans, ref) if ref else NO_BASELINE


def _plan_suite(
    loaded: LoadedConfig, index: int, models: ModelChoice, *, model_override: str | None
) -> tuple[SuitePlan, list[str]]:
    """One suite's files read and checked against each other, and its soft problems."""
    config = loaded.config
    suite = config.suites[index]
    evaluators = build_evaluators(loaded, index)
    prompt = loaded.load_prompt(suite)
    cases = loaded.load_cases(suite)
    check_evaluator_variables(config, str(loaded.path), index, cases)
    warnings = check_variables(prompt, cases, also_used=evaluator_variables(suite))
    check_conversations(prompt, cases)
    feedback = tuple(loaded.load_feedback(suite))
    use = suite_model(
        config, str(loaded.path), index, prompt, models, model_override=model_override
    )
    settings = prompt.settings
    temperature = _first(suite.temperature, settings.temperature, config.temperature)
    plan = SuitePlan(
        name=suite.name,
        prompt=prompt,
        cases=tuple(cases),
        evaluators=tuple(bind_feedback(e, feedback) for e in evaluators),
        model=use.model,
        temperature=float(temperature if temperature is not None else 0.0),
        max_tokens=_first(suite.max_tokens, settings.max_tokens, config.max_tokens),
        case_threshold=suite.case_threshold,
        threshold=suite.threshold,
        feedback=feedback,
        model_use=use,
    )
    if loaded.source is not None:
        sourced = loaded.source.suite(suite)
        if sourced.model_key and use.path == str(loaded.path):
            use = replace(use, key=sourced.model_key)
        plan = replace(
            plan,
            case_checks=sourced.case_checks,
            json_schema=sourced.json_schema,
            model_use=use,
        )
    return plan, warnings


def _first(*values: T | None) -> T | None:
    for value in values:
        if value is not None:
            return value
    return None


def shard_cases(cases: Sequence[Case], shard_text: str | None) -> list[Case]:
    """``--shard 2/4``: the cases of shard 2 of 4, chosen by case id."""
    if shard_text is None:
        return list(cases)
    index, count = parse_shard(shard_text)
    return select_shard(cases, index, count)
