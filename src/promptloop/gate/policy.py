"""The merge gate: turn a comparison and the head results into pass, fail or inconclusive.

The rule in one sentence: a suite fails when its pass rate is below its threshold, when it
dropped beyond ``max_regression_pp`` against the baseline and the drop is significant, or
when a critical case broke; when the cases are too few to tell a drop (or, with
``threshold_rule: statistical``, a shortfall) from noise it is inconclusive, which counts
as a pass unless ``inconclusive: fail``; an error (a provider that kept failing, an
evaluator that could not judge a case) is reported apart and is never a prompt failure.

Every rule is a one-sided test at level ``alpha = 1 - confidence``, because the gate
asks one-sided questions ("is head worse?", "is head below the minimum?"). A
two-sided test would spend half of the error budget on "head is better", which can
never fail the gate, and would lose power for nothing.

Regression rule (why it looks like this)
----------------------------------------
Let ``Δ`` be head − base pass rate in percentage points over the paired cases and
``p`` the one-sided p-value for "head is worse" from the paired sign-flip test
(exactly McNemar's exact test when each case ran once; with repeats it also weighs
how far each case moved, see :func:`promptloop.gate.stats.sign_flip_p_worse`).

* **fail** when ``p < alpha`` *and* ``Δ < -max_regression_pp``: we are confident
  head is worse, and the best estimate of how much worse exceeds the allowance.
* **inconclusive** when ``Δ < -max_regression_pp`` but ``p >= alpha``: the drop looks
  larger than allowed but identical prompts produce drops like it through judge and
  sampling noise; more cases or repeats would settle it.
* **pass** otherwise, including a significant drop smaller than the allowance.

Confirmation (``confirm_runs`` > 0, the default): a judge that flips verdicts, or a
model that samples, makes unchanged cases look changed, and on a single run that noise
hides a real 10-point drop about a third of the time (``bench/gate_stats.py``). So when
the first look shows head worse (it breaks more than it fixes), every case that changed
is run ``confirm_runs`` more times on both sides and the rule above is applied to the
confirmed figures (:class:`promptloop.gate.pairing.Confirmation`): noise-made changes average
out, real ones persist. A second look must draw new evidence: the judge is re-sampled
above temperature 0, its verdict the majority of ``confirm_judge_samples`` samples (a
judge at temperature 0 repeats its verdict on an identical request whatever the seed),
and the model only when it samples itself; a suite where nothing can sample is decided
on the first look (``gate.confirmation``). The false-fail bound still holds: a fail needs
the confirmed test to reject, the confirmed test is exact under exchangeability (which
cases are re-run depends only on which changed, not on which side won), and running it
only when head looked worse can only remove fails. The confirmed drop is shrunk towards
zero, never inflated, so the allowance is not reached through the confirmation itself.
It costs extra calls only when head looks worse and only for the changed cases.

Several suites: each suite's regression p-value is adjusted by Holm's step-down across
the suites compared (``gate.holm``), so identical prompts fail the gate in at most
``1 - confidence`` of runs in all, not per suite.

Requiring significance bounds the false-fail rate of identical prompts (A/A) by
``alpha`` whatever the allowance or the suite size, since a fail needs ``p < alpha``
and the test is exact under "head and base are exchangeable within each case". The
stricter reading "fail only when the whole interval lies beyond the allowance" (upper
bound below ``-max_regression_pp``) needs a drop of about twice the allowance before
it can fire on a 200-case suite: in ``bench/gate_stats.py`` it caught a 10-point drop
in about a quarter of runs, against 80-90 % for this rule, at under 5 % A/A fails for
both. Judging the magnitude on the point estimate keeps a statistically real but small
drop (say 2 pp on 5 000 cases) from blocking a merge the team said it accepts.

Absolute minimum (the suite's ``threshold``): with ``threshold_rule: plain`` (the default) a
pass rate below it fails, as a test runner's threshold does. With ``statistical``, and
``(lo, hi)`` the one-sided Wilson bounds at ``confidence``: fail when ``hi < minimum``,
inconclusive when the point estimate is below the minimum but ``hi`` is not, pass otherwise.

Too few cases: an inconclusive check says about how many cases would decide, computed with
the same test (:func:`promptloop.gate.stats.cases_to_detect_drop`,
:func:`promptloop.gate.stats.cases_to_show_below`).

Critical cases: a critical case that breaks (its pass rate drops from base to head)
fails the gate; a broken critical case is always confirmed, and is forgiven when, over
its confirmation runs alone, head passes it at least as often as base (the first look
chose it for breaking, so that look cannot also clear it). Without a baseline nothing
can "break", so any critical case that fails on head fails the gate.

Errors, two kinds, each its own check: a case whose model or judge call failed
(``errors``), and a case the model answered but an evaluator could not judge, such as a
python check that raised or a judge answering garbage (``evaluation``). Neither is a
prompt failure: both are left out of pass rates and pairing. ``on_error="fail"`` fails
the gate, ``"neutral"`` makes it inconclusive, ``"ignore"`` lets the rest decide.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from promptloop.engine.results import VerdictStatus
from promptloop.gate.faults import errors_check, evaluation_check
from promptloop.gate.pairing import AveragedCase, Comparison
from promptloop.gate.rules import (
    CheckName,
    GateCheck,
    GatePolicy,
    Holm,
    article,
    cases,
    level,
    number,
    p_text,
    rerun_words,
    too_few,
)
from promptloop.gate.stats import about, cases_to_detect_drop
from promptloop.gate.threshold import minimum_check
from promptloop.wording import pct, plural

__all__ = [
    "Decision",
    "GateCheck",
    "GatePolicy",
    "Holm",
    "cases_to_confirm",
    "combine_decisions",
    "decide",
    "regression_p",
]

_SEVERITY: dict[VerdictStatus, int] = {"pass": 0, "inconclusive": 1, "fail": 2}
# Which check speaks for the verdict: the most fundamental problem first when
# something is wrong, the most informative figure first when all is well.
_BLAME_ORDER: tuple[CheckName, ...] = (
    "errors",
    "evaluation",
    "critical",
    "regression",
    "min_pass_rate",
)
_PRAISE_ORDER: tuple[CheckName, ...] = (
    "regression",
    "min_pass_rate",
    "critical",
    "errors",
    "evaluation",
)
# The checks that are inconclusive for want of cases; ``inconclusive: fail`` fails them.
_TOO_FEW: tuple[CheckName, ...] = ("regression", "min_pass_rate")
# The drop a power estimate is about, at least: what a reader of "too few cases" weighs.
REFERENCE_DROP_PP = 10.0


@dataclass(frozen=True)
class Decision:
    """The gate's decision on a suite (or a run), every check with it; results.json keeps
    its status, reason, plain sentence and failed checks (``engine.results.Verdict``)."""

    status: VerdictStatus
    reason: str
    checks: tuple[GateCheck, ...] = ()
    suite: str | None = None
    plain: str | None = None


def cases_to_confirm(
    comparison: Comparison, policy: GatePolicy, *, always: bool = False
) -> list[str]:
    """Case ids to run ``policy.confirm_runs`` more times on both sides: every changed
    case when head looks worse (or ``always``), and every critical case that broke.

    ``always`` is for shards: each sees part of the suite, so none can tell whether head
    looks worse overall, and the merged verdict needs every changed case confirmed.
    """
    if policy.confirm_runs == 0:
        return []
    looks_worse = always or comparison.delta_pp.estimate < 0
    return [
        p.case_id
        for p in comparison.pairs
        if (p.kind == "broken" and (looks_worse or p.critical))
        or (p.kind == "fixed" and looks_worse)
    ]


def decide(
    comparison: Comparison | None,
    head: Sequence[AveragedCase],
    policy: GatePolicy,
    *,
    suite: str | None = None,
    holm: Holm | None = None,
) -> Decision:
    """Gate one suite. ``comparison`` is None when there is no baseline to compare with;
    then only the absolute checks (critical cases, minimum pass rate, errors) apply.
    ``holm``, with several suites compared, is what the regression test is judged on."""
    found = [
        errors_check(comparison, head, policy),
        evaluation_check(comparison, head, policy),
        _critical_check(comparison, head),
        None if comparison is None else _regression_check(comparison, policy, holm),
        None if policy.minimum is None else minimum_check(head, policy, comparison is None),
    ]
    checks = [_counted(dataclasses.replace(c, suite=suite), policy) for c in found if c]

    if not checks:
        ran = [r for r in head if not r.error]
        rate = math.fsum(r.passed for r in ran) / len(ran) if ran else 0.0
        reason = (
            f"The suite passes {pct(rate)} of {cases(len(ran))}; no threshold is set, so "
            "there is nothing to gate on."
        )
        return Decision("pass", reason, (), suite, reason)
    status = _worst(c.status for c in checks)
    order = _PRAISE_ORDER if status == "pass" else _BLAME_ORDER
    speaker = min((c for c in checks if c.status == status), key=lambda c: order.index(c.name))
    return Decision(status, speaker.reason, tuple(checks), suite, speaker.plain)


def _counted(check: GateCheck, policy: GatePolicy) -> GateCheck:
    """With ``inconclusive: fail``, a check short of cases fails, saying why."""
    if check.status != "inconclusive" or policy.inconclusive != "fail":
        return check
    if check.name not in _TOO_FEW:
        return check
    return dataclasses.replace(
        check,
        status="fail",
        reason=f"{check.reason} Too few cases to decide count as a fail (gate.inconclusive).",
    )


def combine_decisions(verdicts: Sequence[Decision]) -> Decision:
    """One decision for several suites: fail beats inconclusive beats pass."""
    if not verdicts:
        return Decision("pass", "No suite was gated.")
    status = _worst(v.status for v in verdicts)
    checks = tuple(c for v in verdicts for c in v.checks)
    if len(verdicts) == 1:
        only = verdicts[0]
        return Decision(status, only.reason, checks, only.suite, only.plain)
    if status == "pass":
        return Decision(status, f"All {len(verdicts)} suites pass.", checks)
    worst = [v for v in verdicts if v.status == status]
    first = worst[0]
    named = f"{first.suite}: {first.reason}" if first.suite else first.reason
    verb = "fail" if status == "fail" else "are inconclusive"
    if len(worst) == 1:
        verb = "fails" if status == "fail" else "is inconclusive"
    return Decision(status, f"{len(worst)} of {len(verdicts)} suites {verb}; {named}", checks)


def _worst(statuses: Iterable[VerdictStatus]) -> VerdictStatus:
    worst: VerdictStatus = "pass"
    for status in statuses:
        if _SEVERITY[status] > _SEVERITY[worst]:
            worst = status
    return worst


def _critical_check(
    comparison: Comparison | None, head: Sequence[AveragedCase]
) -> GateCheck | None:
    if comparison is not None:
        critical = [p for p in comparison.pairs if p.critical]
        if not critical:
            return None
        confirmation = comparison.confirmation
        broken = [
            p
            for p in critical
            if p.kind == "broken" and (confirmation is None or confirmation.still_broken(p.case_id))
        ]
        if broken:
            shown = ", ".join(
                f"{p.case_id} ({pct(p.base.passed)} → {pct(p.head.passed)})"
                for p in broken[:5]
                if p.base is not None and p.head is not None
            )
            more = f" and {len(broken) - 5} more" if len(broken) > 5 else ""
            return GateCheck(
                "critical",
                "fail",
                f"Head breaks {plural(len(broken), 'critical case')}: {shown}{more}.",
            )
        return GateCheck("critical", "pass", f"No critical case broke ({len(critical)} checked).")
    critical_head = [r for r in head if r.critical and not r.error]
    if not critical_head:
        return None
    failing = [r for r in critical_head if r.passed < 1.0]
    if failing:
        shown = ", ".join(f"{r.case_id} ({pct(r.passed)})" for r in failing[:5])
        more = f" and {len(failing) - 5} more" if len(failing) > 5 else ""
        return GateCheck(
            "critical",
            "fail",
            f"{plural(len(failing), 'critical case').capitalize()} failed, and a critical "
            f"case must pass: {shown}{more}.",
        )
    return GateCheck("critical", "pass", f"All {len(critical_head)} critical cases pass.")


def regression_p(comparison: Comparison) -> float:
    """The p-value the regression check tests: the confirmed one when every changed case
    was re-run, the first look's otherwise."""
    confirmation = comparison.confirmation
    if confirmation is not None and confirmation.complete:
        return confirmation.p_worse
    return comparison.p_worse


def _moved(estimate_pp: float) -> str:
    """How the pass rate moved, as the gate words it; a change that rounds to nothing is
    "unchanged", never "rose 0.0 pp"."""
    shown = number(abs(estimate_pp))
    if shown == number(0.0):
        return "pass rate unchanged"
    return f"pass rate {'fell' if estimate_pp < 0 else 'rose'} {shown} pp"


def _regression_check(comparison: Comparison, policy: GatePolicy, holm: Holm | None) -> GateCheck:
    if comparison.paired == 0:
        return GateCheck(
            "regression",
            "inconclusive",
            "No case could be paired between base and head, so a regression cannot be judged.",
        )
    delta = comparison.delta_pp
    allowed = policy.max_regression_pp
    moves = (
        f"Head breaks {plural(comparison.broken_count, 'case')} and fixes "
        f"{plural(comparison.fixed_count, 'case')}"
    )
    interval = f"{level(delta.confidence)} CI {number(delta.lo)} to {number(delta.hi)}"
    confirmation = comparison.confirmation
    if confirmation is None or not confirmation.complete:
        estimate, p_worse = delta.estimate, comparison.p_worse
        figures = f"{_moved(delta.estimate)} ({interval}, one-sided {p_text(p_worse)})"
        if comparison.first_look_only and estimate < 0:
            figures += f", decided on the first look: {comparison.first_look_only}"
    else:
        estimate, p_worse = confirmation.delta_pp, confirmation.p_worse
        rerun = rerun_words(confirmation.cases, confirmation.runs)
        if estimate < 0:
            verb = "confirms" if p_worse < policy.alpha else "leaves"
            found = f"{verb} {article(number(abs(estimate)))} pp drop (one-sided {p_text(p_worse)})"
        else:
            found = f"shows no drop (one-sided {p_text(p_worse)})"
        figures = f"{_moved(delta.estimate)} ({interval}); {rerun} {found}"
    allowance = f"{number(allowed)} pp allowed"
    significant = p_worse < policy.alpha
    if holm is not None and holm.suites > 1 and estimate < -allowed:
        significant = holm.adjusted_p < policy.alpha
        figures += f"; Holm-adjusted over {holm.suites} suites {p_text(holm.adjusted_p)}"
    if estimate < -allowed:
        if significant:
            return GateCheck("regression", "fail", f"{moves}; {figures}, beyond the {allowance}.")
        needed = _cases_needed_for_drop(comparison, policy)
        return GateCheck(
            "regression",
            "inconclusive",
            f"{moves}; {figures}, more than the {allowance} but not significant at "
            f"{level(policy.confidence)}: too few cases to decide; {needed}.",
            plain=(
                f"The pass rate fell {number(abs(estimate))} points, but "
                f"{too_few(comparison.paired)} to tell that from noise; {needed}."
            ),
        )
    if estimate < 0:
        return GateCheck("regression", "pass", f"{moves}; {figures}, within the {allowance}.")
    return GateCheck("regression", "pass", f"{moves}; {figures}.")


def _cases_needed_for_drop(comparison: Comparison, policy: GatePolicy) -> str:
    """ "about 70 cases would detect a 10-point drop", from the flips this comparison shows
    in head's favour (the noise an unchanged prompt would show)."""
    drop = max(REFERENCE_DROP_PP, 2.0 * policy.max_regression_pp)
    noise = comparison.fixed_count / comparison.paired if comparison.paired else 0.0
    needed = cases_to_detect_drop(drop, policy.max_regression_pp, policy.alpha, noise)
    if needed is None:
        return f"even 10,000 cases would rarely detect {article(f'{drop:g}')}-point drop"
    return f"about {about(needed)} cases would detect {article(f'{drop:g}')}-point drop"
