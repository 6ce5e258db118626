"""The full meta-prompt shown to the optimizer model, in rewrite and in rules mode, and
the message that re-asks after a reply was rejected.

Small local optimizers get the compact rules-mode meta-prompt instead (``compact``); the
reply's markers and reading them are in ``reply``.
"""

from __future__ import annotations

from collections.abc import Sequence

from promptloop.models.base import Message
from promptloop.optimize.packing import Feedback, Packed
from promptloop.optimize.reply import (
    PROMPT_CLOSE,
    PROMPT_OPEN,
    RATIONALE_CLOSE,
    RATIONALE_OPEN,
    RULES_CLOSE,
    RULES_OPEN,
)

_SYSTEM = (
    "You improve instructions (prompts) given to a language model. You are shown the goal "
    "every answer is graded against, the current prompt and examples of what the model "
    "produced with it{feedback}. Find the general causes of the failures and fix them with "
    "instructions that generalise to unseen inputs, serving the goal rather than the wording "
    "of earlier revisions. Never copy example inputs, outputs or expected answers into the "
    "prompt."
)


def _goal(goal: str) -> str:
    return (
        "The goal (what every answer is graded on; it stays the same whatever the prompt "
        f"says):\n{goal.strip()}"
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
    reviewer_notes: str = "",
    goal: str = "",
    original_prompt: str = "",
    tools: str = "",
    calls: str = "",
    tools_reply: str = "",
) -> tuple[Message, ...]:
    """``original_prompt`` is the author's, shown beside a revision (not when the current
    prompt is still the original) so a round refines towards its intent. ``tools`` shows the
    tool definitions, ``calls`` the failing tool calls (``optimize.tools``), and
    ``tools_reply`` says how the reply may revise tool descriptions."""
    system = _SYSTEM.format(feedback=" and critiques of it" if feedback == "critiques" else "")
    parts = [_goal(goal)] if goal.strip() else []
    if original_prompt.strip() and original_prompt.strip() != current_prompt.strip():
        parts.append(
            "The author's original prompt (keep its intent; do not revert to it):\n"
            f"<original>\n{original_prompt.strip()}\n</original>"
        )
    user = "\n\n".join(
        [
            *parts,
            f"Current prompt:\n{PROMPT_OPEN}\n{current_prompt.strip()}\n{PROMPT_CLOSE}",
            *([tools] if tools else []),
            *([reviewer_notes] if reviewer_notes else []),
            _examples(packed, feedback),
            *([calls] if calls else []),
            _constraints(variables, format_lines, max_prompt_tokens),
            "Reply with a short explanation of what you changed and which failures it answers "
            f"inside {RATIONALE_OPEN}…{RATIONALE_CLOSE}, then the complete revised prompt inside "
            f"{PROMPT_OPEN}…{PROMPT_CLOSE}. Write nothing after {PROMPT_CLOSE}."
            + (f" {tools_reply}" if tools_reply else ""),
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
    reviewer_notes: str = "",
    goal: str = "",
    tools: str = "",
    calls: str = "",
) -> tuple[Message, ...]:
    """The fixed prompt is the original, so it already stands beside the current rules.
    With ``tools`` (the prompt's tool definitions), rules may say when and how to call them."""
    system = _SYSTEM.format(feedback=" and critiques of it" if feedback == "critiques" else "")
    system += " The prompt itself stays fixed; you maintain a short list of rules appended to it."
    rules = "\n".join(f"- {r}" for r in current_rules) or "(none yet)"
    user = "\n\n".join(
        [
            *([_goal(goal)] if goal.strip() else []),
            f"Prompt (fixed):\n{PROMPT_OPEN}\n{base_prompt.strip()}\n{PROMPT_CLOSE}",
            *([tools] if tools else []),
            f"Current rules:\n{rules}",
            *([reviewer_notes] if reviewer_notes else []),
            _examples(packed, feedback),
            *([calls] if calls else []),
            "Constraints:\n- Each rule is one line starting with '- ', general, not about a "
            "single example.\n- Do not use {{ ... }} or {% ... %} template syntax in rules."
            + (
                f"\n- The prompt's variables ({', '.join(sorted(variables))}) are filled in "
                "elsewhere; do not repeat them."
                if variables
                else ""
            )
            + (
                "\n- Rules may say when and how to call the tools (or not to call them), "
                "naming them exactly as written."
                if tools
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
