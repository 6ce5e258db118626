"""is-json / contains-json (with schemas), tool calls against the request's tools, cost
and latency, with promptfoo's verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptloop.evaluators.promptfoo import UnsupportedAssertion, build_assertion
from promptloop.evaluators.promptfoo.structured import json_objects
from promptloop.models.base import ToolCall
from tests.evaluators.promptfoo.support import run, verdict

SCHEMA = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
}


@pytest.mark.parametrize(
    ("output", "passed"),
    [
        ('{"name": "Ann"}', True),
        (" [1, 2] ", True),
        ('"text"', True),
        ("NaN", False),  # JSON.parse refuses what Python's parser would take
        ("{'a': 1}", False),
        ('Here: {"a": 1}', False),
    ],
)
def test_is_json(output: str, passed: bool) -> None:
    assert verdict({"type": "is-json"}, output)[0] is passed
    assert verdict({"type": "not-is-json"}, output)[0] is (not passed)


def test_is_json_with_a_schema_inline_yaml_or_file(tmp_path: Path) -> None:
    (tmp_path / "schema.json").write_text(json.dumps(SCHEMA))
    for value in (SCHEMA, json.dumps(SCHEMA), "file://schema.json"):
        raw = {"type": "is-json", "value": value}
        assert verdict(raw, '{"name": "Ann", "age": 3}', base_dir=tmp_path)[0] is True
        result = run(raw, '{"age": "3"}', base_dir=tmp_path)
        assert result.passed is False
        assert result.reason.startswith("JSON does not conform to the provided schema. Errors: ")
        assert "'name' is a required property" in result.reason
    yaml_schema = "type: object\nrequired: [name]\n"
    assert verdict({"type": "is-json", "value": yaml_schema}, '{"name": 1}')[0] is True
    assert verdict({"type": "not-is-json", "value": SCHEMA}, '{"name": "x"}')[0] is False


def test_contains_json_finds_objects_in_prose() -> None:
    text = 'Sure! {"name": "Ann"} and later {"name": {"first": "B"}} ok'
    assert json_objects(text) == [{"name": "Ann"}, {"name": {"first": "B"}}]
    assert verdict({"type": "contains-json"}, text)[0] is True
    assert verdict({"type": "contains-json"}, "no braces here")[0] is False
    assert verdict({"type": "not-contains-json"}, "no braces here")[0] is True
    # Any object that conforms passes; none conforming fails with the schema's errors.
    assert verdict({"type": "contains-json", "value": SCHEMA}, text)[0] is True
    result = run({"type": "contains-json", "value": SCHEMA}, 'x {"age": 1} y')
    assert result.passed is False and "does not conform" in result.reason
    # promptfoo's parser reads YAML flow mappings too.
    assert json_objects("x {a: 1} y") == [{"a": 1}]


def test_contains_json_is_bounded_on_hostile_output() -> None:
    import time

    started = time.monotonic()
    result = run({"type": "contains-json"}, "{" * 20_000 + "}" * 5)
    assert time.monotonic() - started < 20
    assert result.passed is False
    assert result.error is None or "took longer than 2 s" in result.error


def test_an_unreadable_or_invalid_schema_is_refused_at_load() -> None:
    with pytest.raises(UnsupportedAssertion, match=r"pf.yaml:2: .*missing.json"):
        build_assertion(
            {"type": "is-json", "value": "file://missing.json"},
            base_dir=Path("."),
            where="pf.yaml:2",
        )
    with pytest.raises(UnsupportedAssertion, match="invalid JSON schema"):
        build_assertion(
            {"type": "is-json", "value": {"type": 12}}, base_dir=Path("."), where="pf.yaml:2"
        )


TOOLS = (
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    },
)


def test_tools_call_is_checked_against_the_request_tools() -> None:
    good = (ToolCall.parse("get_weather", '{"city": "Oslo"}', "c1"),)
    raw = {"type": "is-valid-openai-tools-call"}
    assert verdict(raw, "", tool_calls=good, tools=TOOLS)[0] is True
    wrong_args = (ToolCall.parse("get_weather", '{"town": "Oslo"}'),)
    result = run(raw, "", tool_calls=wrong_args, tools=TOOLS)
    assert result.passed is False and 'Call to "get_weather" does not match schema' in result.reason
    unknown = (ToolCall.parse("launch", "{}"),)
    result = run(raw, "", tool_calls=unknown, tools=TOOLS)
    assert result.reason == 'Called "launch", but there is no function with that name'
    # Text instead of calls is not a tools response.
    assert run(raw, "It is sunny.", tools=TOOLS).passed is False
    with pytest.raises(UnsupportedAssertion, match="ignores this not-"):
        build_assertion(
            {"type": "not-is-valid-openai-tools-call"}, base_dir=Path("."), where="pf.yaml:2"
        )
    # No tools on the request: an error, never a pass.
    assert run(raw, "", tool_calls=good).error is not None


def test_cost_and_latency() -> None:
    assert verdict({"type": "cost", "threshold": 0.01}, "x", cost_usd=0.002)[0] is True
    assert verdict({"type": "cost", "threshold": 0.001}, "x", cost_usd=0.002)[0] is False
    assert verdict({"type": "not-cost", "threshold": 0.001}, "x", cost_usd=0.002)[0] is True
    assert verdict({"type": "latency", "threshold": 500}, "x", latency_ms=120.0)[0] is True
    result = run({"type": "latency", "threshold": 100}, "x", latency_ms=120.0)
    assert (
        result.passed is False and result.reason == "Latency 120ms is greater than threshold 100ms"
    )
    # promptfoo 0.123 needs a threshold.
    with pytest.raises(UnsupportedAssertion, match="needs a threshold"):
        build_assertion({"type": "latency", "metric": "ms"}, base_dir=Path("."), where="p:1")
    cached = run({"type": "latency", "threshold": 100}, "x", latency_ms=None)
    assert cached.passed is False and "--no-cache" in (cached.error or "")


def _alias_bomb(levels: int = 8) -> str:
    """A YAML flow mapping whose aliases expand to 10**levels values: a few hundred bytes."""
    parts = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for n in range(1, levels):
        parts.append(f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]")
    return "{" + ", ".join(parts) + "}"


def test_yaml_aliases_in_output_or_a_schema_stay_bounded(tmp_path: Path) -> None:
    bomb = _alias_bomb()
    # The model's output: refused as an object (it would expand to 10**8 values), not parsed.
    assert json_objects(f"here: {bomb}") == []
    assert verdict({"type": "contains-json"}, f"here: {bomb}")[0] is False
    # A schema file in the repository: one line at load time, naming the bound.
    (tmp_path / "schema.yaml").write_text(bomb)
    with pytest.raises(UnsupportedAssertion, match="aliases expand"):
        build_assertion(
            {"type": "is-json", "value": "file://schema.yaml"}, base_dir=tmp_path, where="c:1"
        )
