"""The compact rules meta-prompt for small local optimizers, and parsing what they reply.

The scorer behaves like the bench's deterministic evaluators: a case fails
"names-the-product" unless the prompt tells the model to use the product name, and
some cases also fail "under-12-words", each with a reason that quotes the product and
the output.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from promptloop.dataset.cases import Case
from promptloop.engine.outcome import CaseOutcome
from promptloop.evaluators.base import EvalResult
from promptloop.models.base import ModelRequest, ModelResponse, Usage
from promptloop.optimize import OptimizationResult, OptimizerSettings, optimize
from promptloop.optimize.compact import (
    DEMO_RULES,
    FailureLine,
    compact_reply_tokens,
    compact_rules_messages,
    failure_lines,
    short_reason,
)
from promptloop.optimize.metaprompt import rules_messages
from promptloop.optimize.packing import estimate_tokens, pack_examples
from promptloop.optimize.reply import RULES_CLOSE, RULES_OPEN, parse_rules_reply
from promptloop.optimize.rules import parse_rules

SEED = (
    "Write a tagline for {{ product }}, {{ description }}.\n"
    "Keep it under 12 words. Reply with the tagline only.\n"
)
FIX = "Always use the product name."


def make_cases(split: str, count: int) -> list[Case]:
    return [
        Case(
            id=f"{split}-{i}",
            vars={
                "product": f"{split.capitalize()}Brand{i}",
                "description": f"a {split} gadget number {i} that tracks {split}marker{i} rides",
            },
        )
        for i in range(count)
    ]


TRAIN, VAL, TEST = make_cases("train", 10), make_cases("val", 6), make_cases("test", 6)


def output_for(case: Case) -> str:
    return f"A long tagline about gadgets for case {case.id}, which goes on and on"


@dataclass
class TaglineScorer:
    calls: list[str] = field(default_factory=list)

    async def score(self, prompt_source: str, cases: Sequence[Case]) -> list[CaseOutcome]:
        self.calls.append(prompt_source)
        outcomes = []
        for index, case in enumerate(cases):
            output = output_for(case)
            named = "product name" in prompt_source
            results = [
                EvalResult(
                    "names-the-product",
                    named,
                    float(named),
                    f'output contains "{case.vars["product"]}"'
                    if named
                    else f'output does not contain "{case.vars["product"]}" (ignoring case); '
                    f'got "{output}"',
                )
            ]
            if index % 4 == 1:
                results.append(
                    EvalResult(
                        "under-12-words", False, 0.0, "output has 28 words; at most 12 allowed"
                    )
                )
            passed = all(r.passed for r in results)
            score = sum(r.score for r in results) / len(results)
            outcomes.append(
                CaseOutcome(case, output, passed, score, tuple(results), usage=Usage(cost_usd=0))
            )
        return outcomes


@dataclass
class ScriptedOptimizer:
    replies: list[ModelResponse]
    requests: list[ModelRequest] = field(default_factory=list)

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(request)
        return self.replies.pop(0)


def reply(text: str, finish: str = "stop") -> ModelResponse:
    return ModelResponse(text, usage=Usage(10, 10, 0.0), finish_reason=finish)


def run(
    replies: list[ModelResponse], model: str = "local/smollm2", **overrides: object
) -> tuple[OptimizationResult, ScriptedOptimizer]:
    kwargs: dict[str, object] = {"optimizer_model": model, "rounds": 1, "mode": "auto"}
    kwargs.update(overrides)
    optimizer = ScriptedOptimizer(list(replies))
    result = asyncio.run(
        optimize(
            seed_prompt=SEED,
            prompt_path="prompts/tagline.md",
            train=TRAIN,
            val=VAL,
            test=TEST,
            scorer=TaglineScorer(),
            optimizer=optimizer,
            settings=OptimizerSettings(**kwargs),  # type: ignore[arg-type]
        )
    )
    return result, optimizer


def train_outcomes() -> list[CaseOutcome]:
    return asyncio.run(TaglineScorer().score(SEED, TRAIN))


def test_compact_prompt_is_short_and_lists_causes_with_counts() -> None:
    outcomes = train_outcomes()
    failures = failure_lines(outcomes, "critiques")
    assert [f.render() for f in failures] == [
        "- 10 cases: output does not contain the product",
        "- 3 cases: output has 28 words; at most 12 allowed",
    ]
    messages = compact_rules_messages(base_prompt=SEED, current_rules=(), failures=failures)
    compact = sum(estimate_tokens(m.content) for m in messages)
    assert compact < 400
    full = rules_messages(
        base_prompt=SEED,
        current_rules=(),
        packed=pack_examples(outcomes, context_tokens=600, examples_per_cause=3),
        variables=frozenset({"product", "description"}),
        max_rules_tokens=50,
        feedback="critiques",
    )
    assert compact < sum(estimate_tokens(m.content) for m in full)
    last = messages[-1].content
    assert last.startswith("Prompt:\n" + SEED.strip())
    assert "- 10 cases: output does not contain the product\n" in last
    assert last.endswith(f"{RULES_OPEN}\n- rule\n{RULES_CLOSE}")
    # Neither inputs nor outputs of any case, nor the evaluator's parenthetical aside.
    everything = "\n".join(m.content for m in messages)
    for case in TRAIN:
        assert case.vars["product"] not in everything
        assert case.vars["description"] not in everything
        assert output_for(case) not in everything
    assert "ignoring case" not in everything and "got " not in everything
    # The demonstrations are finished exchanges in the shape asked for.
    assert [m.role for m in messages] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    for demo in (messages[2], messages[4]):
        assert parse_rules_reply(demo.content)


def test_scores_only_shows_counts_and_scores_but_no_reasons() -> None:
    seed_lines = [f.render() for f in failure_lines(train_outcomes(), "scores-only")]
    assert seed_lines == ["- 10 cases: failed with score 0.00"]
    fixed = asyncio.run(TaglineScorer().score(SEED + FIX, TRAIN))
    assert [f.render() for f in failure_lines(fixed, "scores-only")] == [
        "- 3 cases: failed with score 0.50"
    ]
    # The same outcomes with critiques name the cause instead.
    assert [f.render() for f in failure_lines(fixed, "critiques")] == [
        "- 3 cases: output has 28 words; at most 12 allowed"
    ]


def test_failure_lines_leave_out_errors_and_keep_the_commonest_causes() -> None:
    case = TRAIN[0]
    errored = CaseOutcome(case, None, False, 0.0, error="timeout")
    undecided = CaseOutcome(
        case, "x", False, 0.0, (EvalResult.errored("judge", "judge reply was not JSON"),)
    )
    many = [
        CaseOutcome(
            case,
            "x",
            False,
            0.0,
            tuple(EvalResult(f"check-{k}", False, 0.0, f"reason {k}") for k in range(k_max)),
        )
        for k_max in range(1, 8)
    ]
    lines = failure_lines([errored, undecided, *many], "critiques", limit=3)
    # check-0 fails in all 7, check-1 in 6, check-2 in 5; the judge error and the
    # infrastructure error are no cause, only the undecided case's score is.
    assert [f.render() for f in lines] == [
        "- 7 cases: reason 0",
        "- 6 cases: reason 1",
        "- 5 cases: reason 2",
    ]
    assert [f.render() for f in failure_lines([undecided], "critiques")] == [
        "- 1 case: failed with score 0.00"
    ]


def test_short_reason_generalises_one_case_into_a_cause() -> None:
    case = Case(id="c", vars={"product": "Lumo", "product_line": "Lumo Pro", "n": 3})
    outcome = CaseOutcome(case, "Lumina is the brightest sunrise clock you can buy", False, 0.0)
    reason = (
        'output does not contain "Lumo Pro" (ignoring case); got "Lumina is the brightest '
        'sunrise clock you can buy"; see Lumo'
    )
    assert short_reason(reason, outcome) == (
        "output does not contain the product line; see the product"
    )
    long = short_reason("x" * 300, outcome, limit=50)
    assert len(long) == 50 and long.endswith("…")


def test_local_optimizer_gets_the_compact_prompt_and_a_parsed_rule_is_adopted() -> None:
    result, optimizer = run([reply(f"{RULES_OPEN}\n- {FIX}\n{RULES_CLOSE}")])
    assert result.mode == "rules" and result.improved
    assert parse_rules(result.revised_text) == [FIX]
    assert result.revised_text.startswith(SEED)
    [request] = optimizer.requests
    assert request.messages[0].content == "You write rules that fix the problems of a prompt."
    # A seed this short leaves the 50-token floor for the rule list: 2 × 50 + 64.
    assert request.max_tokens == compact_reply_tokens(50) == 164
    sent = "\n".join(m.content for m in request.messages)
    assert "- 10 cases: output does not contain the product" in sent
    for case in (*VAL, *TEST):
        for text in (case.id, case.vars["product"], case.vars["description"], output_for(case)):
            assert text not in sent
    val_before, val_after = result.scores.val_before, result.scores.val_after
    assert val_before is not None and val_after is not None
    assert (val_before.passes, val_after.passes) == (0, 4)


def test_other_optimizers_keep_the_full_meta_prompt() -> None:
    _, optimizer = run(
        [reply(f"{RULES_OPEN}\n- {FIX}\n{RULES_CLOSE}")], model="openai/gpt-4.1", mode="rules"
    )
    [request] = optimizer.requests
    assert len(request.messages) == 2
    assert "Current rules:\n(none yet)" in request.messages[1].content
    assert TRAIN[0].vars["product"] in request.messages[1].content
    assert request.max_tokens == OptimizerSettings("x").max_tokens


def test_a_list_closed_without_its_opening_tag_is_taken_but_prose_is_not() -> None:
    text = f"The prompt needs the name. Here:\n- {FIX}\n* Never shout.\n\n{RULES_CLOSE}"
    result, _ = run([reply(text)])
    assert result.improved
    assert parse_rules(result.revised_text) == [FIX, "Never shout."]


def test_truncated_or_unclosed_replies_are_never_adopted() -> None:
    whole = f"{RULES_OPEN}\n- {FIX}\n{RULES_CLOSE}"
    result, optimizer = run(
        [reply(whole, finish="length"), reply(f"{RULES_OPEN}\n- {FIX}\n- {FIX}\n- Alw")],
        candidate_attempts=1,
    )
    assert not result.improved and result.revised_text == SEED
    rejections = [c.rejection or "" for c in result.trajectory]
    assert len(rejections) == 2
    assert "truncated" in rejections[0]
    assert "no closing </rules>" in rejections[1]
    # The re-ask echoes the cut-off reply and asks again for the closing marker.
    assert optimizer.requests[1].messages[-1].content.endswith(f"end with {RULES_CLOSE}.")


def test_guards_still_apply_to_compact_replies() -> None:
    adds_variable = f"{RULES_OPEN}\n- Greet {{{{ customer }}}} first.\n{RULES_CLOSE}"
    quotes_test = f"{RULES_OPEN}\n- {FIX}\n- Mention {TEST[2].vars['description']}.\n{RULES_CLOSE}"
    copies_demo = f"{RULES_OPEN}\n- Use at most 3 sentences.\n{RULES_CLOSE}"
    result, _ = run(
        [reply(adds_variable), reply(quotes_test), reply(copies_demo)],
        rounds=1,
        candidate_attempts=2,
    )
    assert not result.improved
    rejections = [c.rejection or "" for c in result.trajectory]
    assert "template variables changed" in rejections[0]
    assert "quotes held-out case test-2" in rejections[1]
    assert rejections[2] == "the reply's rule list is empty"


def test_parser_drops_repeats_and_demo_copies_and_needs_the_closing_marker() -> None:
    text = (
        f"{RULES_OPEN}\n- {FIX}\n- {FIX}\n- use at most 3  sentences.\n"
        f"- Keep it short.\n{RULES_CLOSE}"
    )
    assert parse_rules_reply(text, ignore=DEMO_RULES) == [FIX, "Keep it short."]
    assert parse_rules_reply(text) == [FIX, "use at most 3  sentences.", "Keep it short."]
    assert parse_rules_reply(f"- {FIX}\n- Keep it short.") is None
    assert parse_rules_reply(f"Some prose.\n{RULES_CLOSE}") is None
    # An opening tag after the closing one is no list at all.
    assert parse_rules_reply(f"- {FIX}\n{RULES_CLOSE}\n{RULES_OPEN}") is None
    assert parse_rules_reply(f"- {FIX}{RULES_CLOSE}") == [FIX]


def test_rules_already_adopted_are_shown_and_kept_apart_from_the_prompt() -> None:
    messages = compact_rules_messages(
        base_prompt=SEED,
        current_rules=[FIX],
        failures=[FailureLine(1, "output has 28 words; at most 12 allowed")],
    )
    last = messages[-1].content
    assert f"Rules already added to the prompt:\n- {FIX}\n\nProblems" in last
    assert "- 1 case: output has 28 words" in last
    assert "complete new list" in last
    empty = compact_rules_messages(base_prompt=SEED, current_rules=(), failures=())
    assert "- none: every answer passed" in empty[-1].content
