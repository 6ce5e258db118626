"""The three things a reviewer wants first: did it pass, why (one number, in words), what next.

Built from results.json alone, so the PR comment, the job summary and the console say the same.
Plain words first: no interval or p-value here; the gate's own sentence (every interval and
p-value) is shown further down, for whoever asks. A run without a baseline speaks of the
suite; a run compared with a base speaks of the change, and only on a pull request of its
head and the pull request.
"""

from __future__ import annotations

from dataclasses import dataclass

from promptloop.engine.comparison import ComparisonSummary
from promptloop.engine.results import RunResult, Verdict
from promptloop.report.names import case_labels
from promptloop.wording import plural

ICONS = {"pass": "✅", "fail": "❌", "inconclusive": "⚠️"}


@dataclass(frozen=True)
class Headline:
    status: str
    # promptloop's own sentences; suite names come from the config.
    why: str
    next_step: str


@dataclass(frozen=True)
class _Change:
    """What a compared run calls its head side: a pull request's head, or a local change."""

    subject: str
    on_head: str
    blocked: str


_PULL_REQUEST = _Change("this head", "on this head", "this pull request")
_LOCAL = _Change("the change", "with the change", "the change")


def on_head(*, pull_request: bool) -> str:
    """Where the head side's results were found: "on this head" on a pull request, "with the
    change" in a local run, which has no pull request to name."""
    return (_PULL_REQUEST if pull_request else _LOCAL).on_head


def _rate(rate: float) -> str:
    text = f"{100 * rate:.1f}".removesuffix(".0")
    return f"{text}%"


def _points(delta_pp: float) -> str:
    text = f"{abs(delta_pp):.1f}".removesuffix(".0")
    return f"{text} {'point' if text == '1' else 'points'}"


def _broken(cmp: ComparisonSummary | None) -> int:
    return len(cmp.broken) if cmp is not None else 0


def _suite_why(name: str, verdict: Verdict, result: RunResult, change: _Change) -> str:
    cmp = result.comparisons.get(name)
    failed = set(verdict.failed_checks)
    suite = next((s for s in result.suites if s.name == name), None)
    if verdict.plain and (verdict.status != "pass" or cmp is None):
        return verdict.plain[:1].lower() + verdict.plain[1:].rstrip(".")
    if verdict.status == "fail" and not failed & {"errors", "evaluation", "critical"}:
        if "regression" in failed and cmp is not None:
            confirmed = cmp.confirmation is not None and cmp.confirmation.complete
            # The confirmed drop (every run counted) is what the gate decided on.
            found = "; re-running the changed cases confirms" if confirmed else ","
            return (
                f"the pass rate fell from {_rate(cmp.base_pass_rate)} on the base to "
                f"{_rate(cmp.head_pass_rate)} {change.on_head} "
                f"({plural(len(cmp.broken), 'case')} broke){found} a drop of "
                f"{_points(cmp.decided_delta_pp)}, more than the gate allows"
            )
        if "min_pass_rate" in failed and suite is not None:
            threshold = f" of {_rate(suite.threshold)}" if suite.threshold is not None else ""
            return (
                f"{change.subject} passes {_rate(suite.pass_rate)} of its cases, "
                f"below the threshold{threshold}"
            )
    if verdict.status == "pass" and cmp is not None:
        drop = cmp.decided_delta_pp
        base, head = _rate(cmp.base_pass_rate), _rate(cmp.head_pass_rate)
        if base == head:
            return f"the pass rate is {head} {change.on_head}, as on the base"
        moved = "rose" if drop > 0 else "fell"
        return (
            f"the pass rate {moved} by {_points(drop)} ({base} on the base, {head} "
            f"{change.on_head}), within what the gate allows"
        )
    if verdict.status == "pass" and suite is not None and cmp is None:
        subject = change.subject if result.baseline_ref else "the suite"
        if suite.threshold is None:
            return f"{subject} passes {_rate(suite.pass_rate)} of its cases"
        return (
            f"{subject} passes {_rate(suite.pass_rate)} of its cases, meeting the threshold "
            f"of {_rate(suite.threshold)}"
        )
    # Errors, critical cases and undecided drops: the gate's sentence is already one reason.
    reason = verdict.reason.rstrip(".")
    return reason[:1].lower() + reason[1:]


# A Next line names at most this many cases; the lists below hold them all.
_NAMED = 3


def _broken_named(result: RunResult, deciding: list[str]) -> tuple[int, str]:
    """How many cases broke in the deciding suites, and the first few by the names the
    lists show."""
    names: list[str] = []
    for suite in result.suites:
        cmp = result.comparisons.get(suite.name)
        if suite.name not in deciding or cmp is None:
            continue
        labels = case_labels(suite.cases)
        names += [labels.get(c.case_id, c.case_id) for c in cmp.broken]
    shown = ", ".join(names[:_NAMED])
    if len(names) > _NAMED:
        shown += f" and {len(names) - _NAMED} more"
    return len(names), shown


def _next_step(result: RunResult, status: str, deciding: list[str], change: _Change) -> str:
    verdicts = [result.verdicts[n] for n in deciding]
    failed = {c for v in verdicts for c in v.failed_checks}
    if status == "pass":
        if result.baseline_ref:
            return f"nothing; the gate does not block {change.blocked}."
        return "nothing; the run passes (exit code 0)."
    if "errors" in failed:
        return (
            "run again once the model provider answers; the errored cases say nothing "
            "about the prompt."
        )
    if "evaluation" in failed:
        return (
            "fix the evaluator: its error is beside each errored case below. Those cases "
            "say nothing about the prompt."
        )
    broken, named = _broken_named(result, deciding)
    failing = sum(
        1 for s in result.suites if s.name in deciding for c in s.cases if c.status == "fail"
    )
    look = (
        f"look at the {plural(broken, 'case')} that broke ({named})"
        if broken
        else f"look at the {plural(failing, 'failing case')} below"
        if failing
        else "look at the details below"
    )
    if status == "inconclusive":
        if any(v.status == "inconclusive" and v.plain for v in verdicts):
            return f"{look}, or add cases until the gate can decide (see the estimate above)."
        return f"{look}."
    if result.optimization is not None and result.optimization.suites:
        return f"take the learned revision below, or {look}."
    return f"{look}."


def headline(result: RunResult, *, pull_request: bool = False) -> Headline | None:
    """None when no gate ran (a plain ``promptloop run`` without baseline or thresholds).
    ``pull_request``: the words go on a pull request, whose head the run compared."""
    change = _PULL_REQUEST if pull_request else _LOCAL
    verdict = result.verdict
    if verdict is None:
        return None
    status = verdict.status
    deciding = [n for n, v in result.verdicts.items() if v.status == status]
    if "budget" in verdict.failed_checks:
        step = (
            "raise the budget (`budget:` in the config, or --max-usd / --max-calls) or run "
            "again: the cache answers what finished, for free."
        )
        return Headline(status, verdict.reason.rstrip("."), step)
    if not deciding:
        return Headline(status, verdict.reason.rstrip("."), _next_step(result, status, [], change))
    first = deciding[0]
    why = f"in {first}, {_suite_why(first, result.verdicts[first], result, change)}"
    total = len(result.verdicts)
    if total > 1 and status == "pass":
        why = f"all {total} suites pass; {why}"
    elif total > 1:
        verb = {"fail": "fail", "inconclusive": "are undecided"}[status]
        if len(deciding) == 1:
            verb = {"fail": "fails", "inconclusive": "is undecided"}[status]
        why = f"{len(deciding)} of {total} suites {verb}; {why}"
    step = _next_step(result, status, deciding, change)
    return Headline(status, why[:1].upper() + why[1:] + ".", step)
