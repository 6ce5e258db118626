"""What promptloop says on a pull request, computed without touching the network.

Each cluster of failures (``promptloop.github.clusters``) is pinned to the prompt line it most
likely concerns, and every comment body is rendered here. Everything that came from a model
or a dataset is neutralised before it lands in Markdown: prose goes through ``neutralize``,
verbatim text into fenced blocks whose fence is longer than any backtick run inside.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptloop.engine.results import RunResult, SuiteResult
from promptloop.errors import UserError
from promptloop.github.clusters import WORD, Cluster, Example, cluster_failures
from promptloop.github.markers import review_marker
from promptloop.github.state import ReviewComment
from promptloop.github.suggestions import Suggestion
from promptloop.github.workflow import Annotation
from promptloop.project.prompts import parse_prompt
from promptloop.project.tool_source import ToolLines
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

# Words that appear in almost every critique and prompt line, so they say nothing about where.
_STOPWORDS = frozenset(
    re.findall(
        r"[a-z]+",
        """a an the and or but of to in on for with without is are was were be been it its this that
    these those as at by from not no do does did has have had must should can could would will
    output answer response reply model prompt text case cases expected got than then there their
    they them which what when who why how into only also very more most less any all each one
    evaluator evaluators fails fail failed failing pass passed passes""",
    )
)


# --- attribution ---------------------------------------------------------------------------


def tokens(text: str) -> set[str]:
    words = WORD.findall(text.lower().replace("_", " ").replace("-", " "))
    return {w for w in words if w not in _STOPWORDS and (len(w) >= 3 or w.isdigit())}


def cluster_tokens(cluster: Cluster, evaluator_args: Mapping[str, str]) -> set[str]:
    parts = [cluster.cause, *cluster.evaluators, *cluster.critiques]
    parts.extend(evaluator_args.get(name, "") for name in cluster.evaluators)
    return set().union(*(tokens(p) for p in parts))


def best_line(
    wanted: set[str], lines: Sequence[str], allowed: Collection[int] | None = None
) -> int | None:
    """The 1-based line sharing the most words with ``wanted`` (earliest on ties), or None."""
    best: tuple[int, int] | None = None
    for number, text in enumerate(lines, start=1):
        if allowed is not None and number not in allowed:
            continue
        score = len(wanted & tokens(text))
        if score > 0 and (best is None or score > best[0]):
            best = (score, number)
    return best[1] if best else None


@dataclass(frozen=True)
class Placement:
    """Where a cluster's comment goes: a commentable line, or None (file-level / summary)."""

    line: int | None
    # The best line in the whole file, for check-run annotations (which need no diff).
    annotation_line: int
    how: str


_TOOL_KINDS = ("tool-call", "tool-args")
_BACKTICKED = re.compile(r"`([A-Za-z0-9_-]{1,64})`")


def cluster_tool(
    cluster: Cluster, tools: Sequence[ToolLines], evaluator_args: Mapping[str, str]
) -> ToolLines | None:
    """The tool a cluster of tool-evaluator failures is about: the declared tool its
    reasons name most (`name` in backticks, as the tool evaluators write them), the first
    named on a tie; else the tool its ``tool-args`` check is for."""
    args = [evaluator_args.get(name, "") for name in cluster.evaluators]
    if not tools or not any(text.startswith(_TOOL_KINDS) for text in args):
        return None
    by_name = {tool.name: tool for tool in tools}
    mentions: dict[str, int] = {}
    for text in (*cluster.critiques, *(said for said, _ in cluster.said)):
        for name in _BACKTICKED.findall(text):
            if name in by_name:
                mentions[name] = mentions.get(name, 0) + 1
    if mentions:
        return by_name[max(mentions, key=lambda name: mentions[name])]
    for text in args:
        named = re.search(r'"tool": "([^"]+)"', text)
        if text.startswith("tool-args") and named and named.group(1) in by_name:
            return by_name[named.group(1)]
    return None


def place_cluster(
    cluster: Cluster,
    lines: Sequence[str],
    commentable: Collection[int],
    first_changed: int | None,
    evaluator_args: Mapping[str, str],
    tools: Sequence[ToolLines] = (),
) -> Placement:
    """``tools`` are the prompt's tool description lines: a failure of a tool check lands
    on the description of the tool it names, where the guidance it lacks belongs, when
    that description is in the diff."""
    wanted = cluster_tokens(cluster, evaluator_args)
    anywhere = best_line(wanted, lines)
    annotation_line = anywhere or first_changed or 1
    if cluster.infrastructure:
        return Placement(None, annotation_line, "provider error")
    tool = cluster_tool(cluster, tools, evaluator_args)
    if tool is not None and tool.description is not None:
        start, end = tool.description
        inside = next((n for n in range(start, end + 1) if n in commentable), None)
        how = f"the description of tool {tool.name}"
        if inside is not None:
            return Placement(inside, start, how)
        annotation_line = start
    inside = best_line(wanted, lines, commentable) if commentable else None
    if inside is not None:
        return Placement(inside, annotation_line, "words shared with the critiques")
    if first_changed is not None:
        return Placement(first_changed, annotation_line, "first changed line")
    return Placement(None, annotation_line, "the prompt is not in this diff")


def evaluator_args_text(evaluators: Sequence[Any]) -> dict[str, str]:
    """label → its arguments as text (``EvaluatorSpec``-like objects, read by duck typing)."""
    out: dict[str, str] = {}
    for spec in evaluators:
        label = getattr(spec, "name", None) or getattr(spec, "kind", "")
        out[str(label)] = f"{getattr(spec, 'kind', '')} " + json.dumps(
            getattr(spec, "args", None), default=str, ensure_ascii=False
        )
    return out


# --- rendering -----------------------------------------------------------------------------


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
            notes += f"\ncritique: {neutralize(one_line(ex.critique, _CRITIQUE_LIMIT))}\n"
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
        lines.append(f"Flagged by {evaluators}. What the critiques say:")
        lines += _folded(said, cluster.count, limit, "critique", more_url)
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


# --- summary -------------------------------------------------------------------------------


def verdict_of(result: RunResult) -> str:
    return result.verdict.status if result.verdict else "inconclusive"


def advisory_only(result: RunResult, advisory: Collection[str]) -> bool:
    """Whether the run fails only through suites in advisory mode (reported, never gating)."""
    failing = {name for name, v in result.verdicts.items() if v.status == "fail"}
    return verdict_of(result) == "fail" and bool(failing) and failing <= set(advisory)


def advisory_note(result: RunResult, advisory: Collection[str]) -> str | None:
    """What the check says about the suites in advisory mode this run evaluated."""
    names = [s.name for s in result.suites if s.name in advisory]
    if not names:
        return None
    which = ", ".join(names)
    verb = "is" if len(names) == 1 else "are"
    return (
        f"Advisory: {which} {verb} reported and commented on, but never fail this check "
        "(gate: {mode: advisory})."
    )


def overall_pass_rate(result: RunResult) -> float | None:
    passed = failed = 0
    for suite in result.suites:
        p, f, _ = suite.counts
        passed, failed = passed + p, failed + f
    return passed / (passed + failed) if passed + failed else None


def overall_delta_pp(result: RunResult) -> float | None:
    """Case-weighted mean of the per-suite paired deltas (None without a baseline)."""
    num = den = 0.0
    for cmp in result.comparisons.values():
        weight = float(cmp.paired)
        if weight:
            num += weight * cmp.delta_pp
            den += weight
    return num / den if den else None
