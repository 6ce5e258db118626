"""The model-graded family through promptloop's judge (real litellm client, the stub on
loopback answering as a judge), read with promptfoo's pass rules, and ``similar`` /
``answer-relevance`` through litellm embeddings against the stub's /embeddings."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from promptloop.evaluators.base import EvalContext, EvalResult
from promptloop.evaluators.promptfoo import UnsupportedAssertion, build_assertion
from promptloop.models.litellm_client import embed
from promptloop.models.provider_client import LiteLLMClient
from tests.evaluators.promptfoo.support import case


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")


def judged(
    serve: Any, raw: dict[str, Any], output: str, verdict: dict[str, Any] | None = None, **vars: Any
) -> tuple[EvalResult, Any]:
    rules = () if verdict is None else ((r"(?s).*", json.dumps(verdict)),)
    server, url = serve(answer_rules=rules, record_bodies=True)
    evaluator = build_assertion(raw, base_dir=Path("."), where="pf.yaml:9")
    ctx = EvalContext(
        judge=LiteLLMClient(api_key="sk-test"),
        judge_model="openai/stub-judge",
        api_base=url,
        prompt_text="Answer the customer's question.",
        judge_attempts=1,
    )
    return asyncio.run(evaluator.evaluate(output, case(**vars), ctx)), server


def test_llm_rubric_passes_on_the_judges_verdict_with_a_critique(serve: Any) -> None:
    result, server = judged(serve, {"type": "llm-rubric", "value": "Is polite"}, "Thank you!")
    assert result.passed is True and result.error is None
    assert result.reason.startswith("stub judge read")
    [body] = server.bodies
    assert "Is polite" in body["messages"][0]["content"]
    assert "Thank you!" in body["messages"][-1]["content"]


def test_llm_rubric_threshold(serve: Any) -> None:
    verdict = {"critique": "Mostly polite, one curt phrase.", "passed": True, "score": 0.6}
    raw = {"type": "llm-rubric", "value": "Is polite", "threshold": 0.8}
    result, _ = judged(serve, raw, "Fine.", verdict)
    assert (result.passed, result.score) == (False, 0.6)
    assert result.reason.startswith("Mostly polite")
    result, _ = judged(serve, {**raw, "threshold": 0.5}, "Fine.", verdict)
    assert result.passed is True


def test_llm_rubric_renders_the_value_and_honours_rubric_prompt(serve: Any) -> None:
    raw = {
        "type": "llm-rubric",
        "value": "Mentions {{ city }}",
        "rubricPrompt": "Grade strictly. Output: {{output}}. Rubric: {{rubric}}",
    }
    _, server = judged(serve, raw, "Paris is nice", city="Paris")
    system = server.bodies[0]["messages"][0]["content"]
    assert "Grade strictly. Output: (the output below). Rubric: Mentions Paris" in system


@pytest.mark.parametrize(
    ("critique", "judge_passed", "passed"),
    [
        ("(A) A subset of the expert answer.", True, True),
        ("(B) A superset, consistent.", False, True),  # the category decides, as in promptfoo
        ("(D) It says Lyon; the expert says Paris.", True, False),
        ("E: differences that do not matter.", False, True),
        ("No category given, but wrong.", False, False),
    ],
)
def test_factuality_categories(serve: Any, critique: str, judge_passed: bool, passed: bool) -> None:
    verdict = {"critique": critique, "passed": judge_passed, "score": 0.5}
    raw = {"type": "factuality", "value": "The capital of France is Paris."}
    result, server = judged(serve, raw, "It is Paris.", verdict)
    assert (result.passed, result.score) == (passed, 1.0 if passed else 0.0)
    assert result.reason.startswith(critique)
    assert "The capital of France is Paris." in server.bodies[0]["messages"][0]["content"]


def test_closedqa_is_yes_or_no(serve: Any) -> None:
    raw = {"type": "model-graded-closedqa", "value": "Mentions a refund"}
    yes = {"critique": "It offers a refund.", "passed": True, "score": 0.3}
    result, _ = judged(serve, raw, "We will refund you.", yes)
    assert (result.passed, result.score) == (True, 1.0)
    no = {"critique": "No refund mentioned.", "passed": False, "score": 0.9}
    result, _ = judged(serve, raw, "Goodbye.", no)
    assert (result.passed, result.score) == (False, 0.0)


def test_g_eval_uses_the_score_against_its_threshold(serve: Any) -> None:
    raw = {"type": "g-eval", "value": "Coherence"}
    result, _ = judged(serve, raw, "x", {"critique": "Coherent.", "passed": False, "score": 0.8})
    assert (result.passed, result.score) == (True, 0.8)
    result, _ = judged(serve, raw, "x", {"critique": "Rambles.", "passed": True, "score": 0.6})
    assert result.passed is False
    result, _ = judged(
        serve, {**raw, "threshold": 0.5}, "x", {"critique": "Ok.", "passed": True, "score": 0.6}
    )
    assert result.passed is True


def test_a_judge_answering_garbage_is_an_error_not_a_pass(serve: Any) -> None:
    _, url = serve(answer_rules=((r"(?s).*", "I think it is fine"),))
    evaluator = build_assertion(
        {"type": "llm-rubric", "value": "x"}, base_dir=Path("."), where="pf.yaml:9"
    )
    ctx = EvalContext(
        judge=LiteLLMClient(api_key="sk-test"),
        judge_model="openai/stub",
        api_base=url,
        judge_attempts=2,
    )
    result = asyncio.run(evaluator.evaluate("out", case(), ctx))
    assert result.passed is False and result.error is not None


def test_embeddings_come_from_the_stub(serve: Any) -> None:
    server, url = serve(record_bodies=True)
    found = asyncio.run(embed("openai/text-embedding-3-large", ["a cat", "a cat"], api_base=url))
    assert len(found.vectors) == 2 and found.vectors[0] == found.vectors[1]
    assert server.bodies[-1]["input"] == ["a cat", "a cat"]
    assert server.bodies[-1]["model"] == "text-embedding-3-large"


def similar(serve: Any, raw: dict[str, Any], output: str) -> EvalResult:
    _, url = serve()
    evaluator = build_assertion(raw, base_dir=Path("."), where="pf.yaml:9")
    ctx = EvalContext(judge=LiteLLMClient(api_key="sk-test"), judge_model="x", api_base=url)
    return asyncio.run(evaluator.evaluate(output, case(), ctx))


def test_similar(serve: Any) -> None:
    same = similar(
        serve, {"type": "similar", "value": "the cat sat on the mat"}, "The cat sat on the mat."
    )
    assert same.passed is True and same.score == pytest.approx(1.0)
    other = similar(
        serve, {"type": "similar", "value": "quantum chromodynamics lecture"}, "the cat"
    )
    assert other.passed is False and other.score < 0.75
    assert "less than threshold 0.75" in other.reason
    negated = similar(serve, {"type": "not-similar", "value": "quantum chromodynamics"}, "the cat")
    assert negated.passed is True and negated.score > 0.25
    listed = similar(
        serve,
        {"type": "similar", "value": ["quantum", "the cat sat"], "threshold": 0.9},
        "the cat sat",
    )
    assert listed.passed is True


def test_similar_without_a_server_is_an_error_not_a_pass() -> None:
    evaluator = build_assertion({"type": "similar", "value": "x"}, base_dir=Path("."), where="p:1")
    ctx = EvalContext(
        judge=LiteLLMClient(api_key="sk-test"),
        judge_model="x",
        api_base="http://127.0.0.1:9/v1",
        timeout_s=2.0,
    )
    result = asyncio.run(evaluator.evaluate("x", case(), ctx))
    assert result.passed is False and result.error is not None and "\n" not in result.error


def test_answer_relevance(serve: Any) -> None:
    server, url = serve(record_bodies=True)
    evaluator = build_assertion({"type": "answer-relevance"}, base_dir=Path("."), where="p:1")
    ctx = EvalContext(
        judge=LiteLLMClient(api_key="sk-test"), judge_model="openai/stub", api_base=url
    )
    relevant = asyncio.run(
        evaluator.evaluate("paris capital france", case(query="what is the capital of france"), ctx)
    )
    off_topic = asyncio.run(
        evaluator.evaluate("bananas are yellow", case(query="what is the capital of france"), ctx)
    )
    assert relevant.score > off_topic.score
    assert off_topic.passed is False
    assert any("input" in body for body in server.bodies)  # embeddings were asked for


def test_bad_grading_provider_is_named_at_load() -> None:
    with pytest.raises(UnsupportedAssertion, match=r"pf.yaml:9: .*'bedrock:claude'"):
        build_assertion(
            {"type": "llm-rubric", "value": "x", "provider": "bedrock:claude"},
            base_dir=Path("."),
            where="pf.yaml:9",
        )


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("openai:gpt-4o-mini", "openai/gpt-4o-mini"),
        ("openai:chat:gpt-4o-mini", "openai/gpt-4o-mini"),
        ({"id": "anthropic:messages:claude-3-5-haiku"}, "anthropic/claude-3-5-haiku"),
        (None, None),
    ],
)
def test_grading_providers_map_to_litellm_models(provider: Any, model: str | None) -> None:
    from promptloop.evaluators.promptfoo.graded import provider_model
    from promptloop.evaluators.promptfoo.spec import parse

    raw = {"type": "llm-rubric", "value": "x", "provider": provider}
    assert provider_model(parse(raw, base_dir=Path("."), where="p:1")) == model
