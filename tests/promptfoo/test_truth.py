"""Same verdicts as promptfoo: on the outputs promptfoo graded, every assertion passes in
promptloop exactly when it passed in promptfoo, with promptfoo's score.

The truth is promptfoo 0.123's own verdict per assertion on every fixture config
(tests/fixtures/promptfoo/verdicts, written by bench/promptfoo_truth.py against the
loopback stub). No Node here: promptloop's evaluators (``build_assertion``) grade the
recorded outputs. Model-graded assertions are left out: their verdict is the grader's
answer, which promptloop asks its own judge for (their English critique is the point).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptloop.dataset.cases import Case
from promptloop.evaluators import promptfoo as pf_asserts
from promptloop.evaluators.base import EvalContext, EvalResult
from promptloop.models.base import ModelRequest, ModelResponse
from tests.promptfoo.support import Recorded, recorded

MODEL_GRADED = {
    "answer-relevance",
    "context-faithfulness",
    "context-recall",
    "context-relevance",
    "factuality",
    "g-eval",
    "llm-rubric",
    "model-graded-closedqa",
    "model-graded-factuality",
    "select-best",
    "similar",
}


class _NoJudge:
    async def complete(self, request: ModelRequest) -> ModelResponse:
        raise AssertionError("a deterministic assertion must not call a model")


CTX = EvalContext(judge=_NoJudge(), judge_model="unused")


def _graded_by_a_model(assertion: dict[str, Any]) -> bool:
    kind = str(assertion.get("type", "")).removeprefix("not-")
    if kind == "assert-set":
        return any(_graded_by_a_model(a) for a in assertion.get("assert") or [])
    return kind in MODEL_GRADED or kind.startswith("similar:")


def _verdicts() -> Iterator[Any]:
    for case in recorded():
        for row in case.results:
            for index, verdict in enumerate(row["assertions"]):
                assertion = verdict["assertion"]
                if _graded_by_a_model(assertion):
                    continue
                name = f"{case.name}:t{row['test']}p{row['prompt']}:a{index}:{assertion['type']}"
                yield pytest.param(case, row, verdict, id=name)


VERDICTS = list(_verdicts())


def _grade(case: Recorded, row: dict[str, Any], assertion: dict[str, Any]) -> EvalResult:
    evaluator = pf_asserts.build_assertion(
        assertion,
        base_dir=case.base_dir,
        where=f"{case.config.name}:{case.located.line_for(('tests',)) or 1}",
        output_transform=(row["test_case"].get("options") or {}).get("transform"),
    )
    subject = Case(id=f"t{row['test']}", vars=row["vars"] or {})
    # the model's own answer: a test's options.transform is the evaluator's to apply
    return asyncio.run(evaluator.evaluate(row["model_output"], subject, CTX))


@pytest.mark.parametrize(("case", "row", "verdict"), VERDICTS)
def test_promptloop_gives_promptfoos_verdict(
    case: Recorded, row: dict[str, Any], verdict: dict[str, Any]
) -> None:
    try:
        result = _grade(case, row, verdict["assertion"])
    except pf_asserts.UnsupportedAssertion:
        # refused when the config loads (a malformed item): promptfoo failed it when it ran
        assert verdict["pass"] is False and verdict["score"] == 0, verdict["reason"]
        return
    assert result.passed is verdict["pass"], (
        f"promptfoo: {verdict['reason']!r}; promptloop: {result.reason!r}"
    )
    assert result.score == pytest.approx(float(verdict["score"]), abs=1e-9)


def test_the_truth_covers_every_deterministic_family() -> None:
    """The comparison is not vacuous: it holds well over a hundred verdicts, both ways,
    across the types pf-asserts implements."""
    kinds = {v.values[2]["assertion"]["type"] for v in VERDICTS}
    expected = {
        "equals",
        "not-equals",
        "contains",
        "icontains",
        "not-contains",
        "contains-any",
        "contains-all",
        "icontains-any",
        "icontains-all",
        "starts-with",
        "regex",
        "not-regex",
        "is-json",
        "contains-json",
        "levenshtein",
        "not-levenshtein",
        "word-count",
        "not-word-count",
        "javascript",
        "not-javascript",
        "python",
        "not-python",
        "assert-set",
    }
    assert expected <= kinds
    outcomes = [v.values[2]["pass"] for v in VERDICTS]
    assert len(outcomes) > 150
    assert outcomes.count(False) > 40
    weighted = [v for v in VERDICTS if "weight" in v.values[2]["assertion"]]
    thresholds = [v for v in VERDICTS if "threshold" in v.values[2]["assertion"]]
    assert weighted and thresholds
    assert Path(VERDICTS[0].values[0].config).exists()
