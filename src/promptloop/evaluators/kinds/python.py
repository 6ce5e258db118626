"""The ``python`` kind: a user's own function decides (see ``python_check``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from promptloop.evaluators.kind import BuildContext, EvaluatorKind, argument_error
from promptloop.evaluators.python_check import (
    PythonEvaluator,
    check_signature,
    resolve_function,
    split_target,
)


class Python(EvaluatorKind):
    """A Python function decides: "module:function" or "path/to/file.py:function", called
    as fn(output, case, **args)."""

    kind: ClassVar[str] = "python"
    short_forms: ClassVar[tuple[dict[str, Any], ...]] = (
        {"type": "string", "pattern": ".:.", "description": '"module:function"'},
    )

    function: str = Field(description='"module:function"')
    args: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments.")
    threshold: float = Field(default=0.5, description="A returned score passes from here.")

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"function": data}
        if not isinstance(data, Mapping):
            raise argument_error(
                'expected "module:function", "file.py:function" or {function, args, threshold}'
            )
        return data

    @field_validator("args", mode="before")
    @classmethod
    def _keywords(cls, value: Any) -> Any:
        if value is None:
            return {}
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise argument_error("args must be a mapping of keyword arguments")
        return value

    @field_validator("threshold", mode="before")
    @classmethod
    def _in_unit_range(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise argument_error(f"threshold must be a number in 0..1, got {value!r}")
        return value

    def build(self, context: BuildContext) -> PythonEvaluator:
        target = self.function.strip()
        function = resolve_function(target, base_dir=context.base_dir)
        check_signature(function, target, self.args)
        _, attr = split_target(target)
        return PythonEvaluator(
            name=context.label(f"python:{attr}"),
            target=target,
            function=function,
            kwargs=dict(self.args),
            threshold=float(self.threshold),
            weight=context.weight,
        )
