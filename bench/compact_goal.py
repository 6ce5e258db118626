"""The compact rules meta-prompt with and without a goal clause, on SmolLM2-135M.

Run: ``python bench/compact_goal.py`` (writes bench/results/compact-goal.md). Calls the
embedded model directly with the compact messages for the bench taglines prompt and its
usual causes of failure, once at temperature 0 and ``--seeds`` times at 0.7 per variant,
and counts closed rule lists, rules copied from the demonstrations ("French") and replies
that echo the check names. The "with" variant is the shipped request with the goal's check
names added to its ask ("... so these problems stop and every answer passes a, b.").
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

from promptloop.models.base import Message
from promptloop.models.local import complete_sync
from promptloop.optimize.compact import (
    DEMO_RULES,
    FailureLine,
    compact_reply_tokens,
    compact_rules_messages,
)
from promptloop.optimize.reply import parse_rules_reply

HERE = Path(__file__).resolve().parent
PROMPT = (HERE / "suites" / "taglines" / "prompts" / "tagline.md").read_text()
FAILURES = (
    FailureLine(9, "output does not contain the product"),
    FailureLine(4, "output has 15 words; at most 12 allowed"),
    FailureLine(2, 'output contains "!"'),
)
CHECKS = ("names-the-product", "no-exclamation", "under-12-words", "one-line")
ASK = "so these problems stop."


def messages_for(with_goal: bool) -> tuple[Message, ...]:
    messages = compact_rules_messages(base_prompt=PROMPT, current_rules=(), failures=FAILURES)
    if not with_goal:
        return messages
    last = messages[-1]
    assert ASK in last.content, "the compact request's wording changed; update this bench"
    goal = f"so these problems stop and every answer passes {', '.join(CHECKS)}."
    return (*messages[:-1], Message(last.role, last.content.replace(ASK, goal)))


def trial(with_goal: bool, temperature: float, seed: int) -> tuple[bool, bool, bool, str]:
    messages = messages_for(with_goal)
    result = complete_sync(
        "smollm2",
        [{"role": m.role, "content": m.content} for m in messages],
        temperature=temperature,
        max_tokens=compact_reply_tokens(50),
        seed=seed,
    )
    rules = parse_rules_reply(result.text, ignore=DEMO_RULES) or []
    copied = "french" in result.text.lower()
    echoed = any(check in result.text for check in CHECKS)
    return bool(rules), copied, echoed, result.text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=6)
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rows = []
    for label, goal in (("as shipped (no goal)", False), ("with the goal's checks", True)):
        runs = [(0.0, 0)] + [(0.7, seed) for seed in range(1, args.seeds + 1)]
        outcomes = [trial(goal, t, s) for t, s in runs]
        for (t, s), (closed, copied, echoed, text) in zip(runs, outcomes, strict=True):
            print(label, t, s, closed, copied, echoed, repr(text[:120]), flush=True)
        counts = [f"{sum(1 for o in outcomes if o[i])}/{len(runs)}" for i in range(3)]
        at_zero = "closed" if outcomes[0][0] else "not closed"
        rows.append(f"| {label} | {' | '.join(counts)} | {at_zero} |")
    report = "\n".join(
        [
            "# Compact rules meta-prompt: the goal's checks in the request",
            "",
            "Command: `python bench/compact_goal.py`",
            "",
            f"Machine: {started}; {platform.machine()}, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}.",
            "",
            "SmolLM2-135M, the bench taglines prompt and three causes of failure; 1 call at "
            f"temperature 0 and {args.seeds} at 0.7 (seeds 1..{args.seeds}) per variant.",
            "",
            '| variant | closed rule lists | copied a demo ("French") | echoed check names '
            "| at temperature 0 |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )
    (HERE / "results" / "compact-goal.md").write_text(report + "\n", encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
