"""Rules mode: the prompt stays as written; the optimizer owns one delimited block.

The block is appended to the prompt body and replaced in place on later runs,
so a reviewer sees exactly which lines the optimizer maintains.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath

from promptloop.errors import UserError
from promptloop.optimize.guards import split_front_matter

START = "<!-- promptloop:rules:start -->"
END = "<!-- promptloop:rules:end -->"
HEADING = "Rules learned from review feedback:"

_SUPPORTED = {"", ".md", ".markdown", ".txt", ".prompt", ".j2", ".jinja", ".jinja2"}


def ensure_supported(prompt_path: str) -> None:
    suffix = PurePath(prompt_path).suffix.lower()
    if suffix not in _SUPPORTED:
        raise UserError(
            f"rules mode edits Markdown/text prompt files only, not {suffix or 'this'} files; "
            "use optimizer mode 'rewrite'",
            path=prompt_path,
            key="optimizer.mode",
        )


def render_block(rules: Sequence[str]) -> str:
    items = [f"- {' '.join(rule.split())}" for rule in rules]
    return "\n".join([START, HEADING, *items, END])


def parse_rules(text: str) -> list[str]:
    """The rules currently in the block, or [] when there is none."""
    start = text.find(START)
    end = text.find(END, start + 1)
    if start < 0 or end < 0:
        return []
    inner = text[start + len(START) : end]
    return [
        line.strip()[2:].strip() for line in inner.splitlines() if line.strip().startswith("- ")
    ]


def apply_rules(text: str, rules: Sequence[str]) -> str:
    """Replace the rules block in place, or append one at the end of the body;
    no rules removes the block (and the blank line before it)."""
    front, body = split_front_matter(text)
    start = body.find(START)
    end = body.find(END, start + 1) if start >= 0 else -1
    if start >= 0 and end >= 0:
        stop = end + len(END)
        if rules:
            return front + body[:start] + render_block(rules) + body[stop:]
        head = body[:start].rstrip("\n")
        tail = body[stop:]
        tail = tail[1:] if tail.startswith("\n") else tail
        joined = head + ("\n" if head and tail.strip() else "") + tail
        if text.endswith("\n") and not joined.endswith("\n"):
            joined += "\n"
        return front + joined
    if not rules:
        return text
    base = body.rstrip("\n")
    separator = "\n\n" if base else ""
    ending = "\n" if text.endswith("\n") else ""
    return front + base + separator + render_block(rules) + ending
