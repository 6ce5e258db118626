"""A proposal that repeats a prompt already evaluated (the seed or an earlier round's
candidate, equal once whitespace is normalised) is recognised before any case is scored
for it, said in the round's line, and the loop goes on to its next round."""

from __future__ import annotations

import asyncio

from promptloop.models.base import ModelResponse
from promptloop.optimize import OptimizationResult, OptimizerSettings, optimize
from tests.optimize.test_loop import (
    GOOD,
    SEED,
    SWAP,
    TEST,
    TRAIN,
    VAL,
    ScriptedOptimizer,
    WordScorer,
    reply,
    rewrite,
)

# SWAP with its lines broken and spaced differently: the same prompt to a reader.
SWAP_REFLOWED = rewrite(
    "You answer customer questions about  {{ product }}.",
    "Always greet the customer",
    "by name.",
    "",
    "Question: {{ question }}",
    'Respond with JSON only, shaped as `{"answer": "..."}`.',
)
RULES_SEED = "You answer questions about {{ product }}.\nQuestion: {{ question }}\n"


def optimize_with(
    replies: list[ModelResponse], *, seed: str = SEED, **overrides: object
) -> tuple[OptimizationResult, WordScorer, ScriptedOptimizer, list[str]]:
    settings_kwargs: dict[str, object] = {"optimizer_model": "openai/gpt-4.1"}
    settings_kwargs.update(overrides)
    scorer = WordScorer()
    optimizer = ScriptedOptimizer(list(replies))
    said: list[str] = []
    result = asyncio.run(
        optimize(
            seed_prompt=seed,
            prompt_path="prompts/support.md",
            train=TRAIN,
            val=VAL,
            test=TEST,
            scorer=scorer,
            optimizer=optimizer,
            settings=OptimizerSettings(**settings_kwargs),  # type: ignore[arg-type]
            progress=said.append,
        )
    )
    return result, scorer, optimizer, said


def test_a_reflowed_repeat_of_an_earlier_candidate_is_not_scored_and_the_loop_goes_on() -> None:
    result, scorer, optimizer, said = optimize_with(
        [reply(SWAP), reply(SWAP_REFLOWED), reply(GOOD)], rounds=3
    )
    first, repeat, last = result.trajectory
    assert first.val_after is not None and not first.accepted
    assert repeat.round == 2 and not repeat.accepted
    assert repeat.why == "repeats round 1's candidate; not evaluated again"
    assert repeat.val_before is None and repeat.val_after is None and repeat.rejection is None
    assert "round 2: the proposal repeats round 1's candidate; not evaluated again" in said
    # Not one case was scored for the repeat, on any split.
    assert all("Always greet the customer\nby name." not in text for text, _ in scorer.calls)
    # One optimizer call per round: the repeat is not re-asked.
    assert len(optimizer.requests) == 3
    assert last.round == 3 and last.accepted and result.status == "improved"
    assert "1 repeating a prompt already evaluated" in result.rationale
    assert "identical to the prompt they were to improve" not in result.rationale


def test_a_proposal_that_returns_to_the_seed_is_not_scored_again() -> None:
    seed_body = SEED.split("---\n", 2)[2]
    reflowed = seed_body.replace(" when relevant", "  when\trelevant")
    back_to_seed = f"<prompt>\n{reflowed}</prompt>"
    result, scorer, optimizer, said = optimize_with(
        [reply(GOOD), reply(back_to_seed), reply(SWAP)], rounds=3
    )
    assert result.status == "improved"
    accepted, repeat, _ = result.trajectory
    assert accepted.accepted
    assert repeat.why == "repeats the seed; not evaluated again"
    assert "round 2: the proposal repeats the seed; not evaluated again" in said
    assert all("when\trelevant" not in text for text, _ in scorer.calls)
    assert result.revised_text == accepted.text
    # The repeat counts as a round that changed nothing, so the round after it explores.
    assert [r.temperature for r in optimizer.requests] == [0.0, 0.0, 0.7]


def test_a_small_local_optimizer_repeating_its_rules_is_not_re_evaluated() -> None:
    # The defect as seen on the embedded model: rules mode, the same rule list again.
    polite = "<rules>\n- Be polite to every customer.\n</rules>"
    spaced = "<rules>\n-   Be polite to  every customer.\n</rules>"
    result, scorer, optimizer, said = optimize_with(
        [reply(polite), reply(spaced), reply(polite)],
        seed=RULES_SEED,
        optimizer_model="local/smollm2",
        rounds=3,
    )
    assert result.mode == "rules" and result.status == "no_improvement"
    assert [c.why for c in result.trajectory[1:]] == [
        "repeats round 1's candidate; not evaluated again",
        "repeats round 1's candidate; not evaluated again",
    ]
    assert [line for line in said if "repeats" in line] == [
        "round 2: the proposal repeats round 1's candidate; not evaluated again",
        "round 3: the proposal repeats round 1's candidate; not evaluated again",
    ]
    # Validation scored the seed and round 1's candidate once each, nothing more.
    assert len(scorer.prompts_scored_on("val")) == 2
    assert len(optimizer.requests) == 3
    assert "2 repeating a prompt already evaluated" in result.rationale
