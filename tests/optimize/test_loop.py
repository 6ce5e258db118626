"""The optimisation loop against a scripted optimizer and a scorer whose verdict depends on
the prompt's words: a case passes when the prompt mentions the word the case "needs"."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from promptloop.dataset.cases import Case
from promptloop.engine.outcome import CaseOutcome
from promptloop.errors import UserError
from promptloop.evaluators.base import EvalResult
from promptloop.models.base import ModelCallError, ModelRequest, ModelResponse, Usage
from promptloop.optimize import OptimizationResult, OptimizerSettings, optimize, resolve_mode
from promptloop.optimize.rules import START, parse_rules

SEED = """---
temperature: 0
---
You answer customer questions about {{ product }}.
Mention the customer's email when relevant.
Question: {{ question }}
Respond with JSON only, shaped as `{"answer": "..."}`.
"""


def rewrite(*lines: str, rationale: str = "Addresses the failures.") -> str:
    body = "\n".join(lines)
    return f"<rationale>{rationale}</rationale>\n<prompt>\n{body}\n</prompt>"


GOOD = rewrite(
    "You answer customer questions about {{ product }}.",
    "Always greet the customer by name and mention their email when relevant.",
    "Question: {{ question }}",
    'Respond with JSON only, shaped as `{"answer": "..."}`.',
)
# Trades the "email" cases for the "name" cases: as many fixed as broken.
SWAP = rewrite(
    "You answer customer questions about {{ product }}.",
    "Always greet the customer by name.",
    "Question: {{ question }}",
    'Respond with JSON only, shaped as `{"answer": "..."}`.',
)
DROPS_PRODUCT = rewrite(
    "You answer customer questions.",
    "Always greet the customer by name and mention their email when relevant.",
    "Question: {{ question }}",
    'Respond with JSON only, shaped as `{"answer": "..."}`.',
)


def make_cases(split: str, needs: Sequence[str]) -> list[Case]:
    return [
        Case(
            id=f"{split}-{i}",
            vars={
                "product": "Acme Router",
                "question": f"{split} question {i} about the blinking {split}marker{i} light",
            },
            expected=f"{split} expected answer {i}",
            metadata={"needs": need},
        )
        for i, need in enumerate(needs)
    ]


TRAIN = make_cases("train", ["name", "name", "email", "name"])
VAL = make_cases("val", ["name", "name", "email", "email", "json"])
TEST = make_cases("test", ["name", "email", "name", "name"])


@dataclass
class WordScorer:
    calls: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)

    async def score(self, prompt_source: str, cases: Sequence[Case]) -> list[CaseOutcome]:
        self.calls.append((prompt_source, tuple(c.id for c in cases)))
        outcomes = []
        for case in cases:
            need = str(case.metadata["needs"])
            passed = need in prompt_source.lower()
            reason = "ok" if passed else f"the answer never uses the customer's {need}"
            result = EvalResult(
                "judge",
                passed,
                float(passed),
                reason,
                error_type=None if passed else f"missing_{need}",
                suggested_fix=None if passed else f"tell the model to use the {need}",
            )
            outcomes.append(
                CaseOutcome(
                    case,
                    f"answer to {case.id}",
                    passed,
                    float(passed),
                    (result,),
                    usage=Usage(cost_usd=0.001),
                )
            )
        return outcomes

    def prompts_scored_on(self, prefix: str) -> list[str]:
        return [p for p, ids in self.calls if ids and ids[0].startswith(prefix)]


@dataclass
class ScriptedOptimizer:
    replies: list[ModelResponse | Exception]
    requests: list[ModelRequest] = field(default_factory=list)

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(request)
        if not self.replies:
            raise AssertionError("the optimizer was called more often than scripted")
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


def reply(text: str, finish: str = "stop") -> ModelResponse:
    return ModelResponse(text, usage=Usage(10, 10, 0.01), finish_reason=finish)


def run(
    replies: list[ModelResponse | Exception],
    *,
    seed: str = SEED,
    path: str = "prompts/support.md",
    test: Sequence[Case] = TEST,
    **overrides: object,
) -> tuple[OptimizationResult, WordScorer, ScriptedOptimizer]:
    settings_kwargs: dict[str, object] = {"optimizer_model": "openai/gpt-4.1", "rounds": 1}
    settings_kwargs.update(overrides)
    settings = OptimizerSettings(**settings_kwargs)  # type: ignore[arg-type]
    scorer = WordScorer()
    optimizer = ScriptedOptimizer(list(replies))
    result = asyncio.run(
        optimize(
            seed_prompt=seed,
            prompt_path=path,
            train=TRAIN,
            val=VAL,
            test=test,
            scorer=scorer,
            optimizer=optimizer,
            settings=settings,
        )
    )
    return result, scorer, optimizer


def test_better_candidate_is_accepted_with_paired_figures() -> None:
    result, _, optimizer = run([reply(GOOD)])
    assert result.status == "improved" and result.improved
    assert "by name" in result.revised_text
    assert result.revised_text.startswith("---\ntemperature: 0\n---\n")
    assert result.revised_text.endswith("\n")
    val_after = result.scores.val_after
    assert result.scores.val_before is not None and val_after is not None
    assert (result.scores.val_before.passes, val_after.passes, val_after.n) == (3, 5, 5)
    assert result.scores.test_before is not None and result.scores.test_after is not None
    assert (result.scores.test_before.passes, result.scores.test_after.passes) == (1, 4)
    assert (result.scores.test_fixed, result.scores.test_broken) == (3, 0)
    assert result.scores.test_p_value == pytest.approx(0.25)
    assert "--- a/prompts/support.md" in result.unified_diff
    assert "+++ b/prompts/support.md" in result.unified_diff
    [changed] = result.changed_ranges
    assert (changed.start_line, changed.end_line) == (5, 5)
    assert "by name" in changed.replacement
    assert "missing_name (3 failing train cases)" in result.rationale
    assert "Addresses the failures." in result.rationale
    request = optimizer.requests[0]
    assert request.purpose == "optimize" and request.seed == 1
    assert request.model == "openai/gpt-4.1" and request.temperature == 0.0
    # Every figure must survive a JSON round trip for the GitHub integration.
    assert json.loads(json.dumps(result.to_dict()))["scores"]["test_fixed"] == 3


def test_candidate_that_only_trades_failures_is_rejected() -> None:
    result, _, _ = run([reply(SWAP)])
    assert result.status == "no_improvement" and not result.improved
    assert result.revised_text == SEED
    assert result.unified_diff == "" and result.changed_ranges == ()
    [candidate] = result.trajectory
    assert not candidate.accepted and candidate.rejection is None
    assert (candidate.fixed, candidate.broken) == (2, 2)
    assert "No candidate beat the prompt" in result.rationale


def test_worse_candidate_is_rejected() -> None:
    worse = rewrite(
        "You answer questions about {{ product }}.",
        "Question: {{ question }}",
        'Respond with JSON only, shaped as `{"answer": "..."}`.',
    )
    result, _, _ = run([reply(worse)])
    assert not result.improved
    [candidate] = result.trajectory
    assert (candidate.fixed, candidate.broken) == (0, 2)
    assert "not better" in candidate.why


def test_identical_candidate_is_not_scored() -> None:
    body = SEED.split("---\n", 2)[2]
    result, scorer, _ = run([reply(f"<prompt>\n{body}</prompt>")])
    assert not result.improved
    assert result.trajectory[0].why == "identical to the current prompt"
    assert scorer.prompts_scored_on("val") == []


def test_dropped_variable_is_rejected_and_re_asked() -> None:
    result, _, optimizer = run([reply(DROPS_PRODUCT), reply(GOOD)])
    assert result.improved
    first, second = result.trajectory
    assert first.rejection is not None and "{{ product }}" in first.rejection
    assert not first.accepted and second.accepted
    retry = optimizer.requests[1].messages
    assert retry[-2].role == "assistant" and retry[-2].content == DROPS_PRODUCT
    assert "{{ product }}" in retry[-1].content and "rejected" in retry[-1].content


def test_truncated_reply_is_rejected() -> None:
    result, _, _ = run([reply(GOOD, finish="length"), reply(GOOD[:-9])], candidate_attempts=1)
    assert not result.improved
    assert [c.rejection is not None for c in result.trajectory] == [True, True]
    reasons = [c.rejection or "" for c in result.trajectory]
    assert "truncated" in reasons[0] and "</prompt>" in reasons[1]
    assert result.status == "no_improvement" and result.errors == ()
    assert "rejected by guards" in result.rationale


def test_overlong_candidate_is_rejected() -> None:
    padding = "Be thorough and careful in every single answer you write. " * 40
    long = rewrite(
        "You answer customer questions about {{ product }} by name, with email.",
        padding,
        "Question: {{ question }}",
        'Respond with JSON only, shaped as `{"answer": "..."}`.',
    )
    result, _, _ = run([reply(long)], candidate_attempts=0)
    assert not result.improved
    assert "too long" in (result.trajectory[0].rejection or "")


def test_candidate_quoting_a_validation_case_is_rejected() -> None:
    leaky = rewrite(
        "You answer customer questions about {{ product }} by name, with email.",
        "For example: val question 1 about the blinking valmarker1 light.",
        "Question: {{ question }}",
        'Respond with JSON only, shaped as `{"answer": "..."}`.',
    )
    result, _, _ = run([reply(leaky)], candidate_attempts=0)
    assert not result.improved
    assert "held-out case val-1" in (result.trajectory[0].rejection or "")


def test_optimizer_failure_is_an_error_not_a_silent_no_op() -> None:
    failure = ModelCallError("503 from provider", kind="server")
    result, _, _ = run([failure])
    assert result.status == "error" and not result.improved
    assert result.revised_text == SEED
    assert len(result.errors) == 1 and "503 from provider" in result.errors[0]
    assert "Optimisation failed" in result.rationale
    assert result.stop_reason == "error"
    # The seed's train figure was measured before the call failed and is still reported;
    # the held-out test is never scored without a chosen candidate.
    train = result.scores.train_before
    assert train is not None and train.n == 4
    assert result.scores.train_after == train
    assert result.scores.test_before is None and result.scores.test_after is None


def test_failure_after_an_accepted_round_keeps_the_improvement_and_reports_it() -> None:
    failure = ModelCallError("timed out", kind="timeout")
    result, _, _ = run([reply(GOOD), failure], rounds=3)
    assert result.status == "improved"
    assert result.errors and "round 2" in result.errors[0]
    assert result.trajectory[-1].error == result.errors[0]
    assert "optimizer call failures: round 2" in result.rationale
    assert "1 candidate scored on validation, 0 rejected by guards" in result.rationale


def test_budget_stops_the_loop_and_reserves_the_test_scoring() -> None:
    # Round 1: train 4 + 1 call + val 2×5 = 15; the test reserve is 2×4 = 8.
    result, _, optimizer = run([reply(SWAP), reply(GOOD)], rounds=3, max_calls=26)
    assert len(optimizer.requests) == 1
    assert result.stop_reason == "budget"
    assert result.calls_used <= 26
    assert result.scores.test_before is not None


def test_budget_too_small_for_any_round_is_an_error() -> None:
    result, scorer, optimizer = run([reply(GOOD)], max_calls=5)
    assert result.status == "error"
    assert "max_calls=5" in result.errors[0]
    assert optimizer.requests == [] and scorer.calls == []


def test_usd_budget_stops_new_rounds() -> None:
    # Round 1 spends 14 × $0.001 on scoring and $0.01 on the reply; round 2 must not start.
    result, _, optimizer = run([reply(SWAP), reply(GOOD)], rounds=3, max_usd=0.01)
    assert len(optimizer.requests) == 1
    assert result.stop_reason == "usd"
    assert result.usd_used >= 0.01


def test_test_split_is_scored_once_at_the_end_and_never_shown() -> None:
    result, scorer, optimizer = run([reply(SWAP), reply(GOOD)], rounds=2)
    assert result.improved
    test_calls = [i for i, (_, ids) in enumerate(scorer.calls) if ids[0].startswith("test")]
    assert sorted(scorer.prompts_scored_on("test")) == sorted([SEED, result.revised_text])
    # Both test scorings come after every other scoring.
    assert test_calls == [len(scorer.calls) - 2, len(scorer.calls) - 1]
    shown = "\n".join(m.content for r in optimizer.requests for m in r.messages)
    for case in [*TEST, *VAL]:
        assert str(case.vars["question"]) not in shown
        assert str(case.expected) not in shown
    assert "train question 0" in shown


def test_unimproved_run_scores_only_the_seed_on_test() -> None:
    result, scorer, _ = run([reply(SWAP)])
    assert scorer.prompts_scored_on("test") == [SEED]
    assert result.scores.test_before == result.scores.test_after
    assert result.scores.test_p_value is None


def test_accepted_prompt_is_the_parent_of_the_next_round() -> None:
    name_only = rewrite(
        "You answer customer questions about {{ product }}.",
        "Mention the customer's email when relevant and address them by name.",
        "Question: {{ question }}",
        'Respond with JSON only, shaped as `{"answer": "..."}`.',
    )
    result, _, optimizer = run([reply(name_only), reply(SWAP)], rounds=2)
    assert result.improved and "by name" in result.revised_text
    assert "address them by name" in optimizer.requests[1].messages[1].content
    assert optimizer.requests[1].seed == 2
    assert [c.accepted for c in result.trajectory] == [True, False]


def test_scores_only_feedback_hides_reasons_from_the_optimizer() -> None:
    _, _, optimizer = run([reply(GOOD)], feedback="scores-only")
    shown = optimizer.requests[0].messages[1].content
    assert "never uses" not in shown and "missing_name" not in shown
    assert "score 0.00" in shown


def test_rules_mode_appends_a_block_and_replaces_it_next_time() -> None:
    seed = "You answer questions about {{ product }}.\nQuestion: {{ question }}\n"
    first_rules = "<rules>\n- Address the customer by name.\n</rules>"
    result, _, optimizer = run(
        [reply(first_rules)], seed=seed, optimizer_model="local/smollm2", mode="auto"
    )
    assert result.mode == "rules" and result.improved
    assert result.revised_text.startswith(seed)
    assert parse_rules(result.revised_text) == ["Address the customer by name."]
    # A local optimizer gets the compact meta-prompt; its request ends with the real task.
    assert "Rules already added" not in optimizer.requests[0].messages[-1].content

    second_rules = "<rules>\n- Address the customer by name.\n- Quote their email.\n</rules>"
    again, _, optimizer2 = run(
        [reply(second_rules)], seed=result.revised_text, optimizer_model="local/x", mode="rules"
    )
    assert again.improved
    assert again.revised_text.count(START) == 1
    assert parse_rules(again.revised_text) == [
        "Address the customer by name.",
        "Quote their email.",
    ]
    assert again.revised_text.startswith(seed)
    assert (
        "Rules already added to the prompt:\n- Address the customer by name."
        in optimizer2.requests[0].messages[-1].content
    )
    # Only the block changed: the range starts after the untouched prompt lines.
    assert all(r.start_line > 2 for r in again.changed_ranges)


def test_rules_mode_rejects_template_syntax_in_rules() -> None:
    seed = "You answer questions about {{ product }}.\nQuestion: {{ question }}\n"
    bad = "<rules>\n- Greet {{ customer }} by name and email.\n</rules>"
    result, _, _ = run([reply(bad)], seed=seed, mode="rules", candidate_attempts=0)
    assert not result.improved
    assert "adds {{ customer }}" in (result.trajectory[0].rejection or "")


def test_rules_mode_refuses_yaml_prompts() -> None:
    seed = "messages:\n  - role: user\n    content: 'About {{ product }}: {{ question }}'\n"
    with pytest.raises(UserError, match="rules mode"):
        run([], seed=seed, path="prompts/support.yaml", mode="rules")


def test_rewrite_mode_works_on_yaml_chat_prompts() -> None:
    seed = "messages:\n  - role: user\n    content: 'About {{ product }}: {{ question }}'\n"
    new = (
        "<prompt>\nmessages:\n  - role: system\n    content: Greet by name, cite email.\n"
        "  - role: user\n    content: 'About {{ product }}: {{ question }}'\n</prompt>"
    )
    broken = "<prompt>\nmessages: [\n</prompt>"
    result, _, _ = run([reply(broken), reply(new)], seed=seed, path="prompts/support.yaml")
    assert result.improved
    assert "does not parse" in (result.trajectory[0].rejection or "")
    assert result.revised_text.startswith("messages:\n  - role: system")


def test_empty_validation_split_is_a_user_error() -> None:
    with pytest.raises(UserError, match="validation"):
        asyncio.run(
            optimize(
                seed_prompt=SEED,
                prompt_path="p.md",
                train=TRAIN,
                val=[],
                test=TEST,
                scorer=WordScorer(),
                optimizer=ScriptedOptimizer([]),
                settings=OptimizerSettings(optimizer_model="m"),
            )
        )


def test_resolve_mode() -> None:
    assert resolve_mode("auto", "local/smollm2") == "rules"
    assert resolve_mode("auto", "local/smollm2", "prompts/answer.md") == "rules"
    # A chat prompt cannot take a rules block, so auto does not choose a mode that refuses it.
    assert resolve_mode("auto", "local/smollm2", "prompts/chat.yaml") == "rewrite"
    assert resolve_mode("auto", "local/smollm2", "prompts/chat.json") == "rewrite"
    assert resolve_mode("auto", "openai/gpt-4.1") == "rewrite"
    assert resolve_mode("rewrite", "local/smollm2") == "rewrite"
    with pytest.raises(UserError, match="unknown optimizer mode"):
        resolve_mode("evolve", "m")


def test_front_matter_echoed_by_the_optimizer_is_not_duplicated() -> None:
    echoed = GOOD.replace("<prompt>\n", "<prompt>\n---\ntemperature: 1\n---\n")
    result, _, _ = run([reply(echoed)])
    assert result.improved
    assert result.revised_text.count("---\n") == 2
    assert result.revised_text.startswith("---\ntemperature: 0\n---\nYou answer")


@pytest.mark.parametrize(
    ("key", "value"),
    [("rounds", -1), ("max_length_ratio", 0.0), ("confidence", 1.0), ("feedback", "loud")],
)
def test_bad_settings_name_their_key(key: str, value: object) -> None:
    with pytest.raises(UserError, match=f"optimizer.{key}"):
        OptimizerSettings(optimizer_model="m", **{key: value})  # type: ignore[arg-type]


def test_a_round_that_changed_nothing_makes_the_next_one_explore() -> None:
    worse = rewrite(
        "You answer questions about {{ product }}.",
        "Question: {{ question }}",
        'Respond with JSON only, shaped as `{"answer": "..."}`.',
    )
    result, _, optimizer = run([reply(worse), reply(GOOD)], rounds=2)
    assert result.improved
    first, second = (r.temperature for r in optimizer.requests)
    assert first == 0.0
    assert second > first


def test_a_truncated_reply_is_echoed_only_in_part_when_re_asking() -> None:
    long_reply = "<prompt>\n" + "word " * 2000
    _, _, optimizer = run([reply(long_reply, finish="length"), reply(GOOD)])
    echoed = optimizer.requests[1].messages[-2]
    assert echoed.role == "assistant"
    assert len(echoed.content) < 1000 and echoed.content.endswith("(cut off)")
