"""Evaluators: deterministic checks, python functions and LLM judges, one result type.

``base`` holds the seam (``EvalResult``, ``EvalContext``, ``Evaluator``, ``combine``);
``specs`` how a config item is written; ``registry.build_evaluator`` turns one into an
evaluator. May import models, dataset and the foundation.
"""

from promptloop.evaluators.base import EvalContext, EvalResult, Evaluator, combine, quote
from promptloop.evaluators.deterministic import DETERMINISTIC_KINDS, DeterministicEvaluator
from promptloop.evaluators.judge import (
    JUDGE_SCHEMA,
    JudgeArgs,
    JudgeEvaluator,
    JudgeVerdict,
    judge_schema,
    parse_verdict,
)
from promptloop.evaluators.python_check import CaseView, PythonEvaluator
from promptloop.evaluators.registry import build_evaluator
from promptloop.evaluators.specs import EVALUATOR_KINDS

__all__ = [
    "DETERMINISTIC_KINDS",
    "EVALUATOR_KINDS",
    "JUDGE_SCHEMA",
    "CaseView",
    "DeterministicEvaluator",
    "EvalContext",
    "EvalResult",
    "Evaluator",
    "JudgeArgs",
    "JudgeEvaluator",
    "JudgeVerdict",
    "PythonEvaluator",
    "build_evaluator",
    "combine",
    "judge_schema",
    "parse_verdict",
    "quote",
]
