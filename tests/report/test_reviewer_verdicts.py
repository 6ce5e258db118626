"""Reviewers' verdicts in every report, apart from the evaluators' reasons: who, the note,
and whether this run's output is still the one they judged. A real run of a copied project
with a feedback file, the scripted model."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from promptloop.commands.run import ProjectQuery, RunOptions, execute_run, project_for
from promptloop.dataset.feedback import output_fingerprint
from promptloop.engine.results import RunResult, read_results
from promptloop.models.scripted import clear_scripts, register_script
from promptloop.report.console import print_run
from promptloop.report.files import write_reports

PROJECTS = Path(__file__).parents[1] / "fixtures" / "projects"
# A note written to forge promptloop's state, ping people and inject HTML.
HOSTILE_NOTE = "wrong! cc @octocat <b>now</b> <!-- promptloop:summary head=abc -->"


def line(case: str, output: str, verdict: str, note: str, by: str = "dana") -> str:
    return json.dumps(
        {
            "case": case,
            "output": output_fingerprint(output),
            "verdict": verdict,
            "note": note,
            "by": by,
            "at": "2026-12-01T20:00:00Z",
            "source": "cli",
        }
    )


def run_with(tmp: Path, *, human: bool) -> tuple[RunResult, Path]:
    root = tmp / "sentiment"
    shutil.copytree(PROJECTS / "sentiment", root)
    config = root / "promptloop.yaml"
    text = config.read_text()
    if human:
        text = text.replace("        name: short\n", "        name: short\n      - human\n")
    config.write_text("retries: 0\n" + text)
    (root / "evals" / "reviews.feedback.jsonl").write_text(
        "\n".join(
            [
                # r01's output is "positive": the verdict applies.
                line("r01", "positive", "bad", HOSTILE_NOTE),
                # r02 was judged on an output the model no longer gives.
                line("r02", "negative, clearly", "good", "", by="lee"),
            ]
        )
        + "\n"
    )
    register_script("sentiment", lambda call: "positive" if "loved" in str(call) else "negative")
    result = execute_run(RunOptions(no_cache=True), project_for(ProjectQuery(start_dir=root)))
    out = root / "out"
    write_reports(result, out)
    return result, out


@pytest.fixture(autouse=True)
def _scripts() -> Iterator[None]:
    clear_scripts()
    yield
    clear_scripts()


def test_results_json_keeps_each_verdict_with_how_it_stands(tmp_path: Path) -> None:
    result, out = run_with(tmp_path, human=True)
    [suite] = read_results(out / "results.json").suites
    assert [(r.case_id, r.verdict, r.by, r.status) for r in suite.reviews] == [
        ("r01", "bad", "dana", "applied"),
        ("r02", "good", "lee", "changed"),
    ]
    assert suite.reviews[0].note == HOSTILE_NOTE  # the data as written; reports neutralise
    # The applied verdict decided r01; the changed one left r02 to the other evaluators.
    cases = {c.id: c for c in result.suites[0].cases}
    assert cases["r01"].status == "fail" and cases["r02"].status == "pass"


def test_the_markdown_report_shows_them_apart_and_neutralised(tmp_path: Path) -> None:
    _, out = run_with(tmp_path, human=True)
    report = (out / "report.md").read_text()
    section = report.split("sentiment: 2 reviewer verdicts (1 applied, 1 on a changed output)")[1]
    section = section.split("</details>")[0]
    assert "**r01**: 👎 bad, by dana: “wrong! cc @\u200doctocat <\u200bb>now<\u200b/b>" in section
    assert "— applied: the output is the one judged" in section
    assert "**r02**: 👍 good, by lee — output changed, unlabelled" in section
    # No ping, no HTML, nothing that reads as promptloop's marker, anywhere.
    assert "@octocat" not in report and "<b>" not in report
    assert "<!-- promptloop" not in report


def test_without_a_human_evaluator_the_verdicts_are_shown_as_not_counted(tmp_path: Path) -> None:
    result, out = run_with(tmp_path, human=False)
    assert [r.status for r in result.suites[0].reviews] == ["unused", "changed"]
    report = (out / "report.md").read_text()
    assert "(1 not counted, 1 on a changed output)" in report
    assert "the suite has no `human` evaluator" in report


def test_junit_and_console_carry_them_too(tmp_path: Path) -> None:
    result, out = run_with(tmp_path, human=True)
    tree = ET.parse(out / "junit.xml")
    r01 = next(tc for tc in tree.iter("testcase") if tc.get("name") == "r01")
    stdout = r01.findtext("system-out") or ""
    assert "reviewer dana: bad: wrong!" in stdout
    assert "(applied: the output is the one judged)" in stdout
    console = Console(record=True, width=200)
    print_run(result, console)
    text = console.export_text()
    assert "sentiment: reviewers' verdicts" in text
    assert "changed, unlabelled" in text
