"""Memory: peak RSS of `promptloop run` on 10,000 cases (a model call and a judge call each).

Run: ``python bench/memory.py`` (writes bench/results/memory.md). Options:
``--cases 10000 --small 100,1000 --runs 3 --concurrency 32``.

The stub answers at once (0 ms latency): memory depends on how many results are held,
not on how long they take. Peak RSS is wait4's ru_maxrss of the promptloop process.
Smaller runs are measured too, so the table separates the fixed cost (interpreter,
litellm, pydantic) from the cost per case. Goal: under 400 MB at 10,000 cases.
"""

from __future__ import annotations

import argparse
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
    stub_server,
    stub_stats,
    table,
    write_result,
)

GOAL_MB = 400.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--small", default="100,1000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--output", default="memory")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.small.split(",") if s] + [args.cases]

    rows: list[list[object]] = []
    peaks: dict[int, float] = {}
    with stub_server(0) as url:
        for n in sizes:
            project = make_project(
                WORK / f"memory-{n}",
                cases=n,
                base_url=url,
                concurrency=args.concurrency,
                cache=False,
            )
            out = project / "out"
            cmd = [*promptloop_command(), "run", str(project), "-o", str(out), "-q"]
            rss, wall = [], []
            for i in range(args.runs):
                stub_stats(url, reset=True)
                m = measure(cmd, cwd=project, env=bench_env(), timeout_s=3600)
                requests = int(stub_stats(url)["requests"])  # type: ignore[call-overload]
                if m.returncode != 0 or requests != 2 * n:
                    raise SystemExit(
                        f"run of {n} cases failed (exit {m.returncode}, {requests} requests): "
                        f"{m.stderr[-2000:]}"
                    )
                rss.append(m.peak_rss_mb)
                wall.append(m.wall_s)
                print(
                    f"{n} cases run {i + 1}: {m.peak_rss_mb:.0f} MB, {m.wall_s:.1f} s",
                    file=sys.stderr,
                )
            peaks[n] = median(rss)
            size_mb = (out / "results.json").stat().st_size / 2**20
            rows.append([n, peaks[n], min(rss), max(rss), median(wall), size_mb])

    first, last = sizes[0], sizes[-1]
    per_1000 = (peaks[last] - peaks[first]) / (last - first) * 1000 if last > first else 0.0
    met = peaks[args.cases] < GOAL_MB
    body = [
        f"Setup: one suite, each case a model call and an LLM-judge call against "
        f"bench/stub_server.py (0 ms latency), concurrency {args.concurrency}, cache off, "
        f"medians of {args.runs} runs per size. results.json is written with every case.",
        "",
        *table(["cases", "peak RSS MB (median)", "min", "max", "wall s", "results.json MB"], rows),
        "",
        f"Cost per case: about {per_1000:.1f} MB per 1,000 cases above a fixed "
        f"{peaks[first]:.0f} MB at {first} cases (interpreter, litellm, pydantic, rich).",
        "",
        "Goal:",
        "",
        f"- {args.cases} cases: {peaks[args.cases]:.0f} MB peak RSS "
        f"(goal < {GOAL_MB:.0f} MB: {'met' if met else 'NOT met'})",
    ]
    path = write_result(
        args.output, "Memory: peak RSS by number of cases", "python bench/memory.py", body
    )
    print(path.read_text())
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
