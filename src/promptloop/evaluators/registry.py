"""From a config line to an evaluator: the list of kinds and one builder.

``build_evaluator`` validates arguments eagerly, so a typo in promptloop.yaml is a
``ValueError`` at load time (the config loader adds file:line), not a failure halfway
through a paid run. ``not-`` negates the deterministic kinds only: a python check can
return the opposite itself, and "not judge" has no meaning a rubric cannot say better.
"""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from typing import Any

from promptloop.evaluators.base import Evaluator
from promptloop.evaluators.deterministic import (
    NEGATION_PREFIX,
    build_deterministic,
)
from promptloop.evaluators.human import HUMAN_KIND, build_human
from promptloop.evaluators.judge import build_judge
from promptloop.evaluators.python_check import build_python
from promptloop.evaluators.specs import EVALUATOR_KINDS, EvaluatorSpec
from promptloop.evaluators.tools import build_tool_args, build_tool_call


def unknown_kind_message(kind: str) -> str:
    if kind in (NEGATION_PREFIX + "python", NEGATION_PREFIX + "judge"):
        plain = kind[len(NEGATION_PREFIX) :]
        return f"{kind!r} does not exist: not- applies to deterministic evaluators only; " + (
            "say what must not happen in the rubric"
            if plain == "judge"
            else "return the opposite from the python function"
        )
    close = difflib.get_close_matches(kind, EVALUATOR_KINDS, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown evaluator {kind!r}{hint} (known: {', '.join(EVALUATOR_KINDS)})"


def build_evaluator(spec: EvaluatorSpec | Any, *, base_dir: Path) -> Evaluator:
    """Build the evaluator a config item describes.

    ``spec`` is read by duck typing (``kind``, ``args``, ``weight``, ``name``) so this
    function also takes look-alikes from tests. Raises ``ValueError`` with a
    one-line message saying what is wrong and what is expected.
    """
    kind = getattr(spec, "kind", None)
    if not isinstance(kind, str):
        raise ValueError(f"evaluator kind must be a string, got {kind!r}")
    args = getattr(spec, "args", None)
    name = getattr(spec, "name", None) or None
    weight = getattr(spec, "weight", 1.0)
    if weight is None:
        weight = 1.0
    if (
        isinstance(weight, bool)
        or not isinstance(weight, int | float)
        or not (math.isfinite(weight) and weight >= 0)
    ):
        raise ValueError(f"{kind}: weight must be a number >= 0, got {weight!r}")
    weight = float(weight)
    if kind not in EVALUATOR_KINDS:
        raise ValueError(unknown_kind_message(kind))
    if kind == "python":
        return build_python(args, base_dir=base_dir, name=name, weight=weight)
    if kind == "judge":
        return build_judge(args, name=name, weight=weight)
    if kind == HUMAN_KIND:
        return build_human(args, name=name, weight=weight)
    if kind == "tool-call":
        return build_tool_call(args, name=name, weight=weight)
    if kind == "tool-args":
        return build_tool_args(args, name=name, weight=weight)
    return build_deterministic(kind, args, base_dir=base_dir, name=name, weight=weight)
