"""Base vs head on the same cases: pair by case id, classify each case, and summarise.

Pairing is what makes a small suite informative: a case that passes on both sides
says nothing about the change, so the tests look only at the cases that moved
(see :mod:`promptloop.gate.stats` for how repeats and fractional outcomes are handled).

Pass rates, the pass-rate delta and the score delta are all computed over the
*paired* cases (present on both sides, errored on neither), so the delta is exactly
head minus base as shown. Errored cases are infrastructure failures, neither pass
nor fail: they are left out of the pairing and counted apart, as are cases an evaluator
could not judge.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from promptloop.engine.comparison import Interval
from promptloop.gate.stats import (
    TIE_TOLERANCE,
    discordant_counts,
    mcnemar_exact,
    paired_bootstrap_ci,
    sign_flip_p_worse,
    wilson_interval,
)

ChangeKind = Literal["fixed", "broken", "unchanged", "errored", "added", "removed"]


@dataclass(frozen=True)
class AveragedCase:
    """One case under one prompt, repeats already averaged.

    ``passed`` and ``score`` are means over the repeats that did not error; a case
    whose every repeat errored has ``error=True`` and its ``passed``/``score`` are 0.
    """

    case_id: str
    passed: float
    score: float
    error: bool = False
    critical: bool = False
    # A failing run's output and reason when there is one (else the first run's), and a
    # passing run's: a fixed case shows the head passing and the base failing.
    output: str | None = None
    reason: str = ""
    pass_output: str | None = None
    pass_reason: str = ""
    # Every run's output in repeat order: equal on both sides means the output did not
    # change, and then neither can the verdict.
    outputs: tuple[str | None, ...] = ()
    repeats: int = 1
    errored_repeats: int = 0
    # Of the errored repeats, those the model answered but an evaluator could not judge
    # (the rest are a provider's failures), and those evaluators' names.
    unevaluated_repeats: int = 0
    unevaluated_by: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0.0 <= self.passed <= 1.0:
            raise ValueError(f"case {self.case_id!r}: passed must be in [0, 1], got {self.passed}")


@dataclass(frozen=True)
class CasePair:
    case_id: str
    kind: ChangeKind
    base: AveragedCase | None
    head: AveragedCase | None

    @property
    def critical(self) -> bool:
        return any(r is not None and r.critical for r in (self.base, self.head))

    @property
    def output_unchanged(self) -> bool:
        return (
            self.base is not None
            and self.head is not None
            and bool(self.base.outputs)
            and self.base.outputs == self.head.outputs
        )

    @property
    def pass_delta(self) -> float | None:
        """head − base mean pass rate for a paired case; None when not paired."""
        if self.kind in ("errored", "added", "removed"):
            return None
        assert self.base is not None and self.head is not None
        return self.head.passed - self.base.passed

    @property
    def score_delta(self) -> float | None:
        if self.kind in ("errored", "added", "removed"):
            return None
        assert self.base is not None and self.head is not None
        return self.head.score - self.base.score


@dataclass(frozen=True)
class Confirmation:
    """The second look at a comparison: the changed cases re-run ``runs`` more times.

    Each confirmed case's difference is its head mean minus its base mean over all of its
    runs (the first included); every other paired case keeps its first-run difference.
    ``delta_pp`` and ``p_worse`` are computed from those differences like the first
    look's. Averaging a case's first run with fresh runs pulls it towards its true
    difference, so ``delta_pp`` never overstates a drop on average: for cases run once on
    the first look, each case's expected difference is its true one shrunk by the factor
    ``(1 + runs * P(it changed)) / (1 + runs)``.
    """

    cases: int
    runs: int
    delta_pp: float
    broken_count: int
    fixed_count: int
    p_worse: float
    # Per confirmed case id: head − base mean pass rate over all runs.
    deltas: dict[str, float]
    # Per confirmed case id: head − base over the confirmation runs alone. A case that
    # broke on the first look was chosen for that, so only fresh runs can clear it.
    fresh_deltas: dict[str, float]
    errored_runs: int = 0
    # Every case that changed on the first look was re-run. Only then do ``delta_pp``
    # and ``p_worse`` speak for the suite; a partial confirmation (critical cases only)
    # still settles the cases it covers.
    complete: bool = True

    def still_broken(self, case_id: str) -> bool:
        """Whether a case that broke on the first look still passes less often on head in
        its confirmation runs; a case that was not confirmed stays broken."""
        delta = self.fresh_deltas.get(case_id)
        return delta is None or delta < -TIE_TOLERANCE


@dataclass(frozen=True)
class Comparison:
    pairs: tuple[CasePair, ...]
    # Over paired cases only; rates in [0, 1] with Wilson intervals.
    base_pass_rate: Interval
    head_pass_rate: Interval
    # Head − base, in percentage points, with a paired percentile-bootstrap interval.
    delta_pp: Interval
    # Head − base mean score, paired bootstrap.
    score_delta: Interval
    # Discordant counts by the sign of each case's delta (see promptloop.gate.stats);
    # mcnemar_p is the two-sided exact test on them.
    broken_count: int
    fixed_count: int
    mcnemar_p: float
    # One-sided p-value for "head is worse than base": paired sign-flip test, which is
    # the exact one-sided McNemar test when each case ran once.
    p_worse: float
    base_errors: int
    head_errors: int
    confidence: float
    seed: int
    confirmation: Confirmation | None = None
    # Why no second look was taken although head looked worse (nothing could sample).
    first_look_only: str | None = None

    def of_kind(self, kind: ChangeKind) -> tuple[CasePair, ...]:
        return tuple(p for p in self.pairs if p.kind == kind)

    def count(self, kind: ChangeKind) -> int:
        return sum(1 for p in self.pairs if p.kind == kind)

    @property
    def paired(self) -> int:
        return sum(1 for p in self.pairs if p.kind in ("fixed", "broken", "unchanged"))

    @property
    def critical_broken(self) -> tuple[CasePair, ...]:
        return tuple(p for p in self.pairs if p.kind == "broken" and p.critical)


def _classify(base: AveragedCase | None, head: AveragedCase | None) -> ChangeKind:
    if base is None:
        return "added"
    if head is None:
        return "removed"
    if base.error or head.error:
        return "errored"
    delta = head.passed - base.passed
    if delta > TIE_TOLERANCE:
        return "fixed"
    if delta < -TIE_TOLERANCE:
        return "broken"
    return "unchanged"


def _index(records: Sequence[AveragedCase], side: str) -> dict[str, AveragedCase]:
    index: dict[str, AveragedCase] = {}
    for record in records:
        if record.case_id in index:
            raise ValueError(
                f"{side}: case id {record.case_id!r} appears twice; average repeats first "
                "(promptloop.gate.verdicts.pair_records)"
            )
        index[record.case_id] = record
    return index


def compare(
    base: Sequence[AveragedCase],
    head: Sequence[AveragedCase],
    *,
    confidence: float = 0.95,
    seed: int = 0,
    n_resamples: int = 2000,
) -> Comparison:
    """Pair ``base`` and ``head`` by case id and summarise the change.

    Pairs keep head order, then cases only in base ("removed") in base order.
    """
    base_by_id = _index(base, "base")
    head_by_id = _index(head, "head")
    pairs = [
        CasePair(r.case_id, _classify(base_by_id.get(r.case_id), r), base_by_id.get(r.case_id), r)
        for r in head
    ]
    pairs += [CasePair(r.case_id, "removed", r, None) for r in base if r.case_id not in head_by_id]
    paired = [p for p in pairs if p.kind in ("fixed", "broken", "unchanged")]
    n = len(paired)
    pass_deltas = [p.head.passed - p.base.passed for p in paired if p.head and p.base]
    score_deltas = [p.head.score - p.base.score for p in paired if p.head and p.base]
    base_passes = math.fsum(p.base.passed for p in paired if p.base)
    head_passes = math.fsum(p.head.passed for p in paired if p.head)
    broken, fixed = discordant_counts(pass_deltas)

    if n:
        delta = paired_bootstrap_ci(
            pass_deltas, confidence=confidence, n_resamples=n_resamples, seed=seed
        )
        delta_pp = Interval(delta[0] * 100.0, delta[1] * 100.0, delta[2] * 100.0, confidence)
        # A different stream for scores so the two intervals are not resampled in lockstep.
        s = paired_bootstrap_ci(
            score_deltas, confidence=confidence, n_resamples=n_resamples, seed=seed + 1
        )
        score_delta = Interval(s[0], s[1], s[2], confidence)
    else:
        # Nothing paired: every change is possible.
        delta_pp = Interval(0.0, -100.0, 100.0, confidence)
        score_delta = Interval(0.0, -1.0, 1.0, confidence)

    return Comparison(
        pairs=tuple(pairs),
        base_pass_rate=_rate(base_passes, n, confidence),
        head_pass_rate=_rate(head_passes, n, confidence),
        delta_pp=delta_pp,
        score_delta=score_delta,
        broken_count=broken,
        fixed_count=fixed,
        mcnemar_p=mcnemar_exact(broken, fixed),
        p_worse=sign_flip_p_worse(pass_deltas, seed=seed),
        base_errors=sum(1 for r in base if r.error),
        head_errors=sum(1 for r in head if r.error),
        confidence=confidence,
        seed=seed,
    )


def confirm(
    comparison: Comparison,
    base_all: Sequence[AveragedCase],
    head_all: Sequence[AveragedCase],
    base_fresh: Sequence[AveragedCase],
    head_fresh: Sequence[AveragedCase],
    *,
    runs: int,
    errored_runs: int = 0,
) -> Comparison:
    """The comparison with its :class:`Confirmation` filled in.

    ``base_all`` and ``head_all`` hold the confirmed cases averaged over every run, the
    first look's included, ``base_fresh`` and ``head_fresh`` over the confirmation runs
    alone; ``errored_runs`` counts confirmation runs that hit an
    infrastructure error (they are left out of those averages). When every changed case
    was re-run, the choice of cases looked only at which cases changed, not at which
    side won, so under "head and base are exchangeable within each case" the sign-flip
    test on the confirmed differences stays exact.
    """
    base_by_id = _index(base_all, "base")
    head_by_id = _index(head_all, "head")
    deltas: dict[str, float] = {}
    combined: list[float] = []
    complete = True
    for pair in comparison.pairs:
        first = pair.pass_delta
        if first is None:
            continue
        base, head = base_by_id.get(pair.case_id), head_by_id.get(pair.case_id)
        if base is None or head is None or base.error or head.error:
            complete = complete and abs(first) <= TIE_TOLERANCE
            combined.append(first)
            continue
        deltas[pair.case_id] = head.passed - base.passed
        combined.append(deltas[pair.case_id])
    fresh_base = {r.case_id: r for r in base_fresh if not r.error}
    fresh = {
        r.case_id: r.passed - fresh_base[r.case_id].passed
        for r in head_fresh
        if not r.error and r.case_id in fresh_base
    }
    worse, better = discordant_counts(combined)
    confirmation = Confirmation(
        cases=len(deltas),
        runs=runs,
        delta_pp=100.0 * math.fsum(combined) / len(combined) if combined else 0.0,
        broken_count=worse,
        fixed_count=better,
        p_worse=sign_flip_p_worse(combined, seed=comparison.seed),
        deltas=deltas,
        fresh_deltas=fresh,
        errored_runs=errored_runs,
        complete=complete,
    )
    return replace(comparison, confirmation=confirmation)


def _rate(successes: float, n: int, confidence: float) -> Interval:
    lo, hi = wilson_interval(min(successes, float(n)), n, confidence)
    return Interval(successes / n if n else 0.0, lo, hi, confidence)
