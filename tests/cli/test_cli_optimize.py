"""`promptloop optimize` end to end with scripted models: improves, declines, or fails honestly."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from promptloop.cli import cli
from promptloop.commands.optimize import OptimizeOptions, settings_for
from promptloop.commands.run import ProjectQuery, project_for
from promptloop.models.base import ModelCallError
from promptloop.models.scripted import register_script, script_calls
from tests.support import copy_project

REVISED = (
    "Write a one-line greeting for a new customer called {{ name }}.\n"
    "Address the customer by name, {{ name }}, and keep it short.\n"
)


@pytest.fixture(autouse=True)
def _scripts(clean_scripts: None) -> None:
    """Every test here registers its own scripted models."""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project("greetings", tmp_path)


def greeter(call: dict[str, Any]) -> str:
    """Names the customer only when the prompt asks to address them by name."""
    text = str(call["messages"][-1]["content"])
    name = re.search(r"called (\w+)", text)
    assert name is not None, text
    return f"Hello {name.group(1)}, welcome aboard." if "by name" in text else "Hello, welcome!"


def optimizer_reply(prompt_text: str) -> Any:
    def reply(call: dict[str, Any]) -> str:
        return (
            "<rationale>Outputs never named the customer; the prompt now asks for the name."
            f"</rationale>\n<prompt>\n{prompt_text}</prompt>"
        )

    return reply


def invoke(project: Path, *extra: str) -> Any:
    register_script("greeter", greeter)
    return CliRunner().invoke(
        cli,
        ["optimize", "--dir", str(project), "-o", str(project / "out"), *extra],
        catch_exceptions=False,
    )


def test_improving_optimizer_writes_the_revision_diff_and_figures(project: Path) -> None:
    register_script("optimizer", optimizer_reply(REVISED))
    res = invoke(project)
    assert res.exit_code == 0, res.output
    written = project / "prompts" / "greet.optimized.md"
    assert written.read_text() == REVISED
    # The original stays as it was: the user decides.
    assert "by name" not in (project / "prompts" / "greet.md").read_text()
    diff = (project / "out" / "greetings.diff").read_text()
    assert "+Address the customer by name" in diff
    assert "-Keep it short." in diff
    assert f"Revised prompt written to {written}" in res.output, res.output
    # Figures: validation 0/6 → 6/6 and held-out test 0/8 → 8/8.
    assert "0/6 (0.0%)" in res.output and "6/6 (100.0%)" in res.output
    assert "0/8 (0.0%)" in res.output and "8/8 (100.0%)" in res.output
    assert "8 fixed, 0 broken" in res.output
    payload = json.loads((project / "out" / "optimize-greetings.json").read_text())
    assert payload["status"] == "improved"
    assert payload["scores"]["test_after"]["passes"] == 8
    # The optimizer saw the failures' reasons.
    ask = script_calls("optimizer")[0]["messages"][-1]["content"]
    assert "names-the-person" in ask


def test_in_place_overwrites_the_prompt(project: Path) -> None:
    register_script("optimizer", optimizer_reply(REVISED))
    res = invoke(project, "--in-place", "--rounds", "1")
    assert res.exit_code == 0, res.output
    assert (project / "prompts" / "greet.md").read_text() == REVISED
    assert not (project / "prompts" / "greet.optimized.md").exists()


def test_non_improving_optimizer_suggests_nothing(project: Path) -> None:
    # A rewording that keeps the flaw: validation does not move, so nothing is accepted.
    reworded = "Write a short one-line greeting for a new customer called {{ name }}.\nBe brief.\n"
    register_script("optimizer", optimizer_reply(reworded))
    res = invoke(project)
    assert res.exit_code == 0, res.output
    assert "nothing is suggested" in res.output
    assert not (project / "prompts" / "greet.optimized.md").exists()
    assert not (project / "out" / "greetings.diff").exists()
    payload = json.loads((project / "out" / "optimize-greetings.json").read_text())
    assert payload["status"] == "no_improvement"
    assert payload["improved"] is False
    assert len(script_calls("optimizer")) == 2  # two rounds were tried


def test_failing_optimizer_shows_the_error_and_exits_3(project: Path) -> None:
    register_script("optimizer", lambda call: ModelCallError("optimizer is down", kind="auth"))
    res = invoke(project)
    assert res.exit_code == 3, res.output
    assert "optimizer error" in res.output and "optimizer is down" in res.output
    assert "The optimizer failed; nothing is suggested." in res.output
    assert not (project / "prompts" / "greet.optimized.md").exists()
    payload = json.loads((project / "out" / "optimize-greetings.json").read_text())
    assert payload["status"] == "error"


def test_optimize_needs_a_suite_name_when_there_are_several(project: Path) -> None:
    config = project / "promptloop.yaml"
    text = config.read_text()
    second = text[text.index("  - name: greetings") :].replace("name: greetings", "name: other")
    config.write_text(text + second)
    register_script("optimizer", optimizer_reply(REVISED))
    res = CliRunner().invoke(cli, ["optimize", "--dir", str(project)])
    assert res.exit_code == 2
    assert "name the suite to optimize" in res.stderr and "greetings, other" in res.stderr


def test_optimize_with_too_few_cases_states_its_minimum(project: Path) -> None:
    dataset = project / "evals" / "people.jsonl"
    dataset.write_text(dataset.read_text().splitlines()[0] + "\n")
    res = CliRunner().invoke(cli, ["optimize", "--dir", str(project)])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert "optimize needs at least 2 cases in suite 'greetings'" in res.stderr
    assert "it has 1" in res.stderr and "add cases" in res.stderr


def test_the_splits_fix_the_message_suggests_works(project: Path) -> None:
    config = project / "promptloop.yaml"
    config.write_text(config.read_text() + "splits: {train: 1.0, val: 0.0, test: 0.0}\n")
    res = CliRunner().invoke(cli, ["optimize", "--dir", str(project)])
    assert res.exit_code == 2, res.output
    assert "has 24 to learn from (train), 0 to validate candidates on" in res.stderr
    assert "splits: {train: 0.5, val: 0.25, test: 0.25}" in res.stderr
    # Doing what it says makes the suite optimizable.
    config.write_text(
        config.read_text().replace(
            "splits: {train: 1.0, val: 0.0, test: 0.0}",
            "splits: {train: 0.5, val: 0.25, test: 0.25}",
        )
    )
    register_script("optimizer", optimizer_reply(REVISED))
    assert invoke(project, "--rounds", "1").exit_code == 0


def test_optimize_tells_each_round_and_why_each_candidate_lost(project: Path) -> None:
    reworded = "Write a short one-line greeting for a new customer called {{ name }}.\nBe brief.\n"
    register_script("optimizer", optimizer_reply(reworded))
    res = invoke(project)
    assert res.exit_code == 0, res.output
    # Progress goes to stderr as it happens, the split sizes first.
    assert "optimize: suite 'greetings': 24 cases, " in res.stderr
    assert "optimize: round 1/2: scoring the current prompt on" in res.stderr
    assert "optimize: round 2/2: scoring" in res.stderr
    assert re.search(r"round 1, candidate 1: lost \(validation 0/6 → 0/6\): ", res.stderr)
    # The summary on stdout lists every candidate with its reason, and says "no candidate
    # beat" once.
    assert "greetings: candidates" in res.stdout
    assert res.stdout.lower().count("no candidate beat") == 1
    assert "nothing is suggested" in res.stdout


def test_optimize_output_dir_help_names_what_it_writes() -> None:
    res = CliRunner().invoke(cli, ["optimize", "--help"])
    assert "optimize-SUITE.json" in res.output and "SUITE.diff" in res.output
    assert "junit.xml" not in res.output


def test_optimize_writes_into_the_project_wherever_it_starts_as_its_help_says(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_script("greeter", greeter)
    register_script("optimizer", optimizer_reply(REVISED))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    res = CliRunner().invoke(cli, ["optimize", "--dir", str(project)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert (project / "promptloop-results" / "optimize-greetings.json").is_file()
    assert not (elsewhere / "promptloop-results").exists()
    helped = " ".join(CliRunner().invoke(cli, ["optimize", "--help"]).output.split())
    assert "[default: promptloop-results/ in the project, beside promptloop.yaml]" in helped


def test_optimizer_without_a_usable_reply_says_so(project: Path) -> None:
    register_script("optimizer", lambda call: "Sure! I would make it friendlier.")
    res = invoke(project, "--rounds", "1")
    assert res.exit_code == 0, res.output
    assert "proposed no usable candidate, so nothing is suggested" in res.output
    assert "beat the current prompt" not in res.output
    assert not (project / "prompts" / "greet.optimized.md").exists()
    payload = json.loads((project / "out" / "optimize-greetings.json").read_text())
    assert payload["status"] == "no_improvement"
    # The first ask and its re-asks were all refused by the guard before validation.
    assert len(script_calls("optimizer")) == len(payload["trajectory"]) >= 2
    assert all(c["rejection"] for c in payload["trajectory"])


def test_a_budget_too_small_for_one_round_is_a_usage_error(project: Path) -> None:
    register_script("optimizer", optimizer_reply(REVISED))
    res = invoke(project, "--max-calls", "5")
    assert res.exit_code == 2, res.output
    assert "max_calls=5" in res.output
    assert "raise --max-calls" in res.output
    assert "The optimizer failed" not in res.output
    assert script_calls("optimizer") == [] and script_calls("greeter") == []
    assert not (project / "prompts" / "greet.optimized.md").exists()


@pytest.mark.parametrize(
    ("model", "expected"), [("local/smollm2", None), ("scripted/greeter", 0.0)]
)
def test_a_zero_dollar_budget_only_binds_models_that_could_cost(
    project: Path, model: str, expected: float | None
) -> None:
    config = project / "promptloop.yaml"
    text = re.sub(r"(?m)^(model|judge_model|optimizer_model): .*\n", "", config.read_text())
    config.write_text(f"model: {model}\n" + text)
    loaded = project_for(ProjectQuery(start_dir=project))
    settings = settings_for(loaded, OptimizeOptions(max_usd=0.0), loaded.plans[0])
    assert settings.max_usd == expected


def test_every_round_states_the_goal_and_candidates_meet_the_same_judge(project: Path) -> None:
    config = project / "promptloop.yaml"
    config.write_text(
        config.read_text().replace("seed: 11\n", "seed: 11\njudge_model: scripted/judge\n")
        + "      - judge: The greeting names the customer.\n        name: polite\n"
    )

    def judge(call: dict[str, Any]) -> str:
        output = str(call["messages"][-1]["content"]).split("<output>")[1]
        passed = "Hello," not in output
        return json.dumps({"critique": "graded", "passed": passed, "score": float(passed)})

    register_script("judge", judge)
    register_script("optimizer", optimizer_reply(REVISED))
    res = invoke(project)
    assert res.exit_code == 0, res.output
    ask = script_calls("optimizer")[0]["messages"][-1]["content"]
    assert "The goal (what every answer is graded on" in ask
    assert '- names-the-person: `contains` "{{ name }}"' in ask
    assert "- polite: a reviewer grades every answer against: The greeting names" in ask
    # The judge graded seed and candidate alike from the rubric and the case alone.
    judged = [c["messages"][-1]["content"] for c in script_calls("judge")]
    assert judged and not any("one-line greeting" in text for text in judged)


def test_the_runs_budget_in_the_config_bounds_the_optimizer_too(project: Path) -> None:
    config = project / "promptloop.yaml"
    config.write_text(config.read_text() + "budget: {max_calls: 12}\n")
    register_script("optimizer", optimizer_reply(REVISED))
    res = invoke(project)
    # Its own max_calls (400) would allow rounds; the run's budget leaves room for none.
    assert res.exit_code == 2, res.output
    assert "max_calls=12" in res.output
    assert len(script_calls("optimizer")) + len(script_calls("greeter")) <= 12
    assert not (project / "prompts" / "greet.optimized.md").exists()
