from __future__ import annotations

from promptloop.dataset.cases import Case
from promptloop.engine.outcome import CaseOutcome
from promptloop.evaluators.base import EvalResult
from promptloop.optimize.packing import cause_of, estimate_tokens, pack_examples


def outcome(
    case_id: str,
    *,
    passed: bool = False,
    output: str = "out",
    reason: str = "wrong",
    evaluator: str = "exact",
    error_type: str | None = None,
    fix: str | None = None,
    text: str = "hello",
    error: str | None = None,
) -> CaseOutcome:
    result = EvalResult(
        evaluator, passed, float(passed), reason, error_type=error_type, suggested_fix=fix
    )
    return CaseOutcome(
        Case(case_id, {"text": text}, expected="billing"),
        output,
        passed,
        float(passed),
        (result,),
        error=error,
    )


def test_groups_by_judge_error_type_else_evaluator_biggest_first_passes_last() -> None:
    outcomes = [
        outcome("p1", passed=True, reason="fine"),
        outcome("a1", evaluator="judge", error_type="wrong_label", output="x1"),
        outcome("b1", evaluator="regex", output="y1"),
        outcome("a2", evaluator="judge", error_type="wrong_label", output="x2"),
        outcome("b2", evaluator="regex", output="y2"),
        outcome("a3", evaluator="judge", error_type="wrong_label", output="x3"),
    ]
    packed = pack_examples(outcomes, context_tokens=5000, examples_per_cause=5)
    assert [g.cause for g in packed.groups] == ["wrong_label", "regex", "passed"]
    assert dict(packed.cause_counts) == {"wrong_label": 3, "regex": 2}
    assert packed.text.index("## wrong_label") < packed.text.index("## regex")
    assert packed.text.index("## regex") < packed.text.index("## passed")


def test_identical_output_and_feedback_is_folded_with_a_count() -> None:
    outcomes = [outcome(f"c{i}", output="same", reason="same reason") for i in range(4)]
    outcomes.append(outcome("d", output="different", reason="same reason"))
    packed = pack_examples(outcomes, context_tokens=5000, examples_per_cause=5)
    [group] = packed.groups
    assert [e.count for e in group.examples] == [4, 1]
    assert "seen ×4" in packed.text
    assert packed.shown == 5 and packed.omitted == 0


def test_per_cause_cap() -> None:
    outcomes = [outcome(f"c{i}", output=f"o{i}") for i in range(6)]
    packed = pack_examples(outcomes, context_tokens=5000, examples_per_cause=2)
    assert len(packed.groups[0].examples) == 2
    assert packed.groups[0].cases == 6
    assert packed.omitted == 4


def test_token_budget_is_honoured_and_more_budget_shows_more() -> None:
    outcomes = [
        outcome(f"c{i}", output="word " * 100, reason=f"reason {i} " * 20, evaluator=f"e{i % 4}")
        for i in range(20)
    ]
    small = pack_examples(outcomes, context_tokens=400, examples_per_cause=5)
    large = pack_examples(outcomes, context_tokens=4000, examples_per_cause=5)
    assert 0 < small.tokens <= 400
    assert large.tokens <= 4000
    assert small.shown < large.shown
    assert small.omitted == 20 - small.shown
    assert estimate_tokens(small.text) == small.tokens


def test_long_fields_are_truncated() -> None:
    packed = pack_examples(
        [outcome("c", output="z" * 5000)], context_tokens=5000, examples_per_cause=3
    )
    assert "chars cut" in packed.text
    assert packed.text.count("z") < 1000


def test_scores_only_has_no_reasons_and_one_failure_group() -> None:
    outcomes = [
        outcome("a", evaluator="judge", error_type="tone", reason="too rude", fix="be kind"),
        outcome("b", evaluator="regex", reason="no match"),
        outcome("c", passed=True, reason="looks right"),
    ]
    packed = pack_examples(
        outcomes, context_tokens=5000, examples_per_cause=3, feedback="scores-only"
    )
    for hidden in ("too rude", "be kind", "no match", "looks right", "tone", "regex", "Feedback"):
        assert hidden not in packed.text
    assert [g.cause for g in packed.groups] == ["failed", "passed"]
    assert "FAIL, score 0.00" in packed.text and "PASS, score 1.00" in packed.text


def test_critiques_show_reason_error_type_and_fix() -> None:
    packed = pack_examples(
        [outcome("a", evaluator="judge", error_type="tone", reason="too rude", fix="be kind")],
        context_tokens=5000,
        examples_per_cause=3,
    )
    assert "judge (fail) [tone]: too rude; suggested fix: be kind" in packed.text
    assert "Expected:\n  billing" in packed.text


def test_infrastructure_errors_are_left_out() -> None:
    failed_call = outcome("e", error="timeout", output="")
    assert cause_of(outcome("a", error_type="x")) == "x"
    packed = pack_examples([failed_call, outcome("a")], context_tokens=5000, examples_per_cause=3)
    assert packed.shown == 1 and packed.omitted == 1
    assert "timeout" not in packed.text


def test_braces_in_outputs_are_shown_verbatim() -> None:
    packed = pack_examples(
        [outcome("j", output='{"label": "billing"}')], context_tokens=5000, examples_per_cause=3
    )
    assert '{"label": "billing"}' in packed.text


def test_the_optimizer_sees_the_calls_a_failing_output_made() -> None:
    from dataclasses import replace

    from promptloop.models.base import ToolCall

    refund = replace(
        outcome("r", output="", reason="called `refund` too early"),
        tool_calls=(ToolCall.parse("refund", '{"amount": 120}'),),
    )
    lookup = replace(
        outcome("l", output="", reason="called `refund` too early"),
        tool_calls=(ToolCall.parse("lookup", '{"id": "A1"}'),),
    )
    packed = pack_examples([refund, lookup], context_tokens=5000, examples_per_cause=5)
    assert '[tool call] refund({"amount": 120})' in packed.text
    # Different calls are different outputs, not one folded example.
    assert [e.count for e in packed.groups[0].examples] == [1, 1]
