"""Load the project once: promptloop.yaml and everything it names, read and checked.

``load_project`` returns a ``Project``: for each selected suite its prompt, cases,
reviewers' feedback, evaluators (each built once) and the model it runs on with where
that choice was written; the judge and optimizer models likewise; with a baseline ref,
each changed prompt as it was there. `run`, `ci`, `optimize` and `calibrate` start from
it, so nothing below reads a project file again. The file's schema is ``config``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, TypeVar

from promptloop.bounds import MAX_CONFIG_BYTES, check_file_size, confined
from promptloop.dataset.feedback import FeedbackRecord
from promptloop.dataset.splits import parse_shard, select_shard
from promptloop.errors import UserError
from promptloop.evaluators.base import Evaluator, EvaluatorFileError
from promptloop.evaluators.human import bind_feedback
from promptloop.evaluators.registry import build_evaluator
from promptloop.evaluators.templating import template_vars, used_variables
from promptloop.models.preflight import ModelUse
from promptloop.project.baseline import NO_BASELINE, Baseline, read_baseline
from promptloop.project.choices import ModelChoice, choose_models, suite_model
from promptloop.project.config.file import Config
from promptloop.project.config.parse import parse_config
from promptloop.project.config.suite import SuiteConfig
from promptloop.project.conversations import check_conversations
from promptloop.project.rendering import check_variables
from promptloop.project.sources import ConfigSource
from promptloop.project.suites import SuitePlan, judge_notices
from promptloop.safety import known_secrets
from promptloop.yamlpos import PathKey, format_loc, suggest

if TYPE_CHECKING:
    from promptloop.dataset.cases import Case
    from promptloop.project.prompts import PromptTemplate

CONFIG_NAMES = ("promptloop.yaml", "promptloop.yml")
# Read where a directory has no promptloop.yaml (see ``project.promptfoo``).
FOREIGN_NAMES = ("promptfooconfig.yaml", "promptfooconfig.yml", "promptfooconfig.json")
T = TypeVar("T")


def find_config(start: Path) -> Path:
    """promptloop.yaml (or .yml) in ``start`` or the nearest parent directory; where a
    directory has none, its promptfooconfig.yaml."""
    start = start if start.is_dir() else start.parent
    for directory in (start, *start.resolve().parents):
        for name in (*CONFIG_NAMES, *FOREIGN_NAMES):
            candidate = directory / name
            if candidate.is_file():
                return candidate
            if candidate.is_dir():
                raise UserError("is a directory, not a file", path=str(candidate))
            if candidate.is_symlink():
                # A dangling link or a loop: saying "not found" would hide the file in plain view.
                raise UserError(
                    "is a symbolic link that leads to no file (a loop or a missing target)",
                    path=str(candidate),
                )
    raise UserError(
        f"no promptloop.yaml found (nor a promptfooconfig.yaml) in {start} or its parent "
        "directories; create one with `promptloop init` or pass --config PATH"
    )


@dataclass(frozen=True)
class LoadedConfig:
    config: Config
    # The file as given (display paths derive from it) and its directory.
    path: Path
    root: Path
    # Set when the file is another tool's config, translated into ``config``.
    source: ConfigSource | None = None

    def resolve(self, relative: str, loc: tuple[str | int, ...] | None = None) -> Path:
        """A path written in the config (at ``loc``), resolved against the config's
        directory; one that leads outside the project is refused."""

        def fail(message: str) -> UserError:
            line = self.config.line_of(loc) if loc else None
            key = format_loc(loc) if loc else None
            return UserError(message, path=str(self.path), line=line, key=key)

        return confined(relative, self.root, fail)

    def _at(self, suite: SuiteConfig, key: str) -> tuple[str | int, ...]:
        return ("suites", self.config.suites.index(suite), key)

    def shown(self) -> str:
        """The config's own path as results show it: relative to here, else to its folder."""
        try:
            return str(self.path.resolve().relative_to(Path.cwd().resolve()))
        except ValueError:
            try:
                return str(self.path.resolve().relative_to(self.root.resolve()))
            except ValueError:
                return str(self.path)

    def display(self, relative: str) -> str:
        """How to show a config-relative path in messages: relative to where the user
        pointed us, so ``evals/x.jsonl:7`` stays clickable."""
        parent = PurePath(self.path).parent
        if str(parent) in ("", "."):
            return str(PurePath(relative))
        return os.path.normpath(str(parent / relative))

    def _referenced(self, error: UserError, suite: SuiteConfig, key: str) -> UserError:
        """A file that cannot be read at all is reported where the config names it, so the
        line to fix is the one shown; a mistake inside the file keeps its own line."""
        if error.line is not None:
            return error
        loc = ("suites", self.config.suites.index(suite), key)
        shown = error.path or ""
        message = error.message
        for prefix in ("prompt file ", "dataset file ", "prompt ", "dataset "):
            if message.startswith(prefix):
                message = f"{shown} {message.removeprefix(prefix)}"
                break
        else:
            message = f"{shown}: {message}"
        return UserError(
            message, path=str(self.path), line=self.config.line_of(loc), key=format_loc(loc)
        )

    def load_prompt(self, suite: SuiteConfig) -> PromptTemplate:
        from promptloop.project.prompts import load_prompt

        if self.source is not None:
            return self.source.suite(suite).prompt
        try:
            return load_prompt(
                self.resolve(suite.prompt, self._at(suite, "prompt")), self.display(suite.prompt)
            )
        except UserError as error:
            raise self._referenced(error, suite, "prompt") from None

    def load_cases(self, suite: SuiteConfig) -> list[Case]:
        """The suite's cases, from its dataset file or the inline list in the config."""
        from promptloop.dataset.cases import load_dataset, parse_cases, value_paths

        if self.source is not None:
            return list(self.source.suite(suite).cases)
        if isinstance(suite.dataset, str):
            try:
                return load_dataset(
                    self.resolve(suite.dataset, self._at(suite, "dataset")),
                    self.display(suite.dataset),
                    named_as=str(PurePath(os.path.normpath(suite.dataset))),
                )
            except UserError as error:
                raise self._referenced(error, suite, "dataset") from None
        index = self.config.suites.index(suite)
        lines = [
            self.config.line_of(("suites", index, "dataset", i)) for i in range(len(suite.dataset))
        ]
        key_lines: dict[tuple[str | int, ...], int] = {}
        for i, row in enumerate(suite.dataset):
            for path in value_paths(row):
                line = self.config.line_of(("suites", index, "dataset", i, *path))
                if line is not None:
                    key_lines[(i, *path)] = line
        return parse_cases(
            suite.dataset, str(self.path), lines=lines, key_lines=key_lines, named_as=self.path.name
        )

    def feedback_file(self, suite: SuiteConfig) -> str:
        """The suite's feedback file, relative to the config's directory."""
        from promptloop.dataset.feedback import default_feedback_path

        return suite.feedback or default_feedback_path(suite.dataset, suite.name)

    def load_feedback(self, suite: SuiteConfig) -> list[FeedbackRecord]:
        from promptloop.dataset.feedback import load_feedback

        relative = self.feedback_file(suite)
        loc = self._at(suite, "feedback") if suite.feedback else self._at(suite, "dataset")
        return load_feedback(self.resolve(relative, loc), self.display(relative))


def load_config(path: Path) -> LoadedConfig:
    check_file_size(path, MAX_CONFIG_BYTES, "config file")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError("config file not found", path=str(path)) from None
    except OSError as error:
        raise UserError(f"cannot read config: {error.strerror}", path=str(path)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserError("is not a UTF-8 text file", path=str(path)) from None
    from promptloop.project.promptfoo import is_promptfoo_config, read_promptfoo

    if is_promptfoo_config(text):
        config, source = read_promptfoo(text, path)
        return LoadedConfig(config=config, path=path, root=path.parent, source=source)
    return LoadedConfig(config=parse_config(text, str(path)), path=path, root=path.parent)


# --- the project -----------------------------------------------------------------------


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
        """What a reader of the results should know from loading: soft problems, judges
        grading their own model or shown the prompt, suites not compared with the base."""
        judges = judge_notices(self.plans, self.models.judge_model)
        return [*self.warnings, *judges, *self.baseline.notices]

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
    environ = os.environ if env is None else env
    loaded = load_config(path)
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


def build_evaluators(loaded: LoadedConfig, index: int) -> tuple[Evaluator, ...]:
    """The suite's evaluators, each built once; a bad one is one line naming
    promptloop.yaml, the line and the key (or the line inside the file it reads)."""
    config = loaded.config
    path = str(loaded.path)
    built = []
    for e_index, spec in enumerate(config.suites[index].evaluators):
        try:
            built.append(build_evaluator(spec, base_dir=loaded.root))
        except ValueError as error:
            loc: PathKey = ("suites", index, "evaluators", e_index, spec.kind)
            line = config.line_of(loc) or config.line_of(loc[:-1])
            if isinstance(error, EvaluatorFileError):
                raise _in_evaluator_file(error, path, line, format_loc(loc)) from None
            # The key already names the kind; don't say it twice.
            message = str(error).removeprefix(f"{spec.kind}: ")
            raise UserError(message, path=path, line=line, key=format_loc(loc)) from None
    return tuple(built)


def _in_evaluator_file(
    error: EvaluatorFileError, config_path: str, config_line: int | None, key: str
) -> UserError:
    """``schema.json:3: ...; used by promptloop.yaml:14 suites[0].evaluators[0].json-schema``."""
    written = PurePath(error.file)
    parent = PurePath(config_path).parent
    shown = written if written.is_absolute() or str(parent) in ("", ".") else parent / written
    where = f"{config_path}:{config_line}" if config_line is not None else config_path
    return UserError(
        f"{error}; used by {where} {key}", path=os.path.normpath(str(shown)), line=error.line
    )


def evaluator_variables(suite: SuiteConfig) -> set[str]:
    """Variables that evaluator arguments mention, e.g. ``equals: "{{ label }}"``."""
    return set().union(*(used_variables(spec.args) for spec in suite.evaluators))


def check_evaluator_variables(
    config: Config, path: str, suite_index: int, cases: Sequence[Case]
) -> None:
    """An evaluator template reading a variable no case has would fail every case at run
    time, after its model calls: refuse it now, like an undefined prompt variable."""
    available = set().union(*(template_vars(case) for case in cases)) if cases else set()
    suite = config.suites[suite_index]
    for e_index, spec in enumerate(suite.evaluators):
        unknown = sorted(used_variables(spec.args) - available)
        if not unknown:
            continue
        loc = ("suites", suite_index, "evaluators", e_index, spec.kind)
        raise UserError(
            f"undefined variable '{unknown[0]}'{suggest(unknown[0], available)}",
            path=path,
            line=config.line_of(loc) or config.line_of(loc[:-1]),
            key=format_loc(loc),
        )


def shard_cases(cases: Sequence[Case], shard_text: str | None) -> list[Case]:
    """``--shard 2/4``: the cases of shard 2 of 4, chosen by case id."""
    if shard_text is None:
        return list(cases)
    index, count = parse_shard(shard_text)
    return select_shard(cases, index, count)
