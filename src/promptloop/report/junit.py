"""JUnit XML: a testsuite per suite, a testcase per case, failures carry the reasons."""

from __future__ import annotations

from pathlib import Path

from junit_xml import TestCase, TestSuite, to_xml_report_string

from promptloop.results import RunResult


def render_junit(result: RunResult) -> str:
    suites = []
    for suite in result.suites:
        cases = []
        for case in suite.cases:
            name = case.id if not case.repeat else f"{case.id}#{case.repeat}"
            tc = TestCase(
                name=name,
                classname=f"promptloop.{suite.name}",
                elapsed_sec=case.latency_s,
                stdout=case.output,
                file=case.source.rsplit(":", 1)[0] if case.source else None,
            )
            if case.status == "error":
                tc.add_error_info(message=case.error or "error", error_type="infrastructure")
            elif case.status == "fail":
                tc.add_failure_info(message=case.reasons or "failed", failure_type="eval")
            cases.append(tc)
        suites.append(TestSuite(suite.name, cases, package="promptloop"))
    return str(to_xml_report_string(suites, prettyprint=True, encoding="utf-8"))


def write_junit(result: RunResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_junit(result), encoding="utf-8")
