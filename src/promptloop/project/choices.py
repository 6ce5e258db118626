"""Which model each part of a run uses, and where that choice was written.

The precedence, written once: for a suite, ``--model``, then the suite's ``model:``, then
the prompt file's ``model:``, then the config's ``model:``, then a default chosen from the
provider keys set (the embedded model when there is none). The judge falls back to the
model, the optimizer to the judge. Each choice keeps the place it came from
(``ModelUse``), so a wrong model name is reported at its own file and line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from promptloop.models.factory import resolve_default_model
from promptloop.models.preflight import ModelUse
from promptloop.project.config.file import Config
from promptloop.project.prompts import PromptTemplate
from promptloop.yamlpos import format_loc


@dataclass(frozen=True)
class ModelChoice:
    model: str
    judge_model: str
    optimizer_model: str
    notice: str | None
    # Where each was chosen (``model`` is the one every suite falls back to).
    model_use: ModelUse | None = None
    judge_use: ModelUse | None = None
    optimizer_use: ModelUse | None = None


def _configured(config: Config, path: str, value: str | None, *loc: str | int) -> ModelUse | None:
    return ModelUse(value, format_loc(loc), path, config.line_of(loc)) if value else None


def choose_models(
    config: Config,
    path: str,
    env: Mapping[str, str],
    *,
    model_override: str | None = None,
    optimizer_override: str | None = None,
) -> ModelChoice:
    """The run's default model, judge and optimizer, each with where it was chosen."""
    model, notice = resolve_default_model(model_override or config.model, env)
    if model_override:
        default = ModelUse(model_override, "--model")
    else:
        default = _configured(config, path, config.model, "model") or ModelUse(model, "model")
    judge = _configured(config, path, config.judge_model, "judge_model") or default
    if optimizer_override:
        optimizer = ModelUse(optimizer_override, "--optimizer-model")
    else:
        optimizer = _configured(config, path, config.optimizer_model, "optimizer_model") or judge
    return ModelChoice(
        model=default.model,
        judge_model=judge.model,
        optimizer_model=optimizer.model,
        notice=notice,
        model_use=default,
        judge_use=judge,
        optimizer_use=optimizer,
    )


def suite_model(
    config: Config,
    path: str,
    index: int,
    prompt: PromptTemplate,
    models: ModelChoice,
    *,
    model_override: str | None = None,
) -> ModelUse:
    """The model a suite runs on, and where it was chosen."""
    default = models.model_use or ModelUse(models.model, "model")
    use = default
    if not model_override:
        front = prompt.settings.model
        in_prompt = (
            ModelUse(front, "model", prompt.path, _key_line(prompt.source)) if front else None
        )
        suite = _configured(config, path, config.suites[index].model, "suites", index, "model")
        use = suite or in_prompt or default
    # A prompt with tools needs a model that can call them (``preflight.tools_problem``).
    if prompt.settings.tools:
        use = ModelUse(use.model, use.key, use.path, use.line, tools_from=prompt.path)
    return use


def _key_line(source: str, key: str = "model") -> int | None:
    """The line where a prompt file sets ``key`` (front matter, or a YAML/JSON chat file)."""
    pattern = re.compile(rf"^\s*[\"']?{key}[\"']?\s*:")
    for number, line in enumerate(source.splitlines(), start=1):
        if pattern.match(line):
            return number
    return None
