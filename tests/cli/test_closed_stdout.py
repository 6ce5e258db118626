"""`promptloop run | head -1`: a reader of stdout that goes away early does not change the
exit code (click alone turns the closed pipe into exit 1, documented as "a suite failed").
The command goes on, writes nothing more to the pipe, and exits with its own code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from promptloop.engine.results import read_results
from tests.support import cli_env

WORDS = ["alpha", "beta", "gamma", "delta"]


def write_project(root: Path, url: str, threshold: float) -> Path:
    (root / "prompts").mkdir(parents=True)
    (root / "evals").mkdir()
    (root / "prompts" / "echo.md").write_text("Repeat the word {{ word }}.\n")
    rows = [json.dumps({"id": w, "word": w}) for w in WORDS]
    (root / "evals" / "words.jsonl").write_text("\n".join(rows) + "\n")
    # The stub echoes the prompt, so `contains: word` passes and `contains: nope` fails.
    (root / "promptloop.yaml").write_text(
        f"model: openai/stub\napi_base: {url}\nretries: 0\n"
        "suites:\n  - name: echo\n    prompt: prompts/echo.md\n    dataset: evals/words.jsonl\n"
        f"    threshold: {threshold}\n    evaluators:\n      - contains: '{{{{ word }}}}'\n"
    )
    return root


def with_stdout_closed(cwd: Path, *args: str) -> tuple[int, str]:
    """Run promptloop with stdout a pipe whose reader is gone before the first write; the
    exit code and stderr."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "promptloop.cli", *args],
        cwd=cwd,
        env=cli_env(OPENAI_API_KEY="sk-closed-pipe"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.close()
    _, stderr = proc.communicate(timeout=120)
    return proc.returncode, stderr


def test_a_passing_run_whose_reader_went_away_exits_0(tmp_path: Path, serve: Any) -> None:
    _, url = serve()
    project = write_project(tmp_path / "p", url, 0.5)
    returned, stderr = with_stdout_closed(project, "run", "-q")
    assert returned == 0, stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr
    assert "BrokenPipe" not in stderr and "Broken pipe" not in stderr
    # The run finished: every case, judged, in the reports.
    result = read_results(project / "promptloop-results" / "results.json")
    assert result.incomplete is None and len(result.suites[0].cases) == len(WORDS)


def test_a_failing_run_whose_reader_went_away_still_exits_1(tmp_path: Path, serve: Any) -> None:
    _, url = serve()
    project = write_project(tmp_path / "p", url, 0.5)
    config = project / "promptloop.yaml"
    config.write_text(config.read_text().replace("'{{ word }}'", "nope"))
    returned, stderr = with_stdout_closed(project, "run", "-q")
    assert returned == 1, stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr
    result = read_results(project / "promptloop-results" / "results.json")
    assert result.verdict is not None and result.verdict.status == "fail"


@pytest.mark.parametrize("args", [["--help"], ["schema"], ["run", "--help"]])
def test_other_commands_whose_reader_went_away_exit_0(tmp_path: Path, args: list[str]) -> None:
    returned, stderr = with_stdout_closed(tmp_path, *args)
    assert returned == 0, stderr
    assert stderr == ""
