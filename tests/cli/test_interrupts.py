"""A real signal to a real `promptloop run` against the OpenAI-compatible stub: the finished
cases are reported, the run is marked incomplete, and the next run resumes from the cache."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptloop.engine.results import read_results
from tests.support import cli_env, load_stub

CASES = 40


@pytest.fixture
def stub_server() -> Iterator[Any]:
    stub = load_stub()
    server = stub.StubServer(stub.StubConfig(latency_ms=300))
    server.start()
    yield server
    server.stop()


def write_project(root: Path, url: str) -> Path:
    (root / "prompts").mkdir(parents=True)
    (root / "evals").mkdir()
    (root / "prompts" / "echo.md").write_text("Repeat the word {{ word }}.\n")
    rows = [json.dumps({"id": f"w{i:02d}", "word": f"word{i}"}) for i in range(CASES)]
    (root / "evals" / "words.jsonl").write_text("\n".join(rows) + "\n")
    (root / "promptloop.yaml").write_text(
        f"model: openai/stub\napi_base: {url}\nconcurrency: 2\nretries: 0\ntimeout: 20\n"
        "suites:\n  - name: echo\n    prompt: prompts/echo.md\n    dataset: evals/words.jsonl\n"
        "    evaluators:\n      - contains: '{{ word }}'\n"
    )
    return root


def start_run(project: Path) -> subprocess.Popen[str]:
    env = cli_env(OPENAI_API_KEY="sk-interrupt-test")
    return subprocess.Popen(
        [sys.executable, "-m", "promptloop.cli", "run", ".", "-o", "out", "-q"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_requests(server: Any, count: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while server.snapshot()["requests"] < count:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never reached the stub"
        time.sleep(0.05)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_leaves_partial_reports_and_the_rerun_resumes(
    tmp_path: Path, stub_server: Any, signum: int, code: int
) -> None:
    project = write_project(tmp_path / "p", stub_server.base_url)
    proc = start_run(project)
    wait_for_requests(stub_server, 6, proc)
    signalled = time.monotonic()
    proc.send_signal(signum)
    asked = stub_server.snapshot()["requests"]
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == code, stdout + stderr
    # No call starts after the signal (one may have been on its way as it arrived).
    assert stub_server.snapshot()["requests"] <= asked + 1
    # In-flight calls get about 2 s; then the reports are written and the process ends.
    assert time.monotonic() - signalled < 10
    assert "Traceback" not in stderr
    assert f"{signal.Signals(signum).name} received: stopping" in stderr

    result = read_results(project / "out" / "results.json")
    suite = result.suites[0]
    finished = len(suite.cases)
    assert result.incomplete == f"interrupted by {signal.Signals(signum).name}"
    assert 0 < finished < CASES and suite.not_run == CASES - finished
    assert result.verdict is not None and result.verdict.status != "pass"
    assert result.verdict.failed_checks == ["incomplete"]
    assert all(c.status == "pass" for c in suite.cases)
    junit = (project / "out" / "junit.xml").read_text()
    assert f"{suite.not_run} of {CASES} cases did not run" in junit
    report = (project / "out" / "report.md").read_text()
    assert "INCOMPLETE" in report and f"{suite.not_run} cases did not run" in report
    assert "PASS" not in report

    stub_server.reset_stats()
    rerun = start_run(project)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, out + err
    again = read_results(project / "out" / "results.json")
    assert again.incomplete is None and len(again.suites[0].cases) == CASES
    # Every answer the interrupted run finished came from the cache; only the rest was asked.
    assert again.usage.cache_hits == finished
    assert stub_server.snapshot()["requests"] == CASES - finished


def test_second_signal_exits_at_once(tmp_path: Path) -> None:
    stub = load_stub()
    # Answers take 30 s, so only the second signal can end the run quickly.
    with stub.StubServer(stub.StubConfig(latency_ms=30_000)) as server:
        project = write_project(tmp_path / "p", server.base_url)
        proc = start_run(project)
        wait_for_requests(server, 2, proc)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        signalled = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
        assert time.monotonic() - signalled < 2
    assert proc.returncode == 130, stderr
    assert "second signal: exiting now" in stderr


def test_signal_during_optimize_writes_no_prompt_and_exits_143(
    tmp_path: Path, clean_scripts: None
) -> None:
    from click.testing import CliRunner

    from promptloop.cli import cli
    from promptloop.models.scripted import register_script
    from tests.cli.test_cli_optimize import REVISED, greeter, optimizer_reply
    from tests.support import copy_project

    project = copy_project("greetings", tmp_path)
    reply = optimizer_reply(REVISED)

    def cancelled(call: dict[str, Any]) -> str:
        # GitHub cancels the job while the optimizer is asked for its first rewrite.
        os.kill(os.getpid(), signal.SIGTERM)
        return reply(call)

    register_script("greeter", greeter)
    register_script("optimizer", cancelled)
    prompt = project / "prompts" / "greet.md"
    before = prompt.read_text()
    res = CliRunner().invoke(cli, ["optimize", "--dir", str(project), "-o", str(project / "out")])
    assert res.exit_code == 143, res.output
    # (The handler's own notice goes to file descriptor 2, which the runner does not capture.)
    assert res.stderr.strip().splitlines()[-1].startswith("promptloop: interrupted by SIGTERM")
    assert prompt.read_text() == before
    assert not (project / "prompts" / "greet.optimized.md").exists()
