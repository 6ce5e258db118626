"""`promptloop calibrate`: each judge's verdicts beside the reviewers' on the same outputs.

It reads what a run already produced (results.json) and the suites' feedback files, so it
costs no model call: a verdict counts only where the output a reviewer judged is the output
the judge graded (same fingerprint).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from promptloop.engine.results import read_results
from promptloop.errors import UserError
from promptloop.evaluators.judge import JudgeEvaluator
from promptloop.gate.calibration import Calibration, Pair, calibrate, judged_pairs
from promptloop.project.layout import results_for
from promptloop.project.loader import Project
from promptloop.wording import plural
from promptloop.yamlpos import suggest


@dataclass(frozen=True)
class SuiteCalibration:
    suite: str
    judges: tuple[Calibration, ...]
    # Why a suite has nothing to show (no judge), else None.
    note: str | None = None


def calibrate_suites(
    project: Project, suite: str | None, given_results: Path | None
) -> list[SuiteCalibration]:
    """Each judge of the project's suites (or of ``suite``) against the reviewers, on the
    outputs of the last run's results.json (or ``given_results``)."""
    results_path = results_for(project.loaded.root, given_results)
    names = [plan.name for plan in project.plans]
    if suite is not None and suite not in names:
        raise UserError(
            f"no suite named {suite!r}{suggest(suite, names)} (the config has: {', '.join(names)})",
            path=str(project.loaded.path),
        )
    if not results_path.is_file():
        raise UserError(
            "no results to calibrate on: run `promptloop run` first", path=str(results_path)
        )
    result = read_results(results_path)
    out = []
    for plan in project.plans:
        if suite is not None and plan.name != suite:
            continue
        judges = [e.name for e in plan.evaluators if isinstance(e, JudgeEvaluator)]
        if not judges:
            out.append(SuiteCalibration(plan.name, (), "no judge to calibrate"))
            continue
        pairs: dict[str, list[Pair]] = {judge: [] for judge in judges}
        for suite_result in (s for s in result.suites if s.name == plan.name):
            for judge, found in judged_pairs(suite_result, judges, plan.feedback).items():
                pairs[judge] += found
        out.append(SuiteCalibration(plan.name, tuple(calibrate(j, pairs[j]) for j in judges)))
    return out


def _num(value: float | None, fmt: str) -> str:
    return "n/a" if value is None else format(value, fmt)


def render_calibration(found: list[SuiteCalibration]) -> str:
    lines: list[str] = []
    for suite in found:
        if suite.note:
            lines.append(f"{suite.suite}: {suite.note}")
            continue
        for c in suite.judges:
            m = c.confusion
            lines += [
                f"{suite.suite} / {c.judge}: {plural(c.n, 'labelled output')}, agreement "
                f"{_num(c.agreement, '.0%')}, kappa {_num(c.kappa, '.2f')} (95% CI "
                f"{_num(c.kappa_low, '.2f')} to {_num(c.kappa_high, '.2f')})",
                "                 reviewer good  reviewer bad",
                f"  judge pass     {m.pass_good:>13}  {m.pass_bad:>12}",
                f"  judge fail     {m.fail_good:>13}  {m.fail_bad:>12}",
            ]
            for p in c.disagreements:
                said = "pass" if p.judge_passed else "fail"
                marked = "good" if p.reviewer_good else "bad"
                lines.append(
                    f"  - {p.case_id}: judge {said} ({p.critique}); reviewer {marked} "
                    f"({p.note or 'no note'})"
                )
    return "\n".join(lines)
