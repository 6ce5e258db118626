"""A suite resolved against its files (``SuitePlan``), and what is said about its judges."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from promptloop.dataset.cases import Case
from promptloop.dataset.feedback import FeedbackRecord
from promptloop.evaluators.base import Evaluator, sees_prompt
from promptloop.evaluators.judge import JudgeEvaluator
from promptloop.models.base import EMBEDDED_MODEL
from promptloop.models.preflight import ModelUse
from promptloop.project.prompts import PromptTemplate


@dataclass(frozen=True)
class CaseChecks:
    """The evaluators written with one case alone (a promptfoo test's ``assert:``) and the
    score that case needs: ``None`` means every evaluator must pass; a number, that the
    weighted score of all its evaluators (the suite's too) must reach it."""

    evaluators: tuple[Evaluator, ...] = ()
    threshold: float | None = None
    # Text this case puts before and after the prompt (promptfoo's ``options.prefix`` and
    # ``suffix``), rendered with the prompt, as part of it.
    prefix: str = ""
    suffix: str = ""


@dataclass(frozen=True)
class SuitePlan:
    """A suite resolved against its files: ready to run."""

    name: str
    prompt: PromptTemplate
    cases: tuple[Case, ...]
    evaluators: tuple[Evaluator, ...]
    model: str
    temperature: float
    max_tokens: int | None
    case_threshold: float = 1.0
    threshold: float | None = None
    # The reviewers' verdicts from the suite's feedback file, read once.
    feedback: tuple[FeedbackRecord, ...] = ()
    # Where ``model`` was chosen (None: built in Python, e.g. by a test).
    model_use: ModelUse | None = None
    # Each case's own evaluators, by case id. They live beside the cases, not in them,
    # because ``dataset`` sits below ``evaluators``; a case whose id names its checks
    # (the promptfoo loader hashes them into it) keeps the cache and the verdicts apart.
    case_checks: Mapping[str, CaseChecks] = field(default_factory=dict)
    # The JSON Schema every answer must follow (sent as the request's response_format).
    json_schema: dict[str, Any] | None = None

    def prompt_for(self, template: PromptTemplate, case: Case) -> PromptTemplate:
        """``template`` as ``case`` is sent it: with the case's prefix and suffix, if any."""
        own = self.case_checks.get(case.id)
        if own is None or not (own.prefix or own.suffix):
            return template
        return template.affixed(own.prefix, own.suffix)

    def evaluators_for(self, case: Case) -> tuple[tuple[Evaluator, ...], float]:
        """The evaluators that grade ``case`` (the suite's, then its own) and the weighted
        score it needs (1.0: every evaluator passes)."""
        own = self.case_checks.get(case.id)
        if own is None:
            return self.evaluators, self.case_threshold
        threshold = self.case_threshold if own.threshold is None else own.threshold
        return (*self.evaluators, *own.evaluators), threshold


def judge_notices(plans: Sequence[SuitePlan], judge_model: str) -> list[str]:
    """What the reader of a verdict should know about its judges: one that grades its own
    answers, and one shown the prompt under test."""
    notices: list[str] = []
    own = sorted(
        {
            plan.name
            for plan in plans
            for e in plan.evaluators
            if isinstance(e, JudgeEvaluator)
            and (e.args.model or judge_model) == plan.model
            # The embedded model is the free smoke test: there is no other to judge with.
            and plan.model != EMBEDDED_MODEL
        }
    )
    if own:
        notices.append(
            f"the judge is the model under test in {', '.join(own)}: a model tends to "
            "prefer its own answers, so set judge_model to another model for a fairer grade"
        )
    shown = sorted({p.name for p in plans if any(sees_prompt(e) for e in p.evaluators)})
    if shown:
        notices.append(
            f"the judge is shown the prompt under test (show_prompt) in {', '.join(shown)}: "
            "an answer that did not change may be judged differently on base and head"
        )
    return notices


def unchecked_notices(plans: Sequence[SuitePlan]) -> list[str]:
    """A suite no evaluator grades passes every case whatever the model answers: said, so a
    forgotten ``evaluators:`` (or a conversion that carried no assertion) is not a pass."""
    bare = [
        plan.name
        for plan in plans
        if not plan.evaluators and not any(c.evaluators for c in plan.case_checks.values())
    ]
    if not bare:
        return []
    return [
        f"no evaluator grades the cases of {', '.join(bare)}, so every case passes whatever "
        "the model answers; add evaluators to grade them"
    ]
