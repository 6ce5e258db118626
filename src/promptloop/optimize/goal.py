"""The suite's goal in words, which every round's meta-prompt states: what the suite's
evaluators check and what single cases are checked for."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence

from promptloop.evaluators.base import Evaluator
from promptloop.evaluators.specs import EvaluatorSpec
from promptloop.wording import plural

GOAL_CHARS = 400
CASE_CHECK_LINES = 12


def describe_goal(
    specs: Sequence[EvaluatorSpec], case_checks: Sequence[Sequence[Evaluator]] = ()
) -> str:
    """The suite's goal in words: what each evaluator checks, and what single cases are
    checked for (a promptfoo test's ``assert:``; pass only the cases the optimizer learns
    from, so held-out answers stay held out). It does not change when the prompt does, so
    every round is steered towards it instead of after its own echoes."""
    lines = _suite_goal(specs)
    own = Counter(
        " ".join(str(getattr(e, "description", "") or e.name).split())[:GOAL_CHARS]
        for checks in case_checks
        for e in checks
    )
    if own:
        lines.append(
            f"- each case's own checks ({plural(len(case_checks), 'case')} to learn from):"
        )
        for text, count in own.most_common(CASE_CHECK_LINES):
            lines.append(f"    - {text}" + (f" ({count} cases)" if count > 1 else ""))
        if len(own) > CASE_CHECK_LINES:
            lines.append(f"    - and {plural(len(own) - CASE_CHECK_LINES, 'other check')}")
    return "\n".join(lines)


def _suite_goal(specs: Sequence[EvaluatorSpec]) -> list[str]:
    lines = []
    for spec in specs:
        args = spec.args
        if spec.kind == "judge":
            rubric = args if isinstance(args, str) else dict(args or {}).get("rubric", "")
            rubric = " ".join(str(rubric).split())[:GOAL_CHARS]
            lines.append(f"- {spec.label}: a reviewer grades every answer against: {rubric}")
        elif args is None:
            lines.append(f"- {spec.label}: every answer must pass the `{spec.kind}` check")
        else:
            shown = json.dumps(args, ensure_ascii=False, default=str)[:GOAL_CHARS]
            lines.append(
                f"- {spec.label}: `{spec.kind}` {shown} ({{{{ … }}}} is filled in from each case)"
            )
    return lines
