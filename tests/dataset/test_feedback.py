"""The feedback file: records, file:line errors, fingerprints and appending."""

from __future__ import annotations

import json

import pytest

from promptloop.dataset.feedback import (
    append_lines,
    default_feedback_path,
    feedback_json_schema,
    output_fingerprint,
    parse_feedback,
    verdict_for,
)
from promptloop.errors import UserError

LINE = {
    "case": "c04-brewly",
    "output": output_fingerprint("Brewly is a smart kettle."),
    "verdict": "bad",
    "note": 'we never call the product "smart"',
    "by": "dana",
    "at": "2026-12-01T21:00:00Z",
    "source": "https://github.com/acme/site/pull/7#issuecomment-1",
}


def test_a_record_round_trips_and_applies_to_its_output_only() -> None:
    [record] = parse_feedback(json.dumps(LINE) + "\n", "evals/x.feedback.jsonl")
    assert record.verdict == "bad" and record.by == "dana"
    # Line endings and surrounding spaces do not make another answer; other words do.
    assert record.applies_to("  Brewly is a smart kettle.\r\n")
    assert not record.applies_to("Brewly is a kettle.")
    assert parse_feedback(record.to_line(), "f") == [record]
    assert verdict_for([record], "c04-brewly", "Brewly is a smart kettle.") == record
    assert verdict_for([record], "c04-brewly", "Brewly boils water.") is None
    assert verdict_for([record], "c05", "Brewly is a smart kettle.") is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"verdcit": "bad"}, "f.jsonl:3: verdcit: unknown key"),
        ({"verdict": "meh"}, "f.jsonl:3: verdict: Input should be 'good' or 'bad'"),
        ({"output": "abc"}, "f.jsonl:3: output: String should match pattern"),
        ({"at": "yesterday"}, "f.jsonl:3: at: "),
    ],
)
def test_a_bad_line_is_one_error_naming_file_line_and_key(
    change: dict[str, str], expected: str
) -> None:
    bad = {**LINE, **change}
    text = "\n".join([json.dumps(LINE), "", json.dumps(bad)])
    with pytest.raises(UserError) as info:
        parse_feedback(text, "f.jsonl")
    assert info.value.one_line().startswith(expected), info.value.one_line()


def test_a_missing_key_and_broken_json_are_located() -> None:
    missing = {k: v for k, v in LINE.items() if k != "by"}
    with pytest.raises(UserError, match=r"^f:1: by: missing$"):
        parse_feedback(json.dumps(missing), "f")
    with pytest.raises(UserError, match=r"^f:2: invalid JSON"):
        parse_feedback(json.dumps(LINE) + "\n{oops", "f")


def test_appending_keeps_existing_lines_and_ends_with_a_newline() -> None:
    [record] = parse_feedback(json.dumps(LINE), "f")
    text = append_lines('{"x": 1}', [record, record])
    assert text.splitlines()[0] == '{"x": 1}'
    assert text.endswith("\n") and len(text.splitlines()) == 3
    assert append_lines("", []) == ""


def test_the_default_file_sits_beside_the_dataset() -> None:
    assert default_feedback_path("evals/people.jsonl", "s") == "evals/people.feedback.jsonl"
    assert default_feedback_path([{"a": 1}], "greetings") == "greetings.feedback.jsonl"


def test_the_schema_forbids_unknown_keys() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = feedback_json_schema()
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid(LINE)
    assert not validator.is_valid({**LINE, "extra": 1})
