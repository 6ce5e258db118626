"""The optimizer's reply: the markers it carries the new prompt (or rule list) and its
explanation between, and reading them out of it.

Explicit markers make a cut-off or chatty answer detectable instead of being adopted as
a prompt: nothing is taken from a reply whose closing marker is missing.
"""

from __future__ import annotations

from collections.abc import Collection

PROMPT_OPEN, PROMPT_CLOSE = "<prompt>", "</prompt>"
RULES_OPEN, RULES_CLOSE = "<rules>", "</rules>"
RATIONALE_OPEN, RATIONALE_CLOSE = "<rationale>", "</rationale>"


def _between(text: str, opening: str, closing: str) -> str | None:
    start = text.find(opening)
    end = text.rfind(closing)
    if start < 0 or end < start:
        return None
    return text[start + len(opening) : end]


def _unfence(text: str) -> str:
    stripped = text.strip("\n")
    lines = stripped.splitlines()
    if len(lines) >= 2 and lines[0].startswith("```") and lines[-1].strip() == "```":
        return "\n".join(lines[1:-1])
    return stripped


def parse_prompt_reply(reply: str) -> str | None:
    """The text between the first <prompt> and the last </prompt>, or None."""
    inner = _between(reply, PROMPT_OPEN, PROMPT_CLOSE)
    if inner is None:
        return None
    return _unfence(inner)


def _bullets_before_close(reply: str) -> str | None:
    """The run of "- " lines ending at the last </rules> of a reply with no <rules>.

    Safe to accept: the closing marker is still required, so a reply cut off at the token
    cap is never adopted; only list lines directly above the marker are taken, so prose
    never becomes a rule; and the candidate still passes every guard and validation.
    """
    end = reply.rfind(RULES_CLOSE)
    if end < 0 or RULES_OPEN in reply:
        return None
    block: list[str] = []
    for line in reversed(reply[:end].splitlines()):
        item = line.strip()
        if not item and not block:
            continue
        if not item.startswith(("- ", "* ")):
            break
        block.append(item)
    return "\n".join(reversed(block)) if block else None


def parse_rules_reply(reply: str, *, ignore: Collection[str] = ()) -> list[str] | None:
    """The rules between <rules> and the last </rules> (or the list lines right above a
    lone </rules>), without repeats or rules in ``ignore``; None when there is no list."""
    inner = _between(reply, RULES_OPEN, RULES_CLOSE)
    if inner is None:
        inner = _bullets_before_close(reply)
    if inner is None:
        return None
    ignored = {_normalise(rule) for rule in ignore}
    rules: list[str] = []
    for line in inner.splitlines():
        item = line.strip()
        if item.startswith(("- ", "* ")):
            item = item[2:].strip()
            if item and item not in rules and _normalise(item) not in ignored:
                rules.append(item)
    return rules


def _normalise(rule: str) -> str:
    return " ".join(rule.lower().split())


def parse_rationale(reply: str, limit: int = 1200) -> str:
    inner = _between(reply, RATIONALE_OPEN, RATIONALE_CLOSE)
    if inner is None:
        return ""
    text = " ".join(inner.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
