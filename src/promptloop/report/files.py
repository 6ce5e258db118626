"""The report files of a run: results.json, junit.xml, report.md and report.html in one folder."""

from __future__ import annotations

from pathlib import Path

from promptloop.engine.results import RunResult, write_results
from promptloop.errors import UserError
from promptloop.report.html import write_html
from promptloop.report.junit import write_junit
from promptloop.report.markdown import write_markdown


def prepare_output_dir(output_dir: Path) -> Path:
    """Create the report folder, or say in one line why it cannot be; called before a run
    so a bad --output-dir does not throw away a run's model calls."""
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"cannot write reports there: {exc.strerror or exc}", path=str(output_dir)
        ) from None
    return output_dir


def write_reports(result: RunResult, output_dir: Path) -> dict[str, Path]:
    prepare_output_dir(output_dir)
    paths = {
        "results": output_dir / "results.json",
        "junit": output_dir / "junit.xml",
        "report": output_dir / "report.md",
        "html": output_dir / "report.html",
    }
    write_results(result, paths["results"])
    write_junit(result, paths["junit"])
    write_markdown(result, paths["report"])
    write_html(result, paths["html"])
    return paths
