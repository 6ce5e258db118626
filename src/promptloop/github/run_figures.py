"""The run as the pull request's headline states it: its verdict, whether it fails only through
suites in advisory mode, and its overall pass rate and change against the base."""

from __future__ import annotations

from collections.abc import Collection

from promptloop.engine.results import RunResult


def verdict_status(result: RunResult) -> str:
    """The run's verdict in one word ("inconclusive" when the gate gave none)."""
    return result.verdict.status if result.verdict else "inconclusive"


def advisory_only(result: RunResult, advisory: Collection[str]) -> bool:
    """Whether the run fails only through suites in advisory mode (reported, never gating)."""
    failing = {name for name, v in result.verdicts.items() if v.status == "fail"}
    return verdict_status(result) == "fail" and bool(failing) and failing <= set(advisory)


def advisory_note(result: RunResult, advisory: Collection[str]) -> str | None:
    """What the check says about the suites in advisory mode this run evaluated."""
    names = [s.name for s in result.suites if s.name in advisory]
    if not names:
        return None
    which = ", ".join(names)
    verb = "is" if len(names) == 1 else "are"
    return (
        f"Advisory: {which} {verb} reported and commented on, but never fail this check "
        "(gate: {mode: advisory})."
    )


def overall_pass_rate(result: RunResult) -> float | None:
    passed = failed = 0
    for suite in result.suites:
        p, f, _ = suite.counts
        passed, failed = passed + p, failed + f
    return passed / (passed + failed) if passed + failed else None


def overall_delta_pp(result: RunResult) -> float | None:
    """Case-weighted mean of the per-suite paired deltas (None without a baseline)."""
    num = den = 0.0
    for cmp in result.comparisons.values():
        weight = float(cmp.paired)
        if weight:
            num += weight * cmp.delta_pp
            den += weight
    return num / den if den else None
