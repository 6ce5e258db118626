"""promptfoo's structured assertions: is-json and contains-json (with a JSON Schema, as
ajv checks it), is-valid-openai-tools-call against the request's tools, cost and latency."""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from promptloop.bounds import bounded_schema_validator, confined
from promptloop.errors import UserError
from promptloop.evaluators.base import EvalContext
from promptloop.evaluators.promptfoo.core import Grade, Grader, Seen
from promptloop.evaluators.promptfoo.spec import Spec
from promptloop.evaluators.promptfoo.text import _strict_json, js_string
from promptloop.watchdog import TimeLimitExceeded, run_limited
from promptloop.yamlpos import load_plain

# contains-json: how far past an opening brace a candidate object may reach (promptfoo's).
MAX_JSON_CHARS = 100_000
SEARCH_BUDGET_S = 2.0


def _jsonschema() -> Any:
    return importlib.import_module("jsonschema")  # by name: it ships no type stubs


def load_schema(value: Any, base_dir: Path, spec: Spec) -> Any:
    """The schema an is-json/contains-json value names: inline (YAML or JSON text, or a
    mapping) or ``file://schema.json|yaml``."""
    schema = value
    if isinstance(value, str):
        if value.startswith("file://"):
            path = confined(value.removeprefix("file://"), base_dir, spec.problem)
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise spec.problem(
                    f"names {value}, which cannot be read ({exc.strerror})"
                ) from None
            try:
                schema = load_plain(text, value)
            except UserError as exc:
                raise spec.problem(
                    f"names {value}, which is not JSON or YAML: {exc.one_line()}"
                ) from None
        else:
            try:
                schema = load_plain(value, "schema")
            except UserError as exc:
                raise spec.problem(
                    f"has a schema that is not JSON or YAML: {exc.one_line()}"
                ) from None
    if not isinstance(schema, bool | dict):
        raise spec.problem("must have a string, boolean, or object value (a JSON Schema)")
    return schema


def ajv_validator(schema: Any, spec: Spec) -> Any:
    """A validator as promptfoo's ajv builds it: draft-07 unless the schema says otherwise,
    formats not checked; ``pattern`` searches under the regex time limit."""
    jsonschema = _jsonschema()
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise spec.problem(f"has an invalid JSON schema: {exc.message}") from None
    return bounded_schema_validator(cls)(schema)


def errors_text(validator: Any, instance: Any) -> str:
    """ajv's ``errorsText``: ``data/path message`` joined by commas."""
    parts = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.path))[:10]:
        path = "".join(f"/{p}" for p in error.path)
        parts.append(f"data{path} {error.message}")
    return ", ".join(parts)


def _has_schema(value: Any) -> bool:
    return value is not None and value != ""


def build_is_json(spec: Spec) -> Grader:
    validator = (
        ajv_validator(load_schema(spec.value.raw, spec.base_dir, spec), spec)
        if _has_schema(spec.value.raw) and not _templated(spec)
        else None
    )

    async def grade(seen: Seen, ctx: EvalContext) -> Grade:
        try:
            parsed = _strict_json(seen.text)
        except ValueError:
            return Grade.of(spec.inverse, "Expected output to be valid JSON")
        check = validator or _rendered_validator(spec, seen)
        if check is None:
            return Grade.of(not spec.inverse, "Output is valid JSON")
        try:
            valid = check.is_valid(parsed)
        except TimeLimitExceeded as exc:
            return Grade.failed(f"is-json could not be evaluated: {exc}")
        if valid != spec.inverse:
            return Grade.of(True, "")
        if spec.inverse:
            return Grade(False, 0.0, "Output is JSON that conforms to the provided schema")
        return Grade(
            False,
            0.0,
            "JSON does not conform to the provided schema. Errors: " + errors_text(check, parsed),
        )

    return grade


def _templated(spec: Spec) -> bool:
    raw = spec.value.raw
    return isinstance(raw, str) and not raw.startswith("file://") and "{{" in raw


def _rendered_validator(spec: Spec, seen: Seen) -> Any:
    if not _templated(spec):
        return None
    return ajv_validator(load_schema(spec.value.render(seen.case), spec.base_dir, spec), spec)


def json_objects(text: str) -> list[Any]:
    """promptfoo's ``extractJsonObjects`` (0.123): from each ``{``, count braces (strings
    not excepted) to the first balance, or to the end of the text with the missing ``}``
    added; parse that span as JSON or YAML (promptfoo's parser reads YAML flow mappings);
    a span that does not parse gives up that ``{``."""
    found: list[Any] = []
    i, size = 0, len(text)
    while i < size:
        if text[i] == "{":
            opened, closed, j = 1, 0, i + 1
            limit = min(i + MAX_JSON_CHARS, size)
            while j < limit and opened > closed:
                opened += text[j] == "{"
                closed += text[j] == "}"
                j += 1
                if opened == closed or j in (size, i + MAX_JSON_CHARS):
                    parsed = _parse_object(text[i:j] + "}" * max(opened - closed, 0))
                    if parsed is not None:
                        found.append(parsed)
                        i = j - 1
                        break
                    if opened == closed:
                        break
        i += 1
    return found


def _parse_object(candidate: str) -> Any:
    try:
        value = json.loads(candidate)
    except (ValueError, RecursionError):
        try:
            # The model wrote it: the alias bound keeps a few bytes from expanding to gigabytes.
            value = load_plain(candidate, "output")
        except (UserError, RecursionError):
            return None
    return value if isinstance(value, dict) else None


def build_contains_json(spec: Spec) -> Grader:
    validator = (
        ajv_validator(load_schema(spec.value.raw, spec.base_dir, spec), spec)
        if _has_schema(spec.value.raw) and not _templated(spec)
        else None
    )

    async def grade(seen: Seen, ctx: EvalContext) -> Grade:
        try:
            objects = run_limited(
                lambda: json_objects(seen.text), SEARCH_BUDGET_S, "looking for JSON in the output"
            )
        except TimeLimitExceeded as exc:
            return Grade.failed(f"contains-json could not be evaluated: {exc}")
        check = validator or _rendered_validator(spec, seen)
        passed = (not objects) if spec.inverse else bool(objects)
        message = "Expected output to contain valid JSON"
        if check is not None:
            try:
                for item in objects:
                    valid = check.is_valid(item)
                    passed = valid != spec.inverse
                    if valid:
                        if spec.inverse:
                            message = "Output contains JSON conforming to the provided schema"
                        break
                    message = "JSON does not conform to the provided schema. Errors: " + (
                        errors_text(check, item)
                    )
            except TimeLimitExceeded as exc:
                return Grade.failed(f"contains-json could not be evaluated: {exc}")
        return Grade.of(passed, message)

    return grade


def build_tools_call(spec: Spec) -> Grader:
    async def grade(seen: Seen, ctx: EvalContext) -> Grade:
        output = seen.output
        if isinstance(output, Mapping) and "tool_calls" in output:
            output = output["tool_calls"]
        if (
            not isinstance(output, list)
            or not output
            or not isinstance(output[0], Mapping)
            or not isinstance((output[0].get("function") or {}).get("name"), str)
            or not isinstance((output[0].get("function") or {}).get("arguments"), str)
        ):
            return Grade(
                spec.inverse,
                1.0 if spec.inverse else 0.0,
                "OpenAI did not return a valid-looking tools response: " + seen.text,
            )
        if not ctx.tools:
            return Grade.failed(
                f"{spec.type} needs the provider's config.tools, and this request had none"
            )
        functions = [t.get("function") or {} for t in ctx.tools]
        problem = None
        for call in output:
            problem = _call_problem(call.get("function") or {}, functions)
            if problem:
                break
        return Grade.of((problem is None) != spec.inverse, problem or "Tool calls are valid")

    return grade


def _call_problem(call: Mapping[str, Any], functions: list[Mapping[str, Any]]) -> str | None:
    name = call.get("name")
    if not isinstance(name, str) or not isinstance(call.get("arguments"), str):
        return f"OpenAI did not return a valid-looking function call: {json.dumps(call)}"
    try:
        arguments = _strict_json(call["arguments"])
    except ValueError as exc:
        return f'Call to "{name}" has arguments that are not JSON: {exc}'
    schema = next((f.get("parameters") for f in functions if f.get("name") == name), None)
    if schema is None:
        return f'Called "{name}", but there is no function with that name'
    jsonschema = _jsonschema()
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    validator = bounded_schema_validator(cls)(schema)
    if not validator.is_valid(arguments):
        return f'Call to "{name}" does not match schema: {errors_text(validator, arguments)}'
    return None


def build_measure(spec: Spec) -> Grader:
    """``cost`` (USD) and ``latency`` (ms): at most ``threshold``."""
    if spec.threshold is None:
        unit_name = "milliseconds" if spec.base == "latency" else "US dollars"
        raise spec.problem(f"needs a threshold (in {unit_name})")
    threshold = spec.threshold
    unit = "ms" if spec.base == "latency" else ""

    async def grade(seen: Seen, ctx: EvalContext) -> Grade:
        if spec.base == "latency":
            measured = ctx.latency_ms
            if measured is None:
                return Grade.failed(
                    "Latency assertion does not support cached results. Rerun with --no-cache"
                )
        else:
            measured = ctx.cost_usd
            if measured is None:
                return Grade.failed("Cost assertion: this provider did not report a cost")
        within = measured <= threshold
        name = "Latency" if spec.base == "latency" else "Cost"
        shown = f"{measured:.0f}{unit}" if unit else f"{measured:.2g}"
        relation = "less than or equal to" if spec.inverse else "greater than"
        return Grade.of(
            within != spec.inverse,
            f"{name} {shown} is {relation} threshold {js_string(threshold)}{unit}",
        )

    return grade
