"""Where a project keeps what promptloop writes: every command agrees on these places.

The response cache (``cache.dir``, default ``.promptloop/cache``) and the run reports
(``promptloop-results/``) both live in the project, the folder holding promptloop.yaml,
wherever promptloop was started from; ``promptloop init`` lists both in .gitignore."""

from __future__ import annotations

from pathlib import Path

RESULTS_DIR = "promptloop-results"


def default_results_dir(project_root: Path) -> Path:
    return project_root / RESULTS_DIR


def results_for(project_root: Path | None, given: Path | None) -> Path:
    """The results.json a command reads: the one given, else the one `run` writes into the
    project, else (a run made before results moved into the project) ./promptloop-results."""
    if given is not None:
        return given
    here = Path.cwd() / RESULTS_DIR / "results.json"
    if project_root is None:
        return here
    in_project = default_results_dir(project_root) / "results.json"
    return here if not in_project.is_file() and here.is_file() else in_project
