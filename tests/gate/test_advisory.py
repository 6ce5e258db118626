"""gate.calibration: an uncalibrated judge is reported and critiqued but does not fail the gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from promptloop.cli import cli
from promptloop.dataset.feedback import FeedbackRecord, output_fingerprint
from promptloop.engine.results import CaseRecord, SuiteResult
from promptloop.evaluators.base import EvalResult
from promptloop.gate.advisory import judge_notice, relieve, standing
from promptloop.models.scripted import register_script
from tests.support import copy_project


def case(cid: str, judge_passed: bool, label_passed: bool = True) -> CaseRecord:
    evaluations = [
        EvalResult(evaluator="label", passed=label_passed, score=float(label_passed), reason="r"),
        EvalResult(evaluator="tone", passed=judge_passed, score=float(judge_passed), reason="j"),
    ]
    passed = judge_passed and label_passed
    return CaseRecord(
        id=cid,
        split="train",
        vars={},
        output=f"out {cid}",
        status="pass" if passed else "fail",
        score=1.0 if passed else 0.5,
        evaluations=evaluations,
    )


def verdict(cid: str, good: bool) -> FeedbackRecord:
    return FeedbackRecord.model_validate(
        {
            "case": cid,
            "output": output_fingerprint(f"out {cid}"),
            "verdict": "good" if good else "bad",
            "by": "dana",
            "at": "2026-12-01T00:00:00Z",
            "source": "cli",
        }
    )


SUITE = SuiteResult(
    name="s",
    prompt_path="p.md",
    prompt_sha256="0",
    model="m",
    cases=[case("a", True), case("b", False), case("c", True), case("d", False, False)],
)


def test_a_judge_that_agrees_with_the_reviewers_keeps_its_vote() -> None:
    feedback = [verdict("a", True), verdict("b", False), verdict("c", True), verdict("d", False)]
    [judge] = standing(SUITE, ["tone"], feedback, min_labels=4, min_kappa=0.6)
    assert not judge.advisory and judge.calibration.kappa == pytest.approx(1.0)
    assert judge.why == "calibrated (kappa 1.00 on 4 labelled outputs)"
    [judge] = standing(SUITE, ["tone"], feedback, min_labels=5, min_kappa=0.6)
    assert judge.advisory and judge.why == "4 labelled outputs, needs 5"
    disagreeing = [verdict("a", False), verdict("b", True), verdict("c", True), verdict("d", False)]
    [judge] = standing(SUITE, ["tone"], disagreeing, min_labels=4, min_kappa=0.6)
    assert judge_notice("s", judge) == (
        "judge s/tone is advisory (does not fail the gate): kappa 0.00 on 4 labelled outputs, "
        "needs 0.6; disagrees with the reviewers on a, b"
    )


def test_an_advisory_judge_no_longer_decides_a_case() -> None:
    [relieved] = relieve([SUITE], {"s": frozenset({"tone"})}, {"s": 1.0})
    # b failed only the judge: now it passes; d also fails `label`, so it still fails.
    assert [c.status for c in relieved.cases] == ["pass", "pass", "pass", "fail"]
    # The judge's failure stays in the record, for reports and the optimizer.
    assert not relieved.cases[1].evaluations[1].passed


def sentiment_model(labels: dict[str, str]) -> Any:
    def answer(call: dict[str, Any]) -> str:
        if call["json_schema"] is not None:
            return json.dumps({"critique": "too flat", "passed": False, "score": 0.0})
        text = str(call["messages"][-1]["content"])
        return next(label for review, label in labels.items() if review in text)

    return answer


def test_the_gate_ignores_an_uncalibrated_judge_and_says_so(
    tmp_path: Path, clean_scripts: None
) -> None:
    root = copy_project("sentiment", tmp_path)
    rows = [
        json.loads(line) for line in (root / "evals" / "reviews.jsonl").read_text().splitlines()
    ]
    register_script("sentiment", sentiment_model({r["text"]: r["label"] for r in rows}))
    config = root / "promptloop.yaml"
    judge = '      - judge: "The label is right."\n        name: tone\n'
    text = config.read_text().replace("suites:", "gate: {min_pass_rate: 0.5}\nsuites:") + judge
    config.write_text(text)
    strict = CliRunner().invoke(cli, ["run", "-q", str(root), "-o", str(root / "a")])
    assert strict.exit_code == 1, strict.output

    config.write_text(
        text.replace("{min_pass_rate: 0.5}", "{min_pass_rate: 0.5, calibration: {min_labels: 2}}")
    )
    relaxed = CliRunner().invoke(cli, ["run", "-q", str(root), "-o", str(root / "b")])
    assert relaxed.exit_code == 0, relaxed.output
    result = json.loads((root / "b" / "results.json").read_text())
    assert (
        "judge sentiment/tone is advisory (does not fail the gate): 0 labelled outputs, needs 2"
        in result["notices"]
    )
    cases = result["suites"][0]["cases"]
    assert all(c["status"] == "pass" for c in cases)
    assert all(not e["passed"] for c in cases for e in c["evaluations"] if e["evaluator"] == "tone")
