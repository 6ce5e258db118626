"""Does the simulation describe the program? The real CLI against the stub, both worlds.

Run: ``python bench/gate_e2e.py`` (writes bench/results/gate_e2e.md; exit 1 if a cell
disagrees with the simulation by more than two standard errors).

Each simulated run is one ``promptloop run --baseline HEAD`` subprocess on a project of
200 cases and one judge evaluator, against bench/stub_server.py's quality world
(in-process, re-salted before every run, so every run has its own case ranks and its
own sticky-judge mistakes). The model is deterministic: a case is answered right when
its rank is below the prompt's ``quality``; base answers 133 of 200 right, a 10-point
drop 113. The judge errs on 10% of its verdicts, fresh on every call or sticky at
temperature 0. With distinct outputs the two prompts ask for different styles, so no
answer is byte-identical between base and head. The cache is emptied before each run.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, WORK, bench_env, machine_lines, promptloop_command
from gate_worlds import MAJORITY, World, run_world
from stub_server import StubConfig, StubServer

from promptloop.gate.policy import GatePolicy

# CLI runs per row (a run takes 10-20 s on the machine below); the A/A rows with
# identical outputs need few, since nothing can differ between the sides there.
RUNS = 15
TRIVIAL_RUNS = 5
SIM_RUNS = 400
CASES = 200
BASE_QUALITY = 133
SEED = 20261201
RUBRIC = "The answer is the right answer to the case."
# The default gate, as `promptloop run` applies it.
POLICY = GatePolicy()


@dataclass(frozen=True)
class Cell:
    judge: str
    outputs: str
    scenario: str
    head_quality: int

    @property
    def world(self) -> World:
        return World(self.judge, self.outputs)  # type: ignore[arg-type]

    @property
    def change(self) -> float:
        return (self.head_quality - BASE_QUALITY) / CASES

    @property
    def runs(self) -> int:
        trivial = self.outputs == "identical" and self.head_quality == BASE_QUALITY
        return TRIVIAL_RUNS if trivial else RUNS


CELLS = [
    Cell(judge, outputs, scenario, quality)
    for judge in ("fresh", "sticky")
    for outputs in ("identical", "distinct")
    for scenario, quality in (("A/A", BASE_QUALITY), ("10 pp true drop", BASE_QUALITY - 20))
]


def _prompt(quality: int, style: str | None, wording: str) -> str:
    styled = f" Write it in style {style}." if style else ""
    return f"{wording} case {{{{ i }}}} of {CASES}. quality {quality}.{styled}\n"


def _project(root: Path, cell: Cell, base_url: str) -> Path:
    if root.exists():
        shutil.rmtree(root)
    (root / "prompts").mkdir(parents=True)
    (root / "evals").mkdir()
    with (root / "evals" / "cases.jsonl").open("w") as fh:
        for i in range(CASES):
            fh.write(json.dumps({"id": f"c{i:03d}", "vars": {"i": i}}) + "\n")
    (root / "promptloop.yaml").write_text(
        "model: openai/stub-model\n"
        "judge_model: openai/stub-judge\n"
        f"api_base: {base_url}\n"
        "concurrency: 16\n"
        "retries: 1\n"
        "suites:\n"
        "  - name: answers\n"
        "    prompt: prompts/answer.md\n"
        "    dataset: evals/cases.jsonl\n"
        "    evaluators:\n"
        f"      - judge: {json.dumps(RUBRIC)}\n"
        "        name: right\n"
    )
    distinct = cell.outputs == "distinct"
    prompt = root / "prompts" / "answer.md"
    prompt.write_text(_prompt(BASE_QUALITY, "plain" if distinct else None, "Answer"))
    (root / ".gitignore").write_text("out/\n.promptloop/\n")
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=root, check=True)
    subprocess.run([*git, "add", "."], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=root, check=True)
    # The head's wording always differs (an unchanged prompt is not compared at all).
    prompt.write_text(_prompt(cell.head_quality, "brisk" if distinct else None, "Please answer"))
    return root


@dataclass
class CellTally:
    fails: int = 0
    extra: float = 0.0
    seconds: float = 0.0


def _run_cell(server: StubServer, cell: Cell, index: int) -> CellTally:
    root = _project(WORK / "gate_e2e" / f"cell{index}", cell, server.base_url)
    tally = CellTally()
    started = time.perf_counter()
    for run in range(cell.runs):
        server.configure(quality_judge=cell.judge, world_salt=SEED + 1000 * index + run)
        server.reset_stats()
        shutil.rmtree(root / ".promptloop", ignore_errors=True)
        command = [*promptloop_command(), "run", str(root), "-o", str(root / "out"), "-q"]
        proc = subprocess.run(
            [*command, "--baseline", "HEAD"],
            cwd=root,
            env=bench_env(),
            capture_output=True,
            text=True,
        )
        results = json.loads((root / "out" / "results.json").read_text())
        status = results["verdict"]["status"]
        if proc.returncode not in (0, 1) or results["usage"]["model_calls"] == 0:
            raise RuntimeError(f"run failed ({proc.returncode}): {proc.stderr[-2000:]}")
        tally.fails += status == "fail"
        stats = server.snapshot()
        first = stats["requests"] - stats["sampled"]
        tally.extra += stats["sampled"] / first / cell.runs
    tally.seconds = time.perf_counter() - started
    return tally


def _se(share: float, n: int) -> float:
    # At 0 or 1 the binomial SE vanishes; half a run keeps the comparison honest.
    share = min(max(share, 0.5 / n), 1 - 0.5 / n)
    return math.sqrt(share * (1 - share) / n)


def main() -> int:
    started = time.perf_counter()
    rows = [
        "| world | scenario | CLI: fail | simulation: fail | difference (SEs) | "
        "CLI: extra calls | simulation: extra calls | CLI s/run |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    agree = True
    with StubServer(StubConfig(quality_judge="fresh", seed=SEED)) as server:
        for index, cell in enumerate(CELLS):
            tally = _run_cell(server, cell, index)
            sim = run_world(
                cell.world,
                cell.change,
                runs=SIM_RUNS,
                seed=SEED + index,
                policy=POLICY,
                programs=(MAJORITY,),
            )
            e2e_share = tally.fails / cell.runs
            sim_share = sim.share(MAJORITY.key)
            z = (e2e_share - sim_share) / math.hypot(_se(e2e_share, RUNS), _se(sim_share, SIM_RUNS))
            agree = agree and abs(z) <= 2
            rows.append(
                f"| {cell.judge} judge, {cell.outputs} outputs | {cell.scenario} | "
                f"{100 * e2e_share:.0f}% ({tally.fails}/{cell.runs}) | {100 * sim_share:.1f}% | "
                f"{z:+.1f} | +{100 * tally.extra:.0f}% | "
                f"+{100 * sim.mean_extra(MAJORITY.key):.0f}% | {tally.seconds / cell.runs:.1f} |"
            )
            print(rows[-1], flush=True)
    elapsed = time.perf_counter() - started
    lines = [
        "# Gate end to end: the CLI against the stub, both judge worlds",
        "",
        "Command: `python bench/gate_e2e.py`",
        "",
        f"Setup: {RUNS} runs of `promptloop run --baseline HEAD` per row ({TRIVIAL_RUNS} for "
        "A/A with identical outputs, where nothing can differ; the real CLI, "
        f"default gate) on {CASES} cases with one judge evaluator, against "
        "bench/stub_server.py's quality world (a deterministic model whose right answers "
        "depend only on the case and the prompt's quality; a judge erring on 10% of "
        "verdicts, fresh per call or sticky at temperature 0); the simulation "
        f"(`bench/gate_worlds.py`, {SIM_RUNS} runs) of the same world with a temperature-0 "
        "model beside it. 'difference (SEs)' is (CLI − simulation) over the combined "
        "Monte Carlo standard error; 'extra calls' is the second look's calls over the "
        "first look's (the CLI's from the stub's request counts: requests above "
        "temperature 0 over the others).",
        "",
        *rows,
        "",
        f"CLI and simulation agree within two standard errors in every row: "
        f"{'yes' if agree else 'NO'}.",
        "",
        f"Wall time: {elapsed:.0f} s.",
        "",
        "Machine:",
        "",
        *machine_lines(),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    (RESULTS / "gate_e2e.md").write_text(text, encoding="utf-8")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
