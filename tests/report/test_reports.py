"""The three report files of a real run: junit.xml, report.md (safe to post), results.json."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from promptloop.commands.run import ProjectQuery, RunOptions, execute_run, project_for
from promptloop.dataset.cases import case_id_for
from promptloop.engine.comparison import Interval
from promptloop.engine.results import RunResult, Verdict, mark_incomplete, read_results
from promptloop.models.base import ModelCallError
from promptloop.models.scripted import clear_scripts, register_script
from promptloop.report.chart import pass_rate_chart
from promptloop.report.console import print_run
from promptloop.report.files import write_reports
from promptloop.report.headline import headline
from promptloop.report.junit import render_junit
from promptloop.report.markdown import render_markdown
from promptloop.wording import pct

PROJECTS = Path(__file__).parents[1] / "fixtures" / "projects"
HOSTILE = "@octocat <script>alert(1)</script> positive"

SECOND_SUITE = """\
  - name: echo
    prompt: prompts/classify.md
    dataset: evals/reviews.jsonl
    evaluators:
      - max-length: {words: 2}
        name: short
"""


@pytest.fixture(autouse=True)
def _scripts() -> Iterator[None]:
    clear_scripts()
    yield
    clear_scripts()


def answer(call: dict[str, Any]) -> str | BaseException:
    text = str(call["messages"][-1]["content"])
    if "battery" in text:
        return ModelCallError("upstream 500", kind="server")
    if "loved" in text:
        return HOSTILE
    return "negative" if any(w in text for w in ("Terrible", "Broke", "ignored")) else "positive"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunResult, Path]]:
    """One real run of two suites: r01 answers hostile text, r06 hits a provider error."""
    root = tmp_path_factory.mktemp("reports") / "sentiment"
    shutil.copytree(PROJECTS / "sentiment", root)
    config = root / "promptloop.yaml"
    # No retries: the scripted provider error is final, and the test stays fast.
    config.write_text("retries: 0\n" + config.read_text() + SECOND_SUITE)
    clear_scripts()
    register_script("sentiment", answer)
    result = execute_run(RunOptions(no_cache=True), project_for(ProjectQuery(start_dir=root)))
    out = root / "out"
    write_reports(result, out)
    yield result, out
    clear_scripts()


def test_junit_has_a_testsuite_per_suite_with_failures_and_errors(
    run_dir: tuple[RunResult, Path],
) -> None:
    _, out = run_dir
    root = ET.parse(out / "junit.xml").getroot()
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"sentiment", "echo"}
    sentiment = suites["sentiment"]
    # 8 cases and the gate's verdict, which fails on r06's provider error (on_error: fail):
    # an error, like r06's, since the prompt failed nothing to decide it.
    assert (sentiment.get("tests"), sentiment.get("failures"), sentiment.get("errors")) == (
        "9",
        "1",
        "2",
    )
    cases = {c.get("name"): c for c in sentiment.iter("testcase")}
    gate = cases.pop("promptloop gate")
    assert gate.find("failure") is None
    gate_error = gate.find("error")
    assert gate_error is not None and gate_error.get("type") == "gate"
    assert "infrastructure error" in (gate_error.get("message") or "")
    assert len(cases) == 8
    failure = cases["r01"].find("failure")
    assert failure is not None
    message = failure.get("message") or ""
    assert message.startswith("label:") and "expected" in message
    error = cases["r06"].find("error")
    assert error is not None and "upstream 500" in (error.get("message") or "")
    assert cases["r06"].find("failure") is None
    assert all(cases[n].find("failure") is None for n in cases if n not in ("r01", "r06"))
    assert (cases["r02"].get("file") or "").endswith("evals/reviews.jsonl")
    # echo: the hostile answer is too long (r01), r06 errored, and so the gate errs.
    echo = suites["echo"]
    assert (echo.get("failures"), echo.get("errors")) == ("1", "2")


def test_report_md_neutralises_mentions_and_html_from_model_output(
    run_dir: tuple[RunResult, Path],
) -> None:
    _, out = run_dir
    report = (out / "report.md").read_text()
    assert "r01" in report
    # Outside code spans no raw HTML tag and no live @mention survive.
    prose = re.sub(r"(`+)(?:(?!\1).)*?\1", "", report)
    assert "<script>" not in prose
    assert not re.search(r"(?<![\w`])@octocat\b", prose)
    # The model's words are still shown, verbatim, inside a code span.
    assert "`@octocat <script>alert(1)</script> positive`" in report
    # The errored case is reported apart from the failing ones.
    assert "1 case not evaluated (errors)" in report
    assert "upstream 500" in report


def test_markdown_neutralises_hostile_errors_and_notices(run_dir: tuple[RunResult, Path]) -> None:
    result, _ = run_dir
    suite = result.suites[0]
    cases = [
        c.model_copy(update={"error": "@everyone <img src=x onerror=alert(1)> | broke"})
        if c.status == "error"
        else c
        for c in suite.cases
    ]
    hostile = result.model_copy(
        update={
            "suites": [suite.model_copy(update={"cases": cases}), *result.suites[1:]],
            "notices": ["ping @admins <b>now</b>"],
        }
    )
    report = render_markdown(hostile)
    prose = re.sub(r"(`+)(?:(?!\1).)*?\1", "", report)
    assert "<img" not in prose and "<b>" not in prose
    assert not re.search(r"(?<![\w`])@(admins|everyone)\b", prose)
    assert "everyone" in report and "admins" in report  # neutralised, not dropped


def test_results_json_round_trips(run_dir: tuple[RunResult, Path]) -> None:
    result, out = run_dir
    again = read_results(out / "results.json")
    assert again == result
    assert again.model_dump() == result.model_dump()
    assert render_junit(again) == render_junit(result)
    statuses = {c.id: c.status for c in again.suites[0].cases}
    assert statuses["r01"] == "fail" and statuses["r06"] == "error"
    assert sum(s == "pass" for s in statuses.values()) == 6


def test_junit_skips_the_gate_case_when_the_verdict_is_inconclusive(
    run_dir: tuple[RunResult, Path],
) -> None:
    result, _ = run_dir
    reason = "Head pass rate 60.0% over 8 cases is below the required 70.0% but within noise."
    inconclusive = result.model_copy(
        update={"verdicts": {"sentiment": Verdict(status="inconclusive", reason=reason)}}
    )
    root = ET.fromstring(render_junit(inconclusive))
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    gate = next(
        c for c in suites["sentiment"].iter("testcase") if c.get("name") == "promptloop gate"
    )
    skipped = gate.find("skipped")
    assert skipped is not None and skipped.get("message") == f"inconclusive: {reason}"
    assert gate.find("failure") is None
    # A suite without a verdict gets no gate case.
    assert all(c.get("name") != "promptloop gate" for c in suites["echo"].iter("testcase"))


def test_chart_draws_each_evaluator_and_keeps_names_from_breaking_out(
    run_dir: tuple[RunResult, Path],
) -> None:
    result, _ = run_dir
    suite = result.suites[0]
    evaluators = [
        e.model_copy(update={"name": 'label"] ; bar [1'}) if e.name == "label" else e
        for e in suite.evaluators
    ]
    hostile = result.model_copy(
        update={"suites": [suite.model_copy(update={"evaluators": evaluators})]}
    )
    chart = pass_rate_chart(hostile)
    assert chart.startswith("```mermaid\n") and chart.endswith("\n```")
    (x_axis,) = [line for line in chart.splitlines() if "x-axis" in line]
    # One quoted label per evaluator, none able to close the list or the string early.
    assert x_axis.count('"') == 2 * len(evaluators)
    assert "]" not in x_axis[: x_axis.rindex('"')] and ";" not in x_axis
    (bars,) = [line for line in chart.splitlines() if line.strip().startswith("bar")]
    assert len(bars.split(",")) == len(evaluators)
    # The sticky comment's report has no chart; only the job summary asks for one.
    assert "```mermaid" not in render_markdown(result)
    assert "```mermaid" in render_markdown(result, chart=True)


def test_cases_without_an_id_are_shown_by_file_and_line(run_dir: tuple[RunResult, Path]) -> None:
    result, _ = run_dir
    suite = result.suites[0]
    failing = next(c for c in suite.cases if c.status == "fail")
    hashed = case_id_for(failing.vars, failing.expected)
    anonymous = failing.model_copy(update={"id": hashed})
    cases = [anonymous if c is failing else c for c in suite.cases]
    report = render_markdown(
        result.model_copy(update={"suites": [suite.model_copy(update={"cases": cases})]})
    )
    assert failing.source is not None and f"**{failing.source}**" in report
    assert hashed not in report


def test_an_error_decided_gate_says_to_run_again_not_to_fix_the_prompt(
    run_dir: tuple[RunResult, Path],
) -> None:
    result, out = run_dir
    head = headline(result)
    assert head is not None and head.status == "fail"
    assert "infrastructure error" in head.why and head.why.startswith("2 of 2 suites fail; in ")
    assert head.next_step.startswith("run again once the model provider answers")
    first_screen = (out / "report.md").read_text().split("<details>")[0]
    assert "**Next:** Run again once the model provider answers" in first_screen


def test_reports_show_the_interval_the_gate_carried_and_compute_none(
    run_dir: tuple[RunResult, Path],
) -> None:
    result, _ = run_dir
    suite = result.suites[0]
    passed, failed, _ = suite.counts
    carried = suite.pass_rate_interval
    assert carried is not None and carried.estimate == passed / (passed + failed)
    assert carried.lo < carried.estimate < carried.hi and carried.confidence == 0.95
    # Whatever the gate carried is what every report shows.
    planted = Interval(0.5, 0.125, 0.875, 0.95)
    shown = result.model_copy(
        update={"suites": [suite.model_copy(update={"pass_rate_interval": planted})]}
    )
    console = Console(record=True, width=200)
    print_run(shown, console)
    assert "50.0% [12.5%–87.5%]" in console.export_text()
    assert "| 50.0% [12.5%–87.5%] |" in render_markdown(shown)
    # A stopped run has no gate, so no interval: its finished cases are no sample.
    stopped = mark_incomplete(result, "interrupted by SIGTERM")
    assert all(s.pass_rate_interval is None for s in stopped.suites)
    rate = f"| {pct(passed / (passed + failed))} |"
    assert rate in render_markdown(stopped)
