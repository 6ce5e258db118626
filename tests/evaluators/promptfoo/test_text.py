"""promptfoo's text assertions give promptfoo's verdicts (the expected values below are
what promptfoo's handlers compute for the same output: src/assertions/*.ts)."""

from __future__ import annotations

import pytest

from promptloop.evaluators.promptfoo import SUPPORTED_TYPES, UnsupportedAssertion, build_assertion
from tests.evaluators.promptfoo.support import run, verdict

OUT = "The Refund was sent, Bob."


@pytest.mark.parametrize(
    ("raw", "passed"),
    [
        ({"type": "contains", "value": "Refund"}, True),
        ({"type": "contains", "value": "refund"}, False),  # case matters
        ({"type": "icontains", "value": "REFUND"}, True),
        ({"type": "not-contains", "value": "Refund"}, False),
        ({"type": "not-icontains", "value": "nope"}, True),
        ({"type": "contains", "value": "{{ name }}"}, True),  # rendered per case
        ({"type": "contains-any", "value": ["x", "Bob"]}, True),
        ({"type": "contains-any", "value": "x, Bob"}, True),  # comma-separated
        ({"type": "contains-any", "value": ["x", "y"]}, False),
        ({"type": "not-contains-any", "value": ["x", "y"]}, True),
        ({"type": "contains-all", "value": ["Refund", "Bob"]}, True),
        ({"type": "contains-all", "value": ["Refund", "bob"]}, False),
        ({"type": "icontains-all", "value": ["refund", "bob"]}, True),
        ({"type": "icontains-any", "value": ["REFUND"]}, True),
        ({"type": "not-icontains-all", "value": ["refund", "bob"]}, False),
        ({"type": "contains", "value": 42}, False),
        ({"type": "starts-with", "value": "The"}, True),
        ({"type": "starts-with", "value": " The"}, False),  # no trimming
        ({"type": "not-starts-with", "value": "The"}, False),
        ({"type": "regex", "value": r"sent,\s+\w+\.$"}, True),
        ({"type": "regex", "value": "^refund"}, False),
        ({"type": "not-regex", "value": r"\d"}, True),
        ({"type": "equals", "value": OUT}, True),
        ({"type": "equals", "value": OUT + " "}, False),
        ({"type": "not-equals", "value": "x"}, True),
    ],
)
def test_text_assertions_agree_with_promptfoo(raw: dict[str, object], passed: bool) -> None:
    assert verdict(raw, OUT, vars={"name": "Bob"}) == (passed, 1.0 if passed else 0.0)


def test_equals_an_object_compares_parsed_json() -> None:
    assert verdict({"type": "equals", "value": {"a": [1, 2]}}, '{"a": [1, 2]}')[0] is True
    assert verdict({"type": "equals", "value": {"a": 1}}, "not json")[0] is False
    assert verdict({"type": "not-equals", "value": {"a": 1}}, "not json")[0] is True
    # A YAML number compares as JavaScript writes it.
    assert verdict({"type": "equals", "value": 4.0}, "4")[0] is True


def test_levenshtein_default_threshold_is_5() -> None:
    assert verdict({"type": "levenshtein", "value": "kitten"}, "sitting")[0] is True  # 3
    assert verdict({"type": "levenshtein", "value": "abcdef"}, "uvwxyz")[0] is False  # 6
    assert not verdict({"type": "levenshtein", "value": "abcdef", "threshold": 0}, "abcdeX")[0]
    assert verdict({"type": "levenshtein", "value": "abcdef", "threshold": 0}, "abcdef")[0]
    assert not verdict({"type": "levenshtein", "value": "kitten", "threshold": 2}, "sitting")[0]
    result = run({"type": "levenshtein", "value": "abcdef"}, "uvwxyz")
    assert "Levenshtein distance 6 is greater than threshold 5" in result.reason


@pytest.mark.parametrize(
    ("value", "output", "passed"),
    [
        (3, "one  two\nthree", True),
        (3, "  one two  ", False),
        ({"min": 2}, "one two", True),
        ({"max": 1}, "one two", False),
        ({"min": 1, "max": 3}, "a b c", True),
        ({"min": 1, "max": 3}, "a b c d", False),
        ("2", "a b", True),
    ],
)
def test_word_count(value: object, output: str, passed: bool) -> None:
    assert verdict({"type": "word-count", "value": value}, output)[0] is passed
    assert verdict({"type": "not-word-count", "value": value}, output)[0] is (not passed)


def test_a_catastrophic_regex_is_an_error_not_a_pass() -> None:
    result = run({"type": "not-regex", "value": "(a|aa)+$"}, "a" * 40 + "b")
    assert result.passed is False and result.error is not None
    assert "regex" in result.reason


def test_an_invalid_regex_fails_like_promptfoo() -> None:
    result = run({"type": "regex", "value": "(unclosed"}, "x")
    assert result.passed is False and "Invalid regex pattern" in result.reason


def test_weight_threshold_metric() -> None:
    result = run({"type": "contains", "value": "zzz", "weight": 0, "metric": "tone"}, OUT)
    # weight 0: promptfoo records the metric and never fails the assertion.
    assert result.passed is True and result.score == 0.0 and result.weight == 0
    assert result.evaluator == "tone"
    assert run({"type": "contains", "value": "Bob", "weight": 3}, OUT).weight == 3


def test_a_failure_says_what_was_expected() -> None:
    result = run({"type": "icontains-all", "value": ["refund", "alice"]}, OUT)
    assert result.reason == "Expected output to contain all of [refund, alice]. Missing: [alice]"


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"type": "moderation"}, "'moderation'"),
        ({"type": "contains", "value": "x", "colour": 1}, "'colour'"),
        ({"type": "contains"}, "string or number value"),
        ({"type": "word-count", "value": {"min": 5, "max": 1}}, "min (5)"),
        ({"type": "contains", "value": "x", "weight": "heavy"}, "weight"),
        ({"value": "x"}, "needs a type"),
        ({"type": "contains", "value": "{{ unclosed"}, "does not parse"),
        ({"type": "not-factuality", "value": "x"}, "ignores this not-"),
        ({"type": "cost"}, "needs a threshold"),
        ({"type": "not-latency"}, "threshold"),
    ],
)
def test_unsupported_items_are_named_at_load_time(raw: dict[str, object], named: str) -> None:
    with pytest.raises(UnsupportedAssertion) as caught:
        build_assertion(raw, base_dir=__import__("pathlib").Path("."), where="pf.yaml:12")
    message = str(caught.value)
    assert message.startswith("pf.yaml:12: ") and named in message
    assert "\n" not in message


def test_every_not_form_of_a_deterministic_type_is_supported() -> None:
    for kind in (
        "equals",
        "contains",
        "icontains-any",
        "regex",
        "is-json",
        "contains-json",
        "levenshtein",
        "word-count",
        "javascript",
        "python",
        "similar",
        "starts-with",
        "cost",
        "latency",
    ):
        assert f"not-{kind}" in SUPPORTED_TYPES


def test_assert_set_weighted_mean_and_threshold() -> None:
    members = [
        {"type": "contains", "value": "Refund", "weight": 3},
        {"type": "contains", "value": "zzz"},
    ]
    passed, score = verdict({"type": "assert-set", "assert": members}, OUT)
    assert (passed, score) == (False, 0.75)
    passed, score = verdict({"type": "assert-set", "threshold": 0.7, "assert": members}, OUT)
    assert (passed, score) == (True, 0.75)
    passed, _ = verdict({"type": "assert-set", "threshold": 0.8, "assert": members}, OUT)
    assert passed is False
    with pytest.raises(UnsupportedAssertion, match=r"pf.yaml:3 assert\[1\]: .*'nope'"):
        build_assertion(
            {"type": "assert-set", "assert": [{"type": "equals", "value": "x"}, {"type": "nope"}]},
            base_dir=__import__("pathlib").Path("."),
            where="pf.yaml:3",
        )


def test_transform_runs_before_the_check() -> None:
    raw = {"type": "equals", "value": "THE", "transform": "output.split(' ')[0].toUpperCase()"}
    assert verdict(raw, OUT)[0] is True
    broken = run({"type": "equals", "value": "x", "transform": "output.nope()"}, OUT)
    assert broken.passed is False and broken.error is not None
    assert "TypeError" in broken.reason


def test_graders_and_scripts_see_the_prompt_so_verdicts_are_not_shared() -> None:
    from pathlib import Path

    from promptloop.evaluators.base import sees_prompt

    def built(raw: dict[str, object]) -> object:
        return build_assertion(raw, base_dir=Path("."), where="pf.yaml:1")

    assert sees_prompt(built({"type": "llm-rubric", "value": "x"}))  # type: ignore[arg-type]
    assert sees_prompt(built({"type": "javascript", "value": "true"}))  # type: ignore[arg-type]
    assert not sees_prompt(built({"type": "contains", "value": "x"}))  # type: ignore[arg-type]
    in_set = {"type": "assert-set", "assert": [{"type": "python", "value": "True"}]}
    assert sees_prompt(built(in_set))  # type: ignore[arg-type]


def test_file_values_are_read_as_promptfoo_reads_them(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    (folder / "expected.txt").write_text("  The Refund was sent, Bob.\n")
    (folder / "words.yaml").write_text("- Refund\n- Bob\n")
    (folder / "value.js").write_text("module.exports = () => 'x';\n")
    assert verdict({"type": "equals", "value": "file://expected.txt"}, OUT, base_dir=folder)[0]
    assert verdict({"type": "contains-all", "value": "file://words.yaml"}, OUT, base_dir=folder)[0]
    for value, words in [
        ("file://value.js", "does not run for this type"),
        ("file://missing.txt", "cannot be read"),
        ("file://data.csv", "only .json"),
    ]:
        with pytest.raises(UnsupportedAssertion, match=words):
            build_assertion({"type": "contains", "value": value}, base_dir=folder, where="p:1")
