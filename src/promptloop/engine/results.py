"""The results.json document: everything needed to re-render reports and compare runs later.

The schema is versioned; readers refuse documents of a newer version rather than
misreading them, and read older ones (version 1 lacks the suites' pass-rate intervals).
The gate's figures are typed in ``engine.comparison``, the optimizer's in
``engine.optimization``; every report reads them from here and computes none itself.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue
from pydantic_core import to_jsonable_python

from promptloop.dataset.cases import history_dicts
from promptloop.dataset.feedback import ReviewerVerdict
from promptloop.engine.comparison import ComparisonSummary, Interval
from promptloop.engine.optimization import RunOptimization
from promptloop.engine.outcome import CaseOutcome, Status
from promptloop.engine.spending import BudgetReport, Forecast
from promptloop.errors import UserError
from promptloop.evaluators.base import EvalResult
from promptloop.models.base import Message, ToolCall, recent_turns, with_calls
from promptloop.safety import mask_secrets, secret_spans

SCHEMA_VERSION = 3

VerdictStatus = Literal["pass", "fail", "inconclusive"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ToolCallRecord(_Model):
    name: str
    # None when ``raw_arguments`` is not a JSON object; ``error`` says why.
    arguments: dict[str, JsonValue] | None = None
    raw_arguments: str = ""
    error: str | None = None
    id: str | None = None

    def call(self) -> ToolCall:
        return ToolCall(self.name, self.raw_arguments, self.arguments, self.error, self.id)


class CaseRecord(_Model):
    id: str
    split: str
    source: str | None = None
    # The case's values as JSON (a date a YAML dataset wrote is its ISO string).
    vars: dict[str, JsonValue]
    expected: JsonValue = None
    tags: list[str] = Field(default_factory=list)
    # The case's earlier turns in OpenAI's chat shape (``dataset.cases.history_dicts``).
    messages: list[dict[str, JsonValue]] = Field(default_factory=list)
    repeat: int = 0
    output: str | None
    status: Status
    score: float
    error: str | None = None
    evaluations: list[EvalResult] = Field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cached: bool = False
    latency_s: float = 0.0
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    @property
    def unevaluated(self) -> bool:
        """An error of evaluation, not of the provider: the model answered, and an evaluator
        could not decide (``error`` is set only when a model or judge call failed)."""
        return self.status == "error" and self.error is None

    @property
    def shown_output(self) -> str | None:
        """The output as reports show it: the text, then each tool call on its own line."""
        if not self.tool_calls:
            return self.output
        return with_calls(self.output or "", [record.call() for record in self.tool_calls])

    @property
    def shown_history(self) -> str | None:
        """The earlier turns as reports show them, one ``[role]`` line each; None without."""
        if not self.messages:
            return None
        return "\n".join(Message.from_dict(turn).shown() for turn in self.messages)

    @property
    def recent_history(self) -> str | None:
        """The last few earlier turns, each line cut short (``models.base.recent_turns``),
        for places with little room: a review comment's example."""
        return recent_turns([Message.from_dict(turn) for turn in self.messages])

    @property
    def reasons(self) -> str:
        if self.error:
            return self.error
        failing = [e for e in self.evaluations if not e.passed]
        return "; ".join(f"{e.evaluator}: {e.error or e.reason}" for e in failing)

    @property
    def pass_reasons(self) -> str:
        """Why the evaluators passed it (a judge's critique says what was right); one that
        abstained said nothing about it."""
        return "; ".join(
            f"{e.evaluator}: {e.reason}" for e in self.evaluations if e.passed and not e.abstained
        )


class EvaluatorSummary(_Model):
    name: str
    passed: int
    failed: int
    errored: int

    @property
    def pass_rate(self) -> float:
        n = self.passed + self.failed
        return self.passed / n if n else 0.0


class UsageTotals(_Model):
    model_calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    @classmethod
    def of_records(cls, records: Iterable[CaseRecord]) -> UsageTotals:
        """Tokens and cost summed over case records (model calls are counted by the runner)."""
        listed = list(records)
        return cls(
            prompt_tokens=sum(r.prompt_tokens for r in listed),
            completion_tokens=sum(r.completion_tokens for r in listed),
            cost_usd=math.fsum(r.cost_usd for r in listed),
        )

    def add(self, other: UsageTotals) -> UsageTotals:
        return UsageTotals(
            model_calls=self.model_calls + other.model_calls,
            cache_hits=self.cache_hits + other.cache_hits,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
        )


ReviewStatus = Literal["applied", "unused", "changed"]


class ReviewRecord(_Model):
    """A reviewer's verdict on a case of this run, kept apart from the evaluators' reasons:
    a person's word, not a judge's."""

    case_id: str
    verdict: ReviewerVerdict
    by: str
    note: str = ""
    at: str
    source: str
    # applied: this run's output is the one judged, and the suite's `human` evaluator counted
    # it; unused: the same output, but the suite has no `human` evaluator (the optimizer and
    # `calibrate` still read it); changed: the output changed since, so the case is unlabelled.
    status: ReviewStatus


class SuiteResult(_Model):
    name: str
    variant: Literal["head", "base"] = "head"
    prompt_path: str
    prompt_sha256: str
    model: str
    threshold: float | None = None
    cases: list[CaseRecord]
    # Cases (times repeats) the run was stopped before; they are in no list and no rate.
    not_run: int = 0
    # Extra runs of changed cases taken so the gate can tell a real change from noise
    # (gate.confirm_runs); kept apart so pass rates and case lists show the first look.
    confirmation_runs: list[CaseRecord] = Field(default_factory=list)
    # Set when head looked worse but re-running could not bring new evidence (every part
    # deterministic), so the gate decided on the first look; says why.
    first_look_only: str | None = None
    evaluators: list[EvaluatorSummary] = Field(default_factory=list)
    usage: UsageTotals = Field(default_factory=UsageTotals)
    # Reviewers' verdicts on this run's cases (head only: reviewers judge the head's outputs).
    reviews: list[ReviewRecord] = Field(default_factory=list)
    # The pass rate over the cases that ran, with its 95% Wilson interval; filled by the
    # gate (``gate.verdicts.judge_run``). None when no gate ran: a stopped run's finished
    # cases are no sample of the suite.
    pass_rate_interval: Interval | None = None

    @property
    def counts(self) -> tuple[int, int, int]:
        passed = sum(1 for c in self.cases if c.status == "pass")
        failed = sum(1 for c in self.cases if c.status == "fail")
        return passed, failed, len(self.cases) - passed - failed

    @property
    def pass_rate(self) -> float:
        """Pass rate over cases that produced an output (errors are reported apart)."""
        passed, failed, _ = self.counts
        return passed / (passed + failed) if passed + failed else 0.0


class Verdict(_Model):
    status: VerdictStatus
    reason: str
    # Names of the checks that did not pass ("errors", "evaluation", "critical", "regression",
    # "min_pass_rate").
    failed_checks: list[str] = Field(default_factory=list)
    # The reason in plain words, statistics left out, when the figures needed them
    # ("… 3 cases are too few to tell that from noise; about 70 cases would …").
    plain: str | None = None


class RunResult(_Model):
    schema_version: int = SCHEMA_VERSION
    promptloop_version: str
    created_at: str
    config_path: str
    model: str
    judge_model: str
    shard: str | None = None
    wall_s: float = 0.0
    usage: UsageTotals = Field(default_factory=UsageTotals)
    suites: list[SuiteResult]
    baseline_ref: str | None = None
    baseline: list[SuiteResult] = Field(default_factory=list)
    unchanged_suites: list[str] = Field(default_factory=list)
    # Per suite with a baseline, filled by the gate.
    comparisons: dict[str, ComparisonSummary] = Field(default_factory=dict)
    verdicts: dict[str, Verdict] = Field(default_factory=dict)
    verdict: Verdict | None = None
    # The revisions ``ci`` learned, filled from the optimizer's results.
    optimization: RunOptimization | None = None
    notices: list[str] = Field(default_factory=list)
    # Why the run stopped before every case ran (e.g. "interrupted by SIGTERM"); an
    # incomplete run is never a pass, whatever the finished cases say.
    incomplete: str | None = None
    # What the run was forecast to cost before its first call, and its budget (version 3).
    forecast: Forecast | None = None
    budget: BudgetReport | None = None

    @property
    def not_run(self) -> int:
        return sum(s.not_run for s in (*self.suites, *self.baseline))


def mark_incomplete(
    result: RunResult, why: str, status: VerdictStatus = "fail", check: str = "incomplete"
) -> RunResult:
    """The partial result of a stopped run: finished cases kept, no gate decided (and so
    none of the gate's figures). ``status`` is never a pass: a stop fails, a spent budget
    fails or is inconclusive as its config says."""
    finished = sum(len(s.cases) for s in (*result.suites, *result.baseline))
    reason = (
        f"incomplete: {why} after {finished} of {finished + result.not_run} cases; "
        "the gate does not decide on a partial run (a re-run resumes from the cache)"
    )
    verdict = Verdict(status=status, reason=reason, failed_checks=[check])
    unjudged = {"pass_rate_interval": None}
    return result.model_copy(
        update={
            "suites": [s.model_copy(update=unjudged) for s in result.suites],
            "baseline": [s.model_copy(update=unjudged) for s in result.baseline],
            "incomplete": why,
            "verdicts": {},
            "verdict": verdict,
            "comparisons": {},
        }
    )


def mask_result(result: RunResult, secrets: Iterable[str]) -> RunResult:
    """The result with every secret masked in every string value (a dataset or a model may
    have written one anywhere); keys and structure stay as they are."""
    listed = [s for s in secrets if s]
    dumped = result.model_dump(mode="json")
    strings: list[str] = []

    def collect(value: JsonValue) -> None:
        if isinstance(value, str):
            strings.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                collect(v)
        elif isinstance(value, list):
            for v in value:
                collect(v)

    # The usual case, no secret anywhere, costs one scan of all the text at once.
    collect(dumped)
    if not secret_spans("\n".join(strings), listed):
        return result

    def mask(value: JsonValue) -> JsonValue:
        if isinstance(value, str):
            return mask_secrets(value, listed)
        if isinstance(value, dict):
            return {k: mask(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mask(v) for v in value]
        return value

    return RunResult.model_validate(mask(dumped))


def case_record(outcome: CaseOutcome, split: str, repeat: int = 0) -> CaseRecord:
    case = outcome.case
    return CaseRecord(
        id=case.id,
        split=split,
        source=case.source,
        vars=to_jsonable_python(dict(case.vars)),
        expected=to_jsonable_python(case.expected),
        tags=list(case.tags),
        messages=to_jsonable_python(history_dicts(case.messages)),
        repeat=repeat,
        output=outcome.output,
        status=outcome.status,
        score=outcome.score,
        error=outcome.error,
        evaluations=list(outcome.evaluations),
        prompt_tokens=outcome.usage.prompt_tokens,
        completion_tokens=outcome.usage.completion_tokens,
        cost_usd=outcome.usage.cost_usd,
        cached=outcome.cached,
        latency_s=outcome.latency_s,
        tool_calls=[ToolCallRecord(**call.as_dict()) for call in outcome.tool_calls],
    )


def summarise_evaluators(cases: Iterable[CaseRecord]) -> list[EvaluatorSummary]:
    tally: dict[str, list[int]] = {}
    for case in cases:
        for e in case.evaluations:
            if e.abstained:
                continue
            counts = tally.setdefault(e.evaluator, [0, 0, 0])
            if e.error is not None:
                counts[2] += 1
            elif e.passed:
                counts[0] += 1
            else:
                counts[1] += 1
    return [
        EvaluatorSummary(name=n, passed=p, failed=f, errored=x) for n, (p, f, x) in tally.items()
    ]


def write_results(result: RunResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(result.model_dump_json(indent=1), encoding="utf-8")
    tmp.replace(path)


def read_results(path: Path) -> RunResult:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError("results file not found", path=str(path)) from None
    except json.JSONDecodeError as exc:
        raise UserError(f"not valid JSON ({exc.msg})", path=str(path), line=exc.lineno) from None
    version = raw.get("schema_version") if isinstance(raw, dict) else None
    if version in (1, 2):
        # Versions 2 and 3 only added fields with defaults: read as it is, written as the
        # current version.
        raw = {**raw, "schema_version": SCHEMA_VERSION}
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise UserError(
            f"results schema version {version!r} is not one this promptloop reads "
            f"(it reads up to {SCHEMA_VERSION}); upgrade promptloop",
            path=str(path),
        )
    try:
        return RunResult.model_validate(raw)
    except ValueError as exc:
        first = str(exc).splitlines()
        raise UserError(
            f"not a promptloop results file ({first[1] if len(first) > 1 else exc})", path=str(path)
        ) from None
