"""A suite: one prompt, its dataset and evaluators, and the bar its cases must clear."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from promptloop.evaluators.specs import EvaluatorSpec
from promptloop.project.config.gate import SuiteGateConfig


class SuiteConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="Unique suite name.")
    prompt: str = Field(
        min_length=1, description="Prompt file (.md/.txt, or .yaml/.json chat messages)."
    )
    dataset: str | list[dict[str, Any]] = Field(
        description="Path to a .jsonl/.csv/.yaml/.json file, or an inline list of cases."
    )
    evaluators: list[EvaluatorSpec] = Field(default_factory=list)
    threshold: float | None = Field(
        default=None, ge=0, le=1, description="Pass rate the suite needs (none: no bar)."
    )
    case_threshold: float = Field(
        default=1.0,
        ge=0,
        le=1,
        description="Weighted evaluator score a case needs; 1.0 means every evaluator passes.",
    )
    model: str | None = None
    temperature: float | None = Field(default=None, ge=0)
    max_tokens: int | None = Field(default=None, ge=1)
    feedback: str | None = Field(
        default=None,
        min_length=1,
        description="Reviewers' feedback file (JSONL); default: beside the dataset, "
        "NAME.feedback.jsonl.",
    )
    gate: SuiteGateConfig | None = Field(
        default=None, description="This suite's gate mode (default: the top-level gate's)."
    )

    @field_validator("dataset", mode="before")
    @classmethod
    def _inline_items_are_mappings(cls, value: Any) -> Any:
        # Without this, a list with a non-mapping item fails both union branches and pydantic
        # reports the first: "Input should be a valid string".
        if isinstance(value, list):
            for index, item in enumerate(value):
                if not isinstance(item, Mapping):
                    raise PydanticCustomError(
                        "dataset_item",
                        "an inline case must be a mapping of its variables "
                        "(id, text, expected, ...), got {kind}",
                        {"kind": type(item).__name__, "at": (index,)},
                    )
        return value

    @field_validator("dataset")
    @classmethod
    def _dataset_not_empty(cls, value: str | list[dict[str, Any]]) -> str | list[dict[str, Any]]:
        if isinstance(value, str) and not value.strip():
            raise PydanticCustomError("dataset_empty", "dataset path is empty")
        if isinstance(value, list) and not value:
            raise PydanticCustomError("dataset_empty", "inline dataset has no cases")
        return value
