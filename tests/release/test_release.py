"""The release pipeline's pieces: the version/tag check, the CHANGELOG notes, and the
workflow's and action's supply-chain rules (pinned actions, least privilege, bounded jobs)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RELEASE = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


smoke = script("release_smoke")
changelog = script("changelog_section")


def test_the_version_has_one_source_and_the_package_reads_it():
    import promptloop

    assert smoke.package_version() == promptloop.__version__
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject
    assert not re.search(r'^version = "', pyproject, flags=re.M)


def test_a_tag_must_name_the_package_version():
    assert smoke.check_tag("1.2.0", {"GITHUB_REF_TYPE": "tag", "GITHUB_REF_NAME": "v1.2.0"}) is None
    assert (
        smoke.check_tag("1.2.0", {"GITHUB_REF_TYPE": "branch", "GITHUB_REF_NAME": "main"}) is None
    )
    problem = smoke.check_tag("1.2.0", {"GITHUB_REF_TYPE": "tag", "GITHUB_REF_NAME": "v1.3.0"})
    assert problem == "tag v1.3.0 does not match the package version 1.2.0 (expected v1.2.0)"


CHANGES = """# Changelog

## [Unreleased]

### Added
- later

## [1.1.0] - 2027-01-02

### Fixed
- a fix

## [1.0.0] - 2027-01-01

### Added
- first

[1.1.0]: https://example.invalid/compare/v1.0.0...v1.1.0
"""


def test_the_release_notes_are_that_versions_section_alone():
    assert changelog.section(CHANGES, "1.1.0") == "### Fixed\n- a fix"
    assert changelog.section(CHANGES, "1.0.0") == "### Added\n- first"
    assert changelog.section(CHANGES, "2.0.0") is None
    assert changelog.section(CHANGES, "1.0") is None


def test_a_version_without_notes_stops_the_release(capsys):
    with pytest.raises(SystemExit) as stopped:
        changelog.main(["9.9.9"])
    assert "no notes under '## [9.9.9]'" in str(stopped.value)


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for job in workflow["jobs"].values() for s in job["steps"]]


@pytest.mark.parametrize("where", ["release", "action"])
def test_every_action_is_pinned_to_a_commit_with_its_version_noted(where):
    path = ROOT / (".github/workflows/release.yml" if where == "release" else "action.yml")
    found = steps(RELEASE) if where == "release" else ACTION["runs"]["steps"]
    uses = [s["uses"] for s in found if "uses" in s]
    assert uses and all(PINNED.match(u) for u in uses), uses
    for line in path.read_text().splitlines():
        if "uses:" in line:
            assert re.search(r"@[0-9a-f]{40} # v\d", line), line


def test_release_jobs_hold_least_privilege_and_a_time_limit():
    assert RELEASE["permissions"] == {}
    for name, job in RELEASE["jobs"].items():
        assert job["timeout-minutes"] <= 20, name
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, name
    publish = RELEASE["jobs"]["publish"]
    assert publish["permissions"] == {"id-token": "write"}  # trusted publishing, no token
    assert "secrets" not in (ROOT / ".github/workflows/release.yml").read_text()
    assert publish["needs"] == "test" and "refs/tags/v" in publish["if"]
    assert RELEASE["jobs"]["github-release"]["permissions"] == {"contents": "write"}
    for name in ("build", "test"):
        assert RELEASE["jobs"][name]["permissions"] == {"contents": "read"}


def test_the_wheel_is_tested_on_linux_macos_and_windows():
    systems = RELEASE["jobs"]["test"]["strategy"]["matrix"]["os"]
    assert {s.split("-")[0] for s in systems} >= {"ubuntu", "macos", "windows"}
    run = " ".join(s.get("run", "") for s in RELEASE["jobs"]["test"]["steps"])
    assert "release_smoke.py --dist dist" in run


def test_the_action_caches_its_environment_by_python_extras_and_source():
    cache = next(s for s in ACTION["runs"]["steps"] if s.get("id") == "cache")
    key = cache["with"]["key"]
    for part in (
        "steps.python.outputs.python-version",
        "inputs.extras",
        "steps.key.outputs.source",
    ):
        assert part in key
    assert cache["with"]["path"] == "${{ runner.temp }}/promptloop-venv"
    install = next(s for s in ACTION["runs"]["steps"] if s.get("name", "").startswith("Install"))
    assert install["if"] == "steps.cache.outputs.cache-hit != 'true'"
    assert 'uv" pip install' in install["run"] and "CMAKE_ARGS" not in install["run"]
