"""A promptfoo test's own model-graded assertions are judges to the gate: they make a second
look worthwhile (a judge re-sampled may answer differently), and, with gate.calibration, an
uncalibrated one does not fail a case on its own."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from promptloop.engine.results import CaseRecord, SuiteResult
from promptloop.evaluators.base import EvalResult
from promptloop.gate.advisory import advise
from promptloop.gate.confirmation import no_new_evidence
from promptloop.project.config.gate import GateCalibration
from promptloop.project.loaded import load_config
from promptloop.project.loader import load_project

CONFIG = """\
prompts: ['Answer: {{ q }}']
providers: [openai:gpt-4.1]
tests:
  - vars: {q: one}
    assert:
      - type: contains
        value: one
"""
RUBRIC = """\
  - vars: {q: two}
    assert:
      - type: contains
        value: two
      - type: llm-rubric
        value: is polite
"""


def _write(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "promptfooconfig.yaml"
    tmp_path.mkdir(exist_ok=True)
    path.write_text(CONFIG + extra, encoding="utf-8")
    return path


def test_a_cases_llm_rubric_makes_a_second_look_worthwhile(tmp_path: Path) -> None:
    [deterministic] = load_project(_write(tmp_path / "a", "")).plans
    assert no_new_evidence(deterministic) is not None
    [graded] = load_project(_write(tmp_path / "b", RUBRIC)).plans
    assert graded.temperature == 0 and not graded.evaluators  # only the case's own checks
    assert no_new_evidence(graded) is None


def _record(cid: str, rubric_passed: bool) -> CaseRecord:
    evaluations = [
        EvalResult(evaluator="contains", passed=True, score=1.0, reason="ok"),
        EvalResult(
            evaluator="llm-rubric", passed=rubric_passed, score=float(rubric_passed), reason="j"
        ),
    ]
    return CaseRecord(
        id=cid,
        split="test",
        vars={},
        output=f"out {cid}",
        status="pass" if rubric_passed else "fail",
        score=1.0 if rubric_passed else 0.5,
        evaluations=evaluations,
    )


def test_an_uncalibrated_case_judge_is_advisory(tmp_path: Path) -> None:
    loaded = load_config(_write(tmp_path, RUBRIC))
    gate = loaded.config.gate.model_copy(update={"calibration": GateCalibration(min_labels=3)})
    loaded = dataclasses.replace(loaded, config=loaded.config.model_copy(update={"gate": gate}))
    [suite] = loaded.config.suites
    [plan] = load_project(loaded.path).plans
    # the second test: its own contains and llm-rubric
    graded = next(c.id for c in plan.cases if len(plan.case_checks[c.id].evaluators) == 2)
    head = [
        SuiteResult(
            name=suite.name,
            prompt_path="promptfooconfig.yaml",
            prompt_sha256="0",
            model="m",
            cases=[_record(graded, rubric_passed=False)],
        )
    ]
    relieved, _, notices = advise(loaded, head, [], {})
    assert [c.status for c in relieved[0].cases] == ["pass"]
    assert any("llm-rubric is advisory" in n for n in notices), notices
