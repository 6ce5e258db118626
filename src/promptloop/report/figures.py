"""How numbers read in every report, so the console and the PR comment agree."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptloop.engine.results import SuiteResult
from promptloop.gate.stats import wilson_interval
from promptloop.wording import pct, plural


def rate_with_interval(suite: SuiteResult) -> str:
    """Pass rate over cases that ran, with its 95% Wilson interval."""
    passed, failed, _ = suite.counts
    n = passed + failed
    if n == 0:
        return "n/a"
    lo, hi = wilson_interval(passed, n)
    return f"{pct(passed / n)} [{pct(lo)}–{pct(hi)}]"


def format_p(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def confirmation_line(confirmation: Mapping[str, Any]) -> str:
    """One sentence on the gate's confirmation runs (results.json's comparison block)."""
    cases, runs = int(confirmation["cases"]), int(confirmation["runs"])
    what = plural(cases, "changed case")
    more = f"{plural(runs, 'more time')} on each side"
    if not confirmation["complete"]:
        return f"{what} (broken critical cases) ran {more} to confirm them."
    return (
        f"the {what} ran {more} to confirm: Δ {confirmation['delta_pp']:+.1f} pp with every "
        f"run counted, p (head worse) {format_p(float(confirmation['p_worse']))}."
    )


def _signed(value: float) -> str:
    text = f"{value:+.1f}"
    return "0.0" if text in ("+0.0", "-0.0") else text.replace("-", "−")


def change_with_interval(cmp: Mapping[str, Any] | None) -> str:
    """Head minus base in points with its interval (a results.json comparison block)."""
    if not cmp:
        return "—"
    lo, hi = _signed(cmp["delta_lo_pp"]), _signed(cmp["delta_hi_pp"])
    return f"{_signed(cmp['delta_pp'])} pp [{lo}, {hi}]"
