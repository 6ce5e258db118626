"""The ``judge`` kind: a model grades the output against a rubric and explains itself
(the asking and the reading of its verdicts are in ``evaluators.judge``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, field_validator, model_validator

from promptloop.evaluators.kind import BuildContext, EvaluatorKind, argument_error, text_template

if TYPE_CHECKING:
    from promptloop.evaluators.judge import JudgeEvaluator


class Judge(EvaluatorKind):
    """A model grades the output against a rubric and explains why (a string is the rubric)."""

    kind: ClassVar[str] = "judge"
    short_forms: ClassVar[tuple[dict[str, Any], ...]] = (
        {"type": "string", "minLength": 1, "description": "The rubric."},
    )

    rubric: str = Field(min_length=1, description="what a good output looks like")
    error_types: list[str] = Field(
        default_factory=list, description="Labels a failing verdict picks one of."
    )
    model: str | None = Field(default=None, description="Defaults to judge_model.")
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    include_input: bool = True
    # Off by default: the judge grades against the goal (rubric, case, expected value),
    # which does not change when the prompt does. Shown the prompt under test, it grades
    # "did it follow these instructions", sees byte-identical answers in two different
    # requests, and in the optimizer a candidate prompt could steer the judge scoring it.
    show_prompt: bool = False
    # Bounds a rambling local model; a critique needs far fewer tokens.
    max_tokens: int | None = Field(default=512, ge=32)

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"rubric": data}
        if not isinstance(data, Mapping):
            raise argument_error(
                "expected a rubric string or a mapping with rubric, error_types, model, "
                "threshold, include_input, show_prompt, max_tokens"
            )
        return data

    @field_validator("rubric")
    @classmethod
    def _rubric_has_text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("rubric is empty; say what a good output looks like")
        return value

    @field_validator("error_types")
    @classmethod
    def _error_types_distinct(cls, value: list[str]) -> list[str]:
        cleaned = [v.strip() for v in value]
        if any(not v for v in cleaned):
            raise ValueError("error types must be non-empty strings")
        if len({v.casefold() for v in cleaned}) != len(cleaned):
            raise ValueError("error types must be distinct")
        return cleaned

    def build(self, context: BuildContext) -> JudgeEvaluator:
        # Here, not at the top: the judge's machinery loads only when a judge is built.
        from promptloop.evaluators.judge import JudgeEvaluator

        rubric = text_template(self.rubric, what="rubric")
        return JudgeEvaluator(context.label(self.kind), self, rubric, weight=context.weight)
