"""promptfoo's own example configs, as they are, through `promptloop run`: getting-started
runs against the stub with promptfoo's verdicts, and every one loads with each test carrying
its assertions (test_same_verdicts compares their verdicts with promptfoo's)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import promptloop
from promptloop.cli import cli
from promptloop.project.loader import load_project

FIXTURES = Path(__file__).parents[1] / "fixtures" / "promptfoo"


def test_getting_started_runs_as_promptfoo_would_grade_it(
    tmp_path: Path, stub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "Convert this English" answers right in French; "Translate to" answers in English.
    stub.configure(
        answer_rules=(
            (r"Convert this English to French: Hello world", "Bonjour le monde !"),
            (r"Convert this English to Spanish", "¿DÓNDE ESTÁ LA BIBLIOTECA?"),
            (r"Translate to French", "Hello world"),
            (r"Translate to Spanish", "¿Dónde está la biblioteca?"),
        )
    )
    monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    project = tmp_path / "getting-started"
    shutil.copytree(FIXTURES / "getting-started", project)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["run", "--dir", str(project), "-o", str(out), "-q", "--no-cache"]
    )
    # Two tests fail, so the run fails, as `promptfoo eval` exits 100 (its bar is every
    # test unless PROMPTFOO_PASS_RATE_THRESHOLD lowers it).
    assert result.exit_code == 1, result.output
    assert "below the threshold of 100.0%" in result.output
    suites = json.loads((out / "results.json").read_text())["suites"]
    verdicts = {s["name"]: [c["status"] for c in s["cases"]] for s in suites}
    # contains is case-sensitive, icontains is not: promptfoo's verdicts on these outputs.
    assert verdicts == {
        "prompt-1.openai-gpt-4.1": ["pass", "pass"],
        "prompt-2.openai-gpt-4.1": ["fail", "pass"],
        "prompt-1.openai-o4-mini": ["pass", "pass"],
        "prompt-2.openai-o4-mini": ["fail", "pass"],
    }
    assert {b["model"] for b in stub.bodies} == {"gpt-4.1", "o4-mini"}

    monkeypatch.setenv("PROMPTFOO_PASS_RATE_THRESHOLD", "50")
    again = CliRunner().invoke(cli, ["run", "--dir", str(project), "-o", str(out), "-q"])
    assert again.exit_code == 0, again.output
    monkeypatch.setenv("PROMPTFOO_PASS_RATE_THRESHOLD", "most")
    refused = CliRunner().invoke(cli, ["run", "--dir", str(project), "-o", str(out), "-q"])
    assert refused.exit_code == 2
    assert "PROMPTFOO_PASS_RATE_THRESHOLD='most' is not a percentage" in refused.output


EXAMPLES = sorted(
    str(p.relative_to(FIXTURES))
    for p in FIXTURES.glob("*/promptfooconfig*.yaml")
    if p.parent.name not in ("truth",)
)


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_loads_with_each_test_carrying_its_assertions(
    name: str, tmp_path: Path
) -> None:
    shutil.copytree(FIXTURES, tmp_path / "f")
    project = load_project(tmp_path / "f" / name)
    assert project.plans and all(p.cases for p in project.plans)
    for plan in project.plans:
        assert all(plan.case_checks[c.id].evaluators for c in plan.cases)


def test_getting_started_asks_each_model_once_per_test_and_prompt(
    tmp_path: Path, stub: Any
) -> None:
    """As promptfoo does: 2 prompts x 2 providers x 2 tests is 8 calls. A fresh process
    (litellm not yet imported) once sent o4-mini's calls twice: first on a guessed route
    with a temperature, then again as litellm sends a reasoning model."""
    project = tmp_path / "getting-started"
    shutil.copytree(FIXTURES / "getting-started", project)
    env = {**os.environ, "OPENAI_BASE_URL": stub.base_url, "OPENAI_API_KEY": "sk-test"}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(promptloop.__file__).parents[1])])
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from promptloop.cli import main; main()",
            "run",
            "--dir",
            str(project),
            "-o",
            str(tmp_path / "out"),
            "-q",
            "--no-cache",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert (tmp_path / "out" / "results.json").is_file(), done.stderr + done.stdout
    assert len(stub.bodies) == 8, [(b["model"], sorted(b)) for b in stub.bodies]
    assert all("temperature" not in b for b in stub.bodies if b["model"] == "o4-mini")
