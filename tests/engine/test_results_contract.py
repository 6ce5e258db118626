"""results.json as users read it: the same document, run for run, as the untyped one was.

The goldens in tests/fixtures/results/ were written by promptloop before the results
contract was typed (schema version 1), for these very runs: a failing pull request that
learned a revision (`ci`, so the document carries the optimization) and a regression
confirmed by a second look (`run --baseline`). Version 2 adds each suite's pass-rate
interval, filled by the gate; everything else must read byte for byte as it did.
Regenerate with PROMPTLOOP_UPDATE_GOLDEN=1 only when the document is meant to change.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from promptloop.engine.results import SCHEMA_VERSION, read_results, write_results
from tests import golden
from tests.commands import test_baseline as baseline
from tests.commands import test_ci_github as ci
from tests.commands.test_ci_github import HEAD_PROMPT, PROMPT, Scenario

GOLDEN = Path(__file__).parents[1] / "fixtures" / "results"

# The same real-git, fake-GitHub world as the ci tests, and the baseline tests' repository.
gh = ci.gh
scenario = ci.scenario
repo = baseline.repo
_scripts = baseline._scripts


def _repeatable(text: str, shas: dict[str, str]) -> str:
    """The run's shas, ports, times and timings made fixed."""
    text = golden.normalise(text, {**shas, **{old[:7]: new[:7] for old, new in shas.items()}})
    text = re.sub(r'"created_at": "[^"]*"', '"created_at": "2026-01-05T09:30:00+00:00"', text)
    text = re.sub(r'"promptloop_version": "[^"]*"', '"promptloop_version": "0"', text)
    return re.sub(r'"(wall_s|latency_s)": [0-9.e+-]+', r'"\1": 0.0', text)


def _as_version_1(text: str) -> str:
    """The document without what versions 2 (intervals) and 3 (forecast, budget, a
    verdict's plain sentence) added."""
    text = re.sub(r',\n\s*"pass_rate_interval": (null|\{[^{}]*\})', "", text)
    text = re.sub(r',\n "(forecast|budget)": (null|\{[^{}]*\})', "", text)
    text = re.sub(r',\n\s*"plain": (null|"(?:[^"\\]|\\.)*")', "", text)
    return text.replace(f'"schema_version": {SCHEMA_VERSION},', '"schema_version": 1,', 1)


def _check(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.json"
    if golden.updating() or not path.exists():
        GOLDEN.mkdir(parents=True, exist_ok=True)
        path.write_text(_as_version_1(text), encoding="utf-8")
    assert _as_version_1(text) == path.read_text(encoding="utf-8")


def _ci_failing_run(scenario: Scenario, capsys: pytest.CaptureFixture[str]) -> str:
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    res = scenario.run(capsys)
    assert res.outputs["verdict"] == "fail"
    text = Path(res.outputs["results-path"]).read_text(encoding="utf-8")
    return _repeatable(text, {scenario.head_sha: "4e1d" * 10, scenario.base_sha: "b45e" * 10})


def _confirmed_regression(root: Path, base_sha: str) -> str:
    head_prompt = (root / "prompts" / "classify.md").read_text() + "Be sarcastic.\n"
    baseline.commit_head(root, head_prompt)
    assert baseline.run(root, "--baseline", base_sha).exit_code == 1
    text = (root / "out" / "results.json").read_text(encoding="utf-8")
    return _repeatable(text.replace(str(root), "repo"), {base_sha: "b45e" * 10})


def test_a_learned_revision_reads_as_before(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _ci_failing_run(scenario, capsys)
    data = json.loads(text)
    assert data["optimization"]["suites"]["greet"]["scores"]["test_after"]["pass_rate"] >= 0
    assert data["comparisons"]["greet"]["first_look_only"]
    _check("ci-learned-revision", text)


def test_a_confirmed_regression_reads_as_before(repo: tuple[Path, str]) -> None:
    text = _confirmed_regression(*repo)
    assert json.loads(text)["comparisons"]["sentiment"]["confirmation"]["cases"] == 6
    _check("run-confirmed-regression", text)


@pytest.mark.parametrize("name", ["ci-learned-revision", "run-confirmed-regression"])
def test_a_version_1_file_is_read_and_written_again_unchanged(name: str, tmp_path: Path) -> None:
    """A results.json from before the typed contract (`merge`, `ci --results-path`)."""
    old = GOLDEN / f"{name}.json"
    result = read_results(old)
    assert result.schema_version == SCHEMA_VERSION
    assert all(s.pass_rate_interval is None for s in (*result.suites, *result.baseline))
    write_results(result, tmp_path / "results.json")
    again = (tmp_path / "results.json").read_text(encoding="utf-8")
    assert _as_version_1(again) == old.read_text(encoding="utf-8")
