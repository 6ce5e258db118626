"""How often does the gate fail identical prompts, and how often does it catch a real regression?

Run: ``python bench/gate_stats.py`` (writes bench/results/gate_stats.md; exit 1 if a
target is missed).

The simulation: every simulated run draws a fresh suite of cases. Each case has a true
pass probability ``p_i`` (the chance the model's answer is right, including its own
sampling randomness), drawn from a U-shaped Beta distribution (most cases nearly always
pass or nearly always fail, a fair share are flaky) or, for the "judge noise only"
rows, exactly 0 or 1 (a deterministic model). A noisy judge then flips each
verdict with probability ``FLIP``. Base and head are run independently on the same
cases; with repeats, each case is run and judged ``k`` times per side and averaged.

* A/A: head has exactly the base's ``p_i``; any "fail" is a false alarm.
* Regression: the head's *true* mean pass rate is lower by the stated drop. Cases, in
  random order, lose all their pass probability until the drop is reached (a prompt
  change typically breaks a subset of cases). The judge shrinks what can be observed to
  about ``drop * (1 - 2 * FLIP)``, so two regressions are simulated: a 10-point drop in
  the *judged* pass rate (what any gate sees) and a 10-point drop in the *true* rate.

Every gate sees the same simulated runs.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

from promptloop.compare import CaseRecord, Comparison, compare
from promptloop.gate import GatePolicy, decide

SEED = 20240601
RUNS = 500
FLIP = 0.1
DROP = 0.10
# U-shaped: mean 2/3, most mass near 0 and 1.
BETA_A, BETA_B = 0.3, 0.15
ALLOWED_PP = 5.0
POLICY = GatePolicy(max_regression_pp=ALLOWED_PP, confidence=0.95)
RESULTS = Path(__file__).parent / "results" / "gate_stats.md"


@dataclass(frozen=True)
class Run:
    base: list[CaseRecord]
    head: list[CaseRecord]
    # A pass rate observed on an earlier, independent base run: what a person would
    # use to set an absolute threshold.
    earlier_base_rate: float


def _judged(rng: random.Random, p: float) -> float:
    truth = rng.random() < p
    flipped = rng.random() < FLIP
    return 1.0 if truth != flipped else 0.0


def _records(rng: random.Random, probabilities: list[float], repeats: int) -> list[CaseRecord]:
    records = []
    for i, p in enumerate(probabilities):
        passed = sum(_judged(rng, p) for _ in range(repeats)) / repeats
        records.append(
            CaseRecord(case_id=f"case-{i}", passed=passed, score=passed, repeats=repeats)
        )
    return records


def simulate(rng: random.Random, cases: int, drop: float, repeats: int, flaky: bool) -> Run:
    if flaky:
        base_p = [rng.betavariate(BETA_A, BETA_B) for _ in range(cases)]
    else:
        base_p = [1.0 if rng.random() < 2 / 3 else 0.0 for _ in range(cases)]
    head_p = list(base_p)
    remaining = drop * cases
    for i in rng.sample(range(cases), cases):
        if remaining <= 0:
            break
        taken = min(head_p[i], remaining)
        head_p[i] -= taken
        remaining -= taken
    earlier = _records(rng, base_p, repeats)
    return Run(
        base=_records(rng, base_p, repeats),
        head=_records(rng, head_p, repeats),
        earlier_base_rate=_rate(earlier),
    )


def _rate(records: list[CaseRecord]) -> float:
    return sum(r.passed for r in records) / len(records)


Gate = Callable[[Run, Comparison], str]


def promptloop_gate(run: Run, comparison: Comparison) -> str:
    return decide(comparison, run.head, POLICY).status


def strict_ci_gate(run: Run, comparison: Comparison) -> str:
    # "Fail only when confident the drop exceeds the allowance": whole CI beyond it.
    return "fail" if comparison.delta_pp.hi < -ALLOWED_PP else "pass"


def two_sided_gate(run: Run, comparison: Comparison) -> str:
    significant = comparison.mcnemar_p < 1.0 - POLICY.confidence
    return "fail" if significant and comparison.delta_pp.estimate < -ALLOWED_PP else "pass"


def naive_delta_gate(run: Run, comparison: Comparison) -> str:
    return "fail" if _rate(run.head) < _rate(run.base) else "pass"


def naive_threshold_gate(run: Run, comparison: Comparison) -> str:
    threshold = run.earlier_base_rate - ALLOWED_PP / 100.0
    return "fail" if _rate(run.head) < threshold else "pass"


GATES: list[tuple[str, str, Gate]] = [
    ("promptloop", "promptloop", promptloop_gate),
    ("strict CI", "strict", strict_ci_gate),
    ("two-sided", "two-sided", two_sided_gate),
    ("naive delta", "naive-delta", naive_delta_gate),
    ("naive threshold", "naive-threshold", naive_threshold_gate),
]

GATE_NOTES = [
    "- **promptloop**: `promptloop.gate.decide` with max_regression_pp=5, confidence=0.95 "
    "(one-sided paired test p < 0.05 and estimated drop > 5 pp; exact McNemar when k = 1).",
    "- **strict CI**: fail only when the whole 95% bootstrap CI of the delta is below −5 pp.",
    "- **two-sided**: two-sided exact McNemar p < 0.05 and estimated drop > 5 pp.",
    "- **naive delta**: fail when the head pass rate is below the base pass rate.",
    "- **naive threshold**: fail when the head pass rate is below a threshold set from an "
    "earlier base run (its pass rate − 5 pp).",
]


@dataclass(frozen=True)
class Scenario:
    label: str
    cases: int
    # Drop in the true (noise-free) mean pass rate.
    true_drop: float
    repeats: int = 1
    # ("max" | "min", bound) on the promptloop gate's fail share.
    target: tuple[str, float] | None = None
    # Flaky: p_i ~ Beta. Otherwise every case is deterministic (p_i is 0 or 1, a
    # temperature-0 model) and the judge is the only noise.
    flaky: bool = True


JUDGED_DROP = DROP / (1 - 2 * FLIP)
SCENARIOS = [
    Scenario("A/A, 200 cases", 200, 0.0, target=("max", 0.05)),
    Scenario("10 pp judged drop, 200 cases", 200, JUDGED_DROP, target=("min", 0.80)),
    Scenario("10 pp true drop (≈8 pp judged), 200 cases", 200, DROP),
    Scenario("A/A, 200 cases, k = 3 repeats", 200, 0.0, 3, target=("max", 0.05)),
    Scenario("10 pp true drop, 200 cases, k = 3 repeats", 200, DROP, 3, target=("min", 0.80)),
    Scenario("A/A, 50 cases", 50, 0.0, target=("max", 0.05)),
    Scenario("judge noise only: A/A, 200 cases", 200, 0.0, target=("max", 0.05), flaky=False),
    Scenario(
        "judge noise only: 10 pp judged drop, 200 cases",
        200,
        JUDGED_DROP,
        target=("min", 0.80),
        flaky=False,
    ),
    Scenario("judge noise only: 10 pp true drop, 200 cases", 200, DROP, flaky=False),
]


@dataclass
class Tally:
    statuses: dict[str, dict[str, int]]
    # Observed head − base pass-rate deltas (pp), one per run.
    deltas: list[float]

    def share(self, gate: str, status: str) -> str:
        return f"{100.0 * self.statuses[gate].get(status, 0) / RUNS:.1f}%"


def run_scenario(seed: int, scenario: Scenario) -> Tally:
    rng = random.Random(seed)
    tally = Tally({key: {} for _, key, _ in GATES}, [])
    for run_index in range(RUNS):
        run = simulate(rng, scenario.cases, scenario.true_drop, scenario.repeats, scenario.flaky)
        comparison = compare(run.base, run.head, confidence=POLICY.confidence, seed=run_index)
        tally.deltas.append(comparison.delta_pp.estimate)
        for _, key, gate in GATES:
            status = gate(run, comparison)
            tally.statuses[key][status] = tally.statuses[key].get(status, 0) + 1
    return tally


def _ideal_power(tally: Tally, alpha: float) -> float:
    """Power of a one-sided z-test at level alpha that knew the delta's spread exactly:
    roughly the best a gate with that false-alarm rate can hope for, since a real gate
    has to estimate the spread from the run it is judging."""
    mean = statistics.fmean(tally.deltas)
    spread = statistics.stdev(tally.deltas)
    return NormalDist().cdf(-mean / spread - NormalDist().inv_cdf(1.0 - alpha))


def _se(share: float) -> str:
    return f"{100.0 * math.sqrt(share * (1.0 - share) / RUNS):.1f}"


def _machine() -> list[str]:
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    return [
        f"- Date (UTC): {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M')}",
        f"- CPU cores (os.cpu_count): {os.cpu_count()}",
        f"- Memory: {memory}",
        f"- Python: {platform.python_version()} ({platform.platform()})",
    ]


def main() -> int:
    started = time.perf_counter()
    tallies = [run_scenario(SEED + i, sc) for i, sc in enumerate(SCENARIOS)]
    elapsed = time.perf_counter() - started

    labels = [label for label, _, _ in GATES]
    rows = [
        "| scenario | observed Δ mean (SD), pp | promptloop: fail | promptloop: inconclusive | "
        + " | ".join(f"{label}: fail" for label in labels[1:])
        + " |",
        "|---|" + "---:|" * (len(labels) + 2),
    ]
    for sc, t in zip(SCENARIOS, tallies, strict=True):
        moved = f"{statistics.fmean(t.deltas):.1f} ({statistics.stdev(t.deltas):.1f})"
        cells = [moved, t.share("promptloop", "fail"), t.share("promptloop", "inconclusive")]
        cells += [t.share(key, "fail") for _, key, _ in GATES[1:]]
        rows.append(f"| {sc.label} | " + " | ".join(cells) + " |")

    verdicts = []
    met = True
    for sc, t in zip(SCENARIOS, tallies, strict=True):
        if sc.target is None:
            continue
        share = t.statuses["promptloop"].get("fail", 0) / RUNS
        kind, bound = sc.target
        ok = share <= bound if kind == "max" else share >= bound
        met = met and ok
        sign = "≤" if kind == "max" else "≥"
        ceiling = (
            f"; ceiling {_ideal_power(t, POLICY.alpha) * 100:.0f}%" if sc.true_drop > 0 else ""
        )
        verdicts.append(
            f"- {sc.label}: fail share {share * 100:.1f}% (target {sign} {bound * 100:.0f}%"
            f"{ceiling}): {'met' if ok else 'NOT met'}"
        )
    untargeted = [
        f"- {sc.label}: fail share {t.share('promptloop', 'fail')} (no target; ceiling "
        f"{_ideal_power(t, POLICY.alpha) * 100:.0f}%)"
        for sc, t in zip(SCENARIOS, tallies, strict=True)
        if sc.target is None
    ]
    lines = [
        "# Gate statistics: false alarms and power under a noisy judge",
        "",
        "Command: `python bench/gate_stats.py`",
        "",
        f"Setup: {RUNS} simulated runs per scenario. Each case has a true pass probability "
        f"~ Beta({BETA_A}, {BETA_B}) (mean 2/3; most cases nearly always pass or nearly "
        "always fail, a fair share are flaky) or, in the 'judge noise only' rows, exactly "
        "0 or 1 (a deterministic temperature-0 model, 2/3 of cases passing); a judge flips "
        "each verdict with probability "
        f"{FLIP}; base and head are run and judged independently on the same cases (k "
        "times each with repeats, averaged within the case). A regression takes all pass "
        "probability from cases in random order until the true mean pass rate has dropped "
        f"by the stated amount; a '10 pp judged drop' is a true drop of "
        f"{JUDGED_DROP * 100:.1f} pp, which the judge shows as 10 pp. Allowed regression "
        f"{ALLOWED_PP:g} pp, confidence {POLICY.confidence:g}, seed {SEED}. With {RUNS} "
        f"runs a share near 5% has a Monte Carlo standard error of {_se(0.05)} points, "
        f"near 80% {_se(0.80)}.",
        "",
        "Gates (all see the same simulated runs):",
        "",
        *GATE_NOTES,
        "",
        *rows,
        "",
        "Targets for the promptloop gate:",
        "",
        *verdicts,
        *untargeted,
        "",
        "A judge that flips verdicts with probability f shrinks every difference by "
        "(1 − 2f), so a 10-point drop in true quality shows as about 8 points. At 200 "
        "cases run once that is little more than two standard deviations of the observed "
        "delta, which caps what any gate with a 5% false-alarm rate can catch. The ceilings "
        "quoted are the power of a one-sided 5% z-test told the true spread of the delta "
        "(its mean and SD in the table), which no real gate can know. Repeats buy the power "
        "back: averaged within a case they shrink the judge noise, and the paired "
        "sign-flip test weighs how far each case moved.",
        "",
        f"Wall time: {elapsed:.1f} s.",
        "",
        "Machine:",
        "",
        *_machine(),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
