"""The default branch's baseline: a `push` to the default branch evaluates and leaves the
response cache (with a manifest of the commit it is for) that pull requests restore, so a
pull request pays for its head side only. The model is the OpenAI-compatible stub on
loopback, which records every request it answers; GitHub is the fake."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptloop.commands.ci_baseline import MANIFEST, BaselineManifest
from tests.commands.test_ci_dry_run import planned, writes
from tests.commands.test_ci_github import (
    BASE_PROMPT,
    FIXED_IN_HUNK,
    HEAD_PROMPT,
    PROMPT,
    REPO,
    Scenario,
    base_files,
    commit,
    prompt,
    write_event,
)
from tests.commands.test_ci_http import answer_rules, config
from tests.support import load_stub

BASE_LINE = "Be warm and calm."
HEAD_LINE = "Use exclamation marks"


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-baseline-test-0000")
    server = load_stub().StubServer(load_stub().StubConfig(record_bodies=True))
    server.start()
    server.configure(answer_rules=answer_rules(FIXED_IN_HUNK))
    yield server
    server.stop()


def calls_with(stub: Any, line: str) -> int:
    """Model calls whose rendered prompt holds ``line``."""
    return sum(
        1
        for body in stub.bodies
        if any(line in str(m.get("content") or "") for m in body.get("messages", []))
        and "<prompt>" not in json.dumps(body)
    )


def main_commit(scenario: Scenario, stub: Any, files: dict[str, str] | None = None) -> str:
    """A commit on the default branch (locally and on the fake)."""
    scenario.base = {**base_files(), "promptloop.yaml": config(stub.base_url), **(files or {})}
    scenario.base_sha = commit(scenario.repo, scenario.base, "main")
    fake = scenario.gh.add_branch(REPO, "main", scenario.base)
    # The fake names its commits itself; let it know this one by the checkout's SHA too.
    repo = scenario.gh.repo(REPO)
    repo.commits[scenario.base_sha] = repo.commits[fake]
    return scenario.base_sha


def push_to_main(
    scenario: Scenario, capsys: pytest.CaptureFixture[str], cache: Path, before: str, **opts: Any
) -> Any:
    payload = {
        "ref": "refs/heads/main",
        "before": before,
        "after": scenario.base_sha,
        "repository": {"full_name": REPO, "default_branch": "main"},
    }
    write_event(scenario, payload)
    return scenario.run(capsys, event_name="push", cache_dir=cache, **opts)


def open_pull(scenario: Scenario) -> None:
    scenario.head = dict(scenario.base)
    scenario.push({PROMPT: HEAD_PROMPT})
    vars(scenario).pop("event", None)  # the pull request's own payload again


def test_a_pull_request_after_a_default_branch_run_sends_no_base_side_call(
    scenario: Scenario, stub: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    main_commit(scenario, stub)
    res = push_to_main(scenario, capsys, cache, "0" * 40)
    assert res.code == 0
    # The default branch's run evaluated every suite and wrote to no pull request.
    assert calls_with(stub, BASE_LINE) == 20
    assert scenario.gh.issue_comments(REPO) == [] and scenario.gh.reviews(REPO, 7) == []
    manifest = BaselineManifest.model_validate_json((cache / MANIFEST).read_text())
    assert (manifest.sha, manifest.ref, manifest.suites) == (
        scenario.base_sha,
        "refs/heads/main",
        ["greet"],
    )

    stub.bodies.clear()
    open_pull(scenario)
    res = scenario.run(capsys, cache_dir=cache)
    assert res.code == 1
    assert calls_with(stub, BASE_LINE) == 0
    assert calls_with(stub, HEAD_LINE) == 20
    assert "comes from the default branch's baseline (main at" in res.summary
    # The comparison is the one a run without the baseline makes: every case broke.
    assert float(res.outputs["delta"]) == pytest.approx(-100.0)


def test_without_the_baseline_the_pull_request_pays_for_its_base(
    scenario: Scenario, stub: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    main_commit(scenario, stub)
    open_pull(scenario)
    res = scenario.run(capsys, cache_dir=tmp_path / "cache")
    assert res.code == 1
    assert calls_with(stub, BASE_LINE) == 20 and calls_with(stub, HEAD_LINE) == 20
    assert "baseline" not in res.summary


def test_a_stale_baseline_is_detected_and_the_base_evaluated(
    scenario: Scenario, stub: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    saved_for = main_commit(scenario, stub)
    push_to_main(scenario, capsys, cache, "0" * 40)
    # The default branch moves on (its prompt changes) with no run saving a baseline.
    main_commit(scenario, stub, {PROMPT: prompt("Be warm and calm, always.")})
    stub.bodies.clear()
    open_pull(scenario)
    res = scenario.run(capsys, cache_dir=cache)
    assert calls_with(stub, "Be warm and calm, always.") == 20
    assert (
        f"The restored baseline is stale: it was saved for main at {saved_for[:12]}, not this "
        f"pull request's base {scenario.base_sha[:12]}, so the base side is evaluated here"
    ) in " ".join(res.summary.replace("\n> ", " ").split())


def test_a_push_that_changes_no_suite_carries_the_baseline_forward(
    scenario: Scenario, stub: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first = main_commit(scenario, stub)
    push_to_main(scenario, capsys, cache, "0" * 40)
    main_commit(scenario, stub, {"README.md": "# prompts\n\nNew words.\n"})
    stub.bodies.clear()
    res = push_to_main(scenario, capsys, cache, first)
    assert res.outputs["verdict"] == "skipped" and stub.bodies == []
    manifest = BaselineManifest.model_validate_json((cache / MANIFEST).read_text())
    assert (manifest.sha, manifest.suites) == (scenario.base_sha, ["greet"])
    # A pull request on the new commit then pays for its head side only.
    open_pull(scenario)
    scenario.run(capsys, cache_dir=cache)
    assert calls_with(stub, BASE_LINE) == 0 and calls_with(stub, HEAD_LINE) == 20


def test_a_push_to_another_branch_leaves_no_baseline(
    scenario: Scenario, stub: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    main_commit(scenario, stub)
    payload = {
        "ref": "refs/heads/feature",
        "before": "0" * 40,
        "after": scenario.base_sha,
        "repository": {"full_name": REPO, "default_branch": "main"},
    }
    write_event(scenario, payload)
    scenario.run(capsys, event_name="push", cache_dir=cache)
    assert not (cache / MANIFEST).exists()


def test_a_default_branch_dry_run_writes_nothing_to_github(
    scenario: Scenario, stub: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    main_commit(scenario, stub)
    res = push_to_main(scenario, capsys, tmp_path / "cache", "0" * 40, dry_run=True)
    assert writes(scenario.gh) == []
    [line] = planned(res.stdout)
    assert line.startswith(f"create the check run 'promptloop' on {scenario.base_sha[:7]}")


def test_a_scheduled_run_evaluates_every_suite_and_leaves_the_baseline(
    scenario: Scenario, stub: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    main_commit(scenario, stub)
    write_event(
        scenario,
        {"schedule": "0 3 * * *", "repository": {"full_name": REPO, "default_branch": "main"}},
    )
    res = scenario.run(
        capsys,
        event_name="schedule",
        cache_dir=cache,
        env={"GITHUB_SHA": scenario.base_sha, "GITHUB_REF": "refs/heads/main"},
    )
    assert res.code == 0 and calls_with(stub, BASE_LINE) == 20
    manifest = BaselineManifest.model_validate_json((cache / MANIFEST).read_text())
    assert (manifest.sha, manifest.suites) == (scenario.base_sha, ["greet"])
    assert BASE_PROMPT.splitlines()[1] == BASE_LINE


def test_a_scheduled_dry_run_writes_nothing_to_github(
    scenario: Scenario, stub: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    main_commit(scenario, stub)
    write_event(scenario, {"schedule": "0 3 * * *", "repository": {"full_name": REPO}})
    res = scenario.run(
        capsys,
        event_name="schedule",
        cache_dir=tmp_path / "cache",
        dry_run=True,
        env={"GITHUB_SHA": scenario.base_sha, "GITHUB_REF": "refs/heads/main"},
    )
    assert writes(scenario.gh) == [] and len(scenario.gh.requests_log) > 0
    [line] = planned(res.stdout)
    assert line.startswith(f"create the check run 'promptloop' on {scenario.base_sha[:7]}")


def test_the_cache_dir_is_relative_to_where_ci_starts_not_the_working_directory(
    scenario: Scenario, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # As in the action: `cd $GITHUB_WORKSPACE`, the project in a folder, actions/cache's
    # `path` and `cache-dir` both relative to the repository root.
    files = {f"sub/{path}": text for path, text in base_files().items()}
    scenario.base_sha = commit(scenario.repo, files, "main")
    fake = scenario.gh.add_branch(REPO, "main", files)
    repo = scenario.gh.repo(REPO)
    repo.commits[scenario.base_sha] = repo.commits[fake]
    payload = {
        "ref": "refs/heads/main",
        "before": "0" * 40,
        "after": scenario.base_sha,
        "repository": {"full_name": REPO, "default_branch": "main"},
    }
    write_event(scenario, payload)
    monkeypatch.chdir(scenario.repo)
    res = scenario.run(
        capsys,
        event_name="push",
        working_directory=Path("sub"),
        cache_dir=Path(".promptloop/cache"),
    )
    assert res.code == 0
    assert (scenario.repo / ".promptloop" / "cache" / MANIFEST).is_file()
    assert not (scenario.repo / "sub" / ".promptloop").exists()


def test_a_rerun_whose_notes_changed_updates_the_summary_and_the_check(
    scenario: Scenario, stub: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # The same head and the same findings, but the second pass's base came from the
    # default branch's baseline: its note must reach the pull request, not only the job.
    main_commit(scenario, stub)
    open_pull(scenario)
    scenario.run(capsys, cache_dir=tmp_path / "cold")
    cache = tmp_path / "cache"
    push_to_main(scenario, capsys, cache, "0" * 40)
    vars(scenario).pop("event", None)
    scenario.run(capsys, cache_dir=cache)
    [summary] = scenario.gh.issue_comments(REPO, 7)
    assert "comes from the default branch's baseline (main at" in summary["body"]
    [check] = [
        c for c in scenario.gh.check_runs(REPO, scenario.head_sha) if c["name"] == "promptloop"
    ]
    assert "comes from the default branch's baseline" in check["output"]["summary"]
