"""Runs to render as report.html: a base-vs-head run with every kind of case, hostile text in
every field a model, a dataset or a reviewer writes, and a learned revision; and a run of any
size (bench/html_report.py renders 10,000 cases from it)."""

from __future__ import annotations

import random
from typing import Any

from promptloop.engine.optimization import RunOptimization
from promptloop.engine.results import (
    CaseRecord,
    ReviewRecord,
    RunResult,
    SuiteResult,
    ToolCallRecord,
    UsageTotals,
    summarise_evaluators,
)
from promptloop.evaluators.base import EvalResult
from promptloop.gate.verdicts import judge_run
from promptloop.optimize.result import (
    Candidate,
    OptimizationResult,
    Scores,
    SplitScore,
    changed_ranges,
    unified_diff,
)
from promptloop.project.config.gate import GateConfig

# What the existing report tests throw at the Markdown, aimed at a browser this time: each
# would set window.__pwned if the page ever interpreted it.
PAYLOADS = (
    "@octocat @org/team please look",
    "<img src=x onerror=window.__pwned=1>",
    "</script><script>window.__pwned=1</script>",
    "<!--<script>window.__pwned=1</script>-->",
    "```\n</details><svg onload=window.__pwned=1>\n```",
    '"><iframe srcdoc="<script>parent.__pwned=1</script>">',
    "<style>body{display:none}</style>[x](javascript:window.__pwned=1)",
)


def _judge(passed: bool, reason: str, fix: str | None = None) -> EvalResult:
    return EvalResult(
        evaluator="judge",
        passed=passed,
        score=1.0 if passed else 0.0,
        reason=reason,
        suggested_fix=fix,
        evidence="quoted: " + reason[:40],
    )


def _case(
    case_id: str,
    output: str | None,
    passed: bool | None,
    *,
    reason: str = "fine",
    vars_: dict[str, Any] | None = None,
    fix: str | None = None,
    tools: list[ToolCallRecord] | None = None,
    messages: list[dict[str, Any]] | None = None,
    tags: list[str] | None = None,
) -> CaseRecord:
    status = "error" if passed is None else ("pass" if passed else "fail")
    return CaseRecord(
        id=case_id,
        split="test",
        vars=vars_ or {"text": f"input of {case_id}"},
        output=output,
        status=status,
        score=1.0 if passed else 0.0,
        error="upstream 500" if passed is None else None,
        evaluations=[] if passed is None else [_judge(passed, reason, fix)],
        prompt_tokens=120,
        completion_tokens=30,
        cost_usd=0.00042,
        latency_s=0.8,
        tool_calls=tools or [],
        messages=messages or [],
        tags=tags or [],
    )


def compared_run(hostile: bool = True) -> RunResult:
    """Head vs base of one suite: broken, fixed, failing on both, passing, errored, reviewed,
    and (``hostile``) a payload in an output, a var, a reason, a tool call and a reviewer's
    note."""
    head = [
        _case(
            "broken-1",
            "The weather today is cold and rainy in Paris",
            False,
            reason="says rainy; the forecast said sunny",
            fix="Quote the forecast's own words.",
            tags=["critical"],
        ),
        _case("fixed-1", "positive", True, reason="matches the label"),
        _case("both-1", "neutral maybe", False, reason="hedges"),
        _case("pass-1", "negative", True),
        _case("error-1", None, None),
        _case(
            "tools-1",
            "",
            True,
            tools=[ToolCallRecord(name="lookup", arguments={"city": "Paris"}, raw_arguments="")],
            messages=[{"role": "user", "content": "earlier question"}],
        ),
    ]
    base = [
        _case("broken-1", "The weather today is warm and sunny in Paris", True, tags=["critical"]),
        _case("fixed-1", "negative", False, reason="wrong label"),
        _case("both-1", "neutral", False, reason="no label"),
        _case("pass-1", "negative", True),
        _case("error-1", "positive", True),
        _case("tools-1", "", True),
        # Dropped from the dataset since: the head has no such case.
        _case("gone-1", "an answer to a question no longer asked", True),
    ]
    for n, payload in enumerate(PAYLOADS if hostile else ()):
        head.append(
            _case(
                f"hostile-{n}",
                payload,
                False,
                reason=payload,
                vars_={"text": payload},
                fix=payload,
                tools=[ToolCallRecord(name=payload, raw_arguments=payload, error="not JSON")],
            )
        )
        base.append(_case(f"hostile-{n}", "safe " + payload, True))
    reviews = [
        ReviewRecord(
            case_id="both-1",
            verdict="bad",
            by="<b>mallory</b>",
            note=PAYLOADS[1] if hostile else "Hedging is worse than a wrong label here.",
            at="2026-12-01T10:00:00+00:00",
            source="feedback.jsonl:1",
            status="applied",
        )
    ]
    return _run(head, base, reviews, optimization=_optimization())


def _suite(cases: list[CaseRecord], variant: str, reviews: list[ReviewRecord]) -> SuiteResult:
    return SuiteResult(
        name="sentiment",
        variant="head" if variant == "head" else "base",
        prompt_path="prompts/classify.md",
        prompt_sha256="0" * 64,
        model="openai/gpt-4o-mini",
        cases=cases,
        evaluators=summarise_evaluators(cases),
        reviews=reviews,
    )


def _run(
    head: list[CaseRecord],
    base: list[CaseRecord] | None,
    reviews: list[ReviewRecord],
    optimization: RunOptimization | None = None,
) -> RunResult:
    """The run, judged by the real gate when it has a base (a plain run has no verdict)."""
    result = RunResult(
        promptloop_version="0.1.0",
        created_at="2026-12-07T04:00:00+00:00",
        config_path="promptloop.yaml",
        model="openai/gpt-4o-mini",
        judge_model="openai/gpt-4o",
        wall_s=42.0,
        usage=UsageTotals.of_records([*head, *(base or [])]),
        suites=[_suite(head, "head", reviews)],
        baseline_ref="a" * 40 if base else None,
        baseline=[_suite(base, "base", [])] if base else [],
        optimization=optimization,
    )
    return judge_run(result, GateConfig(on_error="ignore")) if base else result


def _optimization() -> RunOptimization:
    """A learned revision as `ci` records it: the optimizer's own result, as a dict."""
    before, after = SplitScore(6, 10, 0.6), SplitScore(8, 10, 0.8)
    seed, revised = "Label it.\n", f"Label it; {PAYLOADS[2]}\n"
    result = OptimizationResult(
        status="improved",
        improved=True,
        mode="rewrite",
        prompt_path="prompts/classify.md",
        seed_text=seed,
        revised_text=revised,
        unified_diff=unified_diff(seed, revised, "prompts/classify.md"),
        changed_ranges=changed_ranges(seed, revised),
        rationale="Failures hedged. " + PAYLOADS[1],
        scores=Scores(before, after, before, after, before, after, 2, 0, 0.25),
        calls_used=12,
        usd_used=0.01,
        stop_reason="validation stopped improving",
        trajectory=(
            Candidate(1, 1, "x", "drops the output format line", False, ""),
            Candidate(2, 1, revised, None, True, "validation rose by 2 cases", before, after, 2),
        ),
    )
    return RunOptimization(suites={"sentiment": result})


def single_run(cases: int = 3) -> RunResult:
    """A plain `promptloop run`: no base, no gate."""
    head = [_case(f"c{i}", f"answer {i}", i % 2 == 0) for i in range(cases)]
    return _run(head, None, [])


_PROSE = (
    "the a customer order delivery late early support team helped refund parcel box broken "
    "arrived quickly slowly never again great terrible price quality size colour fits wrong "
    "right item store app website checkout payment card failed worked twice once agent chat "
    "phone email reply waited days weeks hours love hate recommend friends family gift "
    "return exchange label tracking number lost found damaged perfect fine okay expected"
)
_WORDS = _PROSE.split()


def large_run(cases: int) -> RunResult:
    """Head vs base with ``cases`` cases of realistic length, about a fifth of them changed."""
    # Seeded random prose, so the file compresses as real text does, not as one repeated line.
    rng = random.Random(7)
    head, base = [], []
    for i in range(cases):
        text = f"Case {i}: " + " ".join(rng.choice(_WORDS) for _ in range(12 + 12 * (i % 4)))
        head_ok, base_ok = i % 5 != 1, i % 5 != 2
        head.append(
            _case(
                f"case-{i:05d}",
                text + ("positive" if head_ok else "negative"),
                head_ok,
                reason="the label matches" if head_ok else "the label contradicts the text",
                vars_={"review": text, "id": i},
            )
        )
        base.append(
            _case(
                f"case-{i:05d}",
                text + ("positive" if base_ok else "negative, maybe"),
                base_ok,
            )
        )
    return _run(head, base, [])
