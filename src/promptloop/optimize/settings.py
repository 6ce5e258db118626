"""How the optimizer is set up, checked as it is built; and which mode it runs in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from promptloop.errors import UserError
from promptloop.models.base import is_embedded
from promptloop.optimize.packing import Feedback
from promptloop.optimize.result import Mode
from promptloop.project.tool_source import is_chat_path

ModeSetting = Literal["auto", "rewrite", "rules"]


@dataclass(frozen=True)
class OptimizerSettings:
    optimizer_model: str
    mode: ModeSetting = "auto"
    rounds: int = 3
    # Optimizer calls + cases scored; None = bounded by rounds only.
    max_calls: int | None = None
    max_usd: float | None = None
    max_length_ratio: float = 2.0
    context_tokens: int = 2000
    examples_per_cause: int = 3
    feedback: Feedback = "critiques"
    seed: int = 0
    confidence: float = 0.95
    api_base: str | None = None
    temperature: float = 0.0
    # Floor for the optimizer's output budget; raised to fit a prompt at the length limit.
    max_tokens: int = 1024
    # Re-asks after a guard rejects a reply, per round.
    candidate_attempts: int = 2
    leakage_ngram: int = 8
    timeout_s: float = 120.0

    def __post_init__(self) -> None:
        positive = {
            "max_length_ratio": self.max_length_ratio,
            "context_tokens": self.context_tokens,
            "examples_per_cause": self.examples_per_cause,
            "max_tokens": self.max_tokens,
            "leakage_ngram": self.leakage_ngram,
        }
        non_negative = {
            "rounds": self.rounds,
            "candidate_attempts": self.candidate_attempts,
            "max_calls": self.max_calls or 0,
            "max_usd": self.max_usd or 0,
        }
        for key, value in positive.items():
            if value <= 0:
                raise UserError(f"must be positive, got {value}", key=f"optimizer.{key}")
        for key, value in non_negative.items():
            if value < 0:
                raise UserError(f"must not be negative, got {value}", key=f"optimizer.{key}")
        if not 0 < self.confidence < 1:
            raise UserError(
                f"must be between 0 and 1, got {self.confidence}", key="optimizer.confidence"
            )
        if self.feedback not in ("critiques", "scores-only"):
            raise UserError(
                f"must be 'critiques' or 'scores-only', got {self.feedback!r}",
                key="optimizer.feedback",
            )


def resolve_mode(mode: str, optimizer_model: str, prompt_path: str = "") -> Mode:
    """ "auto" → rules for a small local optimizer (rewriting a whole prompt is beyond
    it), rewrite otherwise, and rewrite for chat prompts (YAML/JSON), whose messages a
    rules block cannot be appended to."""
    if mode == "rewrite":
        return "rewrite"
    if mode == "rules":
        return "rules"
    if mode == "auto":
        small = is_embedded(optimizer_model)
        return "rules" if small and not is_chat_path(prompt_path) else "rewrite"
    raise UserError(
        f"unknown optimizer mode {mode!r}; use auto, rewrite or rules", key="optimizer.mode"
    )
