"""Pure helpers between results and the gate."""

from __future__ import annotations

from promptloop.engine.results import CaseRecord, RunResult, SuiteResult
from promptloop.gate.verdicts import answers_repeated, judge_run
from promptloop.project.config.gate import GateConfig


def rec(case_id: str, output: str | None, status: str = "pass", repeat: int = 0) -> CaseRecord:
    return CaseRecord(
        id=case_id,
        split="train",
        vars={},
        output=output,
        status=status,  # type: ignore[arg-type]
        score=1.0 if status == "pass" else 0.0,
        repeat=repeat,
        error="boom" if status == "error" else None,
    )


FIRST = [rec("a", "yes"), rec("b", "no", "fail")]


def test_the_same_answers_and_verdicts_again_count_as_repeated() -> None:
    assert answers_repeated(FIRST, [rec("a", "yes", repeat=1), rec("b", "no", "fail", repeat=1)])


def test_a_new_answer_or_a_new_verdict_is_not_a_repeat() -> None:
    assert not answers_repeated(FIRST, [rec("a", "yes!", repeat=1)])
    # Same text, other verdict: the judge is what varies.
    assert not answers_repeated(FIRST, [rec("b", "no", "pass", repeat=1)])
    assert not answers_repeated(FIRST, [rec("a", None, "error", repeat=1)])
    assert not answers_repeated(FIRST, [rec("c", "yes", repeat=1)])


def test_a_case_that_already_varied_across_repeats_is_not_deterministic() -> None:
    varied = [rec("a", "yes"), rec("a", "yeah", repeat=1)]
    assert not answers_repeated(varied, [rec("a", "yes", repeat=2)])


def _suite(name: str, variant: str, failing: int, cases: int = 10) -> SuiteResult:
    records = [rec(f"{name}-{i}", "out", "fail" if i < failing else "pass") for i in range(cases)]
    return SuiteResult(
        name=name,
        variant=variant,  # type: ignore[arg-type]
        prompt_path="p.md",
        prompt_sha256=variant,
        model="m",
        cases=records,
    )


def _run(*suites: tuple[str, int]) -> RunResult:
    return RunResult(
        promptloop_version="0",
        created_at="now",
        config_path="promptloop.yaml",
        model="m",
        judge_model="m",
        suites=[_suite(name, "head", broken) for name, broken in suites],
        baseline=[_suite(name, "base", 0) for name, _ in suites],
    )


def test_holm_holds_identical_prompts_to_one_false_fail_rate_across_suites() -> None:
    # 5 of 10 cases broke: one-sided p = 1/32, significant alone but not once doubled.
    alone = judge_run(_run(("a", 5)), GateConfig(confirm_runs=0))
    assert alone.verdicts["a"].status == "fail"
    both = judge_run(_run(("a", 5), ("b", 0)), GateConfig(confirm_runs=0))
    assert both.verdicts["a"].status == "inconclusive"
    assert "one-sided p=0.03); Holm-adjusted over 2 suites p=0.06," in both.verdicts["a"].reason
    per_suite = judge_run(_run(("a", 5), ("b", 0)), GateConfig(confirm_runs=0, holm=False))
    assert per_suite.verdicts["a"].status == "fail"
    # A drop that survives the adjustment still fails.
    clear = judge_run(_run(("a", 8), ("b", 0)), GateConfig(confirm_runs=0))
    assert clear.verdicts["a"].status == "fail"
