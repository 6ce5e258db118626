"""The whole of ``promptloop.yaml``: the project's settings and its suites, and the JSON
Schema that ``promptloop schema`` prints for editors."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator
from pydantic_core import PydanticCustomError

from promptloop.evaluators.specs import evaluator_item_schema
from promptloop.models.base import EMBEDDED_MODEL
from promptloop.project.config.budget import BudgetConfig
from promptloop.project.config.cache import CacheConfig
from promptloop.project.config.gate import GateConfig
from promptloop.project.config.optimizer import OptimizerConfig, SplitsConfig
from promptloop.project.config.suite import SuiteConfig
from promptloop.yamlpos import PathKey


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(
        default=None,
        description=f"Model under test; unset means {EMBEDDED_MODEL} without a provider key.",
    )
    judge_model: str | None = Field(default=None, description="Defaults to `model`.")
    optimizer_model: str | None = Field(default=None, description="Defaults to `judge_model`.")
    api_base: str | None = Field(default=None, description="OpenAI-compatible base URL.")
    temperature: float = Field(default=0.0, ge=0)
    max_tokens: int = Field(default=256, ge=1)
    seed: int = 0
    concurrency: int = Field(default=8, ge=1)
    timeout: float = Field(
        default=60, gt=0, description="Seconds per model call, and per python check."
    )
    retries: int = Field(default=4, ge=0)
    repeat: int = Field(default=1, ge=1, description="Runs per case (to measure flakiness).")
    cache: CacheConfig = Field(default_factory=CacheConfig)
    splits: SplitsConfig = Field(default_factory=SplitsConfig)
    gate: GateConfig = Field(default_factory=GateConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    budget: BudgetConfig = Field(
        default_factory=BudgetConfig,
        description="A hard cap on what one run spends; no call starts that could cross it.",
    )
    feedback_delivery: Literal["commit", "suggestion"] = Field(
        default="commit",
        description=(
            "How reviewers' `/promptloop` verdicts reach the feedback file: a commit on the "
            "pull request's branch, or a suggested change (for teams that forbid bot commits)."
        ),
    )
    suites: list[SuiteConfig] = Field(min_length=1)

    def advisory_suites(self) -> frozenset[str]:
        """The suites that are reported but never fail the check."""
        return frozenset(
            s.name for s in self.suites if (s.gate.mode if s.gate else self.gate.mode) == "advisory"
        )

    _lines: dict[PathKey, int] = PrivateAttr(default_factory=dict)

    @field_validator("suites")
    @classmethod
    def _unique_names(cls, suites: list[SuiteConfig]) -> list[SuiteConfig]:
        first: dict[str, int] = {}
        for index, suite in enumerate(suites):
            if suite.name in first:
                raise PydanticCustomError(
                    "suite_duplicate",
                    "duplicate suite name '{name}' (also suites[{first}])",
                    {"name": suite.name, "first": first[suite.name], "at": (index, "name")},
                )
            first[suite.name] = index
        return suites

    def line_of(self, loc: PathKey) -> int | None:
        """Line in promptloop.yaml where ``loc`` was written (None when built in Python)."""
        return self._lines.get(tuple(loc))


def config_json_schema() -> dict[str, Any]:
    """JSON Schema of promptloop.yaml, for `promptloop schema` and editor autocompletion."""
    schema = Config.model_json_schema(mode="validation")
    schema["title"] = "promptloop.yaml"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    defs = schema.get("$defs", {})
    defs["EvaluatorSpec"] = evaluator_item_schema()
    return schema
