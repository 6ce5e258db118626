from __future__ import annotations

from promptloop.dataset.cases import Case
from promptloop.models.base import ModelResponse
from promptloop.optimize import guards

SEED = (
    "Classify the ticket about {{ product }}.\n"
    "Ticket: {{ ticket }}\n"
    'Respond with JSON only, like `{"label": "billing"}`.\n'
)


def test_variables_missing_and_added_are_named() -> None:
    candidate = "Classify the ticket.\nTicket: {{ ticket }} from {{ customer }}\n"
    reason = guards.check_kept_variables(SEED, candidate)
    assert reason is not None
    assert "drops {{ product }}" in reason and "adds {{ customer }}" in reason
    assert guards.check_kept_variables(SEED, SEED.replace("Classify", "Sort")) is None


def test_candidate_that_is_not_a_template_is_rejected() -> None:
    reason = guards.check_kept_variables(SEED, "Ticket: {{ ticket }\n{{ product }}")
    assert reason is not None and "does not parse" in reason


def test_format_instructions_must_survive() -> None:
    dropped = "Classify the ticket about {{ product }}.\nTicket: {{ ticket }}\n"
    reason = guards.check_format_instructions(SEED, dropped)
    assert reason is not None and "json" in reason.lower()
    reworded = (
        "Read the ticket about {{ product }} and pick a label.\nTicket: {{ ticket }}\n"
        'Answer in JSON and nothing else, e.g. `{"label": "billing"}`.\n'
    )
    assert guards.check_format_instructions(SEED, reworded) is None
    lost_literal = reworded.replace('`{"label": "billing"}`', "an object with a label")
    assert guards.check_format_instructions(SEED, lost_literal) is not None


def test_format_line_without_literals_keeps_its_keyword() -> None:
    seed = "Summarise {{ text }}.\nOutput a single sentence.\n"
    assert guards.format_anchors("Output a single sentence.") == ["output"]
    assert guards.check_format_instructions(seed, "Summarise {{ text }} in a sentence.") is not None
    assert guards.check_format_instructions(seed, "Summarise {{ text }}. Output one line.") is None


def test_length_budget() -> None:
    assert guards.check_length("a" * 400, "b" * 800, 2.0) is None
    reason = guards.check_length("a" * 400, "b" * 804, 2.0)
    assert reason is not None and "too long" in reason
    assert guards.check_length("a" * 400, "b" * 900, 2.0, allowance=30) is None


def test_reply_checks() -> None:
    ok = ModelResponse("<prompt>x</prompt>", finish_reason="stop")
    assert guards.check_reply(ok, "</prompt>") is None
    assert "empty" in (guards.check_reply(ModelResponse("  "), "</prompt>") or "")
    cut = ModelResponse("<prompt>x</prompt>", finish_reason="length")
    assert "truncated" in (guards.check_reply(cut, "</prompt>") or "")
    assert "</prompt>" in (guards.check_reply(ModelResponse("<prompt>x"), "</prompt>") or "")


HELD_OUT = [
    Case(
        "v1",
        {"ticket": "My router blinks red every night after the firmware update"},
        expected="hardware",
    ),
]


def test_leakage_of_eight_words_from_a_held_out_case() -> None:
    leaky = SEED + "Example: router blinks red every night after the firmware update.\n"
    reason = guards.check_leakage(SEED, leaky, HELD_OUT)
    assert reason is not None and "v1" in reason
    seven = SEED + "Example: blinks red every night after the firmware.\n"
    assert guards.check_leakage(SEED, seven, HELD_OUT) is None


def test_text_already_in_the_seed_is_not_leakage() -> None:
    seed = SEED + "Known issue: router blinks red every night after the firmware update.\n"
    candidate = seed.replace("Classify", "Label")
    assert guards.check_leakage(seed, candidate, HELD_OUT) is None


def test_check_candidate_runs_every_guard() -> None:
    ok = SEED.replace("Classify the ticket", "Classify the support ticket")
    assert (
        guards.check_candidate(seed=SEED, candidate=ok, held_out=HELD_OUT, max_length_ratio=2.0)
        is None
    )
    assert "empty" in (
        guards.check_candidate(seed=SEED, candidate=" ", held_out=[], max_length_ratio=2.0) or ""
    )
    no_format = "Classify {{ product }} {{ ticket }}.\n"
    assert (
        guards.check_candidate(
            seed=SEED, candidate=no_format, held_out=[], max_length_ratio=2.0, check_format=False
        )
        is None
    )


def test_front_matter_split() -> None:
    front, body = guards.split_front_matter("---\nmodel: x\n---\nHello {{ a }}\n")
    assert front == "---\nmodel: x\n---\n" and body == "Hello {{ a }}\n"
    assert guards.split_front_matter("Hello\n---\n") == ("", "Hello\n---\n")
