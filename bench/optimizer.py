"""Does learning from critiques beat learning from scores alone, at the same budget?

Run: ``python bench/optimizer.py [--model local/smollm2] [--budget N] [--rounds R]``
(writes bench/results/optimizer.md; ``--no-write`` only prints).

Three arms on one suite with a train/val/test split (default: bench/suites/taglines,
a frozen copy of examples/taglines, 50 cases split 0.5/0.25/0.25 by case id):

* seed: the prompt as written, scored on val and test.
* critiques: ``promptloop optimize`` with ``feedback="critiques"`` (the optimizer sees
  each training case's output with every evaluator's reason).
* scores-only: the same with ``feedback="scores-only"`` (outputs and scores, no reasons).

Both optimizer arms get the same ``max_calls``. The optimizer counts its budget as
optimizer calls plus cases scored, cached or not, so a cache hit never buys an arm an
extra round. Each arm still gets its own fresh cache directory, so its wall time and
the model calls it actually sent stand on their own and nothing carries over from an
earlier bench run. The test split is never shown to the optimizer and never used to
choose; each arm's chosen prompt is compared with the seed on it, pair by pair, with
the exact McNemar test, and the two optimizer arms are compared with each other the
same way.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine_lines

from promptloop.commands.optimize import (
    Feedback,
    OptimizeOptions,
    run_optimizer,
    settings_for,
)
from promptloop.commands.run import ProjectQuery, RunOptions, make_runner, project_for
from promptloop.dataset.cases import Case
from promptloop.dataset.splits import split_cases
from promptloop.engine.outcome import CaseOutcome
from promptloop.engine.progress import CaseFinished
from promptloop.engine.runner import TemplateScorer
from promptloop.gate.stats import mcnemar_exact
from promptloop.optimize import OptimizationResult, SplitScore, paired_counts
from promptloop.project.config.cache import CacheConfig
from promptloop.project.loader import Project
from promptloop.project.suites import SuitePlan

BENCH = Path(__file__).resolve().parent
DEFAULT_CONFIG = BENCH / "suites" / "taglines" / "promptloop.yaml"
RESULTS = BENCH / "results" / "optimizer.md"
ARMS = ("critiques", "scores-only")
# Hand-written reading of the figures; kept when the file is regenerated.
NOTES_START, NOTES_END = "<!-- notes:start -->", "<!-- notes:end -->"


@dataclass
class Counter:
    """Scoring generations per arm: sent to the model versus answered from the cache."""

    sent: int = 0
    cached: int = 0

    def __call__(self, event: CaseFinished) -> None:
        if event.cached:
            self.cached += 1
        else:
            self.sent += 1


@dataclass
class Arm:
    name: str
    test: list[CaseOutcome]
    val: SplitScore | None
    calls_used: int
    status: str
    wall_s: float
    counter: Counter
    result: OptimizationResult | None = None
    checks: list[str] = field(default_factory=list)


def with_cache(prepared: Project, cache_dir: Path) -> Project:
    cfg = prepared.loaded.config
    config = cfg.model_copy(update={"cache": CacheConfig(enabled=True, dir=str(cache_dir))})
    return replace(prepared, loaded=replace(prepared.loaded, config=config))


def score(
    prepared: Project, plan: SuitePlan, text: str, cases: Sequence[Case], run: RunOptions
) -> list[CaseOutcome]:
    scorer = TemplateScorer(make_runner(prepared, run), plan)
    return asyncio.run(scorer.score(text, cases))


def run_arm(
    name: str, args: argparse.Namespace, cache_root: Path, seed_val: SplitScore | None = None
) -> tuple[Arm, Project, SuitePlan, dict[str, list[Case]]]:
    counter = Counter()
    run = RunOptions(progress=counter)
    query = ProjectQuery(config_path=args.config, model=args.model)
    prepared = with_cache(project_for(query), cache_root / name)
    plan = prepared.plans[0]
    splits = split_cases(plan.cases, prepared.loaded.config.splits.ratios())
    seed = plan.prompt.source
    started = time.perf_counter()
    if name == "seed":
        val = score(prepared, plan, seed, splits["val"], run)
        test = score(prepared, plan, seed, splits["test"], run)
        wall = time.perf_counter() - started
        calls = len(splits["val"]) + len(splits["test"])
        arm = Arm(name, test, SplitScore.of(val), calls, "seed", wall, counter)
        return arm, prepared, plan, splits
    feedback: Feedback = "critiques" if name == "critiques" else "scores-only"
    opts = OptimizeOptions(run=run, rounds=args.rounds, max_calls=args.budget, feedback=feedback)
    result = run_optimizer(prepared, plan, opts)
    wall = time.perf_counter() - started
    # The chosen prompt's test outcomes per case, for the arm-vs-arm pairing. They
    # come from this arm's own cache (scored once already), so no model call is sent.
    before = counter.sent
    test = score(prepared, plan, result.revised_text, splits["test"], run)
    # A run that kept the seed may never have scored it on val (every candidate failed a
    # guard); the chosen prompt is then the seed, whose val figure the seed arm has.
    arm = Arm(
        name,
        test,
        result.scores.val_after or (seed_val if not result.improved else None),
        result.calls_used,
        result.status,
        wall,
        counter,
        result,
    )
    # An errored run reports no test figure, so its (seed) prompt is scored here afresh.
    if counter.sent != before and result.scores.test_after is not None:
        arm.checks.append(
            f"re-scoring the chosen prompt on test sent {counter.sent - before} model calls "
            "(expected all cache hits)"
        )
    return arm, prepared, plan, splits


def paired(seed: list[CaseOutcome], other: list[CaseOutcome]) -> tuple[int, int, float]:
    fixed, broken, _, _ = paired_counts(seed, other)
    return fixed, broken, mcnemar_exact(broken, fixed)


def excerpt(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    flat = flat if len(flat) <= limit else flat[: limit - 1] + "…"
    return "`" + flat.replace("`", "'") + "`"


def fmt_score(s: SplitScore | None) -> str:
    if s is None:
        return "n/a"
    errs = f" ({s.errors} errored)" if s.errors else ""
    return f"{s.passes}/{s.n} ({s.pass_rate:.0%}){errs}"


def revision() -> str:
    """The commit the optimizer code came from, and whether src/ had local edits."""
    root = BENCH.parent

    def git(*argv: str) -> str:
        done = subprocess.run(["git", *argv], cwd=root, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", "src")
    return f"at commit {head}" + (" with uncommitted changes in src/" if dirty else "")


def machine() -> list[str]:
    import importlib.metadata

    try:
        engine = importlib.metadata.version("xllamacpp")
    except importlib.metadata.PackageNotFoundError:
        engine = "not installed"
    return [*machine_lines(), f"- Code {revision()}; xllamacpp {engine}"]


def render(
    args: argparse.Namespace,
    arms: list[Arm],
    splits: dict[str, list[Case]],
    prepared: Project,
    plan: SuitePlan,
    host: list[str],
    total_s: float,
) -> str:
    seed = arms[0]
    settings = settings_for(prepared, OptimizeOptions(rounds=args.rounds, max_calls=args.budget))
    cfg_display = str(args.config)
    lines = [
        "# Optimizer: critiques vs scores only vs the seed prompt",
        "",
        f"Command: `{args.command}`",
        "",
        "Machine:",
        "",
        *host,
        "",
        f"Setup: suite `{plan.name}` from `{cfg_display}` ({len(plan.cases)} cases; "
        f"{len(splits['train'])} train / {len(splits['val'])} val / {len(splits['test'])} test "
        f"by case-id hash). Model, judge and optimizer: `{plan.model}` / "
        f"`{prepared.models.optimizer_model}`, temperature {plan.temperature:g}, "
        f"max_tokens {plan.max_tokens}. Optimizer: mode {settings.mode} (resolved: "
        f"{arms[1].result.mode if arms[1].result else 'n/a'}), rounds {settings.rounds}, "
        f"max_calls {settings.max_calls} per arm (optimizer calls + cases scored, cached or "
        f"not; {2 * len(splits['test'])} reserved for the final test scoring), context_tokens "
        f"{settings.context_tokens}, examples_per_cause {settings.examples_per_cause}, seed "
        f"{settings.seed}. Evaluators: {', '.join(e.name for e in plan.evaluators)} "
        "(deterministic; a case passes when all pass). Each arm ran with its own fresh cache.",
        "",
        "| arm | test pass | val pass | calls used | status | stop | accepted | scored on val "
        "| guard rejections | test vs seed: fixed / broken | McNemar p | wall s | generations "
        "sent / cached |",
        "|---|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for arm in arms:
        r = arm.result
        traj = r.trajectory if r else ()
        if r is None:
            vs_seed = "—"
            p = "—"
        else:
            fixed, broken, pv = paired(seed.test, arm.test)
            vs_seed = f"{fixed} / {broken}"
            p = f"{pv:.3g}"
        # No figure of the optimizer's own: the bench scored the kept seed on test itself.
        mark = " †" if r is not None and r.scores.test_after is None else ""
        lines.append(
            f"| {arm.name} | {fmt_score(SplitScore.of(arm.test))}{mark} | {fmt_score(arm.val)} | "
            f"{arm.calls_used} | {arm.status} | {r.stop_reason if r else '—'} | "
            f"{sum(c.accepted for c in traj) if r else '—'} | "
            f"{sum(c.val_after is not None for c in traj) if r else '—'} | "
            f"{sum(c.rejection is not None for c in traj) if r else '—'} | {vs_seed} | {p} | "
            f"{arm.wall_s:.0f} | {arm.counter.sent} / {arm.counter.cached} |"
        )
    crit, only = arms[1], arms[2]
    fixed, broken, pv = paired(only.test, crit.test)
    lines += [
        "",
        f"Critiques vs scores-only on test, paired: critiques passes where scores-only fails "
        f"on {fixed} case(s), the reverse on {broken}; exact McNemar p={pv:.3g}.",
        "",
    ]
    if any(a.result is not None and a.result.scores.test_after is None for a in arms):
        lines += [
            "† The optimizer ended with status `error` and reports no test figure; it kept "
            "the seed prompt, which the bench scored on test itself.",
            "",
        ]
    lines += [
        f"Total bench wall time: {total_s / 60:.1f} min. 'calls used' is the optimizer's own "
        "budget count; for the seed it is the cases scored (val + test). 'generations "
        "sent / cached' counts the suite model's scoring calls only (not optimizer calls).",
    ]
    checks = [c for arm in arms for c in arm.checks]
    for arm in arms[1:]:
        r = arm.result
        if r is None or r.scores.test_before is None:
            continue
        mine = SplitScore.of(seed.test)
        if (r.scores.test_before.passes, r.scores.test_before.n) != (mine.passes, mine.n):
            checks.append(
                f"{arm.name}: the optimizer scored the seed {fmt_score(r.scores.test_before)} on "
                f"test, the seed arm {fmt_score(mine)} (the model is not deterministic here)"
            )
        f2, b2, _ = paired(seed.test, arm.test)
        if (r.scores.test_fixed, r.scores.test_broken) != (f2, b2):
            checks.append(
                f"{arm.name}: optimizer reports test fixed/broken {r.scores.test_fixed}/"
                f"{r.scores.test_broken}, re-pairing against the seed arm gives {f2}/{b2}"
            )
    lines += [
        "",
        "Consistency checks: "
        + (
            "; ".join(checks)
            if checks
            else "all passed "
            "(each arm's seed test figure equals the seed arm's; the optimizer's own test "
            "fixed/broken equal a re-pairing against the seed arm; re-scoring the chosen "
            "prompts sent no model call)."
        ),
    ]
    for arm in arms[1:]:
        r = arm.result
        if r is None:
            continue
        lines += ["", f"## Arm `{arm.name}`", ""]
        for c in r.trajectory:
            val = (
                f"val {fmt_score(c.val_before)} → {fmt_score(c.val_after)}"
                if c.val_after is not None
                else ""
            )
            lines.append(
                f"- round {c.round} attempt {c.attempt}: "
                f"{'ACCEPTED' if c.accepted else 'rejected'} — {c.why} {val}".rstrip()
            )
            if c.rejection is not None and c.text:
                lines.append(f"  - reply began: {excerpt(c.text)}")
        for note in (*r.notes, *r.errors):
            lines.append(f"- note: {note}")
        if r.improved:
            lines += ["", "Chosen prompt vs seed:", "", "```diff", r.unified_diff.rstrip(), "```"]
        else:
            lines += ["", "The seed prompt was kept."]
    return "\n".join(lines) + "\n"


def keep_notes(old: str) -> str:
    start, end = old.find(NOTES_START), old.find(NOTES_END)
    if start >= 0 and end > start:
        return old[start : end + len(NOTES_END)]
    return f"{NOTES_START}\n## Reading\n\n(not written yet)\n{NOTES_END}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model", default=None, help="override the suite model")
    parser.add_argument("--budget", type=int, default=120, help="max_calls per optimizer arm")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--cache-root", type=Path, default=None, help="default: a temp dir")
    parser.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS.name}")
    args = parser.parse_args(argv)
    # Relative when possible: the prompt's display path (and so the diff) derives from it.
    resolved = args.config.resolve()
    inside = resolved.is_relative_to(Path.cwd().resolve())
    args.config = Path(os.path.relpath(resolved)) if inside else resolved
    shown = ["python", "bench/optimizer.py", *(sys.argv[1:] if argv is None else argv)]
    args.command = shlex.join(shown)
    host = machine()
    started = time.perf_counter()
    arms: list[Arm] = []
    with tempfile.TemporaryDirectory(prefix="promptloop-bench-") as tmp:
        cache_root = args.cache_root or Path(tmp)
        for name in ("seed", *ARMS):
            print(f"[bench] arm {name} …", file=sys.stderr, flush=True)
            seed_val = arms[0].val if arms else None
            arm, prepared, plan, splits = run_arm(name, args, cache_root, seed_val)
            arms.append(arm)
            print(
                f"[bench] arm {name}: test {fmt_score(SplitScore.of(arm.test))}, "
                f"calls {arm.calls_used}, {arm.wall_s:.0f}s",
                file=sys.stderr,
                flush=True,
            )
    text = render(args, arms, splits, prepared, plan, host, time.perf_counter() - started)
    print(text)
    if not args.no_write:
        old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text + "\n" + keep_notes(old) + "\n", encoding="utf-8")
        print(f"[bench] wrote {RESULTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
