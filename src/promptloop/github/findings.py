"""Every suite's findings placed for one head: inline on the prompt's changed lines where they
can be, in the summary where they cannot, and as annotations."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from promptloop.engine.results import RunResult
from promptloop.github.changes import first_changed_line, hunks_of
from promptloop.github.review import PlannedComment, evaluator_args_text, plan_findings, verdict_of
from promptloop.github.state import PullFiles
from promptloop.github.workflow import Annotation
from promptloop.project.loader import LoadedConfig


def plan_findings_of(
    loaded: LoadedConfig,
    result: RunResult,
    files: PullFiles | None,
    head_sha: str,
    to_repo: Callable[[Path], str | None],
    root: Path,
    more_url: str | None = None,
) -> tuple[list[PlannedComment], list[PlannedComment], list[Annotation]]:
    """(inline comments, findings for the summary, annotations) over every suite; ``more_url``
    is where a comment that leaves critiques out sends the reader for the rest."""
    level = "error" if verdict_of(result) == "fail" else "warning"
    inline: list[PlannedComment] = []
    unplaced: list[PlannedComment] = []
    annotations: list[Annotation] = []
    specs = {s.name: s for s in loaded.config.suites}
    for suite in result.suites:
        path = to_repo(Path(suite.prompt_path)) or suite.prompt_path
        pull_file = files.get(path) if files else None
        hunks = hunks_of(pull_file)
        args = evaluator_args_text(specs[suite.name].evaluators) if suite.name in specs else {}
        comments, anns = plan_findings(
            suite,
            path,
            read_text(root / path).splitlines(),
            {n for h in hunks for n in h.new_lines},
            first_changed_line(hunks),
            args,
            head_sha,
            level=level,
            more_url=more_url,
        )
        annotations += anns
        for c in comments:
            (inline if c.line is not None else unplaced).append(c)
    return inline, unplaced, annotations


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return ""
