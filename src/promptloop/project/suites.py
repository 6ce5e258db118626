"""A suite resolved against its files (``SuitePlan``), and what is said about suites."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from promptloop.dataset.cases import Case
from promptloop.dataset.feedback import FeedbackRecord
from promptloop.dataset.splits import parse_shard, select_shard
from promptloop.errors import UserError
from promptloop.evaluators.base import Evaluator, sees_prompt
from promptloop.evaluators.judge import JudgeEvaluator
from promptloop.evaluators.templating import template_vars, used_variables
from promptloop.models.base import EMBEDDED_MODEL
from promptloop.models.preflight import ModelUse
from promptloop.project.config import Config, SuiteConfig
from promptloop.project.prompts import PromptTemplate
from promptloop.yamlpos import format_loc, suggest


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


def relative_display(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            return str(path)


def evaluator_variables(suite: SuiteConfig) -> set[str]:
    """Variables that evaluator arguments mention, e.g. ``equals: "{{ label }}"``."""
    return set().union(*(used_variables(spec.args) for spec in suite.evaluators))


def check_evaluator_variables(
    config: Config, path: str, suite_index: int, cases: Sequence[Case]
) -> None:
    """An evaluator template reading a variable no case has would fail every case at run
    time, after its model calls: refuse it now, like an undefined prompt variable."""
    available = set().union(*(template_vars(case) for case in cases)) if cases else set()
    suite = config.suites[suite_index]
    for e_index, spec in enumerate(suite.evaluators):
        unknown = sorted(used_variables(spec.args) - available)
        if not unknown:
            continue
        loc = ("suites", suite_index, "evaluators", e_index, spec.kind)
        raise UserError(
            f"undefined variable '{unknown[0]}'{suggest(unknown[0], available)}",
            path=path,
            line=config.line_of(loc) or config.line_of(loc[:-1]),
            key=format_loc(loc),
        )


def shard_cases(cases: Sequence[Case], shard_text: str | None) -> list[Case]:
    """``--shard 2/4``: the cases of shard 2 of 4, chosen by case id."""
    if shard_text is None:
        return list(cases)
    index, count = parse_shard(shard_text)
    return select_shard(cases, index, count)
