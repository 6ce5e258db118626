"""A real signal to a real `promptloop run` against the OpenAI-compatible stub: the finished
cases are reported, the run is marked incomplete, and the next run resumes from the cache."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
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


def write_project(root: Path, url: str, cases: int = CASES) -> Path:
    (root / "prompts").mkdir(parents=True)
    (root / "evals").mkdir()
    (root / "prompts" / "echo.md").write_text("Repeat the word {{ word }}.\n")
    rows = [json.dumps({"id": f"w{i:02d}", "word": f"word{i}"}) for i in range(cases)]
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


class Watched:
    """A running process whose stdout and stderr are read as they come, so a test can wait
    for a line instead of sleeping and guessing how long a busy machine takes."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.out: list[str] = []
        self.err: list[str] = []
        self._changed = threading.Condition()
        self._closed: set[int] = set()
        self._readers = [
            threading.Thread(target=self._read, args=(stream, lines), daemon=True)
            for stream, lines in ((proc.stdout, self.out), (proc.stderr, self.err))
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: Any, lines: list[str]) -> None:
        for line in stream:
            with self._changed:
                lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._closed.add(id(lines))
            self._changed.notify_all()

    def wait_for_stderr(self, text: str, timeout: float = 60) -> float:
        """Block until a stderr line holds ``text``; the moment it was seen."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not any(text in line for line in self.err):
                left = deadline - time.monotonic()
                # Every line is read before the stream closes: a closed stream without the
                # line means the process ended without saying it.
                ended = id(self.err) in self._closed
                said = "".join(self.err)
                assert left > 0 and not ended, f"never said {text!r}: {said}"
                self._changed.wait(min(left, 0.5))
        return time.monotonic()

    def finish(self, timeout: float = 120) -> tuple[str, str]:
        self.proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=10)
        return "".join(self.out), "".join(self.err)


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
    watched = Watched(proc)
    proc.send_signal(signum)
    name = signal.Signals(signum).name
    # Measured from the moment the handler speaks, not from the kill: on a busy machine the
    # signal may wait while litellm is still importing.
    stopping = watched.wait_for_stderr(f"{name} received: stopping")
    asked = stub_server.snapshot()["requests"]
    stdout, stderr = watched.finish()
    assert proc.returncode == code, stdout + stderr
    # No call starts after the stop (one may have been on its way as it was handled).
    assert stub_server.snapshot()["requests"] <= asked + 1
    # In-flight calls get about 2 s; then the reports are written and the process ends.
    # The ceiling only catches a run that waits for its calls or hangs: it is generous.
    assert time.monotonic() - stopping < 60
    assert "Traceback" not in stderr

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
        watched = Watched(proc)
        proc.send_signal(signal.SIGINT)
        # The second signal only means "now" once the first has been handled.
        watched.wait_for_stderr("SIGINT received: stopping")
        signalled = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, stderr = watched.finish(timeout=60)
        # Only the path that exits at once says so (the first signal's path would wait out
        # its grace and write reports); the ceiling, generous, catches a hang.
        assert time.monotonic() - signalled < 15
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


def test_a_signal_after_the_last_case_leaves_the_run_complete_and_judged(
    tmp_path: Path, clean_scripts: None
) -> None:
    """Ctrl-C as the last answer comes back: every case finished, so the run is judged and
    reported whole (no "0 cases did not run"); the process still exits as the signal asked."""
    from click.testing import CliRunner

    from promptloop.cli import cli
    from promptloop.models.scripted import register_script
    from tests.support import copy_project

    project = copy_project("sentiment", tmp_path)
    cases = len((project / "evals" / "reviews.jsonl").read_text().splitlines())
    labels = {
        json.loads(line)["text"]: json.loads(line)["label"]
        for line in (project / "evals" / "reviews.jsonl").read_text().splitlines()
    }
    answered: list[str] = []

    def last_one_interrupted(call: dict[str, Any]) -> str:
        text = str(call["messages"][-1]["content"])
        answered.append(text)
        if len(answered) == cases:
            os.kill(os.getpid(), signal.SIGINT)
        return next(label for review, label in labels.items() if review in text)

    register_script("sentiment", last_one_interrupted)
    res = CliRunner().invoke(
        cli, ["run", "--dir", str(project), "-o", str(project / "out"), "-q", "--no-cache"]
    )
    assert len(answered) == cases
    assert res.exit_code == 130, res.output
    assert "did not run" not in res.output
    result = read_results(project / "out" / "results.json")
    assert result.incomplete is None and result.not_run == 0
    assert len(result.suites[0].cases) == cases
    assert result.verdict is not None and result.verdict.status == "pass"
    assert "INCOMPLETE" not in (project / "out" / "report.md").read_text()
