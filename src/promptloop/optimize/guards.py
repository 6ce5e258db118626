"""Checks a candidate prompt must pass before it is even scored.

Each guard is pure and returns a rejection reason a person can read, or None.
They encode the known failure modes of reflective optimizers: lost template
variables, dropped output-format instructions, prompts that keep growing,
truncated replies adopted as prompts, and training data copied into the prompt.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence

from promptloop.dataset.cases import Case
from promptloop.errors import UserError
from promptloop.models.base import ModelResponse
from promptloop.optimize.packing import estimate_tokens
from promptloop.project.prompt_tools import ToolSpec
from promptloop.project.prompts import parse_prompt, template_variables

# A line of the seed that mentions one of these is taken to be an output-format instruction.
_FORMAT_LINE = re.compile(
    r"\b(format|formatted|json|yaml|xml|csv|markdown|respond with|reply with|answer with"
    r"|output|only)\b",
    re.IGNORECASE,
)
_FORMAT_WORDS = ("json", "yaml", "xml", "csv", "markdown")
_PHRASES = ("respond with", "reply with", "answer with", "output", "only", "format")
_LITERAL = re.compile(r"`([^`\n]+)`|\"([^\"\n]+)\"|'([^'\n]{2,})'")
_WORD = re.compile(r"\w+")
# A tool description this short may still grow to a useful sentence or two.
_SHORT_DESCRIPTION = 100


def split_front_matter(text: str) -> tuple[str, str]:
    """``(front_matter_including_fences, body)``; front matter is a leading
    ``---`` … ``---`` block, kept verbatim because it configures, not instructs."""
    if not text.startswith("---"):
        return "", text
    lines = text.splitlines(keepends=True)
    if lines[0].rstrip() != "---":
        return "", text
    for index in range(1, len(lines)):
        if lines[index].rstrip() in ("---", "..."):
            return "".join(lines[: index + 1]), "".join(lines[index + 1 :])
    return "", text


def check_reply(response: ModelResponse, closing_marker: str) -> str | None:
    """Empty, cut-off and marker-less replies are never adopted as prompts."""
    if not response.text.strip():
        return "the optimizer returned an empty reply"
    if response.finish_reason == "length":
        return "the optimizer reply was truncated at its token limit (finish_reason=length)"
    if closing_marker not in response.text:
        return (
            f"the optimizer reply has no closing {closing_marker} marker (truncated or unparseable)"
        )
    return None


def check_kept_variables(seed: str, candidate: str, path: str = "prompt.md") -> str | None:
    """Parsed exactly as the runner parses prompt files (``path`` picks Markdown or
    YAML chat), so a candidate that would not load is rejected here too."""
    try:
        before = template_variables(seed, path)
    except UserError as exc:
        return f"the seed prompt does not parse: {exc.message}"
    try:
        after = template_variables(candidate, path)
    except UserError as exc:
        return f"the candidate does not parse as a prompt file: {exc.message}"
    missing = sorted(before - after)
    added = sorted(after - before)
    if not missing and not added:
        return None
    parts = []
    if missing:
        parts.append("drops " + ", ".join(f"{{{{ {name} }}}}" for name in missing))
    if added:
        parts.append("adds " + ", ".join(f"{{{{ {name} }}}}" for name in added))
    return "template variables changed: candidate " + " and ".join(parts)


def _tool_changes(before: ToolSpec, after: ToolSpec, max_ratio: float) -> list[str]:
    """What changed in one tool besides its description, and a description grown too long."""
    name = f"`{before.function.name}`"
    parts = []
    if before.function.parameters != after.function.parameters:
        parts.append(f"changes the parameters of {name}")
    if before.function.strict != after.function.strict:
        parts.append(f"changes `strict` of {name}")
    old, new = before.function.description or "", after.function.description or ""
    if before.function.description is not None and after.function.description is None:
        parts.append(f"drops the description of {name}")
    limit = max_ratio * max(len(old), _SHORT_DESCRIPTION)
    if len(new) > limit:
        parts.append(
            f"makes the description of {name} too long ({len(new)} characters, over "
            f"{max_ratio:g}× the seed's {len(old)})"
        )
    return parts


def check_tools(
    seed: str, candidate: str, path: str = "prompt.md", max_ratio: float = 2.0
) -> str | None:
    """A candidate may reword a tool's description, never change what the tools are: their
    names, parameter schemas and ``strict`` are what the code behind them accepts, and
    tool_choice is configuration. (Run after ``check_kept_variables``, which rejects a file that
    will not parse.)"""
    try:
        before = parse_prompt(seed, path).settings
        after = parse_prompt(candidate, path).settings
    except UserError:
        return None
    old = {tool.function.name: tool for tool in before.tools}
    new = {tool.function.name: tool for tool in after.tools}
    parts = []
    if missing := [name for name in old if name not in new]:
        parts.append("drops or renames " + ", ".join(f"`{name}`" for name in missing))
    if added := [name for name in new if name not in old]:
        parts.append("adds " + ", ".join(f"`{name}`" for name in added))
    for name in old:
        if name in new:
            parts += _tool_changes(old[name], new[name], max_ratio)
    if before.tool_choice != after.tool_choice:
        parts.append("changes tool_choice")
    if not parts:
        return None
    return "tools changed: candidate " + " and ".join(parts)


def format_instruction_lines(text: str) -> list[str]:
    """Lines of the prompt body that look like output-format instructions."""
    _, body = split_front_matter(text)
    return [line.strip() for line in body.splitlines() if _FORMAT_LINE.search(line)]


def format_anchors(line: str) -> list[str]:
    """What must survive of one format line.

    Heuristic: quoted or backticked literals (labels, JSON keys, exact phrases) must
    reappear verbatim; named formats (JSON, YAML, …) must still be named; a line with
    neither must keep its instruction keyword ("respond with", "output", "only", …).
    Rewording is allowed, forgetting the instruction is not.
    """
    anchors = [next(g for g in m.groups() if g) for m in _LITERAL.finditer(line)]
    lowered = line.lower()
    anchors += [w for w in _FORMAT_WORDS if re.search(rf"\b{w}\b", lowered)]
    if not anchors:
        anchors += [p for p in _PHRASES if re.search(rf"\b{p}\b", lowered)][:1]
    return anchors


def _contains(candidate: str, anchor: str) -> bool:
    if anchor in _FORMAT_WORDS or anchor in _PHRASES:
        return re.search(rf"\b{re.escape(anchor)}\b", candidate, re.IGNORECASE) is not None
    return anchor in candidate


def check_format_instructions(seed: str, candidate: str) -> str | None:
    missing: list[str] = []
    for line in format_instruction_lines(seed):
        for anchor in format_anchors(line):
            if not _contains(candidate, anchor) and anchor not in missing:
                missing.append(anchor)
    if missing:
        shown = ", ".join(repr(a) for a in missing[:5])
        return f"output-format instructions lost: the candidate no longer mentions {shown}"
    return None


def check_length(seed: str, candidate: str, max_ratio: float, allowance: int = 0) -> str | None:
    """``allowance`` tokens of fixed scaffolding (rules-block markers) are not counted."""
    limit = max_ratio * max(estimate_tokens(seed), 1) + allowance
    size = estimate_tokens(candidate)
    if size > limit:
        return (
            f"candidate is too long: ~{size} tokens, over {max_ratio:g}× the seed's "
            f"~{estimate_tokens(seed)} tokens"
        )
    return None


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    words = _words(text)
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def _case_texts(case: Case) -> Iterable[str]:
    for value in case.vars.values():
        yield value if isinstance(value, str) else json.dumps(value, default=str)
    if case.expected is not None:
        expected = case.expected
        yield expected if isinstance(expected, str) else json.dumps(expected, default=str)


def check_leakage(seed: str, candidate: str, held_out: Sequence[Case], n: int = 8) -> str | None:
    """Reject a candidate that quotes ``n`` consecutive words of a held-out case
    (its variables or expected answer) that the seed did not already contain."""
    fresh = ngrams(candidate, n) - ngrams(seed, n)
    if not fresh:
        return None
    for case in held_out:
        for text in _case_texts(case):
            overlap = fresh & ngrams(text, n)
            if overlap:
                quote = " ".join(sorted(overlap)[0])
                return f'candidate quotes held-out case {case.id}: "{quote}"'
    return None


def check_candidate(
    *,
    seed: str,
    candidate: str,
    held_out: Sequence[Case],
    max_length_ratio: float,
    check_format: bool = True,
    leakage_ngram: int = 8,
    path: str = "prompt.md",
    length_allowance: int = 0,
) -> str | None:
    """All content guards in order of how cheap and how telling they are."""
    if not candidate.strip():
        return "the candidate prompt is empty"
    checks = [
        check_kept_variables(seed, candidate, path),
        check_tools(seed, candidate, path, max_length_ratio),
        check_format_instructions(seed, candidate) if check_format else None,
        # Front matter configures the call; only the instructions count towards length.
        check_length(
            split_front_matter(seed)[1],
            split_front_matter(candidate)[1],
            max_length_ratio,
            length_allowance,
        ),
        check_leakage(seed, candidate, held_out, leakage_ngram),
    ]
    return next((reason for reason in checks if reason is not None), None)
