"""`promptloop merge`: combine the results.json files of `run --shard I/N` jobs.

Shards of one run split the cases of every suite by case id, so merging concatenates
each suite's cases (and its baseline's), sums the usage, and then judges the whole run
again: a verdict is a property of all the cases together, never of one shard. Inputs
that cannot be parts of one run (different prompts, models, shard counts, a case seen
twice, a shard missing) are refused with one line naming the file, because a merged
verdict over the wrong cases would be silently wrong.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from promptloop import __version__
from promptloop.engine.results import (
    CaseRecord,
    RunResult,
    SuiteResult,
    UsageTotals,
    mark_incomplete,
    read_results,
    summarise_evaluators,
)
from promptloop.errors import UserError
from promptloop.project.config.gate import GateConfig
from promptloop.project.loaded import find_config, load_config

if TYPE_CHECKING:
    from rich.console import Console

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
_SOURCE_LINE = re.compile(r"^(.*):(\d+)$")
_SOURCE_INDEX = re.compile(r"^(.*)\[(\d+)\]$")


@dataclass(frozen=True)
class ShardInput:
    """One results.json and where it came from (for error messages)."""

    path: str
    result: RunResult


@dataclass(frozen=True)
class GateSettings:
    gate: GateConfig
    seed: int


def merge_command(
    paths: list[Path],
    *,
    output_dir: Path | None,
    config_path: Path | None,
    console: Console | None,
) -> int:
    """Read, merge, re-judge, write the three reports; return the merged gate's exit code."""
    from promptloop.gate.verdicts import exit_code_for, judge_run
    from promptloop.report.files import write_reports

    if not paths:
        raise UserError("merge needs at least one results.json")
    inputs = [ShardInput(str(p), read_results(p)) for p in paths]
    merged = merge_results(inputs)
    settings = gate_settings(config_path, Path.cwd())
    if merged.incomplete:
        # A shard that was stopped part-way leaves cases unrun: no gate decides on that.
        judged = mark_incomplete(merged, merged.incomplete)
    else:
        judged = judge_run(merged, settings.gate, seed=settings.seed)
    out_dir = output_dir or Path.cwd() / "promptloop-results"
    written = write_reports(judged, out_dir)
    if console is not None:
        from promptloop.report.console import print_run

        print_run(judged, console)
        names = ", ".join(p.name for p in written.values())
        console.print(f"Merged {len(inputs)} results into {out_dir}/ ({names})", highlight=False)
    return exit_code_for(judged, settings.gate)


def gate_settings(config_path: Path | None, start_dir: Path) -> GateSettings:
    """The gate from --config, else from the promptloop.yaml found from ``start_dir``, else
    the defaults (a merge job may run where only the artifacts were downloaded)."""
    if config_path is None:
        try:
            config_path = find_config(start_dir)
        except UserError:
            return GateSettings(GateConfig(), 0)
    config = load_config(config_path).config
    return GateSettings(config.gate, config.seed)


def merge_results(inputs: Sequence[ShardInput]) -> RunResult:
    """One unjudged RunResult from shard results; pure apart from raising ``UserError``."""
    if not inputs:
        raise UserError("merge needs at least one results.json")
    _check_shards(inputs)
    first = inputs[0]
    for other in inputs[1:]:
        _check_same_run(first, other)
    head = _merge_suites(inputs, baseline=False)
    base = _merge_suites(inputs, baseline=True)
    usage = UsageTotals()
    for item in inputs:
        usage = usage.add(item.result.usage)
    notices: list[str] = []
    unchanged: list[str] = []
    for item in inputs:
        notices.extend(n for n in item.result.notices if n not in notices)
        unchanged.extend(s for s in item.result.unchanged_suites if s not in unchanged)
    optimization = next(
        (i.result.optimization for i in inputs if i.result.optimization is not None), None
    )
    return RunResult(
        promptloop_version=__version__,
        created_at=max(i.result.created_at for i in inputs),
        config_path=first.result.config_path,
        model=first.result.model,
        judge_model=first.result.judge_model,
        shard=None,
        # Shards run side by side, so the run took as long as its slowest shard.
        wall_s=max(i.result.wall_s for i in inputs),
        usage=usage,
        suites=head,
        baseline_ref=first.result.baseline_ref,
        baseline=base,
        unchanged_suites=unchanged,
        optimization=optimization,
        notices=notices,
        incomplete=next(
            (f"{i.path} was {i.result.incomplete}" for i in inputs if i.result.incomplete), None
        ),
    )


def _parse_shard(item: ShardInput) -> tuple[int, int] | None:
    text = item.result.shard
    if text is None:
        return None
    match = _SHARD.match(text)
    if match is None or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise UserError(f"shard {text!r} is not of the form I/N", path=item.path, key="shard")
    return int(match.group(1)), int(match.group(2))


def _check_shards(inputs: Sequence[ShardInput]) -> None:
    seen: dict[int, str] = {}
    count: int | None = None
    count_from = ""
    unsharded: str | None = None
    for item in inputs:
        shard = _parse_shard(item)
        if shard is None:
            unsharded = unsharded or item.path
            continue
        index, n = shard
        if count is None:
            count, count_from = n, item.path
        elif n != count:
            raise UserError(
                f"is shard {index}/{n} but {count_from} is one of {count} shards; "
                "merge the shards of one run only",
                path=item.path,
            )
        if index in seen:
            raise UserError(
                f"shard {index}/{n} was given twice (also {seen[index]})", path=item.path
            )
        seen[index] = item.path
    if count is None:
        return
    if unsharded is not None:
        raise UserError(
            "is a whole run, not a shard; merge only the results of `run --shard I/N` jobs",
            path=unsharded,
        )
    missing = [f"{i}/{count}" for i in range(1, count + 1) if i not in seen]
    if missing:
        raise UserError(
            f"shard {', '.join(missing)} missing: got {len(seen)} of {count} shards "
            f"({', '.join(seen[i] for i in sorted(seen))})"
        )


def _check_same_run(first: ShardInput, other: ShardInput) -> None:
    a, b = first.result, other.result
    for key, mine, theirs in (
        ("model", a.model, b.model),
        ("judge_model", a.judge_model, b.judge_model),
        ("config_path", a.config_path, b.config_path),
        ("baseline_ref", a.baseline_ref, b.baseline_ref),
    ):
        if mine != theirs:
            raise UserError(
                f"comes from a different run: {key} is {theirs!r} here but {mine!r} in "
                f"{first.path}",
                path=other.path,
                key=key,
            )
    if a.shard is not None and b.shard is not None:
        # Every shard lists every suite (empty when no case fell to it), so a different set
        # means a different config or --suite selection.
        names_a, names_b = [s.name for s in a.suites], [s.name for s in b.suites]
        if sorted(names_a) != sorted(names_b):
            raise UserError(
                f"comes from a different run: suites {', '.join(names_b) or 'none'} here but "
                f"{', '.join(names_a) or 'none'} in {first.path}",
                path=other.path,
                key="suites",
            )
    for baseline in (False, True):
        mine_suites = {s.name: s for s in (a.baseline if baseline else a.suites)}
        for suite in b.baseline if baseline else b.suites:
            ref = mine_suites.get(suite.name)
            if ref is None:
                continue
            for key in ("prompt_sha256", "model", "threshold", "prompt_path"):
                if getattr(ref, key) != getattr(suite, key):
                    where = "baseline suite" if baseline else "suite"
                    raise UserError(
                        f"{where} {suite.name!r} has a different {key} than in {first.path}; "
                        "were the shards run on different commits or configs?",
                        path=other.path,
                        key=key,
                    )


def _case_order(case: CaseRecord, index: int) -> tuple[int, int, str, int, int]:
    """Dataset order (file, line) within each repeat, as an unsharded run lists them."""
    source = case.source or ""
    match = _SOURCE_LINE.match(source) or _SOURCE_INDEX.match(source)
    if match is None:
        return (case.repeat, 1, "", 0, index)
    return (case.repeat, 0, match.group(1), int(match.group(2)), index)


def _merge_suites(inputs: Sequence[ShardInput], *, baseline: bool) -> list[SuiteResult]:
    order: list[str] = []
    parts: dict[str, list[tuple[ShardInput, SuiteResult]]] = {}
    for item in inputs:
        for suite in item.result.baseline if baseline else item.result.suites:
            if suite.name not in parts:
                order.append(suite.name)
                parts[suite.name] = []
            elif any(prev is item for prev, _ in parts[suite.name]):
                raise UserError(f"suite {suite.name!r} appears twice", path=item.path)
            parts[suite.name].append((item, suite))
    merged = []
    for name in order:
        owner: dict[tuple[str, int], str] = {}
        cases: list[CaseRecord] = []
        confirmation_runs: list[CaseRecord] = []
        usage = UsageTotals()
        for item, suite in parts[name]:
            for case in (*suite.cases, *suite.confirmation_runs):
                key = (case.id, case.repeat)
                if key in owner:
                    also = "" if owner[key] == item.path else f" (also in {owner[key]})"
                    raise UserError(
                        f"case {case.id!r} of suite {name!r} appears twice{also}; "
                        "were the same cases run in two shards?",
                        path=item.path,
                    )
                owner[key] = item.path
            cases.extend(suite.cases)
            confirmation_runs.extend(suite.confirmation_runs)
            usage = usage.add(suite.usage)
        ordered = _in_dataset_order(cases)
        position = {case.id: i for i, case in reversed(list(enumerate(ordered)))}
        template = parts[name][0][1]
        merged.append(
            template.model_copy(
                update={
                    "cases": ordered,
                    "confirmation_runs": _in_dataset_order(confirmation_runs),
                    # Only shards that had a changed case to confirm can say this.
                    "first_look_only": next(
                        (s.first_look_only for _, s in parts[name] if s.first_look_only), None
                    ),
                    "evaluators": summarise_evaluators(ordered),
                    "usage": usage,
                    # A shard's interval is not the whole suite's; the merged gate fills it.
                    "pass_rate_interval": None,
                    "not_run": sum(suite.not_run for _, suite in parts[name]),
                    "reviews": sorted(
                        (r for _, suite in parts[name] for r in suite.reviews),
                        key=lambda r: position.get(r.case_id, len(position)),
                    ),
                }
            )
        )
    return merged


def _in_dataset_order(cases: list[CaseRecord]) -> list[CaseRecord]:
    return [c for _, c in sorted(enumerate(cases), key=lambda ic: _case_order(ic[1], ic[0]))]
