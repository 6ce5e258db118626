"""The ``human`` kind: a reviewer's verdict on the output (see ``evaluators.human``)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import model_validator

from promptloop.evaluators.human import HUMAN_KIND, HumanEvaluator
from promptloop.evaluators.kind import BuildContext, EvaluatorKind, argument_error


class Human(EvaluatorKind):
    """Reviewers' verdicts from the suite's feedback file decide the outputs they judged."""

    kind: ClassVar[str] = HUMAN_KIND
    short_forms: ClassVar[tuple[dict[str, Any], ...]] = ({"type": "null"},)

    @model_validator(mode="before")
    @classmethod
    def _no_arguments(cls, data: Any) -> Any:
        # The feedback file is the suite's ``feedback:``, bound when the project is loaded.
        if data is not None:
            raise argument_error(
                f"takes no arguments (the feedback file is the suite's `feedback:`), got {data!r}"
            )
        return {}

    def build(self, context: BuildContext) -> HumanEvaluator:
        return HumanEvaluator(name=context.label(self.kind), weight=context.weight)
