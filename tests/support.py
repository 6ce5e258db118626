"""Helpers shared by test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[1]


def load_stub() -> ModuleType:
    """bench/stub_server.py, the one OpenAI-compatible stub that tests and benchmarks share."""
    name = "promptloop_bench_stub_server"
    if name in sys.modules:
        return sys.modules[name]
    path = REPO_ROOT / "bench" / "stub_server.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


PROJECTS = Path(__file__).parent / "fixtures" / "projects"


def copy_project(name: str, tmp_path: Path) -> Path:
    """A fresh copy of tests/fixtures/projects/NAME that a test may change and run."""
    import shutil

    target = tmp_path / name
    shutil.copytree(PROJECTS / name, target)
    return target


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a `promptloop` subprocess: without the developer's provider keys,
    without litellm's price-list download, plus ``extra``."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        # The checkout's own sources, whichever install the interpreter has.
        PYTHONPATH=str(REPO_ROOT / "src"),
        **extra,
    )
    return env


def run_promptloop(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`promptloop ARGS` as a user runs it, in ``cwd``."""
    return subprocess.run(
        [sys.executable, "-m", "promptloop.cli", *args],
        cwd=cwd,
        env=cli_env() if env is None else env,
        capture_output=True,
        text=True,
        timeout=120,
    )
