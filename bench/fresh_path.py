"""The fresh path a new user walks: clone → the README's first command → the example's result.

Run: ``python bench/fresh_path.py`` (writes bench/results/fresh-path.md). Options:
``--work DIR`` (throwaway clones; default bench/.work/fresh-path), ``--runs 1``.

Each run clones this checkout's committed HEAD into a new folder and runs the README's first
command there, verbatim, in ``bash`` with every package cache empty (pip's off, uv's in a
new folder) and no provider key, so the example runs on the embedded model with no cache.
Each ``&&`` step is timed; wall is what a person waits, CPU is user+system time of the whole
command, which other jobs on a shared machine do not inflate. The load average is recorded
before and after each run.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO, WORK, median, table, write_result


def first_command() -> str:
    """The README's first command: the first line of its first fenced code block."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"^```[^\n]*\n(.*?)^```", text, flags=re.S | re.M)
    assert block is not None, "README.md has no code block"
    return next(line.strip() for line in block.group(1).splitlines() if line.strip())


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def one_run(work: Path, command: str) -> tuple[list[float], float, float, str]:
    """Step wall times, total wall, CPU seconds and the loads before/after, for one run."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    subprocess.run(["git", "clone", "-q", str(REPO), str(work / "repo")], check=True)
    steps = [s.strip() for s in command.split("&&")]
    # Each step, then the moment it ended: one shell, so the venv it activates stays active.
    script = "set -e\n" + "".join(
        f'{step}\necho "STEP-DONE $(date +%s.%N)" >&2\n' for step in steps
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    for name in ("PYTHONPATH", "VIRTUAL_ENV"):
        env.pop(name, None)
    env.update(
        PIP_NO_CACHE_DIR="1",
        UV_CACHE_DIR=str(work / "uv-cache"),
        LITELLM_LOCAL_MODEL_COST_MAP="True",
    )
    before_load = load()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.time()
    proc = subprocess.run(
        ["bash", "-c", script], cwd=work / "repo", env=env, capture_output=True, text=True
    )
    wall = time.time() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # The example's gate may fail (exit 1): a result is what the person waited for.
    if proc.returncode not in (0, 1) or "Reports written to" not in proc.stdout + proc.stderr:
        sys.exit(f"failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    ends = [float(x.split()[1]) for x in proc.stderr.splitlines() if x.startswith("STEP-DONE ")]
    marks = [started, *ends]
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return [b - a for a, b in itertools.pairwise(marks)], wall, cpu, f"{before_load} → {load()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=WORK / "fresh-path")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--output", default="fresh-path")
    args = parser.parse_args(argv)
    command = first_command()
    steps = [s.strip() for s in command.split("&&")]
    runs = []
    for i in range(args.runs):
        runs.append(one_run(args.work.resolve() / f"run-{i}", command))
        print(f"run {i + 1}: {runs[-1][1]:.1f}s wall, load {runs[-1][3]}", file=sys.stderr)
    rows = [[f"`{step}`", median([r[0][n] for r in runs])] for n, step in enumerate(steps)]
    rows.append(["**total, clone excluded**", median([r[1] for r in runs])])
    body = [
        f"The README's first command, verbatim, in a fresh clone with empty package caches: "
        f"medians of {args.runs} run(s).",
        "",
        *table(["step", "wall s"], rows),
        "",
        f"CPU seconds of the whole command (median): {median([r[2] for r in runs]):.1f}.",
        "Load average (1, 5, 15 min) before → after each run: "
        + "; ".join(r[3] for r in runs)
        + ".",
    ]
    path = write_result(
        args.output, "Fresh path: clone to first result", "python bench/fresh_path.py", body
    )
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
