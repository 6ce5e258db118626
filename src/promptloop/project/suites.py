"""A suite resolved against its files (``SuitePlan``), and what is said about its judges."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from promptloop.dataset.cases import Case
from promptloop.dataset.feedback import FeedbackRecord
from promptloop.evaluators.base import Evaluator, sees_prompt
from promptloop.evaluators.judge import JudgeEvaluator
from promptloop.models.base import EMBEDDED_MODEL
from promptloop.models.preflight import ModelUse
from promptloop.project.prompts import PromptTemplate


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
