"""Embedded JavaScript engines for promptfoo's ``javascript`` assertions and transforms,
side by side: which one promptloop depends on.

Run: ``python bench/js_engines.py`` (writes bench/results/js-engines.md). Options:
``--runs 5 --calls 500``. Needs PyPI (``pip download``); nothing else leaves the machine.

For each candidate the wheel is downloaded once (its size), installed with ``pip install
--no-deps --target`` into a fresh folder (install time, its size on disk), then measured in
fresh processes that import only that folder: start-up (import, make a context, run one
assertion), the time of one more call on a fresh context and on a reused one, the resident
memory after the first call, and whether the engine stops an endless loop (time limit) and
an endless allocation (memory limit), and how long each took to stop. Medians of ``--runs``.
The engines run alternately inside each repetition, so all see the same machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import median, table, write_result

CANDIDATES = {
    # name on PyPI: (module, licence as published, last release)
    "quickjs": ("quickjs", "MIT", "2023-11"),
    "quickjs-ng": ("quickjs", "MIT", "2026-10"),
    "mini-racer": ("py_mini_racer", "ISC", "2026-02"),
}

ASSERTION = (
    "(function(output, context) { const s = JSON.parse(context.vars.doc).score;"
    " return output.toLowerCase().includes('refund') && s > 0.5; })"
)

# One child process per measurement: it prints one JSON line.
PROBE = r"""
import json, resource, sys, time
kind, calls = sys.argv[1], int(sys.argv[2])
ASSERTION = sys.argv[3]
t0 = time.perf_counter()
args = ["We will refund you.", {"vars": {"doc": '{"score": 0.9}'}}]
if kind == "mini-racer":
    from py_mini_racer import MiniRacer
    def fresh():
        ctx = MiniRacer()
        ctx.set_hard_memory_limit(64 << 20)
        return ctx
    def close(ctx):
        ctx.close()
    def run(ctx, code, timeout=1.0):
        # Arguments go in as a JSON literal: mini-racer converts no Python dicts.
        return ctx.eval("(" + code + ")(..." + json.dumps(args) + ")", timeout_sec=timeout)
else:
    import quickjs
    def fresh():
        ctx = quickjs.Context()
        ctx.set_memory_limit(64 << 20)
        ctx.set_time_limit(1.0)
        return ctx
    def close(ctx):
        pass
    def run(ctx, code, timeout=1.0):
        ctx.set("__args", ctx.parse_json(json.dumps(args)))
        return ctx.eval("(" + code + ")(...__args)")
ctx = fresh()
assert run(ctx, ASSERTION) is True
startup = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t = time.perf_counter()
for _ in range(calls):
    c = fresh()
    run(c, ASSERTION)
    close(c)
per_fresh = (time.perf_counter() - t) / calls
t = time.perf_counter()
for _ in range(calls):
    run(ctx, ASSERTION)
per_reused = (time.perf_counter() - t) / calls

def stops(code):
    c = fresh()
    t = time.perf_counter()
    try:
        run(c, code)
        return "not stopped", time.perf_counter() - t
    except BaseException as exc:
        return type(exc).__name__, time.perf_counter() - t

loop = stops("(function(){ while (true) {} })")
alloc = stops(
    "(function(){ const a = []; while (true) { a.push('x'.repeat(1 << 16) + a.length); } })"
)
print(json.dumps({"startup": startup, "rss_mb": rss, "fresh": per_fresh, "reused": per_reused,
                  "loop": loop, "alloc": alloc}))
"""


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def prepare(name: str, work: Path) -> dict[str, object]:
    wheels = work / f"wheel-{name}"
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(wheels), name],
        check=True,
    )
    wheel = next(wheels.glob("*.whl"))
    target = work / f"site-{name}"
    times = []
    for _ in range(3):
        shutil.rmtree(target, ignore_errors=True)
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "--no-deps",
                "--target",
                str(target),
                str(wheel),
            ],
            check=True,
        )
        times.append(time.perf_counter() - started)
    return {
        "wheel": wheel.name,
        "wheel_mb": wheel.stat().st_size / 2**20,
        "disk_mb": folder_mb(target),
        "install_s": median(times),
        "target": target,
    }


def probe(name: str, target: Path, calls: int) -> dict[str, object]:
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-S", "-c", PROBE, name, str(calls), ASSERTION],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        return {"failed": (done.stderr.strip().splitlines() or ["?"])[-1]}
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=200)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        prepared = {name: prepare(name, work) for name in CANDIDATES}
        samples: dict[str, list[dict[str, object]]] = {name: [] for name in CANDIDATES}
        for _ in range(options.runs):
            for name in CANDIDATES:
                samples[name].append(probe(name, prepared[name]["target"], options.calls))  # type: ignore[arg-type]
    rows = []
    for name, (_, licence, released) in CANDIDATES.items():
        runs = [s for s in samples[name] if "failed" not in s]
        info = prepared[name]
        if not runs:
            rows.append([name, info["wheel"], "failed: " + str(samples[name][0]["failed"])])
            continue

        def med(key: str, runs: list[dict[str, object]] = runs) -> float:
            return median([float(r[key]) for r in runs])  # type: ignore[arg-type]

        loop, alloc = runs[0]["loop"], runs[0]["alloc"]
        rows.append(
            [
                name,
                f"{info['wheel_mb']:.1f}",
                f"{info['disk_mb']:.1f}",
                f"{info['install_s']:.2f}",
                f"{med('startup') * 1000:.1f}",
                f"{med('fresh') * 1e6:.0f}",
                f"{med('reused') * 1e6:.0f}",
                f"{med('rss_mb'):.0f}",
                f"{loop[0]} after {loop[1]:.2f} s",  # type: ignore[index]
                f"{alloc[0]} after {alloc[1]:.2f} s",  # type: ignore[index]
                licence,
                released,
            ]
        )
    body = [
        f"Medians of {options.runs} fresh processes per engine, {options.calls} calls each; "
        "the assertion parses a JSON var and searches the output. Limits: 64 MB of heap and "
        "1 s per call.",
        "",
        *table(
            [
                "engine",
                "wheel MB",
                "installed MB",
                "install s",
                "start-up ms",
                "call, fresh context µs",
                "call, reused context µs",
                "peak RSS MB",
                "endless loop",
                "endless allocation",
                "licence",
                "last release",
            ],
            rows,
        ),
    ]
    path = write_result(
        "js-engines", "Embedded JavaScript engines", "python bench/js_engines.py", body
    )
    print(path.read_text())


if __name__ == "__main__":
    main()
