"""The desired state of a pull request for one head, as plain values: what promptloop wants
there after this run (review comments, the sticky summary, the check run, the revision's
delivery). Pure: built from the run's result, compared with GitHub by ``reconcile``."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from promptloop.engine.results import RunResult
from promptloop.github.diff import hunk_containing
from promptloop.github.markers import (
    CHECK,
    REVIEW,
    marker,
    parse_review_marker,
    review_marker,
    summary_marker,
)
from promptloop.github.review import PlannedComment
from promptloop.github.run_figures import overall_delta_pp, overall_pass_rate, verdict_status
from promptloop.github.state import PullFiles, ReviewComment
from promptloop.github.workflow import Annotation
from promptloop.report.figures import signed
from promptloop.safety import fingerprint

CHECK_NAME = "promptloop"
REVISION_BRANCH = "promptloop/pr-{number}"
_MARKER_LINE = re.compile(r"\n*<!-- promptloop:[^>]*-->\s*$")


@dataclass(frozen=True)
class ReviewPlan:
    number: int
    head_sha: str
    body: str
    comments: tuple[PlannedComment, ...]
    # How an earlier review, and its comments, say that this head replaced them.
    superseded_by: str


@dataclass(frozen=True)
class SummaryPlan:
    number: int
    head_sha: str
    content: str
    body: str


@dataclass(frozen=True)
class CheckRunPlan:
    head_sha: str
    name: str
    conclusion: str
    title: str
    summary: str
    content: str
    annotations: tuple[Annotation, ...] = ()
    details_url: str | None = None


@dataclass(frozen=True)
class AwaitingCheck:
    """The check run a commit promptloop pushed gets: no workflow evaluates a commit pushed
    with the workflow's token, so a required check would wait for it forever. Completed
    ``action_required`` (it still blocks: nothing evaluated that commit as a whole), saying
    why; a later run on that commit rewrites it into its verdict."""

    title: str
    summary: str
    details_url: str | None = None

    def on(self, head_sha: str) -> CheckRunPlan:
        return check_run_plan(
            head_sha,
            "action_required",
            self.title,
            self.summary,
            content_fingerprint(head_sha, self.summary),
            details_url=self.details_url,
        )


@dataclass(frozen=True)
class CommitPlan:
    """The revision committed onto the pull request's own branch."""

    suite: str
    path: str
    branch: str
    base_ref: str
    text: str
    message: str
    # The blob of ``path`` at the head the revision was learned on.
    expected_blob: str


@dataclass(frozen=True)
class RevisionPullPlan:
    """The revision on promptloop's own branch, offered as a pull request into the head."""

    suite: str
    path: str
    number: int
    branch: str
    into: str
    base_ref: str
    head_sha: str
    text: str
    title: str
    body: str


def comment_problem(comment: ReviewComment, files: PullFiles) -> str | None:
    """Why GitHub would reject ``comment`` (its own wording), or None if it will be accepted."""
    pull_file = files.get(comment.path)
    if pull_file is None:
        return "Pull request review thread path is invalid"
    end = hunk_containing(pull_file.hunks, comment.line)
    if end is None:
        return "Pull request review thread line must be part of the diff"
    start = comment.start_line
    if start is not None and start != comment.line:
        if start > comment.line:
            return "Pull request review thread start line must precede the end line."
        if not end.contains(start):
            return (
                "Pull request review thread start line must be part of the same hunk as the line."
            )
    return None


def split_anchorable(
    comments: Sequence[ReviewComment], files: PullFiles
) -> tuple[list[ReviewComment], list[tuple[ReviewComment, str]]]:
    """(the comments GitHub will anchor on the diff, the others with why not): the others
    go into the review's body instead, so a review is never refused over one line."""
    ok: list[ReviewComment] = []
    bad: list[tuple[ReviewComment, str]] = []
    for c in comments:
        problem = comment_problem(c, files)
        if problem is None:
            ok.append(c)
        else:
            bad.append((c, problem))
    return ok, bad


def strip_marker(body: str) -> str:
    return _MARKER_LINE.sub("", body)


def merge_same_line(comments: Sequence[PlannedComment]) -> list[PlannedComment]:
    """One comment per prompt line: findings anchored on the same line (a judge's critique
    and a deterministic check about the same words, say) become one comment, and a
    suggestion carries the findings on the lines it rewrites instead of standing beside them.
    Fingerprints are derived from the parts, so the merged comment is as stable as they are."""
    suggestions = [c for c in comments if c.kind == "suggestion" and c.line is not None]
    merged: list[PlannedComment] = []
    absorbed: dict[int, list[PlannedComment]] = {}
    by_line: dict[tuple[str, int], list[PlannedComment]] = {}
    for c in comments:
        if c.kind == "suggestion" or c.line is None:
            continue
        host = next(
            (
                i
                for i, s in enumerate(suggestions)
                if s.path == c.path
                and s.line is not None
                and (s.start_line or s.line) <= c.line <= s.line
            ),
            None,
        )
        if host is not None:
            absorbed.setdefault(host, []).append(c)
        else:
            by_line.setdefault((c.path, c.line), []).append(c)
    for index, s in enumerate(suggestions):
        merged.append(_combine([s, *absorbed.get(index, [])]))
    for group in by_line.values():
        merged.append(_combine(group))
    merged.extend(c for c in comments if c.line is None)
    return merged


def _combine(parts: Sequence[PlannedComment]) -> PlannedComment:
    if len(parts) == 1:
        return parts[0]
    head = parts[0]
    fp = fingerprint("merged", *sorted(p.fingerprint for p in parts))
    found = parse_review_marker(head.body)
    head_sha = found[1] if found else ""
    body = "\n\n---\n\n".join(strip_marker(p.body) for p in parts)
    if head_sha:
        body = f"{body}\n\n{review_marker(fp, head_sha)}"
    return replace(head, fingerprint=fp, body=body)


def review_plan(
    number: int, head_sha: str, body: str, comments: Sequence[PlannedComment], superseded_by: str
) -> ReviewPlan:
    inline = tuple(c for c in merge_same_line(comments) if c.line is not None)
    return ReviewPlan(
        number,
        head_sha,
        f"{body.rstrip()}\n\n{marker(REVIEW, head=head_sha)}",
        inline,
        superseded_by,
    )


def summary_plan(number: int, head_sha: str, content: str, body: str) -> SummaryPlan:
    return SummaryPlan(
        number, head_sha, content, f"{body.rstrip()}\n\n{summary_marker(content, head_sha)}"
    )


def check_run_plan(
    head_sha: str,
    conclusion: str,
    title: str,
    summary: str,
    content: str,
    annotations: Sequence[Annotation] = (),
    details_url: str | None = None,
) -> CheckRunPlan:
    return CheckRunPlan(
        head_sha,
        CHECK_NAME,
        conclusion,
        title,
        f"{summary.rstrip()}\n\n{marker(CHECK, content=content)}",
        content,
        tuple(annotations),
        details_url,
    )


def content_fingerprint(head_sha: str, report: str) -> str:
    """What a report says about a head, ignoring its timing line (``<sub>…</sub>``) and the
    links of this particular run: a re-run of the same head that reaches the same findings
    leaves GitHub untouched."""
    stable = "\n".join(line for line in report.splitlines() if not line.startswith("<sub>"))
    return hashlib.sha256(f"{head_sha}\n{stable}".encode()).hexdigest()[:16]


def check_title(result: RunResult) -> str:
    verdict = verdict_status(result)
    rate = overall_pass_rate(result)
    delta = overall_delta_pp(result)
    parts = [f"promptloop: {verdict.upper()}"]
    if rate is not None:
        parts.append(f"{100 * rate:.1f}% pass")
    if delta is not None:
        parts.append(f"{signed(delta)} pp vs base")
    return " · ".join(parts)
