"""`promptloop view`: open a run's report.html, rebuilding it from results.json when it is
missing or older than the results it shows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from promptloop.engine.results import read_results
from promptloop.errors import UserError
from promptloop.project.layout import results_for
from promptloop.project.loaded import find_config
from promptloop.report.html import write_html


@dataclass(frozen=True)
class ViewPlan:
    report: Path
    # The results.json to render the report from first, or None when the report is current.
    rebuild_from: Path | None


def plan_view(target: Path | None, cwd: Path) -> ViewPlan:
    """Which report to open for TARGET (a results.json, a report.html or their folder)."""
    path = cwd / target if target is not None else results_for(_project_root(cwd), None).parent
    if path.is_dir():
        results, report = path / "results.json", path / "report.html"
    elif path.suffix.lower() in (".html", ".htm"):
        results, report = path.with_name("results.json"), path
    else:
        name = "report.html" if path.name == "results.json" else f"{path.stem}.html"
        results, report = path, path.with_name(name)
    if not results.is_file():
        if report.is_file():
            return ViewPlan(report, None)
        raise UserError(
            "no report.html or results.json here; run `promptloop run` first, or name one",
            path=str(path),
        )
    stale = not report.is_file() or report.stat().st_mtime < results.stat().st_mtime
    return ViewPlan(report, results if stale else None)


def _project_root(cwd: Path) -> Path | None:
    """The folder of the promptloop.yaml here or above, whose promptloop-results `run`
    fills; None outside a project."""
    try:
        return find_config(cwd).parent
    except UserError:
        return None


def carry_out(plan: ViewPlan) -> Path:
    """Render the report when the plan says so; the path to open."""
    if plan.rebuild_from is not None:
        result = read_results(plan.rebuild_from)
        try:
            write_html(result, plan.report)
        except OSError as exc:
            raise UserError(
                f"cannot write the report: {exc.strerror or exc}", path=str(plan.report)
            ) from None
    return plan.report.resolve()
