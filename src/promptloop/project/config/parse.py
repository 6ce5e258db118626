"""Reading ``promptloop.yaml`` text into a ``Config``, every mistake one line.

Every mistake in the file surfaces as one ``UserError`` line such as
``promptloop.yaml:12: suites[0].evaluators[1]: unknown evaluator 'containz' — did you
mean 'contains'?``. To get there we keep a ``path -> line`` map of the YAML document and
translate pydantic's error locations through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from promptloop.errors import UserError
from promptloop.project.config.file import Config
from promptloop.yamlpos import Located, load_located, suggest, validation_error


def _error_from_validation(exc: ValidationError, located: Located, path: str) -> UserError:
    error = validation_error(exc, located, path, Config)
    if error.key == "suites" and exc.errors()[0]["type"] in ("missing", "too_short"):
        error = UserError(
            "needs at least one suite (a list item with name, prompt, dataset, evaluators)",
            path=path,
            line=error.line,
            key="suites",
        )
    return error


def _check_top_keys(data: Mapping[Any, Any], located: Located, path: str) -> None:
    # Not strictly needed (pydantic forbids extras), but a misspelt ``suites`` would
    # otherwise be reported as "suites: missing" — point at the typo instead.
    for key in data:
        if key not in Config.model_fields:
            raise UserError(
                f"unknown key '{key}'{suggest(str(key), Config.model_fields)}",
                path=path,
                line=located.line_for((key,)),
                key=str(key),
            )


def parse_config(text: str, path: str) -> Config:
    """Parse and validate promptloop.yaml text (``path`` is only used in messages). Each
    evaluator's own arguments are its kind's to check, when the project is loaded."""
    located = load_located(text, path)
    data = located.data
    if data is None:
        raise UserError(
            "the file is empty; it needs at least a `suites:` list (run `promptloop init`)",
            path=path,
        )
    if not isinstance(data, Mapping):
        raise UserError(
            f"expected a mapping of settings at the top, got {type(data).__name__}",
            path=path,
            line=located.line_for(()),
        )
    _check_top_keys(data, located, path)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise _error_from_validation(exc, located, path) from None
    config._lines = dict(located.lines)
    for s_index, suite in enumerate(config.suites):
        for e_index, spec in enumerate(suite.evaluators):
            spec.line = located.line_for(("suites", s_index, "evaluators", e_index))
    return config
