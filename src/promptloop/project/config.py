"""``promptloop.yaml``: typed models, line-accurate errors and a JSON Schema.

This is the file's schema only; ``project.loader`` reads it and what it names.

Every mistake in the file surfaces as one ``UserError`` line such as
``promptloop.yaml:12: suites[0].evaluators[1]: unknown evaluator 'containz' — did you
mean 'contains'?``. To get there we keep a ``path -> line`` map of the YAML document and
translate pydantic's error locations through it.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from promptloop.errors import UserError
from promptloop.evaluators.specs import EvaluatorSpec, evaluator_item_schema
from promptloop.models.base import EMBEDDED_MODEL
from promptloop.yamlpos import (
    Located,
    PathKey,
    load_located,
    suggest,
    validation_error,
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


_ENV_REFERENCE = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


class CacheConfig(_Model):
    enabled: bool = True
    dir: str = ".promptloop/cache"
    redis_url: str | None = Field(
        default=None,
        description="A Redis cache shared by a team. Write ${env:NAME} to read the URL (and "
        "its password) from the environment variable NAME; unset or empty, there is no "
        "Redis cache, which is what a fork's run, given no secrets, gets.",
    )

    @field_validator("redis_url")
    @classmethod
    def _url_from_environment(cls, value: str | None) -> str | None:
        if value is None or "${" not in value:
            return value
        reference = _ENV_REFERENCE.fullmatch(value.strip())
        if reference is None:
            raise ValueError("write ${env:NAME} alone, to read the whole URL from NAME")
        return os.environ.get(reference.group(1)) or None


class SplitsConfig(_Model):
    train: float = Field(default=0.5, ge=0, le=1)
    val: float = Field(default=0.25, ge=0, le=1)
    test: float = Field(default=0.25, ge=0, le=1)

    @model_validator(mode="after")
    def _sums_to_one(self) -> SplitsConfig:
        total = self.train + self.val + self.test
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise PydanticCustomError(
                "splits_sum",
                "train + val + test must add up to 1, got {total}",
                {"total": f"{total:g}"},
            )
        return self

    def ratios(self) -> tuple[float, float, float]:
        return (self.train, self.val, self.test)


class GateCalibration(_Model):
    min_labels: int = Field(
        default=20, ge=1, description="Outputs a reviewer judged that a judge needs to gate."
    )
    min_kappa: float = Field(
        default=0.4, ge=-1, le=1, description="Cohen's kappa with the reviewers a judge needs."
    )


GateMode = Literal["gate", "advisory"]


class SuiteGateConfig(_Model):
    mode: GateMode = Field(
        default="gate",
        description="advisory: this suite is reported and commented on, never fails the check.",
    )


class GateConfig(_Model):
    min_pass_rate: float | None = Field(
        default=None, ge=0, le=1, description="Fail when head's pass rate is below this."
    )
    max_regression_pp: float = Field(
        default=5.0, ge=0, description="Largest tolerated drop, in percentage points."
    )
    confidence: float = Field(
        default=0.95, gt=0, lt=1, description="Confidence for calling a drop significant."
    )
    critical_tags: list[str] = Field(
        default_factory=lambda: ["critical"],
        description="Cases with these tags may never go from pass to fail.",
    )
    on_error: Literal["fail", "neutral", "ignore"] = Field(
        default="fail",
        description=(
            "What errors do to the gate: a provider that kept failing (exit 3), or an "
            "evaluator that could not judge a case, such as a python check that raised (exit 2)."
        ),
    )
    threshold_rule: Literal["plain", "statistical"] = Field(
        default="plain",
        description=(
            "plain: a pass rate below the suite's threshold fails. statistical: it fails only "
            "when it is below beyond doubt (the one-sided upper bound at `confidence`); a "
            "shortfall within noise is inconclusive."
        ),
    )
    inconclusive: Literal["pass", "fail"] = Field(
        default="pass",
        description=(
            "What a suite with too few cases to decide counts as: pass (exit 0, shown as "
            "inconclusive) or fail (exit 1)."
        ),
    )
    confirm_runs: int = Field(
        default=1,
        ge=0,
        le=20,
        description=(
            "When head looks worse than base, re-run every case whose result changed this "
            "many more times on each side before the gate decides (0: decide on one run)."
        ),
    )
    confirm_judge_temperature: float = Field(
        default=0.7,
        gt=0,
        le=2,
        description=(
            "Temperature of the judge on those re-runs: a judge at temperature 0 repeats "
            "its verdict on an identical request, so only sampling brings new evidence."
        ),
    )
    confirm_judge_samples: int = Field(
        default=3,
        ge=1,
        le=9,
        description=("On those re-runs a judge's verdict is the majority of this many samples."),
    )
    holm: bool = Field(
        default=True,
        description=(
            "With several suites, hold identical prompts to one false-fail rate of "
            "1 - confidence in all (Holm's step-down); false: the bound is per suite."
        ),
    )
    calibration: GateCalibration | None = Field(
        default=None,
        description=(
            "Judges that agree too little with the reviewers (fewer labels or a lower kappa "
            "than this) are advisory: reported and critiqued, but they do not fail the gate."
        ),
    )
    mode: GateMode = Field(
        default="gate",
        description=(
            "gate: a failing suite fails the check; advisory: every suite is reported and "
            "commented on, but never fails the check (a suite's own `gate: {mode: ...}` wins)."
        ),
    )


class OptimizerConfig(_Model):
    mode: Literal["auto", "rewrite", "rules"] = "auto"
    rounds: int = Field(default=3, ge=1)
    max_calls: int = Field(default=200, ge=1, description="Budget of model calls per run.")
    max_usd: float | None = Field(
        default=None,
        ge=0,
        description="Budget in US dollars (0 still lets runs on the free embedded model go).",
    )
    max_length_ratio: float = Field(
        default=2.0, gt=0, description="A candidate may be at most this many times longer."
    )
    context_tokens: int = Field(default=2000, ge=1)
    examples_per_cause: int = Field(default=3, ge=1)
    feedback: Literal["critiques", "scores-only"] = "critiques"


class BudgetConfig(_Model):
    max_usd: float | None = Field(
        default=None,
        ge=0,
        description="Dollars one run may spend on every call it makes (the model under test, "
        "judges, the gate's second look, the optimizer), at litellm's prices; cached answers "
        "are free. A model litellm has no price for costs $0 here: cap it with max_calls.",
    )
    max_calls: int | None = Field(
        default=None,
        ge=0,
        description="Model calls one run may make (each retry is a call; cached answers are not).",
    )
    on_exceeded: Literal["fail", "inconclusive"] = Field(
        default="fail",
        description="The verdict of a run the budget stopped part-way: fail (exit 1, a "
        "failed check) or inconclusive (exit 0, a neutral check). Never a pass.",
    )


class SuiteConfig(_Model):
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


class Config(_Model):
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

    def resolved_models(self, default_model: str) -> tuple[str, str, str]:
        """(model, judge_model, optimizer_model) once the run-time default is known."""
        model = self.model or default_model
        judge = self.judge_model or model
        return model, judge, self.optimizer_model or judge


# --- error translation ------------------------------------------------------------


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


# --- schema --------------------------------------------------------------------------


def config_json_schema() -> dict[str, Any]:
    """JSON Schema of promptloop.yaml, for `promptloop schema` and editor autocompletion."""
    schema = Config.model_json_schema(mode="validation")
    schema["title"] = "promptloop.yaml"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    defs = schema.get("$defs", {})
    defs["EvaluatorSpec"] = evaluator_item_schema()
    return schema
