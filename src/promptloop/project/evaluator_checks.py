"""A suite's evaluators, built once from the config and checked against its cases before any
model is called: a bad argument, or a variable no case sets, is one line naming the file,
the line and the key.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING

from promptloop.errors import UserError
from promptloop.evaluators.base import Evaluator, EvaluatorFileError
from promptloop.evaluators.registry import build_evaluator
from promptloop.evaluators.templating import template_vars, used_variables
from promptloop.project.config.file import Config
from promptloop.project.config.suite import SuiteConfig
from promptloop.project.loaded import LoadedConfig
from promptloop.yamlpos import PathKey, format_loc, suggest

if TYPE_CHECKING:
    from promptloop.dataset.cases import Case


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
