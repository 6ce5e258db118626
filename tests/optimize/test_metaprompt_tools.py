"""What the optimizer is told about tools in each mode and prompt shape, and that a chat
prompt's revised tool description is validated like the rest of the file."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from promptloop.dataset.cases import Case
from promptloop.engine.outcome import CaseOutcome
from promptloop.evaluators.base import EvalResult
from promptloop.models.base import ModelRequest, ModelResponse, ToolCall, Usage
from promptloop.optimize import OptimizationResult, OptimizerSettings, PromptScorer, optimize
from promptloop.optimize.reviewers import ReviewerNote

MARKDOWN = """\
---
tools:
  - type: function
    function:
      name: refund
      description: Refund an order.
      parameters: {type: object, properties: {amount: {type: number}}}
---
You help customers of a shop.
Message: {{ message }}
"""

CHAT = """\
tools:
  - type: function
    function:
      name: refund
      description: Refund an order.
      parameters: {type: object, properties: {amount: {type: number}}}
tool_choice: auto
messages:
  - role: system
    content: You help customers of a shop.
  - role: user
    content: "{{ message }}"
"""

CASES = {
    split: [Case(id=f"{split}-{i}", vars={"message": f"hello {i}"}) for i in range(4)]
    for split in ("train", "val", "test")
}


@dataclass
class RefundScorer:
    """Every answer calls ``refund`` with 120 and fails, until the refund's description
    says to ask first."""

    async def score(self, prompt_source: str, cases: Sequence[Case]) -> list[CaseOutcome]:
        fixed = "ask for the order number first" in prompt_source
        outcomes = []
        for case in cases:
            reason = (
                "made no tool call, as expected"
                if fixed
                else "called `refund` with `amount: 120`, expected no tool call"
            )
            result = EvalResult("right-tool", fixed, float(fixed), reason)
            calls = () if fixed else (ToolCall.parse("refund", '{"amount": 120}'),)
            outcomes.append(
                CaseOutcome(
                    case, "", fixed, float(fixed), (result,), usage=Usage(), tool_calls=calls
                )
            )
        return outcomes


@dataclass
class Optimizer:
    reply: str
    requests: list[ModelRequest] = field(default_factory=list)

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(request)
        return ModelResponse(self.reply, usage=Usage(1, 1, 0.0), finish_reason="stop")


def run(
    seed: str,
    path: str,
    mode: str,
    reply: str,
    *,
    cases: Mapping[str, Sequence[Case]] = CASES,
    scorer: PromptScorer | None = None,
    notes: Sequence[ReviewerNote] = (),
    **settings: Any,
) -> tuple[OptimizationResult, str]:
    """One round of the optimizer; the result and what it was asked."""
    optimizer = Optimizer(reply)
    result = asyncio.run(
        optimize(
            seed_prompt=seed,
            prompt_path=path,
            train=cases["train"],
            val=cases["val"],
            test=cases["test"],
            scorer=scorer or RefundScorer(),
            optimizer=optimizer,
            settings=OptimizerSettings(
                optimizer_model="openai/gpt-4.1",
                mode=mode,
                rounds=1,
                candidate_attempts=0,
                **settings,
            ),
            reviewer_notes=notes,
        )
    )
    return result, optimizer.requests[0].messages[-1].content


def test_rules_mode_shows_the_tools_and_lets_rules_speak_of_them() -> None:
    reply = "<rationale>r</rationale>\n<rules>\n- Ask for the order number first.\n</rules>"
    _, ask = run(MARKDOWN, "agent.md", "rules", reply)
    assert "Tools the model can call (fixed):\n- `refund`: Refund an order." in ask
    assert "Rules may say when and how to call the tools" in ask
    assert 'refund({"amount": 120}) → right-tool: called `refund`' in ask
    assert "you may revise their descriptions" not in ask and "<tools>" not in ask


def test_a_chat_prompt_revises_its_tool_descriptions_in_the_file() -> None:
    revised = CHAT.replace("Refund an order.", "Refund an order; ask for the order number first.")
    _, ask = run(CHAT, "agent.yaml", "rewrite", f"<prompt>\n{revised}</prompt>")
    assert "You may reword the `description` of the tools in the file" in ask
    # The file itself shows the tools; no second copy.
    assert "Tools the model can call" not in ask
    result, _ = run(CHAT, "agent.yaml", "rewrite", f"<prompt>\n{revised}</prompt>")
    assert result.status == "improved" and result.revised_text == revised


def test_a_chat_candidate_that_changes_a_parameter_is_rejected() -> None:
    changed = CHAT.replace("Refund an order.", "Refund; ask for the order number first.")
    changed = changed.replace("{type: number}", "{type: integer}")
    result, _ = run(CHAT, "agent.yaml", "rewrite", f"<prompt>\n{changed}</prompt>")
    assert result.status == "no_improvement"
    [candidate] = result.trajectory
    assert candidate.rejection == "tools changed: candidate changes the parameters of `refund`"


def test_scores_only_feedback_shows_the_tools_but_no_reasons() -> None:
    optimizer = Optimizer("<prompt>\nx\n</prompt>")
    asyncio.run(
        optimize(
            seed_prompt=MARKDOWN,
            prompt_path="agent.md",
            train=CASES["train"],
            val=CASES["val"],
            test=CASES["test"],
            scorer=RefundScorer(),
            optimizer=optimizer,
            settings=OptimizerSettings(
                optimizer_model="openai/gpt-4.1",
                mode="rewrite",
                rounds=1,
                candidate_attempts=0,
                feedback="scores-only",
            ),
        )
    )
    ask = optimizer.requests[0].messages[-1].content
    assert "- `refund`: Refund an order." in ask
    assert "→ right-tool" not in ask and "expected no tool call" not in ask
