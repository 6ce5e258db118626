"""Evaluators: deterministic checks, python functions and LLM judges, one result type.

``base`` holds the seam (``EvalResult``, ``EvalContext``, ``Evaluator``, ``combine``);
each kind is one class in ``kinds/`` that declares its arguments and registers itself;
``specs`` is how a config item is written; ``registry.build_evaluator`` turns one into an
evaluator. May import models, dataset and the foundation.

The names below load their module on first use: the config's schema needs only the
kinds' declarations, and `promptloop schema` should not pay for Jinja2 or a judge.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptloop.evaluators.base import EvalContext, EvalResult, Evaluator, combine, quote
    from promptloop.evaluators.deterministic import DeterministicEvaluator
    from promptloop.evaluators.judge import (
        JUDGE_SCHEMA,
        JudgeEvaluator,
        JudgeVerdict,
        judge_schema,
        parse_verdict,
    )
    from promptloop.evaluators.python_check import CaseView, PythonEvaluator
    from promptloop.evaluators.registry import build_evaluator
    from promptloop.evaluators.specs import EVALUATOR_KINDS

_HOMES = {
    "base": ("EvalContext", "EvalResult", "Evaluator", "combine", "quote"),
    "deterministic": ("DeterministicEvaluator",),
    "judge": (
        "JUDGE_SCHEMA",
        "JudgeEvaluator",
        "JudgeVerdict",
        "judge_schema",
        "parse_verdict",
    ),
    "python_check": ("CaseView", "PythonEvaluator"),
    "registry": ("build_evaluator",),
    "specs": ("EVALUATOR_KINDS",),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "EVALUATOR_KINDS",
    "JUDGE_SCHEMA",
    "CaseView",
    "DeterministicEvaluator",
    "EvalContext",
    "EvalResult",
    "Evaluator",
    "JudgeEvaluator",
    "JudgeVerdict",
    "PythonEvaluator",
    "build_evaluator",
    "combine",
    "judge_schema",
    "parse_verdict",
    "quote",
]
