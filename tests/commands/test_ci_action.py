"""action.yml: its inputs reach `promptloop ci` as the right flags, safely."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from promptloop.cli import cli

ROOT = Path(__file__).resolve().parents[2]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
WORKFLOW = yaml.safe_load((ROOT / ".github" / "workflows" / "promptloop.yml").read_text())


def ci_step() -> dict[str, Any]:
    return next(s for s in ACTION["runs"]["steps"] if s.get("id") == "run")


def run_step(tmp_path: Path, **inputs: str) -> tuple[int, list[str], str]:
    """Run the step's script with a stand-in promptloop that prints its arguments."""
    fake = tmp_path / "promptloop"
    fake.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@"\n')
    fake.chmod(0o755)
    step = ci_step()
    defaults = {name: spec.get("default", "") for name, spec in ACTION["inputs"].items()}
    values = {**defaults, **inputs}
    env = {"PATH": "/usr/bin:/bin", "GITHUB_WORKSPACE": str(tmp_path), "PROMPTLOOP_BIN": str(fake)}
    for key, template in step["env"].items():
        template = str(template)
        if template.startswith("${{ inputs."):
            env[key] = values[template.removeprefix("${{ inputs.").removesuffix(" }}")]
        else:
            env[key] = template
    proc = subprocess.run(
        ["bash", "-c", step["run"]], env=env, capture_output=True, text=True, check=False
    )
    return proc.returncode, proc.stdout.splitlines(), proc.stdout


def test_inputs_become_flags_the_ci_command_accepts(tmp_path: Path) -> None:
    code, args, _ = run_step(
        tmp_path,
        **{
            "working-directory": "evals dir",
            "config": "pl.yaml",
            "comment": "off",
            "suggest": "commit",
            "fail-on": "never",
            "concurrency": "3",
            "cache-dir": ".cache/pl",
            "results": "merged/results.json",
        },
    )
    assert code == 0
    assert args[0] == "ci"
    flags = [a for a in args if a in ("--comment", "--no-comment")]
    rest = [a for a in args[1:] if a not in flags]
    pairs = dict(zip(rest[::2], rest[1::2], strict=True))
    assert pairs["--working-directory"] == "evals dir"
    assert pairs["--config"] == "pl.yaml" and pairs["--suggest"] == "commit"
    assert pairs["--fail-on"] == "never" and pairs["--concurrency"] == "3"
    assert pairs["--cache-dir"] == ".cache/pl"
    assert pairs["--results"] == f"{tmp_path}/merged/results.json"
    assert flags == ["--no-comment"]
    command = cli.commands["ci"]
    known = {opt for p in command.params if isinstance(p, click.Option) for opt in p.opts}
    known |= {
        opt for p in command.params if isinstance(p, click.Option) for opt in p.secondary_opts
    }
    assert {a for a in args if a.startswith("--")} <= known


def test_an_absolute_results_path_is_kept(tmp_path: Path) -> None:
    code, args, _ = run_step(tmp_path, results="/runner/temp/fork/results.json")
    assert code == 0
    assert args[args.index("--results") + 1] == "/runner/temp/fork/results.json"


def test_inputs_with_shell_syntax_stay_data(tmp_path: Path) -> None:
    code, args, _ = run_step(tmp_path, config="$(touch pwned); `touch pwned2`")
    assert code == 0
    assert "$(touch pwned); `touch pwned2`" in args
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()


@pytest.mark.parametrize("value", ["maybe", ""])
def test_a_bad_comment_value_fails_with_an_annotation(tmp_path: Path, value: str) -> None:
    code, _, out = run_step(tmp_path, comment=value)
    assert code == 2 and "::error" in out


def test_no_input_is_spliced_into_a_script() -> None:
    for step in ACTION["runs"]["steps"]:
        assert "${{" not in str(step.get("run", ""))


def test_outputs_come_from_the_ci_step() -> None:
    assert set(ACTION["outputs"]) == {
        "verdict",
        "pass-rate",
        "delta",
        "results-path",
        "suggestion-url",
    }
    for name, spec in ACTION["outputs"].items():
        assert spec["value"] == f"${{{{ steps.run.outputs.{name} }}}}"


def test_example_workflow_checks_out_the_head_with_history_and_caches_responses() -> None:
    permissions = WORKFLOW["jobs"]["promptloop"]["permissions"]
    assert permissions["pull-requests"] == "write" and permissions["checks"] == "write"
    steps = WORKFLOW["jobs"]["promptloop"]["steps"]
    checkout = next(s for s in steps if str(s.get("uses", "")).startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0
    assert "pull_request.head.sha" in checkout["with"]["ref"]
    cache = next(s for s in steps if str(s.get("uses", "")).startswith("actions/cache"))
    action = next(s for s in steps if s.get("uses") == "./")
    assert cache["with"]["path"] == action["with"]["cache-dir"]
