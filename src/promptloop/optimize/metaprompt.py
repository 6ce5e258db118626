"""The meta-prompt shown to the optimizer model, and parsing its reply.

The reply carries the new prompt (or rule list) between explicit markers so a
cut-off or chatty answer is detected instead of being adopted as a prompt.

Small local optimizers (``local/...``, SmolLM2-135M) get their own compact rules-mode
meta-prompt: shown the full one (grouped examples with inputs, outputs and critiques)
they echo it until their token cap and never close a ``<rules>`` block.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from promptloop.engine.outcome import CaseOutcome
from promptloop.evaluators.base import Evaluator
from promptloop.evaluators.specs import EvaluatorSpec
from promptloop.models.base import Message, is_embedded
from promptloop.optimize.packing import Feedback, Packed
from promptloop.wording import plural

PROMPT_OPEN, PROMPT_CLOSE = "<prompt>", "</prompt>"
RULES_OPEN, RULES_CLOSE = "<rules>", "</rules>"
RATIONALE_OPEN, RATIONALE_CLOSE = "<rationale>", "</rationale>"

_SYSTEM = (
    "You improve instructions (prompts) given to a language model. You are shown the goal "
    "every answer is graded against, the current prompt and examples of what the model "
    "produced with it{feedback}. Find the general causes of the failures and fix them with "
    "instructions that generalise to unseen inputs, serving the goal rather than the wording "
    "of earlier revisions. Never copy example inputs, outputs or expected answers into the "
    "prompt."
)
GOAL_CHARS = 400


CASE_CHECK_LINES = 12


def describe_goal(
    specs: Sequence[EvaluatorSpec], case_checks: Sequence[Sequence[Evaluator]] = ()
) -> str:
    """The suite's goal in words: what each evaluator checks, and what single cases are
    checked for (a promptfoo test's ``assert:``; pass only the cases the optimizer learns
    from, so held-out answers stay held out). It does not change when the prompt does, so
    every round is steered towards it instead of after its own echoes."""
    lines = _suite_goal(specs)
    own = Counter(
        " ".join(str(getattr(e, "description", "") or e.name).split())[:GOAL_CHARS]
        for checks in case_checks
        for e in checks
    )
    if own:
        lines.append(
            f"- each case's own checks ({plural(len(case_checks), 'case')} to learn from):"
        )
        for text, count in own.most_common(CASE_CHECK_LINES):
            lines.append(f"    - {text}" + (f" ({count} cases)" if count > 1 else ""))
        if len(own) > CASE_CHECK_LINES:
            lines.append(f"    - and {plural(len(own) - CASE_CHECK_LINES, 'other check')}")
    return "\n".join(lines)


def _suite_goal(specs: Sequence[EvaluatorSpec]) -> list[str]:
    lines = []
    for spec in specs:
        args = spec.args
        if spec.kind == "judge":
            rubric = args if isinstance(args, str) else dict(args or {}).get("rubric", "")
            rubric = " ".join(str(rubric).split())[:GOAL_CHARS]
            lines.append(f"- {spec.label}: a reviewer grades every answer against: {rubric}")
        elif args is None:
            lines.append(f"- {spec.label}: every answer must pass the `{spec.kind}` check")
        else:
            shown = json.dumps(args, ensure_ascii=False, default=str)[:GOAL_CHARS]
            lines.append(
                f"- {spec.label}: `{spec.kind}` {shown} ({{{{ … }}}} is filled in from each case)"
            )
    return lines


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


def wants_compact_rules(optimizer_model: str) -> bool:
    """Small local optimizers get the compact rules meta-prompt; every other model the full one."""
    return is_embedded(optimizer_model)


# At most this many cause lines, each reason cut to this many characters: the whole
# compact request stays a few hundred tokens, well inside a 2048-token window.
COMPACT_MAX_CAUSES = 5
COMPACT_REASON_CHARS = 100
# One rule is about ten tokens; the reply needs the markers and a little slack besides.
COMPACT_REPLY_SLACK_TOKENS = 64

_PARENTHESIS = re.compile(r"\s*\([^()]*\)")
# A reason quoting this much of the output is quoting the output, which the compact
# prompt leaves out; shorter outputs ("billing") are labels and may stay.
_OUTPUT_PROBE_CHARS = 20


@dataclass(frozen=True)
class FailureLine:
    """One cause of failure on the training cases: how many cases, and one short reason."""

    cases: int
    reason: str

    def render(self) -> str:
        return f"- {plural(self.cases, 'case')}: {self.reason}"


def short_reason(reason: str, outcome: CaseOutcome, limit: int = COMPACT_REASON_CHARS) -> str:
    """An evaluator's reason made general: parts quoting the output dropped, asides in
    parentheses dropped, and the case's own input values replaced by the variable's name
    ("does not contain \"GreenCart\"" → "does not contain the product"), so the small
    model is not invited to write a rule about one example."""
    output = " ".join((outcome.output or "").split()).strip("\"'` ")
    probe = output[:_OUTPUT_PROBE_CHARS]
    parts = [part.strip() for part in reason.split(";") if part.strip()]
    kept = [
        part
        for part in parts
        if len(probe) < _OUTPUT_PROBE_CHARS or probe not in " ".join(part.split())
    ]
    text = "; ".join(kept or parts[:1])
    text = _PARENTHESIS.sub("", text)
    values = [
        (name, value.strip())
        for name, value in outcome.case.vars.items()
        if isinstance(value, str) and len(value.strip()) >= 3
    ]
    # Longest first, so a value containing another is replaced whole.
    for name, value in sorted(values, key=lambda item: -len(item[1])):
        label = "the " + name.replace("_", " ")
        for quoted in (f'"{value}"', f"`{value}`", f"'{value}'", value):
            text = text.replace(quoted, label)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def failure_lines(
    outcomes: Sequence[CaseOutcome], feedback: Feedback, limit: int = COMPACT_MAX_CAUSES
) -> list[FailureLine]:
    """Failing training cases summarised by cause, commonest first.

    With critiques, a case counts once under every cause it fails (error type, else the
    evaluator's name) and each cause shows its commonest generalised reason. Scores-only
    feedback shows only how many cases failed at which score: no reason, no output.
    Infrastructure errors and evaluators that could not decide say nothing about the
    prompt and are left out.
    """
    failing = [o for o in outcomes if o.error is None and not o.passed]
    counts: Counter[str] = Counter()
    reasons: dict[str, Counter[str]] = {}
    for outcome in failing:
        causes: dict[str, str] = {}
        if feedback == "critiques":
            for e in outcome.evaluations:
                if e.error is None and not e.passed:
                    causes.setdefault(e.error_type or e.evaluator, short_reason(e.reason, outcome))
        if not causes:
            # Scores-only feedback, or a failure no evaluator explained: the score is all there is.
            causes[f"score {outcome.score:.2f}"] = f"failed with score {outcome.score:.2f}"
        for cause, reason in causes.items():
            counts[cause] += 1
            reasons.setdefault(cause, Counter())[reason] += 1
    ordered = sorted(counts, key=lambda cause: (-counts[cause], cause))[:limit]
    return [FailureLine(counts[c], reasons[c].most_common(1)[0][0]) for c in ordered]


_COMPACT_SYSTEM = "You write rules that fix the problems of a prompt."

# Two finished exchanges on unrelated prompts, sent as earlier turns. In trials with
# SmolLM2-135M on the bench taglines suite (5 calls per variant, T=0 and T=0.7), the
# request alone, with or without a format example at the end of the message, gave 0-1
# closed rule lists; one demonstration turn gave 3-4 of 5; two gave 5 of 5 at both
# temperatures. Earlier turns are plain chat messages, so every provider accepts them,
# unlike an assistant prefill.
_DEMOS = (
    (
        "Summarize the email {{ email }} for a busy manager.",
        (
            FailureLine(4, "output has 6 sentences; at most 3 allowed"),
            FailureLine(2, "output does not contain the sender"),
        ),
        ("Use at most 3 sentences.", "Always name the sender."),
    ),
    (
        "Translate {{ text }} into French.",
        (
            FailureLine(5, "output is not in French"),
            FailureLine(3, "output contains an explanation"),
        ),
        ("Write the translation in French.", "Give only the translation, with no explanation."),
    ),
)
# A small model sometimes copies a demonstration's rule verbatim; that is not learning.
DEMO_RULES = frozenset(rule for _, _, demo_rules in _DEMOS for rule in demo_rules)


def _rule_list(rules: Sequence[str]) -> str:
    return "\n".join(f"- {rule}" for rule in rules)


def _compact_request(
    prompt: str, current_rules: Sequence[str], failures: Sequence[FailureLine]
) -> str:
    problems = "\n".join(f.render() for f in failures) or "- none: every answer passed"
    parts = [f"Prompt:\n{prompt.strip()}"]
    if current_rules:
        parts.append(f"Rules already added to the prompt:\n{_rule_list(current_rules)}")
    parts.append(f"Problems found in its answers:\n{problems}")
    ask = (
        "Write the complete new list of 1 to 3 short rules (keep the rules that still help)"
        if current_rules
        else "Write 1 to 3 short rules"
    )
    parts.append(
        f"{ask} to add to the prompt so these problems stop. Reply in this format:\n"
        f"{RULES_OPEN}\n- rule\n{RULES_CLOSE}"
    )
    return "\n\n".join(parts)


def compact_rules_messages(
    *,
    base_prompt: str,
    current_rules: Sequence[str],
    failures: Sequence[FailureLine],
) -> tuple[Message, ...]:
    """The rules-mode meta-prompt for a small local optimizer: the prompt, the causes of
    failure with their counts, and a direct request for 1-3 rules in ``<rules>`` markers,
    after two demonstration exchanges in exactly that shape. No inputs, outputs or earlier
    conversation turns are shown, and no template-syntax or length constraints are spelled
    out: a 135M model echoes such text instead of obeying it, and the guards enforce them
    regardless."""
    messages = [Message("system", _COMPACT_SYSTEM)]
    for prompt, demo_failures, demo_rules in _DEMOS:
        messages.append(Message("user", _compact_request(prompt, (), demo_failures)))
        messages.append(
            Message("assistant", f"{RULES_OPEN}\n{_rule_list(demo_rules)}\n{RULES_CLOSE}")
        )
    messages.append(Message("user", _compact_request(base_prompt, current_rules, failures)))
    return tuple(messages)


def compact_reply_tokens(max_rules_tokens: int) -> int:
    """Output cap for a compact rules reply: twice what a rule list within the length
    guard can hold, plus the markers. A small model that loops is cut off (and rejected)
    after seconds instead of running to a several-hundred-token floor."""
    return 2 * max_rules_tokens + COMPACT_REPLY_SLACK_TOKENS


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
