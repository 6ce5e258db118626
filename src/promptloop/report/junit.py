"""JUnit XML: a testsuite per suite, a testcase per case, failures carry the reasons.

With a baseline, each suite also carries the comparison as properties, a case that broke
fails as a ``regression`` and shows the base output beside the head's, and one more
testcase per suite, ``promptloop gate``, holds the verdict (inconclusive is skipped), so a
CI test view shows the merge decision next to the cases.
"""

from __future__ import annotations

from pathlib import Path

from junit_xml import TestCase, TestSuite, to_xml_report_string

from promptloop.engine.comparison import ChangedCase, ComparisonSummary
from promptloop.engine.results import CaseRecord, ReviewRecord, RunResult, SuiteResult, Verdict
from promptloop.report.figures import format_p
from promptloop.report.names import REVIEW_STATE, case_label

GATE_CASE = "promptloop gate"
INCOMPLETE_CASE = "promptloop incomplete run"


def render_junit(result: RunResult) -> str:
    suites = []
    for suite in result.suites:
        comparison = result.comparisons.get(suite.name)
        changes = _changes(comparison)
        classname = f"promptloop.{suite.name}"
        reviews = {r.case_id: r for r in suite.reviews}
        cases = [
            _case(case, classname, changes.get(case.id), reviews.get(case.id))
            for case in suite.cases
        ]
        if result.incomplete:
            cases.append(_incomplete_case(result.incomplete, suite, classname))
        verdict = result.verdicts.get(suite.name)
        if verdict is not None:
            cases.append(_gate_case(verdict, classname))
        properties = _properties(comparison, result.baseline_ref) if comparison else None
        if result.incomplete:
            properties = {**(properties or {}), "not_run": str(suite.not_run)}
        suites.append(TestSuite(suite.name, cases, package="promptloop", properties=properties))
    return str(to_xml_report_string(suites, prettyprint=True, encoding="utf-8"))


def _changes(comparison: ComparisonSummary | None) -> dict[str, tuple[str, ChangedCase]]:
    if comparison is None:
        return {}
    return {
        item.case_id: (kind, item)
        for kind, items in (("broken", comparison.broken), ("fixed", comparison.fixed))
        for item in items
    }


def _case(
    case: CaseRecord,
    classname: str,
    change: tuple[str, ChangedCase] | None,
    review: ReviewRecord | None,
) -> TestCase:
    # The name the console and the reviewers' table show, so it can be typed back.
    label = case_label(case)
    name = label if not case.repeat else f"{label}#{case.repeat}"
    stdout = case.shown_output
    if change is not None:
        stdout = f"head output: {case.shown_output}\nbase output: {change[1].base_output}"
    if case.shown_history:
        stdout = f"earlier turns:\n{case.shown_history}\noutput: {stdout}"
    if review is not None:
        # A person's verdict, apart from the evaluators' reasons in the failure message.
        stdout = f"{stdout or ''}\n{review_text(review)}"
    tc = TestCase(
        name=name,
        classname=classname,
        elapsed_sec=case.latency_s,
        stdout=stdout,
        file=case.source.rsplit(":", 1)[0] if case.source else None,
    )
    if case.unevaluated:
        # The model answered; an evaluator could not judge it: an error, not a failure.
        tc.add_error_info(message=f"could not evaluate: {case.reasons}", error_type="evaluation")
    elif case.status == "error":
        tc.add_error_info(message=case.error or "error", error_type="infrastructure")
    elif case.status == "fail":
        if change is not None and change[0] == "broken":
            tc.add_failure_info(
                message=f"broken: passed on base, fails on head: {case.reasons or 'failed'}",
                failure_type="regression",
            )
        else:
            tc.add_failure_info(message=case.reasons or "failed", failure_type="eval")
    return tc


def review_text(review: ReviewRecord) -> str:
    note = f": {review.note}" if review.note else ""
    return f"reviewer {review.by}: {review.verdict}{note} ({REVIEW_STATE[review.status]})"


def _incomplete_case(why: str, suite: SuiteResult, classname: str) -> TestCase:
    """Cases that never ran have no testcase of their own; this one says how many."""
    total = len(suite.cases) + suite.not_run
    message = f"{why}: {suite.not_run} of {total} cases did not run"
    tc = TestCase(name=INCOMPLETE_CASE, classname=classname, stdout=message)
    tc.add_error_info(message=message, error_type="incomplete")
    return tc


def _gate_case(verdict: Verdict, classname: str) -> TestCase:
    tc = TestCase(name=GATE_CASE, classname=classname, stdout=verdict.reason)
    if verdict.status == "fail" and set(verdict.failed_checks) <= {"errors", "evaluation"}:
        # Only errors decided: the prompt did not fail, so neither does this testcase.
        tc.add_error_info(message=verdict.reason, error_type="gate")
    elif verdict.status == "fail":
        tc.add_failure_info(message=verdict.reason, failure_type="gate")
    elif verdict.status == "inconclusive":
        tc.add_skipped_info(message=f"inconclusive: {verdict.reason}")
    return tc


def _properties(comparison: ComparisonSummary, baseline_ref: str | None) -> dict[str, str]:
    properties = {
        "baseline_ref": baseline_ref or "",
        "base_pass_rate": f"{comparison.base_pass_rate:.4f}",
        "head_pass_rate": f"{comparison.head_pass_rate:.4f}",
        "delta_pp": f"{comparison.delta_pp:+.1f}",
        "delta_ci_pp": f"[{comparison.delta_lo_pp:+.1f}, {comparison.delta_hi_pp:+.1f}]",
        "p_head_worse": format_p(comparison.p_worse),
        "fixed": str(len(comparison.fixed)),
        "broken": str(len(comparison.broken)),
    }
    confirmation = comparison.confirmation
    if confirmation is not None:
        properties["confirmed_cases"] = str(confirmation.cases)
        properties["confirmed_delta_pp"] = f"{confirmation.delta_pp:+.1f}"
        properties["confirmed_p_head_worse"] = format_p(confirmation.p_worse)
    return properties


def write_junit(result: RunResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_junit(result), encoding="utf-8")
