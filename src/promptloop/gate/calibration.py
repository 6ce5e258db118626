"""How well a judge agrees with the reviewers it imitates: agreement, Cohen's κ, confusion.

A judge is only worth gating on if it says "fail" where the people who know the right answer
say "bad". Each pair here is one output both graded: the judge passed or failed it, a
reviewer marked it good or bad. κ corrects the raw agreement for what two raters would agree
on by chance given how often each says yes; its 95% interval uses Cohen's (1960) large-sample
standard error, ``sqrt(p_o (1 - p_o) / (n (1 - p_e)^2))``, clipped to [-1, 1] — rough for a
few dozen labels, which is why the number of labels is always shown beside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from promptloop.dataset.feedback import FeedbackRecord, verdict_for
from promptloop.engine.results import SuiteResult

Z_95 = 1.959963984540054


@dataclass(frozen=True)
class Pair:
    case_id: str
    judge_passed: bool
    reviewer_good: bool
    critique: str
    note: str


@dataclass(frozen=True)
class Confusion:
    """Rows: the judge (pass, fail); columns: the reviewer (good, bad)."""

    pass_good: int
    pass_bad: int
    fail_good: int
    fail_bad: int

    @property
    def n(self) -> int:
        return self.pass_good + self.pass_bad + self.fail_good + self.fail_bad


@dataclass(frozen=True)
class Calibration:
    judge: str
    confusion: Confusion
    agreement: float | None
    kappa: float | None
    kappa_low: float | None
    kappa_high: float | None
    disagreements: tuple[Pair, ...]

    @property
    def n(self) -> int:
        return self.confusion.n


def confusion_of(pairs: Sequence[Pair]) -> Confusion:
    def count(judge: bool, good: bool) -> int:
        return sum(1 for p in pairs if p.judge_passed == judge and p.reviewer_good == good)

    return Confusion(count(True, True), count(True, False), count(False, True), count(False, False))


def kappa(c: Confusion) -> tuple[float | None, float | None, float | None]:
    """(κ, low, high); None where it is undefined (no labels, or both raters constant)."""
    n = c.n
    if n == 0:
        return None, None, None
    p_o = (c.pass_good + c.fail_bad) / n
    judge_pass = (c.pass_good + c.pass_bad) / n
    reviewer_good = (c.pass_good + c.fail_good) / n
    p_e = judge_pass * reviewer_good + (1 - judge_pass) * (1 - reviewer_good)
    if math.isclose(p_e, 1.0):
        return None, None, None
    k = (p_o - p_e) / (1 - p_e)
    se = math.sqrt(p_o * (1 - p_o) / (n * (1 - p_e) ** 2))
    return k, max(-1.0, k - Z_95 * se), min(1.0, k + Z_95 * se)


def calibrate(judge: str, pairs: Sequence[Pair]) -> Calibration:
    c = confusion_of(pairs)
    k, low, high = kappa(c)
    return Calibration(
        judge=judge,
        confusion=c,
        agreement=(c.pass_good + c.fail_bad) / c.n if c.n else None,
        kappa=k,
        kappa_low=low,
        kappa_high=high,
        disagreements=tuple(p for p in pairs if p.judge_passed != p.reviewer_good),
    )


def judged_pairs(
    suite: SuiteResult, judges: Sequence[str], feedback: Sequence[FeedbackRecord]
) -> dict[str, list[Pair]]:
    """Per judge: the first-run outputs a reviewer judged, with both verdicts."""
    pairs: dict[str, list[Pair]] = {judge: [] for judge in judges}
    for record in suite.cases:
        verdict = verdict_for(feedback, record.id, record.shown_output)
        if record.repeat != 0 or verdict is None:
            continue
        good = verdict.verdict == "good"
        for e in record.evaluations:
            if e.evaluator in pairs and e.error is None:
                pairs[e.evaluator].append(Pair(record.id, e.passed, good, e.reason, verdict.note))
    return pairs
