"""`promptloop run -q` on a terminal: no progress, only the summary. The bar is drawn only
when stderr is a terminal, so the check runs the real CLI on a pseudo-terminal."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.cli.test_interrupts import write_project
from tests.support import cli_env

CASES = 12
PROGRESS = ("answered", "judged", "cases done")


def on_a_terminal(cwd: Path, *args: str) -> tuple[int, str]:
    """Run promptloop with stdin, stdout and stderr on one pseudo-terminal, as in a shell;
    the exit code and everything the terminal showed."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "promptloop.cli", *args],
        cwd=cwd,
        env=cli_env(OPENAI_API_KEY="sk-quiet-terminal", TERM="xterm-256color"),
        stdin=follower,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    shown = bytearray()
    deadline = time.monotonic() + 120
    try:
        # Read as it comes: a full terminal buffer would block the run.
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # every writer has gone: the run is over
                break
            if not chunk:
                break
            shown += chunk
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(leader)
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, shown.decode(errors="replace")


def test_quiet_shows_no_progress_on_a_terminal(tmp_path: Path, serve: Any) -> None:
    _, url = serve(latency_ms=50)
    project = write_project(tmp_path / "p", url, CASES)
    code, shown = on_a_terminal(project, "run", "-q", "--no-cache")
    assert code == 0, shown
    assert "Verdict: PASS" in shown and "Reports written to" in shown
    assert not [word for word in PROGRESS if word in shown], shown


def test_without_quiet_the_terminal_shows_the_bar(tmp_path: Path, serve: Any) -> None:
    # The other half of the check: on this terminal, progress is drawn unless -q.
    _, url = serve(latency_ms=50)
    project = write_project(tmp_path / "p", url, CASES)
    code, shown = on_a_terminal(project, "run", "--no-cache")
    assert code == 0, shown
    assert "answered" in shown and "judged" in shown and f"{CASES}/{CASES}" in shown
