"""Ctrl-C or SIGTERM while stderr is a pipe whose reader has gone (`promptloop run 2>&1 | head`,
a CI log streamer that died): the signal handler's own message must not raise inside the
handler, so the run still stops the way the signal asked, with its partial reports."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptloop.engine.results import read_results
from tests.cli.test_interrupts import CASES, wait_for_requests, write_project
from tests.support import cli_env, load_stub


@pytest.fixture
def stub_server() -> Iterator[Any]:
    stub = load_stub()
    # Slow answers, so the signal lands while cases are still running.
    with stub.StubServer(stub.StubConfig(latency_ms=300)) as server:
        yield server


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_with_stderr_closed_still_stops_the_run_cleanly(
    tmp_path: Path, stub_server: Any, signum: int, code: int
) -> None:
    project = write_project(tmp_path / "p", stub_server.base_url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "promptloop.cli", "run", ".", "-o", "out", "-q"],
        cwd=project,
        env=cli_env(OPENAI_API_KEY="sk-closed-stderr"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    # The reader goes away before the run writes anything to stderr.
    proc.stderr.close()
    wait_for_requests(stub_server, 6, proc)
    proc.send_signal(signum)
    proc.wait(timeout=120)
    assert proc.returncode == code

    result = read_results(project / "out" / "results.json")
    suite = result.suites[0]
    assert result.incomplete == f"interrupted by {signal.Signals(signum).name}"
    assert 0 < len(suite.cases) < CASES and suite.not_run == CASES - len(suite.cases)
    assert result.verdict is not None and result.verdict.failed_checks == ["incomplete"]
