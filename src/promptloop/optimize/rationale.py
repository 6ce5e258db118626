"""The result's rationale in words: a line for each accepted round (what changed, the
optimizer's account, the critiques it answers, the validation figures) and the closing
summary of every candidate and the held-out test."""

from __future__ import annotations

from collections.abc import Sequence

from promptloop.optimize import rules
from promptloop.optimize.result import Candidate, Mode, Scores, changed_ranges
from promptloop.optimize.settings import OptimizerSettings
from promptloop.project.prompts import parse_prompt
from promptloop.wording import plural


def accepted_round(candidate: Candidate, replaced: str, mode: Mode, path: str) -> str:
    """The line for an accepted ``candidate``, which replaces the prompt ``replaced``."""
    before, after, p = candidate.val_before, candidate.val_after, candidate.p_value
    # An accepted candidate was always scored on validation.
    assert before is not None and after is not None and p is not None
    change = (
        _rules_change(replaced, candidate.text)
        if mode == "rules"
        else f"{plural(len(changed_ranges(replaced, candidate.text)), 'passage')} rewritten"
        + _tools_change(replaced, candidate.text, path)
    )
    account = f"Optimizer's account: {candidate.rationale} " if candidate.rationale else ""
    return (
        f"Round {candidate.round}: {change}. {account}Answers critiques: "
        f"{_describe_causes(candidate.causes)}. "
        f"Validation passes {before.passes}/{before.n} → {after.passes}/"
        f"{after.n} (fixed {candidate.fixed}, broken {candidate.broken}, exact McNemar "
        f"p={p:.3g})."
    )


def _tools_change(before: str, after: str, path: str) -> str:
    """``, revising the description of `a`, `b``` when a candidate rewords tools."""
    old = {
        t.function.name: t.function.description for t in parse_prompt(before, path).settings.tools
    }
    new = parse_prompt(after, path).settings.tools
    names = [
        f"`{t.function.name}`" for t in new if old.get(t.function.name) != t.function.description
    ]
    return f", revising the description of {', '.join(names)}" if names else ""


def _describe_causes(causes: dict[str, int]) -> str:
    if not causes:
        return "no failing training cases"
    return ", ".join(f"{cause} ({plural(n, 'failing train case')})" for cause, n in causes.items())


def _rules_change(before: str, after: str) -> str:
    old, new = rules.parse_rules(before), rules.parse_rules(after)
    added = [r for r in new if r not in old]
    removed = [r for r in old if r not in new]
    parts = []
    if added:
        parts.append("added rules: " + "; ".join(added))
    if removed:
        parts.append("removed rules: " + "; ".join(removed))
    return ". ".join(parts) or "rules unchanged"


def rationale(
    status: str,
    mode: Mode,
    accepted: Sequence[str],
    trajectory: Sequence[Candidate],
    errors: Sequence[str],
    scores: Scores,
    settings: OptimizerSettings,
    repeats: int = 0,
) -> str:
    """The result's rationale: why it failed, or the accepted rounds' lines and a summary
    of every candidate and of the held-out test. ``repeats`` is how many proposals repeated
    a prompt already evaluated (they are in the trajectory, unscored)."""
    if status == "error":
        return "Optimisation failed: " + "; ".join(errors)
    rejected = [c for c in trajectory if c.rejection is not None]
    scored = [c for c in trajectory if c.val_after is not None]
    unchanged = [
        c for c in trajectory if c.rejection is None and c.error is None and c.val_after is None
    ]
    summary = (
        f"{plural(len(scored), 'candidate')} scored on validation, "
        f"{len(rejected)} rejected by guards"
    )
    if rejected:
        summary += " (" + "; ".join(sorted({c.rejection or "" for c in rejected})) + ")"
    if len(unchanged) > repeats:
        summary += f", {len(unchanged) - repeats} identical to the prompt they were to improve"
    if repeats:
        summary += f", {repeats} repeating a prompt already evaluated"
    failed_calls = [c.error for c in trajectory if c.error is not None]
    if failed_calls:
        summary += "; optimizer call failures: " + "; ".join(e or "" for e in failed_calls)
    if status != "improved":
        return f"No candidate beat the prompt on validation ({mode} mode): {summary}."
    lines = [*accepted, f"In all: {summary}."]
    before, after = scores.test_before, scores.test_after
    if before is not None and after is not None:
        p = scores.test_p_value
        alpha = 1 - settings.confidence
        verdict = (
            "significant" if p is not None and p < alpha else "not significant"
        ) + f" at {settings.confidence:.0%}"
        lines.append(
            f"Held-out test (never shown to the optimizer): {before.passes}/{before.n} → "
            f"{after.passes}/{after.n} passes, fixed {scores.test_fixed}, broken "
            f"{scores.test_broken}, exact McNemar p={p if p is None else f'{p:.3g}'} ({verdict})."
        )
    return "\n".join(lines)
