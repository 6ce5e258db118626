"""How numbers read in every report, so the console and the PR comment agree."""

from __future__ import annotations

from promptloop.results import SuiteResult
from promptloop.stats import wilson_interval


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def rate_with_interval(suite: SuiteResult) -> str:
    """Pass rate over cases that ran, with its 95% Wilson interval."""
    passed, failed, _ = suite.counts
    n = passed + failed
    if n == 0:
        return "n/a"
    lo, hi = wilson_interval(passed, n)
    return f"{pct(passed / n)} [{pct(lo)}–{pct(hi)}]"
