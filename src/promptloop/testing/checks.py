"""Prompt checks inside ordinary tests: one prompt, one set of vars, the evaluators of your
choice, run by the engine of `promptloop run` (models, cache, evaluators and messages alike).

A check is written as a one-case project (promptloop.yaml plus an inline dataset) in a
temporary folder and run like any other, so an evaluator is written exactly as in
promptloop.yaml and a mistake in one gets the same one-line error.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from promptloop.commands.run import ProjectQuery, RunOptions, execute_run, project_for
from promptloop.engine.results import CaseRecord
from promptloop.errors import UserError
from promptloop.testing.suites import case_message

# Settings a check takes from the project's promptloop.yaml, so a test uses the same models.
INHERITED = ("model", "judge_model", "api_base", "temperature", "max_tokens", "timeout", "cache")
SUITE = "check"


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    # Why it did not pass, as `promptloop run` and the pytest plugin say it; "" when it did.
    message: str
    output: str | None
    score: float
    record: CaseRecord

    def __bool__(self) -> bool:
        return self.passed


class PromptChecker:
    """Called as ``promptloop_check(prompt, vars=..., evaluators=[...])``; see ``check``."""

    def __init__(self, root: Path, config: Path | None = None) -> None:
        self.root = root
        self.config = config if config is not None else _project_config(root)

    def __call__(
        self,
        prompt: str | Path,
        *,
        vars: Mapping[str, Any] | None = None,
        evaluators: Sequence[Any] = (),
        expected: Any = None,
        model: str | None = None,
        case_threshold: float | None = None,
    ) -> CheckResult:
        return check(
            prompt,
            vars=vars,
            evaluators=evaluators,
            expected=expected,
            model=model,
            case_threshold=case_threshold,
            root=self.root,
            config=self.config,
        )

    def text(
        self,
        rendered: str,
        *,
        evaluators: Sequence[Any] = (),
        expected: Any = None,
        model: str | None = None,
    ) -> CheckResult:
        """Check an already rendered prompt (sent as one user message, taken literally)."""
        if "{% endraw %}" in rendered:
            raise UserError("a rendered prompt may not contain `{% endraw %}`")
        return self(
            _Literal("{% raw %}" + rendered + "{% endraw %}\n"),
            evaluators=evaluators,
            expected=expected,
            model=model,
        )


class _Literal(str):
    """Prompt text, not a path."""


def _project_config(root: Path) -> Path | None:
    for name in ("promptloop.yaml", "promptloop.yml"):
        if (root / name).is_file():
            return root / name
    return None


def _inherited(config: Path | None) -> dict[str, Any]:
    if config is None:
        return {}
    data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        return {}
    settings = {k: data[k] for k in INHERITED if k in data}
    cache = settings.get("cache")
    if isinstance(cache, dict) and "dir" in cache:
        # The project's cache stays the project's: a check run twice asks the model once.
        settings["cache"] = {**cache, "dir": str((config.parent / cache["dir"]).resolve())}
    elif "cache" not in settings:
        settings["cache"] = {"dir": str((config.parent / ".promptloop/cache").resolve())}
    return settings


def check(
    prompt: str | Path,
    *,
    vars: Mapping[str, Any] | None = None,
    evaluators: Sequence[Any] = (),
    expected: Any = None,
    model: str | None = None,
    case_threshold: float | None = None,
    root: Path | None = None,
    config: Path | None = None,
) -> CheckResult:
    """Render ``prompt`` (a prompt file, relative to ``root``) with ``vars``, call the model
    and grade the answer with ``evaluators`` (items as in promptloop.yaml)."""
    root = root or Path.cwd()
    settings = _inherited(config if config is not None else _project_config(root))
    if model is not None:
        settings["model"] = model
    settings.setdefault("cache", {"dir": str((root / ".promptloop/cache").resolve())})
    with tempfile.TemporaryDirectory(prefix="promptloop-check-") as tmp:
        project = Path(tmp)
        if isinstance(prompt, _Literal):
            prompt_path = project / "prompt.md"
            prompt_path.write_text(str(prompt), encoding="utf-8")
        else:
            source = root / prompt
            if not source.is_file():
                raise UserError(f"prompt file not found: {source}")
            prompt_path = project / f"prompt{source.suffix}"
            shutil.copyfile(source, prompt_path)
        row: dict[str, Any] = {"id": "check", **dict(vars or {})}
        if expected is not None:
            row["expected"] = expected
        suite: dict[str, Any] = {
            "name": SUITE,
            "prompt": prompt_path.name,
            # JSON round trip: a test's tuples and the like become what YAML can hold.
            "dataset": [json.loads(json.dumps(row, default=str))],
            "evaluators": list(evaluators),
        }
        if case_threshold is not None:
            suite["case_threshold"] = case_threshold
        config_path = project / "promptloop.yaml"
        config_path.write_text(
            yaml.safe_dump({**settings, "suites": [suite]}, sort_keys=False), encoding="utf-8"
        )
        query = ProjectQuery(start_dir=project, config_path=config_path)
        result = execute_run(RunOptions(), project_for(query))
    record = result.suites[0].cases[0]
    passed = record.status == "pass"
    return CheckResult(
        passed=passed,
        message="" if passed else case_message(record),
        output=record.shown_output,
        score=record.score,
        record=record,
    )


def assert_prompt(prompt: str | Path, **kwargs: Any) -> CheckResult:
    """``check`` that raises AssertionError with promptloop's reasons when the case fails."""
    result = check(prompt, **kwargs)
    if not result.passed:
        raise AssertionError(result.message)
    return result
