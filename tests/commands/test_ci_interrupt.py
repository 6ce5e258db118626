"""`promptloop ci` stopped part-way (GitHub cancels the job): it still posts what finished,
marked incomplete, and learns no revision from a partial run."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from promptloop.engine.results import read_results
from promptloop.models.scripted import register_script
from promptloop.models.stop import StopSignal
from tests.commands import test_ci_github as harness
from tests.commands.test_ci_github import FIXED_BOTH, HEAD_PROMPT, PROMPT, REPO, Scenario, model

# The ci tests' fixtures: a fake GitHub and a git repository with a pull request.
gh = harness.gh
scenario = harness.scenario


def test_cancelled_ci_posts_an_incomplete_summary(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    stop = StopSignal()
    answer = model(FIXED_BOTH)
    calls = 0

    def cancelled_midway(call: dict[str, Any]) -> str | BaseException:
        nonlocal calls
        calls += 1
        if calls == 12:
            stop.request(signal.SIGTERM)  # what the CLI's handler does on GitHub's SIGTERM
        return answer(call)

    register_script("ci", cancelled_midway)
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    res = scenario.run(capsys, stop=stop)

    assert res.code == 1  # the CLI exits 143 instead, since the stop was requested
    sticky = scenario.gh.issue_comments(REPO, 7)
    assert len(sticky) == 1
    assert "INCOMPLETE" in sticky[0]["body"] and "did not run" in sticky[0]["body"]
    runs = scenario.gh.check_runs(REPO, scenario.head_sha)
    assert len(runs) == 1 and runs[0]["conclusion"] == "cancelled"
    assert not any("```suggestion" in c["body"] for c in scenario.gh.review_comments(REPO, 7))
    result = read_results(Path(res.outputs["results-path"]))
    assert result.incomplete == "interrupted by SIGTERM"
    assert 0 < sum(len(s.cases) for s in (*result.suites, *result.baseline)) < calls + 1
    assert result.not_run > 0
