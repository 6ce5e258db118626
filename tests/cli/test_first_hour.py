"""The first hour through the CLI, as a newcomer meets it: `init`, `run`, the names the
console prints typed back into `feedback add`, the places results land, every failure
reachable, and a summary that survives 80 columns."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from promptloop.cli import cli
from promptloop.dataset.cases import case_id_for
from promptloop.models.scripted import register_script

TOPICS = ("budget", "hiring", "launch", "office", "security", "outage")


def summariser(call: dict[str, Any]) -> str:
    """Names the topic for the first three notes only, so three cases fail."""
    text = str(call["messages"][-1]["content"])
    topic = re.search(r"mentions (\w+)", text)
    assert topic is not None, text
    word = topic.group(1)
    return f"A note about {word}." if TOPICS.index(word) < 3 else "A note about work."


@pytest.fixture
def project(tmp_path: Path, clean_scripts: None) -> Path:
    """The `init` project on a scripted model, its cases without ids (named by place)."""
    register_script("summariser", summariser)
    root = tmp_path / "notes"
    assert CliRunner().invoke(cli, ["init", str(root)]).exit_code == 0
    config = root / "promptloop.yaml"
    config.write_text("model: scripted/summariser\n" + config.read_text())
    rows = [json.loads(line) for line in (root / "evals" / "summaries.jsonl").open()]
    (root / "evals" / "summaries.jsonl").write_text(
        "".join(
            json.dumps({"topic": t, "note": r["note"]}) + "\n"
            for r, t in zip(rows, TOPICS, strict=False)
        )
    )
    return root


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_names_the_console_prints_are_typed_back_from_inside_the_project(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Run from the folder above, as `run --dir notes`: names stay relative to the config.
    monkeypatch.chdir(project.parent)
    ran = invoke("run", "--dir", "notes")
    assert "evals/summaries.jsonl:5" in ran.stdout
    assert "notes/evals/summaries.jsonl:5" not in ran.stdout
    # Results land in the project, beside the cache, not in the folder run from.
    assert (project / "promptloop-results" / "results.json").is_file()
    assert not (project.parent / "promptloop-results").exists()
    # JUnit names the case the same way.
    junit = ET.parse(project / "promptloop-results" / "junit.xml").getroot()
    names = {case.get("name") for case in junit.iter("testcase")}
    assert "evals/summaries.jsonl:5" in names
    # Inside the project, `feedback add` finds what `run` wrote and takes the printed name.
    monkeypatch.chdir(project)
    added = invoke("feedback", "add", "summaries", "evals/summaries.jsonl:5", "bad", "vague")
    assert added.exit_code == 0, added.output
    assert "bad on evals/summaries.jsonl:5 recorded" in added.stdout
    record = json.loads((project / "evals" / "summaries.feedback.jsonl").read_text())
    hashed = case_id_for({"topic": "security", "note": _note(project, 4)}, None)
    assert record["case"] == hashed
    # The reviewers' table on the next run shows the same name, not the hash.
    again = invoke("run")
    table = again.stdout[again.stdout.index("reviewers' verdicts") :]
    assert "evals/summaries.jsonl:5" in table and hashed not in table


def _note(project: Path, index: int) -> str:
    rows = (project / "evals" / "summaries.jsonl").read_text().splitlines()
    return str(json.loads(rows[index])["note"])


def test_a_case_is_found_by_hash_and_by_the_path_a_run_elsewhere_printed(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    invoke("run")
    hashed = case_id_for({"topic": "budget", "note": _note(project, 0)}, None)
    for name in (hashed, "notes/evals/summaries.jsonl:1", "./evals/summaries.jsonl:1"):
        added = invoke("feedback", "add", "summaries", name, "good")
        assert added.exit_code == 0, (name, added.output)
        assert "good on evals/summaries.jsonl:1 recorded" in added.stdout


def test_a_mistyped_case_gets_the_nearest_names(project: Path) -> None:
    invoke("run", "--dir", str(project))
    wrong = invoke(
        "feedback", "add", "summaries", "evals/summary.jsonl:5", "bad", "x", "--dir", str(project)
    )
    assert wrong.exit_code == 2
    assert "has no case 'evals/summary.jsonl:5'; nearest: evals/summaries.jsonl:5" in wrong.stderr


def test_run_dir_as_an_argument_still_works_and_says_it_is_deprecated(project: Path) -> None:
    ran = invoke("run", str(project))
    assert ran.exit_code in (0, 1), ran.output
    assert f"`run {project}` is deprecated; write `run --dir {project}`" in ran.stderr
    assert (project / "promptloop-results" / "results.json").is_file()


def test_the_first_run_says_what_just_happened_and_later_runs_do_not(project: Path) -> None:
    first = invoke("run", "--dir", str(project))
    assert "What just happened: promptloop sent each of the 6 cases in " in first.stdout, (
        first.stdout[-600:]
    )
    assert "evals/summaries.jsonl through prompts/summary.md to scripted/summariser" in first.stdout
    second = invoke("run", "--dir", str(project))
    assert "What just happened" not in second.stdout


def test_the_first_run_names_every_model_its_suites_use(project: Path) -> None:
    register_script("other", summariser)
    config = project / "promptloop.yaml"
    config.write_text(
        config.read_text()
        + "  - name: again\n    model: scripted/other\n    prompt: prompts/summary.md\n"
        + "    dataset: evals/summaries.jsonl\n    evaluators: [{icontains: '{{ topic }}'}]\n"
    )
    first = invoke("run", "--dir", str(project))
    assert (
        "sent the cases of 2 suites through their prompts to scripted/summariser and "
        "scripted/other, checked" in first.stdout
    ), first.stdout[-600:]


def test_a_first_run_the_budget_stopped_does_not_say_it_sent_every_case(project: Path) -> None:
    first = invoke("run", "--dir", str(project), "--max-calls", "0")
    assert first.exit_code == 1
    assert "reached after 0 of 6 cases" in first.stdout
    assert "What just happened" not in first.stdout


def test_a_suite_without_evaluators_is_said_to_pass_every_case(project: Path) -> None:
    config = project / "promptloop.yaml"
    config.write_text(config.read_text().split("    evaluators:")[0])
    ran = invoke("run", "--dir", str(project))
    assert ran.exit_code == 0, ran.output
    said = " ".join(ran.stdout.split())
    assert (
        "no evaluator grades the cases of summaries, so every case passes whatever the "
        "model answers; add evaluators to grade them"
    ) in said
    report = (project / "promptloop-results" / "report.md").read_text()
    assert "no evaluator grades the cases of summaries" in report


def test_every_failure_is_reachable_with_show_and_verbose(project: Path) -> None:
    config = project / "promptloop.yaml"
    # Twelve failing cases: more than the eight the console lists by default.
    rows = [{"topic": "office", "note": f"Note number {i}."} for i in range(12)]
    (project / "evals" / "summaries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    ran = invoke("run", "--dir", str(project))
    assert "failing cases (12)" in ran.stdout
    assert "… and 4 more: `promptloop run -v` lists them all" in ran.stdout
    assert "evals/summaries.jsonl:12" not in ran.stdout
    verbose = invoke("run", "--dir", str(project), "-v")
    assert "evals/summaries.jsonl:12" in verbose.stdout and "more:" not in verbose.stdout
    # report.md lists every failure too.
    report = (project / "promptloop-results" / "report.md").read_text()
    assert "evals/summaries.jsonl:12" in report
    everything = invoke("run", "--dir", str(project), "--show", "all")
    assert "every case (12)" in everything.stdout
    broken = invoke("run", "--dir", str(project), "--show", "broken")
    assert "failing cases (12)" not in broken.stdout
    assert "--show broken lists cases broken since a baseline: add --baseline REF" in broken.stdout
    assert config.is_file()


def test_the_summary_survives_80_columns(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # What a terminal 80 columns wide gets from rich (piped output is drawn 120 wide).
    monkeypatch.setattr("promptloop.cli.run.stdout_console", _console_of_width(80))
    ran = invoke("run", "--dir", str(project))
    drawn = ran.stdout[: ran.stdout.index("Model calls")].splitlines()
    assert all(len(line) <= 80 for line in drawn), [line for line in drawn if len(line) > 80]
    block = "\n".join(drawn)
    block = block[block.index("promptloop results") : block.index("summaries: evaluators")]
    # Every figure whole, none cut to "…": the interval, the counts, threshold and model.
    assert re.search(r"pass rate 50\.0% \[\d+\.\d%–\d+\.\d%\] · 3 pass, 3 fail, 0 error", block)
    assert "threshold 50.0%" in block and "model scripted/summariser" in block
    assert "…" not in block


def _console_of_width(width: int) -> Any:
    def make() -> Any:
        from rich.console import Console

        return Console(width=width)

    return make


def test_a_long_case_name_is_cut_before_its_folders_never_its_line() -> None:
    from promptloop.report.console import shorten_label

    long = "suites/customer-support/escalations/evals/very-long-dataset-name.jsonl:1234"
    short = shorten_label(long, 40)
    assert short.endswith(".jsonl:1234") and short.startswith("…") and len(short) == 40
    assert shorten_label("evals/x.jsonl:3") == "evals/x.jsonl:3"


def test_view_finds_the_report_run_wrote_from_anywhere_in_the_project(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoke("run", "--dir", str(project))
    monkeypatch.chdir(project / "evals")
    shown = invoke("view", "--no-open")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.strip().endswith("notes/promptloop-results/report.html")


def test_calibrate_inside_the_project_reads_what_run_wrote(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoke("run", "--dir", str(project))
    monkeypatch.chdir(project / "prompts")
    calibrated = invoke("calibrate")
    assert calibrated.exit_code == 0, calibrated.output
    assert "run `promptloop run` first" not in calibrated.output
