"""Where a finding is placed: the prompt line a cluster of failures (``github.clusters``) most
likely concerns, found by the words its critiques share with the prompt's lines, or the
description of the tool it names. Pure: the review's words are in ``github.review``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptloop.github.clusters import WORD, Cluster
from promptloop.project.tool_source import ToolLines

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
