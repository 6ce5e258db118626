"""The words of a review: each cluster of failures (``promptloop.github.clusters``) and each
learned revision as a comment body, and the review's own body. Where a comment goes is
``github.placement``'s choice.

Everything that came from a model or a dataset is neutralised before it lands in Markdown:
prose goes through ``neutralize``, verbatim text into fenced blocks whose fence is longer than
any backtick run inside.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptloop.github.clusters import Cluster, Example
from promptloop.github.markers import review_marker
from promptloop.github.placement import Placement
from promptloop.github.state import ReviewComment
from promptloop.github.suggestions import Suggestion
from promptloop.report.headline import ICONS
from promptloop.safety import (
    code_block,
    fingerprint,
    inline_code,
    neutralize,
)
from promptloop.wording import one_line, plural

_CRITIQUE_LIMIT = 600
_VERBATIM_LIMIT = 1200


def _verbatim(text: str | None, info: str = "text", limit: int = _VERBATIM_LIMIT) -> str:
    if text is None:
        return "_(no output)_"
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return code_block(text, info)


def _inputs_text(inputs: Mapping[str, Any]) -> str:
    flat = json.dumps(dict(inputs), ensure_ascii=False, default=str)
    if len(flat) <= 100:
        return flat
    return json.dumps(dict(inputs), ensure_ascii=False, indent=2, default=str)


def render_examples(
    examples: Sequence[Example], said: Collection[str] = (), fixes: Collection[str] = ()
) -> str:
    """Each example's input and output; its critique and fix only when the comment does not
    already list them (``said``, ``fixes``)."""
    parts = []
    for ex in examples:
        where = f" ({inline_code(ex.source)})" if ex.source else ""
        notes = ""
        if ex.critique not in said:
            notes += f"\nreason: {neutralize(one_line(ex.critique, _CRITIQUE_LIMIT))}\n"
        if ex.fix and ex.fix not in fixes:
            notes += f"\nsuggested fix: {neutralize(one_line(ex.fix, _CRITIQUE_LIMIT))}\n"
        # A code block: a turn cannot ping anyone, render HTML or pass for a marker there.
        turns = f"earlier turns:\n\n{_verbatim(ex.history)}\n\n" if ex.history else ""
        parts.append(
            f"**{inline_code(ex.label)}**{where}\n\n"
            f"input:\n\n{_verbatim(_inputs_text(ex.inputs), 'json')}\n\n"
            f"{turns}output:\n\n{_verbatim(ex.output)}\n{notes}"
        )
    return "\n".join(parts)


def cluster_fingerprint(path: str, cluster: Cluster) -> str:
    return fingerprint("cluster", path, cluster.suite, cluster.cause)


SHOWN_CRITIQUES = 4
SHOWN_FIXES = 3


def _folded(
    items: Sequence[tuple[str, int]], of: int, limit: int | None, noun: str, more_url: str | None
) -> list[str]:
    """One bullet per distinct text, with how many of the ``of`` failing cases said it."""
    shown = items if limit is None else items[:limit]
    lines = []
    for i, (text, count) in enumerate(shown):
        who = f"{count} of {plural(of, 'failing case')}" if i == 0 else f"{count} of {of}"
        lines.append(f"- **{who}:** {neutralize(one_line(text, 300))}")
    left = items[len(shown) :]
    if left:
        cases = sum(count for _, count in left)
        where = f"[the job summary]({more_url})" if more_url else "the job summary"
        lines.append(
            f"- … {plural(len(left), f'other {noun}')} ({plural(cases, 'case')}) in {where}"
        )
    return lines


def render_cluster(
    cluster: Cluster,
    *,
    heading_level: str = "",
    more_url: str | None = None,
    limit: int | None = SHOWN_CRITIQUES,
    examples: bool = True,
) -> str:
    """The human part of a finding (no marker), used inline, in the summary and the check.

    ``limit`` caps the distinct critiques shown (None: all, for the job summary, which is
    where ``more_url`` leads)."""
    pct = f"{100 * cluster.share:.0f}%"
    evaluators = ", ".join(inline_code(e) for e in cluster.evaluators)
    title = (
        f"{heading_level}**promptloop · {inline_code(cluster.suite)}: "
        f"{inline_code(cluster.cause)}** — {cluster.count} of "
        f"{plural(cluster.total_cases, 'case')} ({pct})"
    )
    lines = [title, ""]
    said = cluster.said or tuple((c, 1) for c in cluster.critiques)
    if cluster.infrastructure:
        said = ()
        lines.append(
            "The model provider failed on these cases, so they say nothing about this prompt; "
            "the gate treats them as the config's `gate.on_error` says."
        )
    else:
        # Neutral: a deterministic check (`equals`, `contains`) gives a reason, not a
        # judge's critique, and one cause can hold both kinds.
        lines.append(f"Flagged by {evaluators}. Why these cases failed:")
        lines += _folded(said, cluster.count, limit, "reason", more_url)
        if cluster.fixes:
            fix_limit = None if limit is None else SHOWN_FIXES
            lines += ["", "Suggested fixes:"]
            lines += _folded(cluster.fixes, cluster.count, fix_limit, "fix", more_url)
    if examples and cluster.examples:
        n = len(cluster.examples)
        lines += [
            "",
            f"<details><summary>{plural(n, 'example')}</summary>",
            "",
            render_examples(
                cluster.examples,
                {text for text, _ in said[:limit]},
                {text for text, _ in cluster.fixes[: None if limit is None else SHOWN_FIXES]},
            ),
            "</details>",
        ]
    return "\n".join(lines)


def _leaves_out(cluster: Cluster) -> bool:
    return len(cluster.said) > SHOWN_CRITIQUES or len(cluster.fixes) > SHOWN_FIXES


@dataclass(frozen=True)
class PlannedComment:
    """A review comment to post (``line`` set) or a finding for the summary (``line`` None)."""

    path: str
    fingerprint: str
    body: str
    line: int | None
    start_line: int | None = None
    kind: str = "finding"
    # Every critique, when ``body`` leaves some out: the job summary shows it.
    complete: str = ""


def finding_comment(
    cluster: Cluster,
    path: str,
    placement: Placement,
    head_sha: str,
    *,
    more_url: str | None = None,
) -> PlannedComment:
    fp = cluster_fingerprint(path, cluster)
    body = f"{render_cluster(cluster, more_url=more_url)}\n\n{review_marker(fp, head_sha)}"
    complete = render_cluster(cluster, limit=None, examples=False) if _leaves_out(cluster) else ""
    return PlannedComment(path, fp, body, placement.line, complete=complete)


def suggestion_comment(
    path: str, suggestion: Suggestion, head_sha: str, why: str, suite: str
) -> PlannedComment:
    change = suggestion.change
    key = "" if change is None else "\n".join(change.new_lines)
    fp = fingerprint(
        "suggestion", path, suite, str(suggestion.start_line), str(suggestion.line), key
    )
    body = (
        f"**promptloop suggests** a revision learned from the critiques of "
        f"{inline_code(suite)}. {why}\n\n{suggestion.body}\n\n{review_marker(fp, head_sha)}"
    )
    return PlannedComment(path, fp, body, suggestion.line, suggestion.start_line, "suggestion")


def with_unanchored(body: str, moved: Sequence[tuple[ReviewComment, str]]) -> str:
    """The review's body carrying the comments GitHub would not anchor, each under where it
    belonged and why it is here: no content is ever dropped."""
    full = body.strip() or "promptloop review"
    for comment, reason in moved:
        where = f"line {comment.line}"
        if comment.start_line is not None and comment.start_line != comment.line:
            where = f"lines {comment.start_line}–{comment.line}"
        full += (
            f"\n\n---\n**{inline_code(comment.path)} {where}** "
            f"(could not be placed inline: {reason})\n\n{comment.body}"
        )
    return full


def review_body(verdict: str, inline: int, summary_hint: str) -> str:
    return (
        f"**promptloop {ICONS.get(verdict, '')} {verdict.upper()}**: {plural(inline, 'comment')} "
        f"on the prompt lines the failures concern. {summary_hint}"
    )
