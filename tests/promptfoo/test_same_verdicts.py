"""Same verdicts as promptfoo, through promptloop's own road: each recorded promptfoo config
is loaded by ``load_project`` (prompts, providers, tests, defaultTest, scenarios, files),
every suite runs in the real ``Runner`` on a client that answers with the output promptfoo
recorded for the same provider and rendered prompt, and every test passes here exactly
when it passed in promptfoo (thresholds, weights and sets included). Model-graded tests are
left out: their verdict is the grader's answer, which promptloop asks its own judge for."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from promptloop.engine.runner import Runner, RunSettings
from promptloop.errors import UserError
from promptloop.models.base import ModelRequest, ModelResponse, Usage
from promptloop.project.loader import load_project
from promptloop.project.promptfoo.providers import litellm_model
from promptloop.project.rendering import render_prompt

VERDICTS = Path(__file__).parents[1] / "fixtures" / "promptfoo" / "verdicts"
RECORDED = sorted(VERDICTS.glob("*.json")) if VERDICTS.is_dir() else []
# Graded by a model (promptloop's judge here) or by the call's cost and latency.
NOT_REPLAYED = {
    "llm-rubric",
    "g-eval",
    "factuality",
    "model-graded-factuality",
    "model-graded-closedqa",
    "answer-relevance",
    "similar",
    "cost",
    "latency",
}


def _types(assertions: list[dict[str, Any]]) -> set[str]:
    found = set()
    for a in assertions:
        kind = str(a.get("type", "")).removeprefix("not-")
        found.add(kind)
        found |= _types(a.get("assert") or [])
    return found


def _rendered(request: ModelRequest) -> str:
    messages = [m for m in request.messages]
    if len(messages) == 1:
        return messages[0].content
    return json.dumps([{"role": m.role, "content": m.content} for m in messages])


class _Replay:
    """Answers each (model, rendered prompt) with the output promptfoo recorded for it."""

    def __init__(self, answers: dict[tuple[str, str], str]) -> None:
        self.answers = answers
        self.missing: list[tuple[str, str]] = []

    async def complete(self, request: ModelRequest) -> ModelResponse:
        if request.purpose != "generate":  # a judge: its tests are not compared
            verdict = {"critique": "n/a", "passed": True, "score": 1.0}
            return ModelResponse(text=json.dumps(verdict), usage=Usage(1, 1, 0.0))
        key = (request.model, _rendered(request))
        if key not in self.answers:
            self.missing.append(key)
            return ModelResponse(text="", usage=Usage(1, 1, 0.0))
        return ModelResponse(text=self.answers[key], usage=Usage(1, 1, 0.0))


# promptfoo runs these; promptloop names, at load time, the one thing it refuses.
REFUSED: dict[str, str] = {}


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.stem)
def test_every_replayed_test_passes_exactly_when_it_passed_in_promptfoo(path: Path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    config = VERDICTS.parent / document["config"]
    answers: dict[tuple[str, str], str] = {}
    expected: dict[tuple[str, str], list[bool]] = defaultdict(list)
    skipped: set[tuple[str, str]] = set()
    for result in document["results"]:
        model = litellm_model(result["provider"])
        assert model is not None
        key = (model, result["rendered_prompt"])
        answers[key] = result["model_output"]
        if _types([a["assertion"] for a in result["assertions"]]) & NOT_REPLAYED:
            skipped.add(key)
        expected[key].append(bool(result["pass"]))
    if path.stem in REFUSED:
        with pytest.raises(UserError) as caught:
            load_project(config)
        assert REFUSED[path.stem] in caught.value.message and caught.value.line is not None
        return
    project = load_project(config)
    client = _Replay(answers)
    runner = Runner(client, RunSettings(judge_model="judge"))
    got: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for plan in project.plans:
        [row] = asyncio.run(runner.run_suite(plan))
        for outcome in row:
            assert outcome.output is not None, outcome.error
            rendered = render_prompt(plan.prompt_for(plan.prompt, outcome.case), outcome.case.vars)
            key = (plan.model, _rendered(ModelRequest(plan.model, rendered.messages)))
            got[key].append(outcome.passed)
    assert not client.missing, f"prompts rendered differently from promptfoo: {client.missing[:2]}"
    compared = {k: sorted(v) for k, v in expected.items() if k not in skipped}
    # A config whose every test is model-graded still rendered every prompt as promptfoo did.
    assert compared or skipped == set(expected)
    assert {k: sorted(got[k]) for k in compared} == compared
