"""Embedded runs: `promptloop run` on local/smollm2 against llama.cpp driven directly.

Run: ``python bench/embedded.py`` (writes bench/results/embedded.md). Options:
``--cases 12 --max-tokens 24 --runs 3``.

Goal (issue 17): an embedded run's whole-process wall within 1.15x of the model load plus
raw llama.cpp generation time for the same cases. The raw side is a fresh Python process
that loads the same GGUF file with the same settings as models/local.py (xllamacpp) and answers the
same rendered prompts one after another; its time is measured from before the load to
after the last answer. The two are run alternately; medians of ``--runs``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    PROMPT,
    WORK,
    bench_env,
    case_rows,
    make_project,
    measure,
    median,
    promptloop_command,
    table,
    write_result,
)
from startup import imports_litellm

RAW = r"""
import json, sys, time
cases, max_tokens = json.loads(sys.argv[1]), int(sys.argv[2])
started = time.perf_counter()
import xllamacpp
from promptloop.models import local
params = xllamacpp.CommonParams()
params.model.path = str(local.find_weights())
params.n_ctx, params.n_parallel, params.verbosity = local.N_CTX, 1, -1
for cpu in (params.cpuparams, params.cpuparams_batch):
    cpu.n_threads, cpu.poll = local.thread_count(), 0
engine = xllamacpp.Server(params)
loaded = time.perf_counter()
tokens = 0
for text in cases:
    out = engine.handle_chat_completions({"messages": [{"role": "user", "content": text}],
                                          "temperature": 0.0, "max_tokens": max_tokens, "seed": 0})
    tokens += out["usage"]["completion_tokens"]
done = time.perf_counter()
print(json.dumps({"load_s": loaded - started, "generate_s": done - loaded, "tokens": tokens}))
"""


def rendered(n: int) -> list[str]:
    # The benchmark prompt is one user message; render it the way the template reads.
    out = []
    for row in case_rows(n):
        values = row["vars"]
        assert isinstance(values, dict)
        text = PROMPT.replace("{{ n }}", str(values["n"]))
        out.append(text.replace("{{ text }}", str(values["text"])))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=12)
    parser.add_argument("--max-tokens", type=int, default=24)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--output", default="embedded")
    args = parser.parse_args(argv)
    n = args.cases
    project = make_project(
        WORK / "embedded-promptloop", cases=n, base_url="", concurrency=4, cache=False, judge=False
    )
    config = project / "promptloop.yaml"
    text = config.read_text().replace("model: openai/stub-model", "model: local/smollm2")
    text = text.replace("api_base: \n", "")
    text = text.replace("max_tokens: 64", f"max_tokens: {args.max_tokens}")
    config.write_text(text)
    out = project / "out"
    ours: list[tuple[float, int]] = []
    raw: list[dict[str, float]] = []
    for i in range(args.runs):
        m = measure(
            [*promptloop_command(), "run", str(project), "-o", str(out), "-q"],
            cwd=project,
            env=bench_env(),
        )
        if m.returncode != 0:
            sys.exit(f"promptloop run failed: {m.stdout[-1500:]}\n{m.stderr[-1500:]}")
        usage = json.loads((out / "results.json").read_text())["usage"]
        ours.append((m.wall_s, int(usage["completion_tokens"])))
        r = measure(
            [sys.executable, "-c", RAW, json.dumps(rendered(n)), str(args.max_tokens)],
            cwd=WORK,
            env=bench_env(),
        )
        if r.returncode != 0:
            sys.exit(f"raw llama.cpp run failed: {r.stderr[-1500:]}")
        raw.append(json.loads(r.stdout.strip().splitlines()[-1]))
        print(
            f"run {i + 1}: promptloop {ours[-1][0]:.2f}s, raw load+generate "
            f"{raw[-1]['load_s'] + raw[-1]['generate_s']:.2f}s",
            file=sys.stderr,
        )
    pl_wall = median([o[0] for o in ours])
    raw_total = median([r["load_s"] + r["generate_s"] for r in raw])
    pl_tokens = median([o[1] for o in ours])
    raw_tokens = median([r["tokens"] for r in raw])
    rows = [
        ["promptloop run (whole process)", pl_wall, pl_tokens, pl_tokens / pl_wall],
        [
            "llama.cpp: load + generation",
            raw_total,
            raw_tokens,
            raw_tokens / median([r["generate_s"] for r in raw]),
        ],
        ["llama.cpp: load alone", median([r["load_s"] for r in raw]), "—", "—"],
    ]
    ratio = pl_wall / raw_total
    command = [*promptloop_command(), "run", str(project), "-o", str(out)]
    imported = imports_litellm(command, project)
    body = [
        f"{n} cases of the throughput benchmark's prompt, no judge, max_tokens "
        f"{args.max_tokens}, caches off; medians of {args.runs} runs, the two sides "
        "alternated. tokens/s for llama.cpp is over its generation time alone; for promptloop "
        "over the whole process.",
        "",
        *table(["what", "wall s", "completion tokens", "tokens/s"], rows),
        "",
        "Goals:",
        "",
        f"- embedded run / (load + raw generation) = {ratio:.2f} (goal <= 1.15: "
        f"{'met' if ratio <= 1.15 else 'NOT met'}); promptloop's wall includes Python's start, "
        "its own imports, rendering and writing the reports, which the raw side does not do",
        f"- litellm imported by the embedded run: {imported} (goal: no)",
    ]
    path = write_result(args.output, "Embedded model runs", "python bench/embedded.py", body)
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
