"""Evaluators of tool use: which tools an output calls (``tool-call``) and with what
arguments (``tool-args``).

They read the calls from ``EvalContext.tool_calls``, not the output text. Reasons name
the calls as they were made ("called `refund` with `amount: 120`, expected no tool
call") so the optimizer can turn them into instructions. Arguments that are not a JSON
object cannot be judged: that is an evaluator error, never a pass.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptloop.dataset.cases import Case
from promptloop.evaluators.base import EvalContext, EvalResult
from promptloop.evaluators.templating import TemplateRenderError, TextTemplate
from promptloop.models.base import ToolCall

NO_TOOL = "none"
_CALL_KEYS = {"name", "once", "sequence"}
_ARGS_KEYS = {"tool", "schema", "equals", "contains", "if_called"}


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def describe_call(call: ToolCall) -> str:
    """`refund` with `amount: 120, reason: "damaged"` (or its raw arguments when broken)."""
    if call.arguments is None:
        return f"`{call.name}` with unreadable arguments {_value(call.raw_arguments)}"
    if not call.arguments:
        return f"`{call.name}` with no arguments"
    pairs = ", ".join(f"{key}: {_value(value)}" for key, value in call.arguments.items())
    return f"`{call.name}` with `{pairs}`"


def describe_calls(calls: Sequence[ToolCall]) -> str:
    if not calls:
        return "called no tool"
    return "called " + ", then ".join(describe_call(call) for call in calls)


def _names(names: Sequence[str]) -> str:
    quoted = [f"`{name}`" for name in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _result(name: str, weight: float, passed: bool, reason: str) -> EvalResult:
    return EvalResult(name, passed, 1.0 if passed else 0.0, reason, weight=weight)


@dataclass
class ToolCallEvaluator:
    """The output calls one of ``names`` (``none``: calls nothing), ``once`` if asked;
    or, with ``sequence``, calls those tools in that order (others may come between)."""

    name: str
    names: tuple[TextTemplate, ...] = ()
    once: bool = False
    sequence: tuple[str, ...] = ()
    weight: float = 1.0

    async def evaluate(self, output: str, case: Case, ctx: EvalContext) -> EvalResult:
        calls = ctx.tool_calls
        made = describe_calls(calls)
        if self.sequence:
            called = [call.name for call in calls]
            position = 0
            for name in called:
                if position < len(self.sequence) and name == self.sequence[position]:
                    position += 1
            passed = position == len(self.sequence)
            wanted = ", then ".join(f"`{n}`" for n in self.sequence)
            verb = "as expected" if passed else "expected"
            return _result(self.name, self.weight, passed, f"{made}, {verb} {wanted}")
        try:
            names = [template.render(case).strip() for template in self.names]
        except TemplateRenderError as exc:
            return EvalResult.errored(self.name, str(exc), weight=self.weight)
        if names == [NO_TOOL]:
            passed = not calls
            tail = "as expected" if passed else "expected no tool call"
            return _result(self.name, self.weight, passed, f"{made}, {tail}")
        matching = [call for call in calls if call.name in names]
        wanted = f"a call to {_names(names)}"
        if self.once:
            wanted = f"exactly one call to {_names(names)}"
            passed = len(matching) == 1
        else:
            passed = bool(matching)
        tail = "as expected" if passed else f"expected {wanted}"
        return _result(self.name, self.weight, passed, f"{made}, {tail}")


def _matches(expected: Any, actual: Any) -> bool:
    if expected == actual:
        return True
    # A template always renders text: "{{ amount }}" stands for the number 120 too.
    if isinstance(expected, str) and not isinstance(actual, str):
        try:
            return bool(json.loads(expected) == actual)
        except ValueError:
            return False
    return False


def _render(value: Any, case: Case) -> Any:
    if isinstance(value, TextTemplate):
        return value.render(case)
    if isinstance(value, Mapping):
        return {key: _render(item, case) for key, item in value.items()}
    if isinstance(value, list):
        return [_render(item, case) for item in value]
    return value


@dataclass
class ToolArgsEvaluator:
    """The first call to ``tool`` has arguments that match ``schema``, equal ``equals``
    or contain every key and value of ``contains``. With ``if_called`` an output that
    does not call ``tool`` leaves the verdict to the others (``tool-call`` says whether
    it should have), instead of failing twice for one mistake."""

    name: str
    tool: str
    schema: Any = None
    validator: Any = None
    equals: Mapping[str, Any] | None = None
    contains: Mapping[str, Any] | None = None
    if_called: bool = False
    weight: float = 1.0

    async def evaluate(self, output: str, case: Case, ctx: EvalContext) -> EvalResult:
        call = next((c for c in ctx.tool_calls if c.name == self.tool), None)
        if call is None and self.if_called:
            return EvalResult(
                self.name,
                True,
                1.0,
                f"`{self.tool}` was not called, so its arguments were not checked",
                weight=self.weight,
                abstained=True,
            )
        if call is None:
            made = describe_calls(ctx.tool_calls)
            return _result(
                self.name, self.weight, False, f"{made}, expected a call to `{self.tool}`"
            )
        if call.arguments is None:
            message = (
                f"`{self.tool}` was called with arguments that cannot be checked: {call.error}; "
                f"got {_value(call.raw_arguments)}"
            )
            return EvalResult.errored(self.name, message, weight=self.weight)
        made = f"called {describe_call(call)}"
        arguments = call.arguments
        if self.validator is not None:
            problems = sorted(self.validator.iter_errors(arguments), key=lambda e: list(e.path))
            if problems:
                first = problems[0]
                where = ".".join(str(p) for p in first.path) or "the arguments"
                return _result(
                    self.name, self.weight, False, f"{made}, but {where}: {first.message}"
                )
        try:
            equals = _render(self.equals, case)
            contains = _render(self.contains, case)
        except TemplateRenderError as exc:
            return EvalResult.errored(self.name, str(exc), weight=self.weight)
        if equals is not None:
            same = set(equals) == set(arguments) and all(
                _matches(equals[key], arguments[key]) for key in equals
            )
            if not same:
                wanted = ", ".join(f"{k}: {_value(v)}" for k, v in equals.items())
                return _result(self.name, self.weight, False, f"{made}, expected `{wanted}`")
        if contains is not None:
            wrong = [
                key
                for key in contains
                if key not in arguments or not _matches(contains[key], arguments[key])
            ]
            if wrong:
                wanted = ", ".join(f"{k}: {_value(contains[k])}" for k in wrong)
                return _result(
                    self.name, self.weight, False, f"{made}, expected it to include `{wanted}`"
                )
        return _result(self.name, self.weight, True, f"{made}, as expected")


def _template(value: Any, what: str) -> Any:
    if isinstance(value, str):
        return TextTemplate.compile(value, what=what)
    if isinstance(value, Mapping):
        return {str(k): _template(v, f"{what}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_template(v, what) for v in value]
    return value


def build_tool_call(args: Any, *, name: str | None, weight: float) -> ToolCallEvaluator:
    label = name or "tool-call"
    options: Mapping[str, Any] = args if isinstance(args, Mapping) else {"name": args}
    unknown = sorted(set(map(str, options)) - _CALL_KEYS)
    if unknown:
        raise ValueError(f"tool-call: unknown key {unknown[0]!r} (allowed: name, once, sequence)")
    once = options.get("once", False)
    if not isinstance(once, bool):
        raise ValueError(f"tool-call: once must be true or false, got {once!r}")
    sequence = options.get("sequence")
    if sequence is not None:
        if "name" in options or not isinstance(sequence, list) or len(sequence) < 2:
            raise ValueError("tool-call: sequence is a list of two or more tool names, alone")
        if not all(isinstance(n, str) and n for n in sequence):
            raise ValueError("tool-call: sequence holds tool names")
        return ToolCallEvaluator(label, sequence=tuple(sequence), weight=weight)
    raw = options.get("name")
    names = raw if isinstance(raw, list) else [raw]
    if not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise ValueError(
            "tool-call: expected a tool name, a list of names (any of them), or `none`"
        )
    if NO_TOOL in names and (len(names) > 1 or once):
        raise ValueError("tool-call: `none` stands alone (no other names, no once)")
    templates = tuple(TextTemplate.compile(str(n), what="tool-call") for n in names)
    return ToolCallEvaluator(label, names=templates, once=once, weight=weight)


def build_tool_args(args: Any, *, name: str | None, weight: float) -> ToolArgsEvaluator:
    label = name or "tool-args"
    if not isinstance(args, Mapping):
        raise ValueError("tool-args: expected a mapping like `{tool: refund, equals: {...}}`")
    unknown = sorted(set(map(str, args)) - _ARGS_KEYS)
    if unknown:
        raise ValueError(
            f"tool-args: unknown key {unknown[0]!r} (allowed: tool, schema, equals, contains, "
            "if_called)"
        )
    tool = args.get("tool")
    if not isinstance(tool, str) or not tool:
        raise ValueError("tool-args: `tool` names the tool whose arguments are checked")
    if not {"schema", "equals", "contains"} & set(args):
        raise ValueError("tool-args: give at least one of schema, equals, contains")
    if_called = args.get("if_called", False)
    if not isinstance(if_called, bool):
        raise ValueError(f"tool-args: if_called must be true or false, got {if_called!r}")
    validator = None
    schema = args.get("schema")
    if schema is not None:
        jsonschema = importlib.import_module("jsonschema")
        if not isinstance(schema, Mapping):
            raise ValueError("tool-args: schema must be a JSON Schema mapping")
        cls = jsonschema.validators.validator_for(dict(schema))
        try:
            cls.check_schema(dict(schema))
        except jsonschema.exceptions.SchemaError as exc:
            raise ValueError(f"tool-args: invalid schema: {exc.message}") from exc
        validator = cls(dict(schema))
    checks: dict[str, Mapping[str, Any] | None] = {}
    for key in ("equals", "contains"):
        value = args.get(key)
        if value is not None and not isinstance(value, Mapping):
            raise ValueError(f"tool-args: {key} must map argument names to values")
        checks[key] = None if value is None else _template(value, f"tool-args.{key}")
    return ToolArgsEvaluator(
        label,
        tool,
        schema=schema,
        validator=validator,
        equals=checks["equals"],
        contains=checks["contains"],
        if_called=if_called,
        weight=weight,
    )
