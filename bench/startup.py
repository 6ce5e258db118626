"""Startup and warm runs: `--help`, `schema`, and a fully cached re-run of 400 cases.

Run: ``python bench/startup.py`` (writes bench/results/startup.md). Options:
``--cases 400 --runs 5 --no-promptfoo``.

Goals (issue 17): ``promptloop --help`` under 0.2 s and ``promptloop schema`` under 0.3 s;
a fully cached re-run of 400 cases (model call plus judge call each) under 1 s with zero
model calls; none of `--help`, `schema` or the cached re-run imports litellm. The import
check runs each command once more with ``PYTHONPROFILEIMPORTTIME=1`` and looks for litellm
among the modules Python imported.

For comparison, promptfoo's fully cached re-run of the same suite is timed side by side
(its cache on, warmed by one run first).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    WORK,
    Promptfoo,
    bench_env,
    ensure_promptfoo,
    make_project,
    make_promptfoo_project,
    measure,
    median,
    promptfoo_command,
    promptfoo_env,
    promptloop_command,
    stub_server,
    stub_stats,
    table,
    write_result,
)


def imported_modules(stderr: str) -> set[str]:
    """Module names from ``-X importtime`` lines: ``import time: self | cumulative | name``."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def imports_litellm(cmd: list[str], cwd: Path) -> bool:
    m = measure(cmd, cwd=cwd, env=bench_env({"PYTHONPROFILEIMPORTTIME": "1"}))
    names = imported_modules(m.stderr)
    if not names:
        raise SystemExit(f"no import log from {cmd}: {m.stderr[-500:]}")
    return any(n == "litellm" or n.startswith("litellm.") for n in names)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=400)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--no-promptfoo", action="store_true")
    parser.add_argument("--output", default="startup")
    args = parser.parse_args(argv)
    n = args.cases
    pl = promptloop_command()
    rows: list[list[object]] = []
    goals: list[str] = []

    # Interleaved, so load from other jobs hits both alike.
    helps, schemas = [], []
    for _ in range(args.runs):
        helps.append(measure([*pl, "--help"], cwd=WORK, env=bench_env()))
        schemas.append(measure([*pl, "schema"], cwd=WORK, env=bench_env()))
    help_times = [m.wall_s for m in helps]
    schema_times = [m.wall_s for m in schemas]
    help_litellm = imports_litellm([*pl, "--help"], WORK)
    schema_litellm = imports_litellm([*pl, "schema"], WORK)
    for name, runs, imported in (
        ("promptloop --help", helps, help_litellm),
        ("promptloop schema", schemas, schema_litellm),
    ):
        wall, cpu = median([m.wall_s for m in runs]), median([m.cpu_s for m in runs])
        rows.append([name, wall, "YES" if imported else "no", f"CPU {cpu:.2f} s"])

    pf: Promptfoo | str = "skipped (--no-promptfoo)" if args.no_promptfoo else ensure_promptfoo()
    pf_cached: list[float] = []
    with stub_server(0) as url:
        project = make_project(
            WORK / "startup-promptloop",
            cases=n,
            base_url=url,
            concurrency=args.concurrency,
            cache=True,
        )
        out = project / "out"
        cmd = [*pl, "run", str(project), "-o", str(out), "-q"]
        cold = measure(cmd, cwd=project, env=bench_env())
        if cold.returncode != 0:
            raise SystemExit(f"cold run failed: {cold.stderr[-2000:]}")
        warm_times = []
        calls = []
        for _ in range(args.runs):
            stub_stats(url, reset=True)
            warm = measure(cmd, cwd=project, env=bench_env())
            if warm.returncode != 0:
                raise SystemExit(f"cached run failed: {warm.stderr[-2000:]}")
            requests = int(stub_stats(url)["requests"])  # type: ignore[call-overload]
            usage = json.loads((out / "results.json").read_text())["usage"]
            calls.append((requests, usage["model_calls"], usage["cache_hits"]))
            warm_times.append(warm.wall_s)
        warm_litellm = imports_litellm(cmd, project)
        sent = max(c[0] for c in calls)
        counted = max(c[1] for c in calls)
        hits = min(c[2] for c in calls)
        rows.append(
            [
                f"cached re-run, {n} cases",
                median(warm_times),
                "no" if not warm_litellm else "YES",
                f"{sent} requests to the stub, model_calls {counted}, cache hits {hits}",
            ]
        )
        rows.append([f"cold run, {n} cases (fills the cache; 0 ms stub)", cold.wall_s, "yes", "—"])

        if not isinstance(pf, str):
            pf_project = make_promptfoo_project(
                WORK / "startup-promptfoo",
                cases=n,
                base_url=url,
                concurrency=args.concurrency,
                cache=True,
            )
            shutil.rmtree(Path(promptfoo_env()["PROMPTFOO_CACHE_PATH"]), ignore_errors=True)
            pf_cmd = promptfoo_command(pf, pf_project, args.concurrency, cache=True)
            measure(pf_cmd, cwd=pf_project, env=promptfoo_env())  # warms its cache
            for _ in range(args.runs):
                stub_stats(url, reset=True)
                m = measure(pf_cmd, cwd=pf_project, env=promptfoo_env())
                if m.returncode != 0:
                    raise SystemExit(f"promptfoo cached run failed: {m.stderr[-2000:]}")
                pf_requests = int(stub_stats(url)["requests"])  # type: ignore[call-overload]
                pf_cached.append(m.wall_s)
            rows.append(
                [
                    f"promptfoo {pf.version} cached re-run, {n} cases",
                    median(pf_cached),
                    "—",
                    f"{pf_requests} requests to the stub (last run)",
                ]
            )

    warm_s = median(warm_times)
    goals.append(
        f"- `--help` {median(help_times):.2f} s (goal < 0.2 s: "
        f"{'met' if median(help_times) < 0.2 else 'NOT met'})"
    )
    goals.append(
        f"- `schema` {median(schema_times):.2f} s (goal < 0.3 s: "
        f"{'met' if median(schema_times) < 0.3 else 'NOT met'})"
    )
    goals.append(
        f"- cached re-run of {n} cases {warm_s:.2f} s with {sent} model requests (goal "
        f"< 1 s and 0: {'met' if warm_s < 1 and sent == 0 and counted == 0 else 'NOT met'})"
    )
    goals.append(
        "- litellm imported by --help / schema / cached re-run: "
        f"{help_litellm} / {schema_litellm} / {warm_litellm} (goal: none; "
        f"{'met' if not (help_litellm or schema_litellm or warm_litellm) else 'NOT met'})"
    )
    if pf_cached:
        goals.append(
            f"- cached re-run vs promptfoo's: {warm_s:.2f} s vs {median(pf_cached):.2f} s "
            f"({warm_s / median(pf_cached):.2f}x)"
        )

    body = [
        f"Medians of {args.runs} runs. The cached re-run is `promptloop run` on a project of {n} "
        f"cases (a model call and an LLM-judge call each) whose disk cache was filled by one "
        "cold run against bench/stub_server.py; requests reaching the stub during the re-runs "
        "are counted by the stub itself. 'imports litellm' is read from PYTHONPROFILEIMPORTTIME.",
        "",
    ]
    if isinstance(pf, str):
        body += [f"promptfoo: not compared: {pf}.", ""]
    body += table(["command", "wall s", "imports litellm", "notes"], rows)
    body += ["", "Goals:", "", *goals]
    path = write_result(
        args.output, "Startup and fully cached runs", "python bench/startup.py", body
    )
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
