"""Uncalibrated judges are advisory: reported and critiqued, but they do not fail the gate.

A judge earns a vote in the gate by agreeing with the reviewers it imitates: at least
``min_labels`` outputs a reviewer judged, and Cohen's κ on them of at least ``min_kappa``.
Until then its failures stay in the results (and reach the optimizer as critiques), while each
case's pass or fail is decided by the other evaluators alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from promptloop.dataset.feedback import FeedbackRecord
from promptloop.engine.results import CaseRecord, SuiteResult
from promptloop.evaluators.base import EvalResult, asks_a_judge, combine
from promptloop.gate.calibration import Calibration, calibrate, judged_pairs
from promptloop.project.config.gate import GateCalibration
from promptloop.project.config.suite import SuiteConfig
from promptloop.project.loaded import LoadedConfig
from promptloop.wording import plural


@dataclass(frozen=True)
class JudgeStanding:
    suite: str
    calibration: Calibration
    advisory: bool
    why: str


def standing(
    suite: SuiteResult,
    judges: Sequence[str],
    feedback: Sequence[FeedbackRecord],
    *,
    min_labels: int,
    min_kappa: float,
) -> list[JudgeStanding]:
    pairs = judged_pairs(suite, judges, feedback)
    out = []
    for judge in judges:
        c = calibrate(judge, pairs[judge])
        if c.n < min_labels:
            why = f"{plural(c.n, 'labelled output')}, needs {min_labels}"
        elif c.kappa is None or c.kappa < min_kappa:
            shown = "undefined" if c.kappa is None else f"{c.kappa:.2f}"
            why = f"kappa {shown} on {c.n} labelled outputs, needs {min_kappa:g}"
        else:
            why = f"calibrated (kappa {c.kappa:.2f} on {c.n} labelled outputs)"
            out.append(JudgeStanding(suite.name, c, False, why))
            continue
        out.append(JudgeStanding(suite.name, c, True, why))
    return out


def _decided_without(record: CaseRecord, advisory: frozenset[str], threshold: float) -> CaseRecord:
    if record.status != "fail" or not any(e.evaluator in advisory for e in record.evaluations):
        return record
    rest = [
        EvalResult(e.evaluator, e.passed, e.score, e.reason, error=e.error, weight=e.weight)
        for e in record.evaluations
        if e.evaluator not in advisory and not e.abstained
    ]
    passed, score = combine(rest, threshold)
    return record.model_copy(update={"status": "pass" if passed else "fail", "score": score})


def relieve(
    suites: Sequence[SuiteResult],
    advisory: Mapping[str, frozenset[str]],
    thresholds: Mapping[str, float],
    case_thresholds: Mapping[str, Mapping[str, float]] | None = None,
) -> list[SuiteResult]:
    """``suites`` with each case decided without its suite's advisory judges, at the
    case's own threshold where it has one (a promptfoo test's), else its suite's."""
    out = []
    for suite in suites:
        judges = advisory.get(suite.name, frozenset())
        if not judges:
            out.append(suite)
            continue
        default = thresholds.get(suite.name, 1.0)
        own = (case_thresholds or {}).get(suite.name, {})

        def decided(record: CaseRecord) -> CaseRecord:
            return _decided_without(record, judges, own.get(record.id, default))  # noqa: B023

        out.append(
            suite.model_copy(
                update={
                    "cases": [decided(r) for r in suite.cases],
                    "confirmation_runs": [decided(r) for r in suite.confirmation_runs],
                }
            )
        )
    return out


def _case_judges(loaded: LoadedConfig, suite: SuiteConfig) -> tuple[list[str], dict[str, float]]:
    """The judges written with single cases (a promptfoo test's ``llm-rubric``), and the
    thresholds of the cases that set their own."""
    if loaded.source is None:
        return [], {}
    checks = loaded.source.suite(suite).case_checks
    names = {e.name for c in checks.values() for e in c.evaluators if asks_a_judge(e)}
    own = {case: c.threshold for case, c in checks.items() if c.threshold is not None}
    return sorted(names), own


NOTICE_PREFIX = "judge "
MAX_LISTED = 5


def judge_notice(suite: str, judge: JudgeStanding) -> str:
    role = "advisory (does not fail the gate)" if judge.advisory else "gating"
    text = f"{NOTICE_PREFIX}{suite}/{judge.calibration.judge} is {role}: {judge.why}"
    apart = [p.case_id for p in judge.calibration.disagreements]
    if apart:
        more = f" and {len(apart) - MAX_LISTED} more" if len(apart) > MAX_LISTED else ""
        text += f"; disagrees with the reviewers on {', '.join(apart[:MAX_LISTED])}{more}"
    return text


def advise(
    loaded: LoadedConfig,
    head: list[SuiteResult],
    base: list[SuiteResult],
    feedback: Mapping[str, Sequence[FeedbackRecord]],
) -> tuple[list[SuiteResult], list[SuiteResult], list[str]]:
    """With ``gate.calibration`` set: head and base decided without the uncalibrated judges
    (judged on the head's outputs, the ones reviewers saw), and a notice for each judge."""
    rule: GateCalibration | None = loaded.config.gate.calibration
    if rule is None:
        return head, base, []
    advisory: dict[str, frozenset[str]] = {}
    notices = []
    thresholds = {}
    case_thresholds = {}
    for config in loaded.config.suites:
        judges = [spec.label for spec in config.evaluators if spec.kind == "judge"]
        own_judges, case_thresholds[config.name] = _case_judges(loaded, config)
        judges += [name for name in own_judges if name not in judges]
        result = next((s for s in head if s.name == config.name), None)
        if not judges or result is None:
            continue
        thresholds[config.name] = config.case_threshold
        found = standing(
            result,
            judges,
            feedback.get(config.name, ()),
            min_labels=rule.min_labels,
            min_kappa=rule.min_kappa,
        )
        advisory[config.name] = frozenset(j.calibration.judge for j in found if j.advisory)
        notices += [judge_notice(config.name, j) for j in found]
    return (
        relieve(head, advisory, thresholds, case_thresholds),
        relieve(base, advisory, thresholds, case_thresholds),
        notices,
    )
