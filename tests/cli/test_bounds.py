"""Inputs that cannot hang the job or eat its memory, driven through the CLI as a user (or an
attacker with a pull request) would: alias bombs, oversized files, deep nesting, regexes
that backtrack, checks that never return, templates that loop or build huge strings."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from promptloop.cli import cli
from promptloop.engine.results import read_results
from promptloop.models.scripted import register_script
from tests.support import cli_env, copy_project, load_stub, run_promptloop

# 396 bytes that expand to 9**9 (387 million) strings.
ALIAS_BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9 if prev else ['lol'] * 9)}]\n"
    for prev, name in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)


@pytest.fixture(autouse=True)
def _scripts(clean_scripts: None) -> None:
    """Every test here registers its own scripted models."""


@pytest.fixture
def stub_server() -> Iterator[Any]:
    stub = load_stub()
    server = stub.StubServer(stub.StubConfig(answer="a" * 40 + "b"))
    server.start()
    yield server
    server.stop()


def write_project(root: Path, url: str, *, evaluators: str, extra: str = "", rows: int = 3) -> Path:
    (root / "prompts").mkdir(parents=True)
    (root / "evals").mkdir()
    (root / "prompts" / "echo.md").write_text("Repeat the word {{ word }}.\n")
    lines = [json.dumps({"id": f"w{i}", "word": f"word{i}"}) for i in range(rows)]
    (root / "evals" / "words.jsonl").write_text("\n".join(lines) + "\n")
    (root / "promptloop.yaml").write_text(
        f"model: openai/stub\napi_base: {url}\nretries: 0\n{extra}"
        "suites:\n  - name: echo\n    prompt: prompts/echo.md\n    dataset: evals/words.jsonl\n"
        f"    evaluators:\n{evaluators}"
    )
    return root


def run_cli(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "promptloop.cli", "run", ".", "-o", "out", "-q"],
        cwd=project,
        env=cli_env(OPENAI_API_KEY="sk-bounds-test"),
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


# --- files ---------------------------------------------------------------------------------


def test_an_alias_bomb_in_the_config_is_one_line_naming_the_alias(tmp_path: Path) -> None:
    assert len(ALIAS_BOMB) < 413
    project = copy_project("sentiment", tmp_path)
    config = project / "promptloop.yaml"
    config.write_text(config.read_text() + ALIAS_BOMB.replace("a:", "x-a:", 1))
    started = time.monotonic()
    line = one_error_line(run_promptloop(project, "run", "."))
    assert time.monotonic() - started < 30
    assert "promptloop.yaml:" in line and "aliases expand this document past 100,000" in line


def test_an_alias_bomb_in_a_yaml_dataset_is_refused_before_it_expands(tmp_path: Path) -> None:
    project = copy_project("sentiment", tmp_path)
    (project / "evals" / "bomb.yaml").write_text(ALIAS_BOMB)
    config = project / "promptloop.yaml"
    config.write_text(config.read_text().replace("evals/reviews.jsonl", "evals/bomb.yaml"))
    line = one_error_line(run_promptloop(project, "run", "."))
    assert "evals/bomb.yaml:6: YAML aliases expand this document" in line


def test_an_alias_inside_the_value_it_names_is_refused(tmp_path: Path) -> None:
    project = copy_project("sentiment", tmp_path)
    (project / "evals" / "loop.yaml").write_text("- &row {id: a, review: [*row]}\n")
    config = project / "promptloop.yaml"
    config.write_text(config.read_text().replace("evals/reviews.jsonl", "evals/loop.yaml"))
    line = one_error_line(run_promptloop(project, "run", "."))
    assert "evals/loop.yaml:1: the alias *row is inside the value it names" in line


@pytest.mark.parametrize(
    ("name", "limit"), [("promptloop.yaml", "1.0 MB"), ("prompts/classify.md", "1.0 MB")]
)
def test_config_and_prompt_files_over_their_size_cap_are_refused(
    tmp_path: Path, name: str, limit: str
) -> None:
    project = copy_project("sentiment", tmp_path)
    path = project / name
    path.write_text(path.read_text() + "# padding\n" * 120_000)
    line = one_error_line(run_promptloop(project, "run", "."))
    assert name in line and f"up to {limit}" in line and "is 1.1 MB" in line


def test_a_dataset_over_its_size_cap_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real cap is 64 MB; a smaller one keeps the test's file small.
    monkeypatch.setattr("promptloop.dataset.cases.MAX_DATASET_BYTES", 100)
    register_script("sentiment", ["positive"] * 20)
    project = copy_project("sentiment", tmp_path)
    result = CliRunner().invoke(
        cli, ["run", str(project), "-o", str(tmp_path / "out")], catch_exceptions=False
    )
    assert result.exit_code == 2, result.output
    assert "evals/reviews.jsonl is 578 bytes" in result.output
    assert "promptloop reads dataset files of up to 100 bytes" in result.output


def test_json_nested_too_deeply_is_one_line(tmp_path: Path) -> None:
    project = copy_project("sentiment", tmp_path)
    (project / "evals" / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    config = project / "promptloop.yaml"
    config.write_text(config.read_text().replace("evals/reviews.jsonl", "evals/deep.json"))
    line = one_error_line(run_promptloop(project, "run", "."))
    assert "evals/deep.json: JSON nested too deeply to read" in line


def test_memory_and_recursion_errors_are_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = copy_project("sentiment", tmp_path)
    for error, words in ((MemoryError(), "out of memory"), (RecursionError(), "input nested too")):

        def explode(*_args: Any, error: BaseException = error, **_kwargs: Any) -> Any:
            raise error

        monkeypatch.setattr("promptloop.project.loaded.parse_config", explode)
        result = CliRunner().invoke(
            cli, ["run", str(project), "-o", str(tmp_path / "out")], catch_exceptions=False
        )
        assert result.exit_code == 2, result.output
        assert f"promptloop: error: {words}" in result.output
        assert "Traceback" not in result.output


# --- checks ----------------------------------------------------------------------------------


def test_a_backtracking_regex_on_the_output_is_an_evaluator_error_not_a_pass(
    tmp_path: Path, stub_server: Any
) -> None:
    # `re` would search "aaaa…ab" for (a|aa)+$ for longer than the universe has existed.
    project = write_project(
        tmp_path / "p", stub_server.base_url, evaluators="      - not-regex: '(a|aa)+$'\n"
    )
    started = time.monotonic()
    result = run_cli(project)
    assert time.monotonic() - started < 40, "the regex was not bounded"
    # Exit 2 as "could not evaluate", not as a configuration error: the run went through.
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "promptloop: error" not in result.stderr and "could not judge" in result.stdout
    cases = read_results(project / "out" / "results.json").suites[0].cases
    assert len(cases) == 3
    for case in cases:
        assert case.status == "error" and case.unevaluated
        (evaluation,) = case.evaluations
        assert evaluation.passed is False and evaluation.error is not None
        assert "took longer than 1 s" in evaluation.error


def test_a_backtracking_json_schema_pattern_is_an_evaluator_error(
    tmp_path: Path, stub_server: Any
) -> None:
    project = write_project(
        tmp_path / "p",
        stub_server.base_url,
        evaluators="      - json-schema: {type: string, pattern: '(a|aa)+$'}\n",
        rows=1,
    )
    stub_server.configure(answer=json.dumps("a" * 40 + "b"))
    result = run_cli(project)
    # Exit 2 as "could not evaluate", not as a configuration error: the run went through.
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "promptloop: error" not in result.stderr and "could not judge" in result.stdout
    (case,) = read_results(project / "out" / "results.json").suites[0].cases
    (evaluation,) = case.evaluations
    assert evaluation.passed is False
    assert "took longer than 1 s" in (evaluation.error or "")


def test_a_python_check_that_never_returns_errors_at_the_configs_timeout(
    tmp_path: Path, stub_server: Any
) -> None:
    project = write_project(
        tmp_path / "p",
        stub_server.base_url,
        evaluators="      - python: checks.py:spin\n",
        extra="timeout: 1\n",
    )
    (project / "checks.py").write_text("def spin(output, case):\n    while True:\n        pass\n")
    started = time.monotonic()
    result = run_cli(project)
    assert time.monotonic() - started < 40, "the check was not stopped"
    # Exit 2 as "could not evaluate", not as a configuration error: the run went through.
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "promptloop: error" not in result.stderr and "could not judge" in result.stdout
    cases = read_results(project / "out" / "results.json").suites[0].cases
    for case in cases:
        assert case.status == "error" and case.unevaluated
        (evaluation,) = case.evaluations
        assert evaluation.passed is False
        assert "did not return within 1 s (the config's timeout)" in (evaluation.error or "")


def test_sigterm_writes_the_partial_reports_while_a_check_is_stuck(
    tmp_path: Path, stub_server: Any
) -> None:
    project = write_project(
        tmp_path / "p",
        stub_server.base_url,
        evaluators="      - python: checks.py:spin\n",
        extra="timeout: 600\n",
    )
    marker = tmp_path / "entered"
    (project / "checks.py").write_text(
        f"import pathlib\ndef spin(output, case):\n    pathlib.Path({str(marker)!r}).touch()\n"
        "    while True:\n        pass\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "promptloop.cli", "run", ".", "-o", "out", "-q"],
        cwd=project,
        env=cli_env(OPENAI_API_KEY="sk-bounds-test"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the check never started"
        time.sleep(0.05)
    signalled = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        _, stderr = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("one SIGTERM did not stop a run stuck in a check")
    assert proc.returncode == 143, stderr
    assert time.monotonic() - signalled < 15
    assert "Traceback" not in stderr
    result = read_results(project / "out" / "results.json")
    assert result.incomplete == "interrupted by SIGTERM"
    assert result.suites[0].not_run == 3


# --- templates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("{{ 'a' * 2000000000 }}", "repeating a value would exceed 1,000,000 characters"),
        ("{{ 'x'.center(1000000000) }}", "formatting with that width would exceed"),
        (
            "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
            "the template took longer than 2 s and was stopped",
        ),
    ],
)
def test_a_prompt_that_builds_huge_values_or_loops_is_one_line_naming_its_file(
    tmp_path: Path, body: str, says: str
) -> None:
    register_script("sentiment", ["positive"] * 20)
    project = copy_project("sentiment", tmp_path)
    prompt = project / "prompts" / "classify.md"
    prompt.write_text(prompt.read_text() + body + "\n")
    started = time.monotonic()
    result = CliRunner().invoke(
        cli, ["run", str(project), "-o", str(tmp_path / "out")], catch_exceptions=False
    )
    assert time.monotonic() - started < 30
    assert result.exit_code == 2, result.output
    (line,) = result.output.strip().splitlines()
    assert "prompts/classify.md:" in line and says in line


def test_an_optimizer_candidate_that_does_not_render_in_time_is_rejected_with_the_reason(
    tmp_path: Path,
) -> None:
    from tests.cli.test_cli_optimize import REVISED, greeter, optimizer_reply

    project = copy_project("greetings", tmp_path)
    config = project / "promptloop.yaml"
    # Room for the loop, so the length guard does not reject the candidate first.
    config.write_text(
        config.read_text().replace("  rounds: 2\n", "  rounds: 2\n  max_length_ratio: 10\n")
    )
    looping = (
        REVISED + "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}\n"
    )
    register_script("greeter", greeter)
    register_script("optimizer", optimizer_reply(looping))
    result = CliRunner().invoke(
        cli,
        ["optimize", "--dir", str(project), "-o", str(project / "out"), "--rounds", "1"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert not (project / "prompts" / "greet.optimized.md").exists()
    payload = json.loads((project / "out" / "optimize-greetings.json").read_text())
    (candidate,) = payload["trajectory"]
    assert candidate["accepted"] is False
    assert "the candidate does not render" in candidate["rejection"]
    assert "took longer than 2 s" in candidate["rejection"]
