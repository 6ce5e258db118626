"""Commands that run no model load only what they need (their speed is measured in
bench/startup.py; this checks what they import)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support import REPO_ROOT

HEAVY = ("litellm", "aiohttp", "jinja2", "promptloop.evaluators.judge", "promptloop.engine")


def modules_after(args: list[str]) -> dict[str, object]:
    code = (
        "import json, sys\n"
        "from click.testing import CliRunner\n"
        "from promptloop.cli import cli\n"
        f"result = CliRunner().invoke(cli, {args!r})\n"
        "print(json.dumps({'exit': result.exit_code, 'out': result.output,\n"
        f"                  'loaded': [m for m in {HEAVY!r} if m in sys.modules]}}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_schema_loads_no_evaluator_template_engine_or_provider():
    result = modules_after(["schema"])
    assert result["exit"] == 0
    assert json.loads(str(result["out"]))["title"] == "promptloop.yaml"
    assert result["loaded"] == []


def test_help_loads_nothing_heavy():
    result = modules_after(["--help"])
    assert result["exit"] == 0
    assert result["loaded"] == []
