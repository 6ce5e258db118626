"""`promptloop feedback add` end to end: a verdict on the last run's output becomes a line in
the feedback file, the `human` evaluator applies it, and the optimizer answers it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from promptloop.cli import cli
from promptloop.dataset.feedback import output_fingerprint
from promptloop.models.scripted import register_script, script_calls
from promptloop.project.config.file import config_json_schema
from tests.support import copy_project

NOTE = "greet the customer by their name, always"
REVISED = (
    "Write a one-line greeting for a new customer called {{ name }}.\n"
    "Address the customer by name, {{ name }}, and keep it short.\n"
)


def greeter(call: dict[str, Any]) -> str:
    text = str(call["messages"][-1]["content"])
    name = re.search(r"called (\w+)", text)
    assert name is not None, text
    return f"Hello {name.group(1)}, welcome aboard." if "by name" in text else "Hello, welcome!"


def optimizer(call: dict[str, Any]) -> str:
    """Answers the reviewer when it was shown the reviewer's words; otherwise rewords only."""
    ask = str(call["messages"][-1]["content"])
    if NOTE in ask and "human reviewers" in ask:
        return (
            "<rationale>A reviewer asked us to greet the customer by their name; the prompt "
            f"now says so.</rationale>\n<prompt>\n{REVISED}</prompt>"
        )
    return "<rationale>Reworded.</rationale>\n<prompt>\nGreet {{ name }} briefly.\n</prompt>"


@pytest.fixture
def project(tmp_path: Path, clean_scripts: None) -> Path:
    register_script("greeter", greeter)
    register_script("optimizer", optimizer)
    return copy_project("greetings", tmp_path)


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def run_and_judge(project: Path, *verdict: str) -> Any:
    ran = invoke("run", "-q", str(project), "-o", str(project / "out"))
    # The greeter never names anyone, so every case fails; with no baseline and no minimum
    # pass rate nothing gates, which is why the run still exits 0.
    results = json.loads((project / "out" / "results.json").read_text())
    assert [c["status"] for c in results["suites"][0]["cases"]] == ["fail"] * 24
    assert "no threshold is set, so there is nothing to gate on" in results["verdict"]["reason"]
    assert ran.exit_code == 0, ran.output
    return invoke(
        "feedback",
        "add",
        *verdict,
        "--dir",
        str(project),
        "--results",
        str(project / "out" / "results.json"),
        "--by",
        "dana",
    )


def test_a_verdict_becomes_a_line_beside_the_dataset(project: Path) -> None:
    res = run_and_judge(project, "greetings", "p01", "bad", NOTE)
    assert res.exit_code == 0, res.output
    lines = (project / "evals" / "people.feedback.jsonl").read_text().splitlines()
    [record] = [json.loads(line) for line in lines]
    assert record["case"] == "p01" and record["verdict"] == "bad"
    assert record["output"] == output_fingerprint("Hello, welcome!")
    assert record["note"] == NOTE and record["by"] == "dana" and record["source"] == "cli"
    assert "people.feedback.jsonl: bad on p01 recorded" in res.output


def test_a_key_pasted_into_a_note_is_masked_in_the_file(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-pasted-by-mistake")
    res = run_and_judge(project, "greetings", "p01", "bad", "broke with sk-ant-pasted-by-mistake")
    assert res.exit_code == 0, res.output
    written = (project / "evals" / "people.feedback.jsonl").read_text()
    assert "sk-ant-pasted-by-mistake" not in written
    assert json.loads(written)["note"] == "broke with ***"


def test_an_unknown_case_names_the_nearest_ones(project: Path) -> None:
    res = run_and_judge(project, "greetings", "p21x", "bad", "x")
    assert res.exit_code == 2
    assert "suite 'greetings' has no case 'p21x'; nearest: p21" in res.stderr
    assert not (project / "evals" / "people.feedback.jsonl").exists()


def test_without_a_run_there_is_no_output_to_judge(project: Path) -> None:
    res = invoke("feedback", "add", "greetings", "p01", "good", "--dir", str(project))
    assert res.exit_code == 2
    assert "run `promptloop run` first" in res.stderr


def test_the_human_evaluator_applies_the_verdict_and_the_optimizer_answers_it(
    project: Path,
) -> None:
    assert run_and_judge(project, "greetings", "p01", "bad", NOTE).exit_code == 0
    config = project / "promptloop.yaml"
    config.write_text(config.read_text() + "      - human\n")
    assert invoke("run", "-q", str(project), "-o", str(project / "out")).exit_code == 0
    cases = json.loads((project / "out" / "results.json").read_text())["suites"][0]["cases"]
    by_id = {c["id"]: {e["evaluator"]: e for e in c["evaluations"]} for c in cases}
    assert by_id["p01"]["human"]["reason"] == f"reviewer dana marked this output bad: {NOTE}"
    assert not by_id["p01"]["human"]["passed"]
    # Same words, another case: the reviewer said nothing about it.
    assert by_id["p02"]["human"]["abstained"]

    res = invoke("optimize", "--dir", str(project), "-o", str(project / "opt"), "--rounds", "1")
    assert res.exit_code == 0, res.output
    payload = json.loads((project / "opt" / "optimize-greetings.json").read_text())
    assert payload["status"] == "improved"
    assert "A reviewer asked us to greet the customer by their name" in payload["rationale"]
    ask = script_calls("optimizer")[0]["messages"][-1]["content"]
    assert f"[BAD] case p01, from reviewer dana: {NOTE}" in ask


def test_schema_prints_the_config_by_default_and_the_record_on_request() -> None:
    default = invoke("schema")
    assert json.loads(default.output) == config_json_schema()
    record = json.loads(invoke("schema", "--feedback").output)
    assert record["additionalProperties"] is False
    assert set(record["required"]) == {"case", "output", "verdict", "by", "at", "source"}
