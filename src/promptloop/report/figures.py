"""How numbers read in every report, so the console and the PR comment agree."""

from __future__ import annotations

from promptloop.engine.comparison import ComparisonSummary, ConfirmationSummary
from promptloop.engine.results import SuiteResult, Verdict
from promptloop.gate.rules import rerun_words
from promptloop.wording import pct, plural


def rate_with_interval(suite: SuiteResult) -> str:
    """Pass rate over cases that ran, with the interval the gate computed (a stopped run
    has none: its finished cases are no sample of the suite)."""
    interval = suite.pass_rate_interval
    if interval is not None:
        return f"{pct(interval.estimate)} [{pct(interval.lo)}–{pct(interval.hi)}]"
    passed, failed, _ = suite.counts
    return pct(suite.pass_rate) if passed + failed else "n/a"


def format_p(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def confirmation_line(confirmation: ConfirmationSummary) -> str:
    """One sentence on the gate's confirmation runs."""
    what = plural(confirmation.cases, "changed case")
    more = f"{plural(confirmation.runs, 'more time')} on each side"
    if not confirmation.complete:
        return f"{what} (broken critical cases) ran {more} to confirm them."
    return (
        f"the {what} ran {more} to confirm: Δ {signed(confirmation.delta_pp)} pp with every "
        f"run counted, p (head worse) {format_p(confirmation.p_worse)}."
    )


def second_look_line(cmp: ComparisonSummary, verdict: Verdict | None) -> str | None:
    """The confirmation sentence for a report that also shows the verdict's reason; None when
    there is no second look, or when that reason already tells it (the regression check's
    does, with the same figures), so a reader is not told it twice."""
    confirmation = cmp.confirmation
    if confirmation is None:
        return None
    told = rerun_words(confirmation.cases, confirmation.runs)
    if verdict is not None and told in verdict.reason:
        return None
    return confirmation_line(confirmation)


def signed(value: float) -> str:
    """A change in points as every report prints it: signed, with a true minus sign (−)."""
    text = f"{value:+.1f}"
    return "0.0" if text in ("+0.0", "-0.0") else text.replace("-", "−")


def change_with_interval(cmp: ComparisonSummary | None) -> str:
    """Head minus base in points with its interval."""
    if cmp is None:
        return "—"
    lo, hi = signed(cmp.delta_lo_pp), signed(cmp.delta_hi_pp)
    return f"{signed(cmp.delta_pp)} pp [{lo}, {hi}]"


def outputs_line(comparison: ComparisonSummary) -> str:
    """How many paired cases changed their output: an unchanged output keeps its verdict
    (it was evaluated once), so only the changed ones can be fixed or broken."""
    paired = comparison.paired
    unchanged = comparison.outputs_unchanged
    changed = paired - unchanged
    return (
        f"{changed} of {plural(paired, 'paired case')} changed their output; "
        f"{unchanged} gave the same output on both sides and kept one verdict. "
        "Δ, its interval and p are the first look's."
    )
