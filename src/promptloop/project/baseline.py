"""The base side of a comparison: each suite's prompt as it was at a git ref."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from promptloop.errors import UserError
from promptloop.project.conversations import check_conversations
from promptloop.project.git import file_at, repo_root, resolve_ref
from promptloop.project.prompts import PromptTemplate
from promptloop.project.suites import SuitePlan


@dataclass(frozen=True)
class BaseVersion:
    plan: SuitePlan
    source: str
    template: PromptTemplate


@dataclass(frozen=True)
class Baseline:
    """The base prompts of the suites that changed since a ref, the suites left unchanged,
    and a line for each suite whose base cannot be compared (it is skipped)."""

    versions: list[BaseVersion]
    unchanged: list[str]
    notices: list[str]


NO_BASELINE = Baseline([], [], [])


def _parse_base_prompt(text: str, prompt: PromptTemplate, ref: str) -> PromptTemplate:
    """The prompt as it was at ``ref``. The real path picks the shape (its suffix says chat
    YAML or text); errors name the ref, since the file on disk is not the one that failed."""
    try:
        return prompt.with_source(text)
    except UserError as exc:
        raise UserError(
            f"{exc.message} (in the version at {ref})", path=exc.path, line=exc.line, key=exc.key
        ) from None


def read_baseline(config_root: Path, plans: Sequence[SuitePlan], ref: str) -> Baseline:
    root = repo_root(config_root)
    sha = resolve_ref(root, ref)
    versions: list[BaseVersion] = []
    unchanged: list[str] = []
    notices: list[str] = []
    for plan in plans:
        path = config_root / plan.prompt.path
        if not path.exists():
            path = Path.cwd() / plan.prompt.path
        old_file = file_at(root, sha, path)
        # A prompt inside a larger file (promptfooconfig.yaml) is compared as its own text.
        old = None if old_file is None else plan.prompt.version_in(old_file)
        if old is None:
            # A prompt new in this change has no baseline; its head run stands alone.
            continue
        if old == plan.prompt.source:
            unchanged.append(plan.name)
            continue
        template = _parse_base_prompt(old, plan.prompt, ref)
        lacking = sorted({v for case in plan.cases for v in template.variables - set(case.vars)})
        if lacking:
            # A change that renames a variable in the prompt and the dataset together: the
            # old prompt cannot render the new cases, so there is nothing fair to pair.
            names = ", ".join(f"'{v}'" for v in lacking)
            notices.append(
                f"{plan.name}: not compared with {ref}: the prompt there uses {names}, "
                "which the current cases lack; the head ran alone"
            )
            continue
        try:
            check_conversations(template, plan.cases)
        except UserError as exc:
            # Cases whose earlier turns call a tool the old prompt did not have yet.
            notices.append(
                f"{plan.name}: not compared with {ref}: {exc.message}; the head ran alone"
            )
            continue
        versions.append(BaseVersion(plan, old, template))
    return Baseline(versions, unchanged, notices)
