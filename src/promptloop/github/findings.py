"""Every suite's findings placed for one head: its failures clustered, each cluster worded as
a comment, inline on the prompt's changed lines where it can be, in the summary where it
cannot, and as annotations."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path

from promptloop.engine.results import RunResult, SuiteResult
from promptloop.errors import UserError
from promptloop.github.changes import first_changed_line, hunks_of
from promptloop.github.clusters import cluster_failures
from promptloop.github.placement import evaluator_args_text, place_cluster
from promptloop.github.review import PlannedComment, finding_comment
from promptloop.github.run_figures import verdict_status
from promptloop.github.state import PullFiles
from promptloop.github.workflow import Annotation
from promptloop.project.loaded import LoadedConfig
from promptloop.project.prompts import parse_prompt
from promptloop.wording import one_line


def plan_findings(
    suite: SuiteResult,
    path: str,
    lines: Sequence[str],
    commentable: Collection[int],
    first_changed: int | None,
    evaluator_args: Mapping[str, str],
    head_sha: str,
    *,
    level: str = "warning",
    more_url: str | None = None,
) -> tuple[list[PlannedComment], list[Annotation]]:
    """Comments (inline when a line is commentable) and annotations for one suite's failures;
    ``more_url`` is the job summary, where what a comment leaves out is listed."""
    comments: list[PlannedComment] = []
    annotations: list[Annotation] = []
    try:
        tools = parse_prompt("\n".join(lines) + "\n", path).tool_lines
    except UserError:
        # A head that does not parse has failed already; its comments go where words lead.
        tools = ()
    for cluster in cluster_failures(suite):
        placement = place_cluster(cluster, lines, commentable, first_changed, evaluator_args, tools)
        comments.append(finding_comment(cluster, path, placement, head_sha, more_url=more_url))
        example = cluster.critiques[0] if cluster.critiques else ""
        annotations.append(
            Annotation(
                level="warning" if cluster.infrastructure else level,  # type: ignore[arg-type]
                message=one_line(
                    f"{cluster.count} of {cluster.total_cases} cases fail for this cause. "
                    f"e.g. {example}",
                    900,
                ),
                path=path,
                line=placement.annotation_line,
                title=f"{cluster.suite}: {cluster.cause}",
                priority=float(cluster.count),
            )
        )
    return comments, annotations


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
    level = "error" if verdict_status(result) == "fail" else "warning"
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
