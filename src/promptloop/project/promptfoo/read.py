"""promptfooconfig.yaml translated into promptloop's ``Config`` and a ``ConfigSource``.

Suites: one per (prompt, provider) pair that ``providers[].prompts`` allows, named after the
prompt (its label, else ``prompt-N``) and, with several providers, the provider
(``prompt-1.openai-gpt-4.1``). A suite is what promptloop compares base against head,
critiques and learns: one prompt on one model. Every suite runs every test.

The bar is promptfoo's: `promptfoo eval` fails when any test fails, or, with
``PROMPTFOO_PASS_RATE_THRESHOLD`` (a percentage) set, below that pass rate; each suite's
``threshold`` says the same, so the verdict and exit code agree with promptfoo's.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from promptloop.errors import UserError
from promptloop.project.config.file import Config
from promptloop.project.config.suite import SuiteConfig
from promptloop.project.promptfoo.checks import build_cases
from promptloop.project.promptfoo.prompts import Prompt, read_prompts
from promptloop.project.promptfoo.providers import Provider, litellm_model, read_provider
from promptloop.project.promptfoo.schema import IGNORED, REFUSED, PromptfooConfig
from promptloop.project.prompts import PromptSettings
from promptloop.project.sources import SourcedSuite
from promptloop.yamlpos import (
    Located,
    PathKey,
    format_loc,
    load_plain,
    load_with_node,
    validation_error,
)

if TYPE_CHECKING:
    from promptloop.project.promptfoo.tests import PromptfooTest

# promptfoo sends up to this many tokens unless a provider sets max_tokens.
_DEFAULT_MAX_TOKENS = 1024
PASS_RATE_VARIABLE = "PROMPTFOO_PASS_RATE_THRESHOLD"
_FOREIGN_KEYS = ("prompts", "providers", "targets", "tests", "defaultTest")
_TOP_KEY = re.compile(rf"^({'|'.join(_FOREIGN_KEYS)})\s*:", re.MULTILINE)
_OWN_KEY = re.compile(r"^suites\s*:", re.MULTILINE)


def is_promptfoo_config(text: str) -> bool:
    """Whether a config file is promptfoo's, by its content: top-level ``prompts:``,
    ``providers:`` or ``tests:``, and no ``suites:`` (promptloop's own). promptfoo also
    reads JSON (a .json config, or JSON inside a .yaml): there the top level is parsed."""
    if text.lstrip().startswith("{"):
        try:
            document = load_plain(text, "config")  # JSON is YAML; so is a flow mapping
        except UserError:
            return False  # promptloop's own reader names what is wrong with it
        return (
            isinstance(document, dict)
            and "suites" not in document
            and any(key in document for key in _FOREIGN_KEYS)
        )
    return bool(_TOP_KEY.search(text)) and not _OWN_KEY.search(text)


@dataclass(frozen=True)
class PromptfooSource:
    suites: Mapping[str, SourcedSuite]
    notices: tuple[str, ...] = ()
    format: str = "promptfoo"
    # Each case's test as written (defaultTest merged), for `init --from`.
    tests: Mapping[str, PromptfooTest] = field(default_factory=dict)

    def suite(self, suite: SuiteConfig) -> SourcedSuite:
        return self.suites[suite.name]


@dataclass
class _Reader:
    text: str
    path: Path
    located: Located
    notices: list[str] = field(default_factory=list)

    @property
    def shown(self) -> str:
        return str(self.path)

    def line(self, loc: PathKey) -> int | None:
        return self.located.line_for(loc)

    def where(self, loc: tuple[str | int, ...]) -> str:
        line = self.line(loc) or self.line(loc[:-1])
        return f"{self.shown}:{line}" if line is not None else self.shown

    def error(self, message: str, loc: PathKey) -> UserError:
        return UserError(message, path=self.shown, line=self.line(loc), key=format_loc(loc))


def read_promptfoo(text: str, path: Path) -> tuple[Config, PromptfooSource]:
    root, located = load_with_node(text, str(path))
    data = located.data
    reader = _Reader(text, path, located)
    if not isinstance(data, Mapping):
        raise UserError("expected a mapping of settings at the top", path=str(path), line=1)
    try:
        parsed = PromptfooConfig.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, located, str(path), PromptfooConfig) from None
    _check_keys(reader, data)
    providers = _providers(reader, data)
    prompts = read_prompts(
        parsed.prompts,
        config_text=text,
        config_path=str(path),
        root=root,
        located=located,
        base_dir=path.parent,
    )
    from promptloop.project.promptfoo.tests import expand_tests

    tests = expand_tests(
        parsed.tests if parsed.tests is not None else [],
        default_test=parsed.default_test,
        scenarios=parsed.scenarios,
        base_dir=path.parent,
        where=reader.where,
    )
    if not tests:
        raise reader.error("no tests: write at least one under `tests:`", ("tests",))
    cases, checks = build_cases(tests, base_dir=path.parent, notices=reader.notices)
    suites: list[dict[str, Any]] = []
    sourced: dict[str, SourcedSuite] = {}
    lines: dict[PathKey, int] = {}
    key = "targets" if "targets" in data else "providers"
    threshold = pass_rate_threshold(os.environ.get(PASS_RATE_VARIABLE))
    for p_index, provider in enumerate(providers):
        for prompt in _allowed(reader, provider, prompts):
            name = _suite_name(prompt, prompts, provider, providers)
            if name in sourced:  # two prompts labelled alike: promptfoo runs both
                name = f"{name}-{sum(1 for n in sourced if n.startswith(name)) + 1}"
            settings = {**_provider_settings(provider), **_prompt_settings(prompt)}
            template = _with_tools(reader, prompt, provider)
            suites.append(
                {
                    "name": name,
                    "prompt": prompt.file,
                    "dataset": _dataset_file(parsed.tests, path),
                    "model": provider.model,
                    "threshold": threshold,
                    **settings,
                }
            )
            if provider.line is not None:
                lines[("suites", len(suites) - 1, "model")] = provider.line
            sourced[name] = SourcedSuite(
                template, tuple(cases), checks, _schema(reader, provider), f"{key}[{p_index}]"
            )
    config = _config(reader, parsed, providers, suites)
    first = providers[0].line
    grader = reader.line(("defaultTest", "options", "provider"))
    config._lines = {
        **lines,
        **({("model",): first} if first is not None else {}),
        **({("judge_model",): grader} if grader is not None else {}),
    }
    by_id = {case.id: test for case, test in zip(cases, tests, strict=True)}
    return config, PromptfooSource(sourced, tuple(reader.notices), tests=by_id)


def pass_rate_threshold(written: str | None) -> float:
    """The pass rate each suite needs: every test (promptfoo's default), or the percentage
    in ``PROMPTFOO_PASS_RATE_THRESHOLD``."""
    if written is None or not written.strip():
        return 1.0
    try:
        percent = float(written)
    except ValueError:
        percent = math.nan
    if not 0 <= percent <= 100:
        raise UserError(
            f"{PASS_RATE_VARIABLE}={written!r} is not a percentage from 0 to 100",
            key=PASS_RATE_VARIABLE,
        )
    return percent / 100


def _check_keys(reader: _Reader, data: Mapping[str, Any]) -> None:
    for key, why in REFUSED.items():
        if key in data:
            raise reader.error(f"`{key}` is not supported: {why}", (key,))
    for key, why in IGNORED.items():
        if key in data:
            reader.notices.append(
                f"{reader.shown}:{reader.line((key,))}: `{key}` is ignored: {why}"
            )


def _providers(reader: _Reader, data: Mapping[str, Any]) -> list[Provider]:
    key = "targets" if "targets" in data else "providers"
    if "targets" in data and "providers" in data:
        raise reader.error("write `providers` or `targets` (the same list), not both", ("targets",))
    raw = data.get(key)
    if raw is None:
        raise reader.error(
            "no providers: write the model under `providers:`, e.g. openai:gpt-4.1-mini", (key,)
        )
    items = raw if isinstance(raw, list) else [raw]
    providers = [
        read_provider(item, reader.shown, reader.line((key, i)) or reader.line((key,)))
        for i, item in enumerate(items)
    ]
    for provider in providers:
        reader.notices.extend(provider.notices)
    bases = {p.api_base for p in providers}
    if len(bases) > 1:
        raise reader.error(
            "providers call different API base URLs; promptloop sends every call to one "
            "(`apiBaseUrl`): split the config, one per endpoint",
            (key,),
        )
    return providers


def _allowed(reader: _Reader, provider: Provider, prompts: Sequence[Prompt]) -> list[Prompt]:
    if provider.prompts is None:
        return list(prompts)
    chosen = []
    for wanted in provider.prompts:
        found = [p for p in prompts if _matches(wanted, p)]
        if not found:
            raise UserError(
                f"provider {provider.id}: no prompt is called {wanted!r} (give prompts a "
                "`label:` to name them)",
                path=reader.shown,
                line=provider.line,
                key="providers.prompts",
            )
        chosen += [p for p in found if p not in chosen]
    return chosen


def _matches(wanted: str, prompt: Prompt) -> bool:
    if wanted.endswith("*"):
        return any(name.startswith(wanted[:-1]) for name in prompt.names)
    return wanted in prompt.names


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.")
    return slug or "x"


def _suite_name(
    prompt: Prompt, prompts: Sequence[Prompt], provider: Provider, providers: Sequence[Provider]
) -> str:
    name = _slug(prompt.label) if prompt.label else f"prompt-{prompts.index(prompt) + 1}"
    if len(providers) > 1:
        name += "." + _slug(provider.label.replace(":", "-"))
    return name


def _provider_settings(provider: Provider) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if provider.temperature is not None:
        out["temperature"] = provider.temperature
    if provider.max_tokens is not None:
        out["max_tokens"] = provider.max_tokens
    return out


def _prompt_settings(prompt: Prompt) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("temperature", "max_tokens"):
        if prompt.config.get(key) is not None:
            out[key] = prompt.config[key]
    return out


def _with_tools(reader: _Reader, prompt: Prompt, provider: Provider) -> Any:
    template = prompt.template
    if not provider.tools and provider.tool_choice is None:
        return template
    data = {**template.settings.model_dump(), "tools": provider.tools}
    if provider.tool_choice is not None:
        data["tool_choice"] = provider.tool_choice
    try:
        settings = PromptSettings.model_validate(data)
    except ValidationError as exc:
        raise UserError(
            f"provider {provider.id}: config.tools: {exc.errors()[0]['msg']} (promptloop "
            "reads tools in OpenAI's {type: function, function: {...}} shape)",
            path=reader.shown,
            line=provider.line,
            key="providers.config.tools",
        ) from None
    from dataclasses import replace

    return replace(template, settings=settings)


def _schema(reader: _Reader, provider: Provider) -> dict[str, Any] | None:
    fmt = provider.response_format
    if not fmt:
        return None
    inner = fmt.get("json_schema") if isinstance(fmt, Mapping) else None
    schema = inner.get("schema") if isinstance(inner, Mapping) else None
    if fmt.get("type") != "json_schema" or not isinstance(schema, Mapping):
        raise UserError(
            f"provider {provider.id}: config.response_format is carried only as "
            "{type: json_schema, json_schema: {schema: ...}}; for plain JSON, add an "
            "is-json assertion",
            path=reader.shown,
            line=provider.line,
            key="providers.config.response_format",
        )
    return dict(schema)


def _dataset_file(tests: Any, path: Path) -> str:
    """The file a suite's cases come from, for deciding which suites a change touches:
    the tests file when there is one, else the config itself."""
    if isinstance(tests, str) and tests.startswith("file://") and not set("*?[") & set(tests):
        return tests.removeprefix("file://")
    return path.name


def _config(
    reader: _Reader,
    parsed: PromptfooConfig,
    providers: Sequence[Provider],
    suites: list[dict[str, Any]],
) -> Config:
    options = parsed.evaluateOptions
    settings: dict[str, Any] = {
        "model": providers[0].model,
        "max_tokens": _DEFAULT_MAX_TOKENS,
        "api_base": providers[0].api_base,
        "suites": suites,
    }
    judge = _grader(reader, parsed.default_test)
    if judge is not None:
        settings["judge_model"] = judge
    if options is not None:
        if options.maxConcurrency:
            settings["concurrency"] = max(1, int(options.maxConcurrency))
        if options.repeat:
            settings["repeat"] = max(1, int(options.repeat))
        if options.cache is False:
            settings["cache"] = {"enabled": False}
        if options.timeoutMs:
            settings["timeout"] = options.timeoutMs / 1000
    try:
        return Config.model_validate(settings)
    except ValidationError as exc:  # pragma: no cover - the values above are checked
        raise reader.error(str(exc.errors()[0]["msg"]), ()) from None


def _grader(reader: _Reader, default_test: Any) -> str | None:
    """``defaultTest.options.provider``: the model that grades, as promptloop's judge."""
    if not isinstance(default_test, Mapping):
        return None
    options = default_test.get("options")
    provider = options.get("provider") if isinstance(options, Mapping) else None
    if isinstance(provider, Mapping):
        provider = provider.get("id")
    if not isinstance(provider, str):
        return None
    model = litellm_model(provider)
    if model is None:
        raise reader.error(
            f"grading provider {provider!r} is not one promptloop can call",
            ("defaultTest", "options", "provider"),
        )
    return model
