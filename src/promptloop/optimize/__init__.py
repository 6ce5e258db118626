"""Prompt learning: critiques in, a revised prompt out, accepted only on held-out evidence.
May import gate (its statistics), engine, project and everything below them."""

from promptloop.optimize.acceptance import paired_counts, weigh_candidate
from promptloop.optimize.loop import optimize
from promptloop.optimize.packing import Packed, estimate_tokens, pack_examples
from promptloop.optimize.result import (
    Candidate,
    ChangedRange,
    OptimizationResult,
    Scores,
    SplitScore,
)
from promptloop.optimize.rules import apply_rules, parse_rules
from promptloop.optimize.scoring import PromptScorer
from promptloop.optimize.settings import OptimizerSettings, resolve_mode

__all__ = [
    "Candidate",
    "ChangedRange",
    "OptimizationResult",
    "OptimizerSettings",
    "Packed",
    "PromptScorer",
    "Scores",
    "SplitScore",
    "apply_rules",
    "estimate_tokens",
    "optimize",
    "pack_examples",
    "paired_counts",
    "parse_rules",
    "resolve_mode",
    "weigh_candidate",
]
