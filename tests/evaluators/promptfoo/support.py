"""Running one promptfoo assertion on one output, as the runner would."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from promptloop.dataset.cases import Case
from promptloop.evaluators.base import EvalContext, EvalResult
from promptloop.evaluators.promptfoo import build_assertion
from promptloop.models.base import ModelRequest, ModelResponse, ToolCall


class NoJudge:
    async def complete(self, request: ModelRequest) -> ModelResponse:
        raise AssertionError("a deterministic assertion called a model")


def case(**vars: Any) -> Case:
    return Case(id="c1", vars=vars)


def run(
    raw: dict[str, Any],
    output: str,
    *,
    vars: dict[str, Any] | None = None,
    base_dir: Path = Path("."),
    ctx: EvalContext | None = None,
    tool_calls: tuple[ToolCall, ...] = (),
    **context: Any,
) -> EvalResult:
    evaluator = build_assertion(raw, base_dir=base_dir, where="promptfooconfig.yaml:7")
    context.setdefault("timeout_s", 5.0)
    ctx = ctx or EvalContext(
        judge=NoJudge(), judge_model="unused", tool_calls=tool_calls, **context
    )
    return asyncio.run(evaluator.evaluate(output, case(**(vars or {})), ctx))


def verdict(raw: dict[str, Any], output: str, **kwargs: Any) -> tuple[bool, float]:
    result = run(raw, output, **kwargs)
    assert result.error is None, result.error
    return result.passed, result.score
