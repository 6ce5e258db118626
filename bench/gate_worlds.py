"""The gate in two judge worlds, with and without outputs that stay identical.

Used by ``bench/gate_stats.py`` (the tables) and ``bench/gate_e2e.py`` (the end-to-end
check that the simulation describes the program).

* **fresh judge**: every call errs with probability ``FLIP``, independently.
* **sticky judge**: at temperature 0 its verdict is a function of the request (it errs
  on a fixed ``FLIP`` share of requests, whatever the seed), as a real judge at
  temperature 0 does; above temperature 0 each call errs independently.
* **identical outputs**: an answer depends only on the case and whether the model got
  it right, so base and head give byte-identical outputs wherever their correctness
  agrees. **distinct outputs**: every answer differs between base and head (say the
  prompt changed the wording), so no output is ever shared.

Two programs are simulated on the same runs:

* **promptloop** as it is now: the judge sees the rubric and the case, not the prompt,
  so an identical output is one request and one verdict on both sides; the second look
  re-samples the judge at a temperature above 0 and re-samples the model only when it
  samples itself.
* **before**: the judge saw the prompt under test (an identical output was two requests)
  and the second look re-sent the same temperature-0 request with another seed, stopping
  early when every answer and verdict came back unchanged.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from promptloop.gate.pairing import CaseRecord, Comparison, compare, confirm
from promptloop.gate.policy import GatePolicy, cases_to_confirm, decide

FLIP = 0.1
Judge = Literal["fresh", "sticky"]
Outputs = Literal["identical", "distinct"]


@dataclass(frozen=True)
class Program:
    """How the program looks twice: ``runs`` confirmation runs whose judge verdicts are
    the majority of ``samples`` samples; ``anchored`` is the program as it is now."""

    key: str
    runs: int
    samples: int
    anchored: bool = True


BEFORE = Program("before", runs=2, samples=1, anchored=False)
TWO_RUNS = Program("2 runs x 1 sample", runs=2, samples=1)
MAJORITY = Program("1 run x majority of 3", runs=1, samples=3)
PROGRAMS = (MAJORITY, TWO_RUNS, BEFORE)
# Bootstrap resamples for the Δ interval: the gate decides on the point estimate and the
# sign-flip p-value, so the interval only needs to exist.
RESAMPLES = 200


@dataclass(frozen=True)
class World:
    judge: Judge
    outputs: Outputs
    # A sampling model (truth drawn per run from p_i ~ Beta) or a deterministic one.
    flaky: bool = False

    @property
    def label(self) -> str:
        model = "sampling model" if self.flaky else "temperature-0 model"
        return f"{self.judge} judge, {self.outputs} outputs, {model}"


@dataclass
class Outcome:
    status: str
    # Calls sent by the second look (model and judge) as a share of the first look's.
    extra: float
    delta_pp: float


class _Judge:
    """The judge of one simulated run; ``memory`` is what a sticky judge repeats."""

    def __init__(self, world: World, rng: random.Random) -> None:
        self.world = world
        self.rng = rng
        self.memory: dict[tuple[object, ...], bool] = {}
        self.calls = 0

    def verdict(self, truth: bool, request: tuple[object, ...], temperature: float) -> bool:
        self.calls += 1
        if self.world.judge == "sticky" and temperature == 0:
            if request not in self.memory:
                self.memory[request] = self.rng.random() < FLIP
            flipped = self.memory[request]
        else:
            flipped = self.rng.random() < FLIP
        return truth != flipped


def true_probabilities(
    rng: random.Random, cases: int, change: float, flaky: bool, beta: tuple[float, float]
) -> tuple[list[float], list[float]]:
    """Base and head pass probabilities; ``change`` < 0 is a drop in the true mean pass
    rate (cases lose all their pass probability in random order), > 0 an improvement."""
    if flaky:
        base = [rng.betavariate(*beta) for _ in range(cases)]
    else:
        base = [1.0 if rng.random() < 2 / 3 else 0.0 for _ in range(cases)]
    head = list(base)
    remaining = abs(change) * cases
    for i in rng.sample(range(cases), cases):
        if remaining <= 0:
            break
        room = head[i] if change < 0 else 1.0 - head[i]
        taken = min(room, remaining)
        head[i] += -taken if change < 0 else taken
        remaining -= taken
    return base, head


def _output(world: World, case: int, side: str, truth: bool, draw: int) -> tuple[object, ...]:
    """What identifies an output: in the identical world only the case and its truth."""
    if world.outputs == "identical":
        return (case, truth)
    return (case, side, truth, draw)


def _majority(
    judge: _Judge, truth: bool, request: tuple[object, ...], temperature: float, samples: int
) -> bool:
    """The majority of ``samples`` verdicts, asked for one at a time until it is settled,
    as ``JudgeEvaluator`` does (of 3: the third only when the first two differ)."""
    passes = fails = 0
    while passes * 2 <= samples and fails * 2 <= samples:
        if judge.verdict(truth, request, temperature):
            passes += 1
        else:
            fails += 1
    return passes > fails


def _truth(world: World, p: float, rng: random.Random) -> bool:
    """Whether the model's answer is right: drawn when it samples, fixed when it does not."""
    return rng.random() < p if world.flaky else p >= 0.5


def _record(case_id: str, passes: list[float]) -> CaseRecord:
    mean = sum(passes) / len(passes)
    return CaseRecord(case_id=case_id, passed=mean, score=mean, repeats=len(passes))


def simulate_run(
    rng: random.Random,
    world: World,
    base_p: list[float],
    head_p: list[float],
    policy: GatePolicy,
    program: Program,
    seed: int,
) -> Outcome:
    """One run of ``promptloop run --baseline`` under ``program`` in ``world``."""
    n = len(base_p)
    judge = _Judge(world, rng)
    sides = {"base": base_p, "head": head_p}
    shows_prompt = not program.anchored

    verdicts: dict[str, list[float]] = {"base": [], "head": []}
    outputs: dict[str, list[tuple[object, ...]]] = {"base": [], "head": []}
    for case in range(n):
        shared: dict[tuple[object, ...], bool] = {}
        for side in ("base", "head"):
            t = _truth(world, sides[side][case], rng)
            out = _output(world, case, side, t, 0)
            outputs[side].append(out)
            request = (out, side) if shows_prompt else out
            if not shows_prompt and out in shared:
                verdict = shared[out]
            else:
                verdict = judge.verdict(t, request, 0.0)
                shared[out] = verdict
            verdicts[side].append(1.0 if verdict else 0.0)
    base = [_record(f"c{i}", [verdicts["base"][i]]) for i in range(n)]
    head = [_record(f"c{i}", [verdicts["head"][i]]) for i in range(n)]
    comparison = compare(base, head, confidence=policy.confidence, seed=seed, n_resamples=RESAMPLES)
    ids = cases_to_confirm(comparison, replace(policy, confirm_runs=program.runs))
    if not ids:
        return Outcome(decide(comparison, head, policy).status, 0.0, comparison.delta_pp.estimate)
    first_calls = 2 * n + judge.calls
    judge.calls = 0
    second, model_calls = _second_look(
        world, program, judge, policy, comparison, ids, sides, outputs, verdicts, rng
    )
    status = decide(second, head, policy).status
    extra = (model_calls + judge.calls) / first_calls
    return Outcome(status, extra, comparison.delta_pp.estimate)


def _second_look(
    world: World,
    program: Program,
    judge: _Judge,
    policy: GatePolicy,
    comparison: Comparison,
    ids: list[str],
    sides: dict[str, list[float]],
    outputs: dict[str, list[tuple[object, ...]]],
    verdicts: dict[str, list[float]],
    rng: random.Random,
) -> tuple[Comparison, int]:
    cases = [int(case_id[1:]) for case_id in ids]
    runs, samples = program.runs, program.samples
    temperature = 0.7 if program.anchored else 0.0
    fresh: dict[str, dict[int, list[float]]] = {"base": {}, "head": {}}
    done = 0
    for run in range(1, runs + 1):
        repeated = True
        for case in cases:
            shared: dict[tuple[object, ...], bool] = {}
            for side in ("base", "head"):
                t = _truth(world, sides[side][case], rng)
                # A temperature-0 model answers again what it answered on the first look.
                out = _output(world, case, side, t, run if world.flaky else 0)
                request = out if program.anchored else (out, side)
                if program.anchored and out in shared:
                    verdict = shared[out]
                else:
                    verdict = _majority(judge, t, request, temperature, samples)
                    shared[out] = verdict
                passed = 1.0 if verdict else 0.0
                fresh[side].setdefault(case, []).append(passed)
                repeated = (
                    repeated and out == outputs[side][case] and passed == verdicts[side][case]
                )
        done += 1
        # Before: stop when every answer and verdict repeated (a sticky judge always does).
        if not program.anchored and repeated:
            break
    every = {
        side: [_record(f"c{c}", [verdicts[side][c], *fresh[side][c]]) for c in cases]
        for side in ("base", "head")
    }
    alone = {side: [_record(f"c{c}", fresh[side][c]) for c in cases] for side in ("base", "head")}
    result = confirm(
        comparison, every["base"], every["head"], alone["base"], alone["head"], runs=done
    )
    # A temperature-0 model is asked the first look's request again: the cache answers.
    # Before, the seed changed, so every re-run was a call.
    model_calls = 2 * done * len(cases) if world.flaky or not program.anchored else 0
    return result, model_calls


Scenario = tuple[str, float]
SCENARIOS: list[Scenario] = [
    ("A/A", 0.0),
    ("10 pp true drop", -0.10),
    ("10 pp true improvement", 0.10),
]


@dataclass
class Tally:
    statuses: dict[str, dict[str, int]]
    extra: dict[str, list[float]]
    deltas: list[float]
    runs: int

    def share(self, program: str, status: str = "fail") -> float:
        return self.statuses[program].get(status, 0) / self.runs

    def mean_extra(self, program: str) -> float:
        return sum(self.extra[program]) / self.runs


def run_world(
    world: World,
    change: float,
    *,
    runs: int,
    seed: int,
    policy: GatePolicy,
    cases: int = 200,
    beta: tuple[float, float] = (0.3, 0.15),
    programs: tuple[Program, ...] = PROGRAMS,
    on_run: Callable[[int], None] | None = None,
) -> Tally:
    """``runs`` simulated runs; every program sees the same true probabilities per run
    and its own judge and sampling draws."""
    rng = random.Random(seed)
    tally = Tally({p.key: {} for p in programs}, {p.key: [] for p in programs}, [], runs)
    for index in range(runs):
        base_p, head_p = true_probabilities(rng, cases, change, world.flaky, beta)
        for program in programs:
            outcome = simulate_run(
                random.Random(rng.getrandbits(64)), world, base_p, head_p, policy, program, index
            )
            counts = tally.statuses[program.key]
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
            tally.extra[program.key].append(outcome.extra)
            if program is programs[0]:
                tally.deltas.append(outcome.delta_pp)
        if on_run is not None:
            on_run(index)
    return tally
