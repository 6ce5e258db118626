"""Checks on the output's structure: ``is-json`` and ``json-schema`` (each with its
``not-`` form)."""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, StrictBool, field_validator, model_validator

from promptloop.bounds import bounded_schema_validator, confined
from promptloop.dataset.cases import Case
from promptloop.evaluators.base import EvaluatorFileError, quote
from promptloop.evaluators.deterministic import CheckKind, Finding
from promptloop.evaluators.kind import BuildContext, argument_error

_FENCE = re.compile(r"\A```[A-Za-z0-9_-]*[ \t]*\r?\n(?P<body>.*?)\r?\n?```\Z", re.DOTALL)


def _parse_json(output: str, allow_fence: bool) -> tuple[Any, str | None]:
    """``(value, None)`` or ``(None, problem)``."""
    text = output.strip()
    fenced = _FENCE.match(text)
    if fenced is not None and allow_fence:
        text = fenced.group("body").strip()
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        problem = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
        if fenced is not None and not allow_fence:
            problem += " (the output is wrapped in a ``` code fence; allow_fence: true accepts it)"
        return None, problem


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


@dataclass(frozen=True)
class IsJsonCheck:
    allow_fence: bool = False

    def run(self, output: str, case: Case) -> Finding:
        value, problem = _parse_json(output, self.allow_fence)
        if problem is None:
            kind = _json_kind(value)
            return Finding(
                True,
                f"output is valid JSON ({kind})",
                f"output is valid JSON ({kind}), which it must not be",
            )
        return Finding(
            False,
            f"output is not valid JSON: {problem}; got {quote(output)}",
            f"output is not valid JSON ({problem})",
        )


_FENCE_OPTION = Field(default=False, description="Accept JSON inside a ``` code fence.")


class IsJson(CheckKind):
    """The output is valid JSON."""

    kind: ClassVar[str] = "is-json"
    short_forms: ClassVar[tuple[dict[str, Any], ...]] = ({"type": "null"}, {"const": True})

    allow_fence: StrictBool = _FENCE_OPTION

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        if data is None or data is True:
            return {}
        if data is False:
            raise argument_error("false is not a check; use not-is-json to require non-JSON")
        if not isinstance(data, Mapping):
            raise argument_error(f"takes no value or {{allow_fence: true}}, got {data!r}")
        return data

    def check(self, context: BuildContext) -> IsJsonCheck:
        return IsJsonCheck(self.allow_fence)


def _jsonschema() -> Any:
    # Imported by name: jsonschema ships no type stubs, and only these checks need it.
    return importlib.import_module("jsonschema")


def schema_validator(schema: Mapping[str, Any], *, formats: bool = True) -> Any:
    """A validator for a user's JSON Schema; ``ValueError`` saying where it is invalid."""
    jsonschema = _jsonschema()
    # pattern and patternProperties search the output, so under the regex time limit.
    cls = bounded_schema_validator(jsonschema.validators.validator_for(dict(schema)))
    try:
        cls.check_schema(dict(schema))
    except jsonschema.exceptions.SchemaError as exc:
        where = exc.json_path if exc.json_path != "$" else "the top level"
        raise ValueError(f"invalid schema at {where}: {exc.message}") from exc
    return cls(dict(schema), format_checker=cls.FORMAT_CHECKER if formats else None)


@dataclass(frozen=True)
class JsonSchemaCheck:
    schema: Mapping[str, Any]
    validator: Any
    allow_fence: bool = False

    def run(self, output: str, case: Case) -> Finding:
        value, problem = _parse_json(output, self.allow_fence)
        if problem is not None:
            return Finding(
                False,
                f"output is not valid JSON, so it cannot match the schema: {problem}; "
                f"got {quote(output)}",
                f"output is not valid JSON ({problem}), so it does not match the schema",
            )
        errors = list(self.validator.iter_errors(value))
        if not errors:
            return Finding(
                True,
                "output matches the JSON schema",
                "output matches the JSON schema, which it must not",
            )
        best = _jsonschema().exceptions.best_match(errors)
        message = str(best.message)
        if len(message) > 200:
            message = message[:200] + "…"
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        detail = f"at {best.json_path}: {message}{more}"
        return Finding(
            False,
            f"output does not match the JSON schema {detail}",
            f"output does not match the JSON schema ({detail})",
        )


def _load_schema_file(raw: str, base_dir: Path) -> Any:
    path = confined(raw, base_dir, ValueError)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read schema file {raw} ({path}): {exc.strerror or exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise EvaluatorFileError(
            f"schema file {raw} is not valid JSON: {exc.msg} (column {exc.colno})",
            file=raw,
            line=exc.lineno,
        ) from exc


class JsonSchema(CheckKind):
    """The output is JSON that matches a JSON Schema, written inline or in a .json file."""

    kind: ClassVar[str] = "json-schema"
    short_forms: ClassVar[tuple[dict[str, Any], ...]] = (
        {"type": "string", "description": "Path of a .json schema file."},
        {"type": "object", "description": "A JSON Schema."},
    )

    schema_: str | dict[str, Any] = Field(
        alias="schema", description="A JSON Schema, or the path of a .json schema file."
    )
    allow_fence: StrictBool = _FENCE_OPTION

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        # ``{schema: ..., allow_fence: ...}`` is our options form; "schema" is no JSON
        # Schema keyword, so any other mapping is the schema itself.
        if (
            isinstance(data, Mapping)
            and "schema" in data
            and set(data) <= {"schema", "allow_fence"}
        ):
            return data
        return {"schema": data}

    @field_validator("schema_", mode="before")
    @classmethod
    def _schema_or_path(cls, value: Any) -> Any:
        if not isinstance(value, str | Mapping):
            raise argument_error(
                "expected a JSON Schema mapping or the path of a .json schema file"
            )
        return dict(value) if isinstance(value, Mapping) else value

    def check(self, context: BuildContext) -> JsonSchemaCheck:
        raw: Any = self.schema_
        if isinstance(raw, str):
            raw = _load_schema_file(raw, context.base_dir)
        if not isinstance(raw, Mapping):
            raise ValueError("expected a JSON Schema mapping or the path of a .json schema file")
        schema = dict(raw)
        return JsonSchemaCheck(schema, schema_validator(schema), self.allow_fence)
