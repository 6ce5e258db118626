"""The meta-prompt shown to the optimizer model, and parsing its reply.

The reply carries the new prompt (or rule list) between explicit markers so a
cut-off or chatty answer is detected instead of being adopted as a prompt.
"""

from __future__ import annotations

from collections.abc import Sequence

from promptloop.models.base import Message
from promptloop.optimize.packing import Feedback, Packed

PROMPT_OPEN, PROMPT_CLOSE = "<prompt>", "</prompt>"
RULES_OPEN, RULES_CLOSE = "<rules>", "</rules>"
RATIONALE_OPEN, RATIONALE_CLOSE = "<rationale>", "</rationale>"

_SYSTEM = (
    "You improve instructions (prompts) given to a language model. You are shown the current "
    "prompt and examples of what the model produced with it{feedback}. Find the general causes "
    "of the failures and fix them with instructions that generalise to unseen inputs. Never copy "
    "example inputs, outputs or expected answers into the prompt."
)


def _constraints(variables: frozenset[str], format_lines: Sequence[str], max_tokens: int) -> str:
    lines = ["Constraints:"]
    if variables:
        names = ", ".join(f"{{{{ {v} }}}}" for v in sorted(variables))
        lines.append(
            f"- Keep every template variable exactly as written ({names}); add no new ones."
        )
    else:
        lines.append("- The prompt has no template variables; do not add any {{ ... }} syntax.")
    if format_lines:
        lines.append("- Keep these output-format instructions (you may reword around them):")
        lines += [f"    {line}" for line in format_lines]
    lines.append(f"- Stay under about {max_tokens} tokens (~{max_tokens * 3 // 4} words).")
    return "\n".join(lines)


def _examples(packed: Packed, feedback: Feedback) -> str:
    if not packed.text:
        return "(no examples fitted in the context budget)"
    title = (
        "Examples with reviewers' critiques, grouped by cause of failure:"
        if feedback == "critiques"
        else "Examples with the score each got (1.00 = best):"
    )
    more = f"\n\n({packed.omitted} more cases not shown.)" if packed.omitted else ""
    return f"{title}\n\n{packed.text}{more}"


def rewrite_messages(
    *,
    current_prompt: str,
    packed: Packed,
    variables: frozenset[str],
    format_lines: Sequence[str],
    max_prompt_tokens: int,
    feedback: Feedback,
) -> tuple[Message, ...]:
    system = _SYSTEM.format(feedback=" and critiques of it" if feedback == "critiques" else "")
    user = "\n\n".join(
        [
            f"Current prompt:\n{PROMPT_OPEN}\n{current_prompt.strip()}\n{PROMPT_CLOSE}",
            _examples(packed, feedback),
            _constraints(variables, format_lines, max_prompt_tokens),
            "Reply with a short explanation of what you changed and which failures it answers "
            f"inside {RATIONALE_OPEN}…{RATIONALE_CLOSE}, then the complete revised prompt inside "
            f"{PROMPT_OPEN}…{PROMPT_CLOSE}. Write nothing after {PROMPT_CLOSE}.",
        ]
    )
    return (Message("system", system), Message("user", user))


def rules_messages(
    *,
    base_prompt: str,
    current_rules: Sequence[str],
    packed: Packed,
    variables: frozenset[str],
    max_rules_tokens: int,
    feedback: Feedback,
) -> tuple[Message, ...]:
    system = _SYSTEM.format(feedback=" and critiques of it" if feedback == "critiques" else "")
    system += " The prompt itself stays fixed; you maintain a short list of rules appended to it."
    rules = "\n".join(f"- {r}" for r in current_rules) or "(none yet)"
    user = "\n\n".join(
        [
            f"Prompt (fixed):\n{PROMPT_OPEN}\n{base_prompt.strip()}\n{PROMPT_CLOSE}",
            f"Current rules:\n{rules}",
            _examples(packed, feedback),
            "Constraints:\n- Each rule is one line starting with '- ', general, not about a "
            "single example.\n- Do not use {{ ... }} or {% ... %} template syntax in rules."
            + (
                f"\n- The prompt's variables ({', '.join(sorted(variables))}) are filled in "
                "elsewhere; do not repeat them."
                if variables
                else ""
            )
            + f"\n- Keep the whole list under about {max_rules_tokens} tokens.",
            "Reply with a short explanation inside "
            f"{RATIONALE_OPEN}…{RATIONALE_CLOSE}, then the complete new rule list (keep the "
            f"rules that still help, drop or fix the rest) inside {RULES_OPEN}…{RULES_CLOSE}.",
        ]
    )
    return (Message("system", system), Message("user", user))


def retry_message(rejection: str, closing_marker: str) -> Message:
    return Message(
        "user",
        f"That reply was rejected: {rejection}. Answer again, following every constraint, "
        f"and end with {closing_marker}.",
    )


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


def parse_prompt(reply: str) -> str | None:
    """The text between the first <prompt> and the last </prompt>, or None."""
    inner = _between(reply, PROMPT_OPEN, PROMPT_CLOSE)
    if inner is None:
        return None
    return _unfence(inner)


def parse_rules_reply(reply: str) -> list[str] | None:
    inner = _between(reply, RULES_OPEN, RULES_CLOSE)
    if inner is None:
        return None
    rules = []
    for line in inner.splitlines():
        item = line.strip()
        if item.startswith(("- ", "* ")):
            item = item[2:].strip()
            if item:
                rules.append(item)
    return rules


def parse_rationale(reply: str, limit: int = 1200) -> str:
    inner = _between(reply, RATIONALE_OPEN, RATIONALE_CLOSE)
    if inner is None:
        return ""
    text = " ".join(inner.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
