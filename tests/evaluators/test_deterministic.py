from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from promptloop.dataset.cases import Case
from promptloop.evaluators import EVALUATOR_KINDS, build_evaluator, quote
from promptloop.evaluators.base import EvalContext, EvalResult
from promptloop.models.base import ModelRequest, ModelResponse

FIXTURES = Path(__file__).parents[1] / "fixtures" / "evaluators"
CASE = Case(id="t1", vars={"product": "Acme", "ticket": "I was charged twice"}, expected="billing")


class _NoJudge:
    async def complete(self, request: ModelRequest) -> ModelResponse:
        raise AssertionError("a deterministic evaluator must not call a model")


CTX = EvalContext(judge=_NoJudge(), judge_model="unused")


@dataclass
class Spec:
    kind: str
    args: Any = None
    weight: float = 1.0
    name: str | None = None


def build(kind: str, args: Any = None, **options: Any) -> Any:
    return build_evaluator(Spec(kind, args, **options), base_dir=FIXTURES)


def run(kind: str, args: Any, output: str, case: Case = CASE) -> EvalResult:
    return asyncio.run(build(kind, args).evaluate(output, case, CTX))


def build_error(kind: str, args: Any = None) -> str:
    with pytest.raises(ValueError) as info:
        build(kind, args)
    message = str(info.value)
    assert "\n" not in message
    return message


# --- equals -------------------------------------------------------------------------------


def test_equals_failure_says_what_was_expected_and_how_it_differs() -> None:
    result = run("equals", "{{ expected }}", "The issue is technical.")
    assert not result.passed
    assert result.score == 0.0
    assert result.error is None
    assert result.reason == (
        'expected "billing", got "The issue is technical." (extra words, wrong label)'
    )


def test_equals_strips_surrounding_whitespace_by_default() -> None:
    result = run("equals", "billing", "  billing\n")
    assert result.passed
    assert result.score == 1.0
    assert result.reason == 'output equals "billing"'


def test_equals_strip_false_compares_raw_text() -> None:
    result = run("equals", {"value": "billing", "strip": False}, "billing\n")
    assert not result.passed
    assert "differs only in whitespace" in result.reason


@pytest.mark.parametrize(
    ("expected", "output", "hint"),
    [
        ("billing", "Billing", "differs only in letter case"),
        ("billing issue", "billing   issue", "differs only in whitespace"),
        ("billing", '"billing."', "differs only in surrounding punctuation or quotes"),
        ("billing", "It is billing", "extra words, contains the expected text"),
        ("billing issue", "billing", "missing words, is only part of the expected text"),
        ("billing", "", "output is empty"),
        (
            "the customer wants a refund now",
            "the weather is nice",
            "missing words, different text",
        ),
    ],
)
def test_equals_hints(expected: str, output: str, hint: str) -> None:
    result = run("equals", expected, output)
    assert not result.passed
    assert result.reason.endswith(f"({hint})")


def test_equals_case_insensitive_option() -> None:
    assert run("equals", {"value": "BILLING", "case_sensitive": False}, "billing").passed
    assert not run("equals", {"value": "BILLING"}, "billing").passed


def test_not_equals_reasons_read_the_right_way_round() -> None:
    failed = run("not-equals", "{{ expected }}", "billing")
    assert not failed.passed
    assert failed.reason == 'output equals "billing", which it must not'
    passed = run("not-equals", "{{ expected }}", "technical")
    assert passed.passed
    assert passed.reason == 'output differs from "billing"'


def test_equals_template_uses_case_vars() -> None:
    assert run("equals", "Welcome to {{ product }}", "Welcome to Acme").passed
    other = Case(id="t2", vars={"product": "Zed"}, expected="x")
    result = run("equals", "Welcome to {{ product }}", "Welcome to Acme", other)
    assert not result.passed
    assert 'expected "Welcome to Zed"' in result.reason


def test_structured_expected_renders_as_json() -> None:
    case = Case(id="t3", vars={}, expected={"label": "billing"})
    assert run("equals", "{{ expected }}", '{"label": "billing"}', case).passed


def test_undefined_template_variable_is_an_error_not_a_crash() -> None:
    result = run("equals", "{{ customer }}", "anything")
    assert not result.passed
    assert result.error is not None
    assert "'customer' is undefined" in result.error
    assert "available: expected, product, ticket" in result.error


def test_expected_missing_from_case_is_explained() -> None:
    case = Case(id="no-expected", vars={"a": 1})
    result = run("equals", "{{ expected }}", "anything", case)
    assert result.error is not None
    assert "this case has no expected value" in result.error
    assert "no-expected" in result.error


def test_sandbox_refuses_unsafe_attribute_access() -> None:
    result = run("equals", "{{ expected.__class__.__mro__ }}", "x")
    assert result.error is not None
    assert not result.passed


def test_template_syntax_error_fails_at_build() -> None:
    message = build_error("equals", "{{ expected")
    assert message.startswith("equals: value: template '{{ expected' does not parse")


@pytest.mark.parametrize("args", [None, True, ["a"], {"case_sensitive": True}])
def test_equals_bad_args(args: Any) -> None:
    message = build_error("equals", args)
    assert message.startswith("equals:")


def test_equals_accepts_a_yaml_number() -> None:
    assert run("equals", 42, "42").passed


# --- contains / icontains -----------------------------------------------------------------------


def test_contains_pass_counts_occurrences() -> None:
    result = run("contains", "refund", "A refund, a full refund.")
    assert result.passed
    assert result.reason == 'output contains "refund" (2 times)'


def test_contains_failure_quotes_the_output() -> None:
    result = run("contains", "refund", "We cannot help.")
    assert not result.passed
    assert result.reason == 'output does not contain "refund"; got "We cannot help."'


def test_not_contains_failure_reason() -> None:
    result = run("not-contains", "!", "Great news!")
    assert not result.passed
    assert result.reason == 'output contains "!" (1 time), which it must not'


def test_not_contains_pass_reason() -> None:
    result = run("not-contains", "!", "Calm news.")
    assert result.passed
    assert result.reason == 'output does not contain "!"'


def test_contains_list_defaults_to_any() -> None:
    result = run("contains", ["refund", "credit"], "We will credit you.")
    assert result.passed
    missing = run("contains", ["refund", "credit"], "No.")
    assert not missing.passed
    assert missing.reason.startswith('output contains none of "refund" or "credit"')


def test_contains_all_names_what_is_missing() -> None:
    args = {"values": ["sorry", "refund", "today"], "mode": "all"}
    result = run("contains", args, "Sorry, a refund is coming.")
    assert not result.passed
    assert 'missing "sorry" and "today"' in result.reason  # case-sensitive: "Sorry" != "sorry"
    assert '(has "refund" (1 time))' in result.reason
    assert run("contains", args, "sorry, a refund today").passed


def test_not_contains_all_mode_needs_one_absent() -> None:
    args = {"values": ["a", "b"], "mode": "all"}
    failed = run("not-contains", args, "a b")
    assert not failed.passed
    assert "at least one must be absent" in failed.reason
    passed = run("not-contains", args, "a only")
    assert passed.passed
    assert passed.reason == 'output lacks "b"'


def test_icontains_ignores_case_and_says_so() -> None:
    result = run("icontains", "{{ product }}", "welcome to ACME")
    assert result.passed
    assert "(ignoring case)" in result.reason
    assert not run("contains", "{{ product }}", "welcome to ACME").passed


def test_contains_case_sensitive_false_option() -> None:
    assert run("contains", {"value": "ACME", "case_sensitive": False}, "acme").passed


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ([], "at least one string"),
        ("", "empty string"),
        ({"values": "a"}, "values must be a list"),
        ({"value": "a", "values": ["b"]}, "exactly one of value"),
        ({"value": "a", "mode": "some"}, "mode must be any or all"),
        ({"valus": ["a"]}, "unknown key valus"),
        ([None], "must be a string"),
    ],
)
def test_contains_bad_args(args: Any, fragment: str) -> None:
    assert fragment in build_error("contains", args)


def test_icontains_rejects_case_sensitive_key() -> None:
    assert "unknown key case_sensitive" in build_error(
        "icontains", {"value": "a", "case_sensitive": True}
    )


def test_negated_kind_is_named_in_build_errors() -> None:
    assert build_error("not-contains", []).startswith("not-contains:")


# --- regex --------------------------------------------------------------------------------------


def test_regex_pass_shows_the_match() -> None:
    result = run("regex", r"\d{3}-\d{4}", "call 555-1234 now")
    assert result.passed
    assert result.reason == r'output matches /\d{3}-\d{4}/ at "555-1234"'


def test_regex_failure() -> None:
    result = run("regex", r"^\d+$", "twelve")
    assert not result.passed
    assert result.reason == r'output does not match /^\d+$/; got "twelve"'


@pytest.mark.parametrize("flags", ["i", ["IGNORECASE"], ["i"], "I"])
def test_regex_flags(flags: Any) -> None:
    assert run("regex", {"pattern": "^hello", "flags": flags}, "Hello there").passed
    assert not run("regex", {"pattern": "^hello"}, "Hello there").passed


def test_regex_multiline_flag() -> None:
    assert run("regex", {"pattern": "^two$", "flags": "m"}, "one\ntwo\nthree").passed
    assert not run("regex", "^two$", "one\ntwo\nthree").passed


def test_not_regex() -> None:
    failed = run("not-regex", "(?i)as an ai", "As an AI, I cannot")
    assert not failed.passed
    assert failed.reason.endswith("which it must not")
    assert run("not-regex", "(?i)as an ai", "Sure.").passed


def test_invalid_regex_fails_at_build() -> None:
    message = build_error("regex", "(unclosed")
    assert message.startswith("regex: invalid pattern '(unclosed'")


def test_unknown_regex_flag() -> None:
    assert "unknown flag 'q'" in build_error("regex", {"pattern": "a", "flags": "q"})


def test_regex_template_with_regex_escape() -> None:
    case = Case(id="r", vars={}, expected="3.50 (USD)")
    pattern = "^{{ expected | regex_escape }}$"
    assert run("regex", pattern, "3.50 (USD)", case).passed
    assert not run("regex", pattern, "3x50 (USD)", case).passed


def test_regex_template_rendering_an_invalid_pattern_is_an_error() -> None:
    case = Case(id="r2", vars={"p": "("}, expected=None)
    result = run("regex", "{{ p }}", "x", case)
    assert result.error is not None
    assert "not a valid regex" in result.error


def test_regex_empty_match_is_described() -> None:
    result = run("regex", "x*", "abc")
    assert result.passed
    assert "empty match at char 0" in result.reason


# --- starts-with / ends-with -------------------------------------------------------------------


def test_starts_with() -> None:
    assert run("starts-with", "Dear", "  Dear Bob,").passed
    result = run("starts-with", "Dear", "Hello Bob, thanks for writing to us about your bill")
    assert not result.passed
    assert result.reason.startswith('output should start with "Dear" but starts with "Hello Bob')


def test_starts_with_options() -> None:
    assert run("starts-with", {"value": "dear", "case_sensitive": False}, "Dear Bob").passed
    assert not run("starts-with", {"value": "Dear", "strip": False}, " Dear Bob").passed


def test_not_starts_with() -> None:
    failed = run("not-starts-with", "Sure", "Sure! Here it is")
    assert not failed.passed
    assert failed.reason == 'output starts with "Sure", which it must not'
    passed = run("not-starts-with", "Sure", "Here it is")
    assert passed.passed
    assert passed.reason == 'output does not start with "Sure"'


def test_ends_with() -> None:
    assert run("ends-with", "Regards", "Thanks.\nRegards\n").passed
    result = run("ends-with", "Regards", "Thanks for contacting support, we will reply soon.")
    assert not result.passed
    assert "but ends with" in result.reason
    assert result.reason.endswith('reply soon."')


def test_starts_with_empty_is_rejected() -> None:
    assert "empty string" in build_error("starts-with", "")


# --- is-json / json-schema -----------------------------------------------------------------------


def test_is_json() -> None:
    result = run("is-json", None, '{"label": "billing"}')
    assert result.passed
    assert result.reason == "output is valid JSON (an object)"
    bad = run("is-json", None, "{label: billing}")
    assert not bad.passed
    assert bad.reason.startswith("output is not valid JSON: Expecting property name")
    assert 'got "{label: billing}"' in bad.reason


def test_is_json_fence_hint_and_option() -> None:
    fenced = '```json\n{"a": 1}\n```'
    result = run("is-json", None, fenced)
    assert not result.passed
    assert "allow_fence: true" in result.reason
    assert run("is-json", {"allow_fence": True}, fenced).passed


def test_not_is_json() -> None:
    failed = run("not-is-json", None, "[1, 2]")
    assert not failed.passed
    assert failed.reason == "output is valid JSON (an array), which it must not be"
    assert run("not-is-json", None, "plain words").passed


@pytest.mark.parametrize("args", [False, "yes", {"fence": True}])
def test_is_json_bad_args(args: Any) -> None:
    assert build_error("is-json", args).startswith("is-json:")


SCHEMA = {
    "type": "object",
    "properties": {"label": {"enum": ["billing", "technical"]}},
    "required": ["label"],
}


def test_json_schema_inline() -> None:
    assert run("json-schema", SCHEMA, '{"label": "billing"}').passed
    result = run("json-schema", SCHEMA, '{"label": "sales"}')
    assert not result.passed
    assert result.reason == (
        "output does not match the JSON schema at $.label: 'sales' is not one of "
        "['billing', 'technical']"
    )


def test_json_schema_counts_further_problems() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
    }
    result = run("json-schema", schema, '{"a": "x", "b": "y"}')
    assert "(and 1 more problems)" in result.reason


def test_json_schema_from_file_relative_to_base_dir() -> None:
    assert run("json-schema", "triage_schema.json", '{"label": "account"}').passed
    result = run("json-schema", "triage_schema.json", '{"label": "account", "extra": 1}')
    assert not result.passed
    assert "'extra' was unexpected" in result.reason


def test_json_schema_output_not_json() -> None:
    result = run("json-schema", SCHEMA, "billing")
    assert not result.passed
    assert result.reason.startswith("output is not valid JSON, so it cannot match the schema")


def test_json_schema_options_form_allows_fence() -> None:
    args = {"schema": "triage_schema.json", "allow_fence": True}
    assert run("json-schema", args, '```json\n{"label": "billing"}\n```').passed


def test_not_json_schema() -> None:
    failed = run("not-json-schema", SCHEMA, '{"label": "billing"}')
    assert not failed.passed
    assert failed.reason == "output matches the JSON schema, which it must not"
    passed = run("not-json-schema", SCHEMA, '{"label": 3}')
    assert passed.passed
    assert passed.reason.startswith("output does not match the JSON schema (at $.label")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ({"type": "nope"}, "invalid schema at $.type"),
        ("missing.json", "cannot read schema file missing.json"),
        ("broken_schema.json", "schema file broken_schema.json is not valid JSON"),
        ("invalid_schema.json", "invalid schema"),
        (["not", "a", "schema"], "expected a JSON Schema mapping"),
    ],
)
def test_json_schema_bad_args(args: Any, fragment: str) -> None:
    assert fragment in build_error("json-schema", args)


# --- max-length / min-length ---------------------------------------------------------------------

SEVENTEEN = " ".join(f"w{i}" for i in range(17))


def test_max_length_words_reason() -> None:
    result = run("max-length", {"words": 12}, SEVENTEEN)
    assert not result.passed
    assert result.reason == "output has 17 words; at most 12 allowed"


def test_max_length_boundary_passes() -> None:
    result = run("max-length", 5, "  12345 \n")
    assert result.passed
    assert result.reason == "output has 5 characters (at most 5 allowed)"
    assert not run("max-length", 4, "12345").passed


def test_max_length_lines() -> None:
    assert run("max-length", {"lines": 2}, "a\nb\n").passed
    result = run("max-length", {"lines": 2}, "a\nb\nc")
    assert result.reason == "output has 3 lines; at most 2 allowed"


def test_min_length() -> None:
    result = run("min-length", {"words": 3}, "OK")
    assert not result.passed
    assert result.reason == 'output has 1 word; at least 3 required; got "OK"'
    assert run("min-length", {"words": 3}, "one two three").passed


def test_negated_lengths() -> None:
    result = run("not-max-length", {"words": 3}, "one two")
    assert not result.passed
    assert result.reason == "output has 2 words; it must have more than 3"
    assert run("not-min-length", 10, "short").passed


def test_length_accepts_whole_float() -> None:
    assert run("max-length", 3.0, "abc").passed


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (-1, "whole number >= 0"),
        (True, "whole number >= 0"),
        (2.5, "whole number >= 0"),
        ("10", "whole number >= 0"),
        ({"words": 3, "lines": 2}, "exactly one of chars, words or lines"),
        ({"tokens": 3}, "unknown key tokens"),
    ],
)
def test_length_bad_args(args: Any, fragment: str) -> None:
    assert fragment in build_error("max-length", args)


# --- registry and shared behaviour --------------------------------------------------------------


def test_kinds_list() -> None:
    plain = [
        "equals",
        "contains",
        "icontains",
        "regex",
        "starts-with",
        "is-json",
        "json-schema",
        "max-length",
        "min-length",
    ]
    for kind in plain:
        assert kind in EVALUATOR_KINDS
        assert f"not-{kind}" in EVALUATOR_KINDS
    assert "python" in EVALUATOR_KINDS
    assert "judge" in EVALUATOR_KINDS
    assert "not-judge" not in EVALUATOR_KINDS
    assert "not-python" not in EVALUATOR_KINDS
    assert len(set(EVALUATOR_KINDS)) == len(EVALUATOR_KINDS)


def test_unknown_kind_suggests_the_closest() -> None:
    assert "did you mean 'contains'" in build_error("containz", "x")


def test_not_judge_explains_why_it_does_not_exist() -> None:
    assert "deterministic evaluators only" in build_error("not-judge", "be nice")


def test_weight_must_be_non_negative() -> None:
    with pytest.raises(ValueError, match="weight must be a number >= 0"):
        build("contains", "x", weight=-1.0)


def test_default_and_custom_names_and_weight() -> None:
    assert build("not-contains", "!").name == "not-contains"
    custom = build("contains", "x", name="mentions-x", weight=2.5)
    assert custom.name == "mentions-x"
    result = asyncio.run(custom.evaluate("x", CASE, CTX))
    assert result.evaluator == "mentions-x"
    assert result.weight == 2.5


def test_long_output_is_quoted_truncated() -> None:
    output = "a" * 500
    result = run("contains", "b", output)
    assert f'"{"a" * 120}…" (500 chars)' in result.reason
    assert len(result.reason) < 200


def test_quote_keeps_reasons_on_one_line() -> None:
    assert quote("line one\nline two") == '"line one\\nline two"'
    assert quote("short") == '"short"'


def test_real_config_spec_is_accepted() -> None:
    from promptloop.evaluators.specs import EvaluatorSpec

    spec = EvaluatorSpec.model_validate({"icontains": "{{ product }}", "name": "brand"})
    evaluator = build_evaluator(spec, base_dir=FIXTURES)
    result = asyncio.run(evaluator.evaluate("ACME rocks", CASE, CTX))
    assert result.passed
    assert result.evaluator == "brand"
