"""The embedded model's thread count beside other work: 1 thread, 2 threads and the default.

Run: ``python bench/threads.py`` (writes bench/results/threads.md). Options:
``--cases 6 --max-tokens 24 --runs 3 --timeout 300``.

Each measurement is ``promptloop run`` on ``local/smollm2`` (a fresh process, caches off, no
judge) while one busy process, pinned to the first core, does the "other work" a laptop or a
CI runner has: it counts loop turns, so the table shows both how long promptloop took and how
much of its core the other work kept. Thread counts are set with ``PROMPTLOOP_LOCAL_THREADS``
(unset: the default, half the usable cores, at least one). The configurations alternate inside
each repetition so they see the same machine; medians of ``--runs``; ratios are of medians,
against the default.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    WORK,
    bench_env,
    make_project,
    measure,
    median,
    promptloop_command,
    table,
    write_result,
)

# Counts loop turns until SIGTERM, then prints turns per second: the other work's progress.
HOG = r"""
import os, signal, sys, time
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
started, turns = time.perf_counter(), 0
def done(*_):
    print(turns / (time.perf_counter() - started), flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, done)
while True:
    turns += 1
"""

CONFIGS: list[tuple[str, str | None]] = [("1 thread", "1"), ("2 threads", "2"), ("default", None)]


def hog_alone(seconds: float = 5.0) -> float:
    """The busy process's turns per second with nothing of ours running."""
    hog = subprocess.Popen([sys.executable, "-c", HOG], stdout=subprocess.PIPE, text=True)
    with contextlib.suppress(subprocess.TimeoutExpired):
        hog.wait(timeout=seconds)
    hog.send_signal(signal.SIGTERM)
    out, _ = hog.communicate(timeout=30)
    return float(out.strip())


def one_run(project: Path, threads: str | None, timeout_s: float) -> dict[str, float] | None:
    env = bench_env()
    env.pop("PROMPTLOOP_LOCAL_THREADS", None)
    if threads is not None:
        env["PROMPTLOOP_LOCAL_THREADS"] = threads
    hog = subprocess.Popen([sys.executable, "-c", HOG], stdout=subprocess.PIPE, text=True)
    try:
        m = measure(
            [*promptloop_command(), "run", str(project), "-o", str(project / "out"), "-q"],
            cwd=project,
            env=env,
            timeout_s=timeout_s,
        )
    finally:
        hog.send_signal(signal.SIGTERM)
        hog_out, _ = hog.communicate(timeout=30)
    if m.wall_s >= timeout_s:
        return None
    if m.returncode not in (0, 1):
        sys.exit(f"promptloop run failed ({m.returncode}): {m.stdout[-1500:]}\n{m.stderr[-1500:]}")
    return {"wall_s": m.wall_s, "cpu_s": m.cpu_s, "hog_rate": float(hog_out.strip())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=6)
    parser.add_argument("--max-tokens", type=int, default=24)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--output", default="threads")
    args = parser.parse_args(argv)
    project = make_project(
        WORK / "threads-promptloop",
        cases=args.cases,
        base_url="",
        concurrency=4,
        cache=False,
        judge=False,
    )
    config = project / "promptloop.yaml"
    text = config.read_text().replace("model: openai/stub-model", "model: local/smollm2")
    text = text.replace("api_base: \n", "").replace(
        "max_tokens: 64", f"max_tokens: {args.max_tokens}"
    )
    config.write_text(text)
    alone = hog_alone()
    results: dict[str, list[dict[str, float] | None]] = {name: [] for name, _ in CONFIGS}
    for i in range(args.runs):
        for name, threads in CONFIGS:
            r = one_run(project, threads, args.timeout)
            results[name].append(r)
            shown = (
                "TIMEOUT"
                if r is None
                else f"{r['wall_s']:.1f}s, other work {r['hog_rate'] / alone:.0%}"
            )
            print(f"run {i + 1} {name}: {shown}", file=sys.stderr, flush=True)

    def med(name: str, key: str) -> float | None:
        done = [r[key] for r in results[name] if r is not None]
        return median(done) if len(done) == len(results[name]) else None

    default_wall = med("default", "wall_s")
    rows = []
    for name, threads in CONFIGS:
        wall = med(name, "wall_s")
        timeouts = sum(1 for r in results[name] if r is None)
        rate = med(name, "hog_rate")
        rows.append(
            [
                name,
                threads or f"unset ({max(1, len(os.sched_getaffinity(0)) // 2)})",
                f"{wall:.1f}"
                if wall is not None
                else f">{args.timeout:.0f} ({timeouts} timed out)",
                f"{med(name, 'cpu_s'):.1f}" if wall is not None else "—",
                f"{wall / default_wall:.2f}" if wall is not None and default_wall else "—",
                f"{rate / alone:.0%}" if rate is not None else "—",
            ]
        )
    walls = {
        name: [None if r is None else round(r["wall_s"], 1) for r in results[name]]
        for name, _ in CONFIGS
    }
    body = [
        f"`promptloop run` on `local/smollm2`: {args.cases} cases, max_tokens {args.max_tokens}, "
        f"no judge, caches off, each run a fresh process, while one busy Python loop pinned to "
        f"the first core runs beside it. Medians of {args.runs} runs, the configurations "
        "alternated within each repetition; `vs default` is the ratio of median walls; "
        "`other work` is the busy loop's turns per second during the run as a share of its "
        f"rate alone ({alone:,.0f} turns/s measured before the runs).",
        "",
        *table(
            ["threads", "PROMPTLOOP_LOCAL_THREADS", "wall s", "CPU s", "vs default", "other work"],
            rows,
        ),
        "",
        f"Every run's wall (s): {json.dumps(walls)}",
    ]
    path = write_result(
        args.output, "Embedded model threads beside other work", "python bench/threads.py", body
    )
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
