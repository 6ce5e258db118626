"""Pure helpers between results and the gate."""

from __future__ import annotations

from promptloop.engine.results import CaseRecord
from promptloop.gate.verdicts import answers_repeated


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
