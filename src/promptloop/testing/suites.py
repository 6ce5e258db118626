"""What the pytest plugin asks of a project: its suites and case ids at collection, and one
`promptloop run` per suite over the cases pytest selected, read back case by case.

The run is `commands.run.execute_run`, the engine of `promptloop run` itself: the same
models, cache, evaluators, look-twice and gate, and the same results document.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from promptloop.commands.run import ProjectQuery, RunOptions, execute_run, project_for
from promptloop.engine.results import CaseRecord, RunResult
from promptloop.project.loader import Project
from promptloop.report.files import write_reports
from promptloop.safety import terminal_text

CaseStatus = Literal["pass", "fail", "error", "skipped"]


@dataclass(frozen=True)
class CaseOutcomeView:
    """One case as a test item reports it."""

    status: CaseStatus
    message: str
    records: tuple[CaseRecord, ...] = ()

    def properties(self) -> Iterator[tuple[str, str]]:
        """What pytest's own JUnit XML carries for the case (``record_property``)."""
        for record in self.records:
            suffix = f"#{record.repeat}" if record.repeat else ""
            yield f"output{suffix}", record.shown_output or ""
            yield f"score{suffix}", f"{record.score:.3f}"
            if record.cached:
                yield f"cached{suffix}", "true"


def case_message(record: CaseRecord) -> str:
    """Why a case did not pass, in the words `promptloop run` uses: each failing
    evaluator's reason, then the judge's suggested fix where it gave one."""
    where = f" ({record.source})" if record.source else ""
    lines = [f"case {record.id}{where}: {record.status} (score {record.score:.2f})"]
    if record.shown_history:
        lines.append("earlier turns:")
        lines.extend(f"  {line}" for line in record.shown_history.splitlines())
    lines.append(f"output: {record.shown_output if record.shown_output is not None else '—'}")
    if record.error:
        lines.append(f"error: {record.error}")
    for evaluation in record.evaluations:
        if evaluation.passed:
            continue
        lines.append(f"{evaluation.evaluator}: {evaluation.error or evaluation.reason}")
        if evaluation.suggested_fix:
            lines.append(f"  suggested fix: {evaluation.suggested_fix}")
    # Shown in the user's terminal by pytest: the model's text may not drive it.
    return terminal_text("\n".join(lines))


class SuiteSession:
    """A project as one pytest process sees it: loaded once, each suite run at most once per
    selection of cases."""

    def __init__(
        self,
        config_path: Path,
        *,
        model: str | None,
        baseline: str | None,
        no_cache: bool,
    ) -> None:
        query = ProjectQuery(
            start_dir=config_path.parent, config_path=config_path, model=model, baseline=baseline
        )
        self.options = RunOptions(no_cache=no_cache)
        self.prepared: Project = project_for(query)
        self._runs: dict[tuple[str, tuple[str, ...]], RunResult] = {}

    def suite_names(self) -> list[str]:
        return [plan.name for plan in self.prepared.plans]

    def case_ids(self, suite: str) -> list[str]:
        plan = next(p for p in self.prepared.plans if p.name == suite)
        return list(dict.fromkeys(case.id for case in plan.cases))

    def gate_item_name(self) -> str:
        return "gate" if self.prepared.baseline_ref else "threshold"

    def run(self, suite: str, selected: Sequence[str]) -> RunResult:
        key = (suite, tuple(sorted(set(selected))))
        if key not in self._runs:
            chosen = set(key[1])
            plans = [
                replace(plan, cases=tuple(c for c in plan.cases if c.id in chosen))
                for plan in self.prepared.plans
                if plan.name == suite
            ]
            # The baseline is read again, for these plans only.
            self._runs[key] = execute_run(self.options, self.prepared.narrowed(plans))
        return self._runs[key]

    def results(self) -> list[RunResult]:
        return list(self._runs.values())

    def outcome(self, suite: str, case_id: str, selected: Sequence[str]) -> CaseOutcomeView:
        result = self.run(suite, selected or [case_id])
        records = tuple(
            record
            for suite_result in result.suites
            if suite_result.name == suite
            for record in suite_result.cases
            if record.id == case_id
        )
        if not records:
            why = result.incomplete or "the run stopped before this case"
            return CaseOutcomeView("skipped", f"case {case_id} did not run: {why}")
        failing = [r for r in records if r.status != "pass"]
        if not failing:
            return CaseOutcomeView("pass", "", records)
        status: CaseStatus = "error" if all(r.status == "error" for r in failing) else "fail"
        message = "\n\n".join(case_message(r) for r in failing)
        return CaseOutcomeView(status, message, records)

    def gate(self, suite: str, selected: Sequence[str]) -> tuple[bool | None, str]:
        """The suite's verdict on the selected cases: True pass, False fail, None when the
        gate could not decide (too few cases, or the run was stopped), with why."""
        result = self.run(suite, selected)
        if result.incomplete:
            return None, f"incomplete: {result.incomplete}"
        verdict = result.verdicts.get(suite)
        if verdict is None:
            return True, "no threshold and no baseline: nothing to gate"
        if verdict.status == "pass":
            return True, verdict.reason
        if verdict.status == "fail":
            return False, f"{suite}: {verdict.reason}"
        return None, f"inconclusive: {verdict.reason}"


def write_session_reports(session: SuiteSession, directory: Path) -> None:
    """results.json, junit.xml and report.md per suite run, as `promptloop run -o DIR`
    writes them (one folder per suite when the session ran several)."""
    runs = session.results()
    for result in runs:
        name = result.suites[0].name if result.suites else "run"
        write_reports(result, directory / name if len(runs) > 1 else directory)
