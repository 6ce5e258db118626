"""Evaluators of tool use: which tools an output calls (``tool-call``) and with what
arguments (``tool-args``).

They read the calls from ``EvalContext.tool_calls``, not the output text. Reasons name
the calls as they were made ("called `refund` with `amount: 120`, expected no tool
call") so the optimizer can turn them into instructions. Arguments that are not a JSON
object cannot be judged: that is an evaluator error, never a pass.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, StrictBool, field_validator, model_validator

from promptloop.dataset.cases import Case
from promptloop.evaluators.base import EvalContext, EvalResult, TemplateRenderError
from promptloop.evaluators.kind import (
    BuildContext,
    EvaluatorKind,
    argument_error,
    as_mapping,
    text_template,
)
from promptloop.evaluators.kinds.structured import schema_validator
from promptloop.models.base import ToolCall

if TYPE_CHECKING:
    from promptloop.evaluators.templating import TextTemplate

NO_TOOL = "none"


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
    if isinstance(value, Mapping):
        return {key: _render(item, case) for key, item in value.items()}
    if isinstance(value, list):
        return [_render(item, case) for item in value]
    # A compiled ``TextTemplate``, or a number, boolean or null written as is.
    render = getattr(value, "render", None)
    return render(case) if render is not None else value


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
            # The model wrote them: its output is wrong, a fail the optimizer can learn from;
            # an evaluator error would blame the project.
            return _result(self.name, self.weight, False, message)
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
        return text_template(value, what=what)
    if isinstance(value, Mapping):
        return {str(k): _template(v, f"{what}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_template(v, what) for v in value]
    return value


_NAMES = {"type": "array", "items": {"type": "string"}, "minItems": 1}


class CallsTool(EvaluatorKind):
    """The output calls one of the named tools (`none`: calls no tool), `once` if asked;
    or calls a `sequence` of tools in that order."""

    kind: ClassVar[str] = "tool-call"
    quote_keys: ClassVar[bool] = True
    short_forms: ClassVar[tuple[dict[str, Any], ...]] = ({"type": "string"}, _NAMES)

    name: str | list[str] | None = Field(default=None, description="A tool name, or several.")
    once: StrictBool = Field(default=False, description="Exactly one call to it.")
    sequence: list[str] | None = Field(default=None, description="Tools called in this order.")

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        return as_mapping(data, "name")

    @model_validator(mode="after")
    def _names_or_sequence(self) -> CallsTool:
        if self.sequence is not None:
            if self.name is not None or len(self.sequence) < 2:
                raise argument_error("sequence is a list of two or more tool names, alone")
            if not all(self.sequence):
                raise argument_error("sequence holds tool names")
            return self
        names = self.names
        if not names or not all(n.strip() for n in names):
            raise argument_error("expected a tool name, a list of names (any of them), or `none`")
        if NO_TOOL in names and (len(names) > 1 or self.once):
            raise argument_error("`none` stands alone (no other names, no once)")
        return self

    @property
    def names(self) -> list[str]:
        return (
            self.name if isinstance(self.name, list) else [] if self.name is None else [self.name]
        )

    def build(self, context: BuildContext) -> ToolCallEvaluator:
        label = context.label(self.kind)
        if self.sequence is not None:
            return ToolCallEvaluator(label, sequence=tuple(self.sequence), weight=context.weight)
        templates = tuple(text_template(n, what="name") for n in self.names)
        return ToolCallEvaluator(label, names=templates, once=self.once, weight=context.weight)


def _argument_values(value: Any, key: str) -> Any:
    if value is not None and not isinstance(value, Mapping):
        raise argument_error(f"{key} must map argument names to values")
    return value


class ToolArgs(EvaluatorKind):
    """The first call to `tool` has arguments that match `schema`, equal `equals` or
    contain `contains`; with `if_called`, an output that does not call it is left to
    the other evaluators."""

    kind: ClassVar[str] = "tool-args"
    quote_keys: ClassVar[bool] = True

    tool: str = Field(description="The tool whose arguments are checked.")
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    equals: dict[str, Any] | None = None
    contains: dict[str, Any] | None = None
    if_called: StrictBool = False

    @model_validator(mode="before")
    @classmethod
    def _a_mapping(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise argument_error("expected a mapping like `{tool: refund, equals: {...}}`")
        if set(data) <= {"tool", "schema", "equals", "contains", "if_called"}:
            tool = data.get("tool")
            if not isinstance(tool, str) or not tool:
                raise argument_error("`tool` names the tool whose arguments are checked")
            if not {"schema", "equals", "contains"} & set(data):
                raise argument_error("give at least one of schema, equals, contains")
        return data

    @field_validator("schema_", mode="before")
    @classmethod
    def _schema(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, Mapping):
            raise argument_error("schema must be a JSON Schema mapping")
        return value

    @field_validator("equals", "contains", mode="before")
    @classmethod
    def _values(cls, value: Any, info: Any) -> Any:
        return _argument_values(value, info.field_name)

    def build(self, context: BuildContext) -> ToolArgsEvaluator:
        validator = None if self.schema_ is None else schema_validator(self.schema_, formats=False)
        return ToolArgsEvaluator(
            context.label(self.kind),
            self.tool,
            schema=self.schema_,
            validator=validator,
            equals=None if self.equals is None else _template(self.equals, "equals"),
            contains=None if self.contains is None else _template(self.contains, "contains"),
            if_called=self.if_called,
            weight=context.weight,
        )
