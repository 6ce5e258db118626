"""What the deterministic checks share: a ``Finding`` per output, the ``not-`` forms and
the one evaluator that runs any check. The checks themselves live in ``kinds/`` by family
(``text``, ``structured``, ``length``).

Each check reports a ``Finding``: whether its condition holds, with one reason worded
for the plain kind and one for the negated kind, because "output does not contain
"refund"" is a failure for ``contains`` and the explanation of a pass for
``not-contains`` — a negated reason must never read as the opposite of the verdict.

String arguments are templates (see ``templating``), rendered per case.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Protocol

from pydantic import BeforeValidator, WithJsonSchema

from promptloop.dataset.cases import Case
from promptloop.evaluators.base import EvalContext, EvalResult, TemplateRenderError
from promptloop.evaluators.kind import BuildContext, EvaluatorKind, argument_error
from promptloop.watchdog import TimeLimitExceeded


@dataclass(frozen=True)
class Finding:
    holds: bool
    # Reason shown for the plain kind (``contains``) and for the negated one (``not-contains``).
    reason: str
    negated_reason: str


class OutputCheck(Protocol):
    def run(self, output: str, case: Case) -> Finding: ...


# Not frozen: the ``Evaluator`` protocol declares name and weight as plain attributes.
@dataclass
class DeterministicEvaluator:
    """One check, possibly negated; scores 1.0 or 0.0."""

    name: str
    check: OutputCheck
    negate: bool = False
    weight: float = 1.0

    async def evaluate(self, output: str, case: Case, ctx: EvalContext) -> EvalResult:
        return self.evaluate_sync(output, case)

    def evaluate_sync(self, output: str, case: Case) -> EvalResult:
        try:
            finding = self.check.run(output, case)
        except (TemplateRenderError, TimeLimitExceeded) as exc:
            return EvalResult(
                evaluator=self.name,
                passed=False,
                score=0.0,
                reason=f"{self.name} could not be evaluated: {exc}",
                error=str(exc),
                weight=self.weight,
            )
        passed = finding.holds != self.negate
        return EvalResult(
            evaluator=self.name,
            passed=passed,
            score=1.0 if passed else 0.0,
            reason=finding.negated_reason if self.negate else finding.reason,
            weight=self.weight,
        )


class CheckKind(EvaluatorKind):
    """A deterministic kind: its arguments make an ``OutputCheck``; ``not-<kind>`` negates it."""

    negatable: ClassVar[bool] = True

    def check(self, context: BuildContext) -> OutputCheck:
        raise NotImplementedError

    def build(self, context: BuildContext) -> DeterministicEvaluator:
        return DeterministicEvaluator(
            context.label(context.written),
            self.check(context),
            negate=context.negate,
            weight=context.weight,
        )


def _text(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        raise argument_error(f"value must be a string, got {value!r} (quote it in YAML)")
    if isinstance(value, int | float):
        return str(value)
    if not isinstance(value, str):
        raise argument_error(f"value must be a string, got {type(value).__name__}")
    return value


# A string argument; a YAML number reads as its text (``equals: 42``).
Text = Annotated[str, BeforeValidator(_text), WithJsonSchema({"type": ["string", "number"]})]
