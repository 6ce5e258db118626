"""Turn a loaded config into runnable suite plans (reads the prompt and dataset files)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from promptloop.dataset.cases import Case
from promptloop.dataset.splits import parse_shard, select_shard
from promptloop.errors import UserError
from promptloop.evaluators.base import Evaluator, sees_prompt
from promptloop.evaluators.human import HumanEvaluator, bind_feedback
from promptloop.evaluators.judge import JudgeEvaluator
from promptloop.evaluators.registry import build_evaluator
from promptloop.evaluators.templating import template_vars, used_variables
from promptloop.models.base import EMBEDDED_MODEL
from promptloop.models.factory import resolve_default_model
from promptloop.models.preflight import ModelUse
from promptloop.project.config import LoadedConfig
from promptloop.project.conversations import check_conversations
from promptloop.project.prompts import PromptTemplate, check_variables
from promptloop.yamlpos import format_loc, suggest

T = TypeVar("T")


@dataclass(frozen=True)
class SuitePlan:
    """A suite resolved against its files: ready to run."""

    name: str
    prompt: PromptTemplate
    cases: tuple[Case, ...]
    evaluators: tuple[Evaluator, ...]
    model: str
    temperature: float
    max_tokens: int | None
    case_threshold: float = 1.0
    threshold: float | None = None


@dataclass(frozen=True)
class ModelChoice:
    model: str
    judge_model: str
    optimizer_model: str
    notice: str | None


def choose_models(
    loaded: LoadedConfig, model_override: str | None = None, env: Mapping[str, str] | None = None
) -> ModelChoice:
    cfg = loaded.config
    model, notice = resolve_default_model(
        model_override or cfg.model, os.environ if env is None else env
    )
    judge = cfg.judge_model or model
    optimizer = cfg.optimizer_model or judge
    return ModelChoice(model, judge, optimizer, notice)


def judge_notices(plans: Sequence[SuitePlan], judge_model: str) -> list[str]:
    """What the reader of a verdict should know about its judges: one that grades its own
    answers, and one shown the prompt under test."""
    notices: list[str] = []
    own = sorted(
        {
            plan.name
            for plan in plans
            for e in plan.evaluators
            if isinstance(e, JudgeEvaluator)
            and (e.args.model or judge_model) == plan.model
            # The embedded model is the free smoke test: there is no other to judge with.
            and plan.model != EMBEDDED_MODEL
        }
    )
    if own:
        notices.append(
            f"the judge is the model under test in {', '.join(own)}: a model tends to "
            "prefer its own answers, so set judge_model to another model for a fairer grade"
        )
    shown = sorted({p.name for p in plans if any(sees_prompt(e) for e in p.evaluators)})
    if shown:
        notices.append(
            f"the judge is shown the prompt under test (show_prompt) in {', '.join(shown)}: "
            "an answer that did not change may be judged differently on base and head"
        )
    return notices


def relative_display(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            return str(path)


def _evaluator_variables(loaded: LoadedConfig, suite_index: int) -> set[str]:
    """Variables that evaluator arguments mention, e.g. ``equals: "{{ label }}"``."""
    suite = loaded.config.suites[suite_index]
    return set().union(*(used_variables(spec.args) for spec in suite.evaluators))


def _check_evaluator_variables(
    loaded: LoadedConfig, suite_index: int, cases: Sequence[Case]
) -> None:
    """An evaluator template reading a variable no case has would fail every case at run
    time, after its model calls: refuse it now, like an undefined prompt variable."""
    available = set().union(*(template_vars(case) for case in cases)) if cases else set()
    suite = loaded.config.suites[suite_index]
    for e_index, spec in enumerate(suite.evaluators):
        unknown = sorted(used_variables(spec.args) - available)
        if not unknown:
            continue
        loc = ("suites", suite_index, "evaluators", e_index, spec.kind)
        config = loaded.config
        raise UserError(
            f"undefined variable '{unknown[0]}'{suggest(unknown[0], available)}",
            path=str(loaded.path),
            line=config.line_of(loc) or config.line_of(loc[:-1]),
            key=format_loc(loc),
        )


def plan_suites(
    loaded: LoadedConfig,
    models: ModelChoice,
    *,
    only: Sequence[str] = (),
    model_override: str | None = None,
    warnings: list[str] | None = None,
) -> list[SuitePlan]:
    """Load every selected suite's prompt, cases and evaluators, checking them against each
    other before any model is called. Soft problems are appended to ``warnings``."""
    cfg = loaded.config
    names = [s.name for s in cfg.suites]
    for wanted in only:
        if wanted not in names:
            raise UserError(
                f"no suite named {wanted!r}; the config has: {', '.join(names)}",
                path=str(loaded.path),
            )
    plans = []
    for index, suite in enumerate(cfg.suites):
        if only and suite.name not in only:
            continue
        prompt = loaded.load_prompt(suite)
        cases = loaded.load_cases(suite)
        _check_evaluator_variables(loaded, index, cases)
        found = check_variables(prompt, cases, also_used=_evaluator_variables(loaded, index))
        check_conversations(prompt, cases)
        if warnings is not None:
            warnings.extend(found)
        evaluators = tuple(build_evaluator(spec, base_dir=loaded.root) for spec in suite.evaluators)
        if any(isinstance(e, HumanEvaluator) for e in evaluators):
            feedback = loaded.load_feedback(suite)
            evaluators = tuple(bind_feedback(e, feedback) for e in evaluators)
        settings = prompt.settings
        model = model_override or suite.model or settings.model or models.model
        temperature = _first(suite.temperature, settings.temperature, cfg.temperature)
        max_tokens = _first(suite.max_tokens, settings.max_tokens, cfg.max_tokens)
        plans.append(
            SuitePlan(
                name=suite.name,
                prompt=prompt,
                cases=tuple(cases),
                evaluators=evaluators,
                model=model,
                temperature=float(temperature if temperature is not None else 0.0),
                max_tokens=max_tokens,
                case_threshold=suite.case_threshold,
                threshold=suite.threshold,
            )
        )
    return plans


def model_uses(
    loaded: LoadedConfig,
    models: ModelChoice,
    plans: Sequence[SuitePlan],
    *,
    model_override: str | None = None,
    optimizer_override: str | None = None,
) -> list[ModelUse]:
    """Every model the plans, the judge and the optimizer will call, each with the place
    it was chosen (the same precedence as ``plan_suites`` and ``choose_models``)."""
    cfg = loaded.config
    path = str(loaded.path)

    def configured(value: str | None, *loc: str | int) -> ModelUse | None:
        return ModelUse(value, format_loc(loc), path, cfg.line_of(loc)) if value else None

    # The model every suite falls back to: from the command line, the config or the default.
    if model_override:
        default = ModelUse(model_override, "--model")
    else:
        default = configured(cfg.model, "model") or ModelUse(models.model, "model")
    uses: list[ModelUse] = []
    for plan in plans:
        index = next(i for i, s in enumerate(cfg.suites) if s.name == plan.name)
        front = plan.prompt.settings.model
        suite_use = None
        if not model_override:
            suite_use = configured(cfg.suites[index].model, "suites", index, "model")
        if suite_use is None and front and not model_override:
            suite_use = ModelUse(front, "model", plan.prompt.path, _key_line(plan.prompt.source))
        use = suite_use or default
        # A prompt with tools needs a model that can call them (``preflight.tools_problem``).
        uses.append(
            replace(use, tools_from=plan.prompt.path) if plan.prompt.settings.tools else use
        )
    judge = configured(cfg.judge_model, "judge_model") or default
    uses.append(judge)
    if optimizer_override:
        uses.append(ModelUse(optimizer_override, "--optimizer-model"))
    else:
        uses.append(configured(cfg.optimizer_model, "optimizer_model") or judge)
    return uses


def _key_line(source: str, key: str = "model") -> int | None:
    """The line where a prompt file sets ``key`` (front matter, or a YAML/JSON chat file)."""
    pattern = re.compile(rf"^\s*[\"']?{key}[\"']?\s*:")
    for number, line in enumerate(source.splitlines(), start=1):
        if pattern.match(line):
            return number
    return None


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
