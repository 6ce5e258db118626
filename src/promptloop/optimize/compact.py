"""The rules-mode meta-prompt for small local optimizers (``local/...``, SmolLM2-135M).

Shown the full meta-prompt (grouped examples with inputs, outputs and critiques) such a
model echoes it until its token cap and never closes a ``<rules>`` block. The compact one
shows the prompt, the failing training cases summarised by cause, and asks directly for
1-3 rules, after two demonstration exchanges in exactly that shape.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from promptloop.engine.outcome import CaseOutcome
from promptloop.models.base import Message, is_embedded
from promptloop.optimize.packing import Feedback
from promptloop.optimize.reply import RULES_CLOSE, RULES_OPEN
from promptloop.wording import plural


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
