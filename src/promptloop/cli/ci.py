"""`promptloop ci`: the command the GitHub Action runs."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from promptloop.cli.base import (
    EXIT_CODES_HELP,
    budget_options,
    cli,
    concurrency_option,
    config_option,
    friendly_errors,
    output_option,
)


@cli.command(epilog=EXIT_CODES_HELP)
@click.option(
    "--dir",
    "--working-directory",
    "working_directory",
    type=click.Path(path_type=Path, file_okay=False),
    default=".",
    show_default=True,
    help="Folder holding promptloop.yaml (--working-directory is the Action input's name).",
)
@config_option
@output_option
@click.option(
    "--comment/--no-comment",
    default=True,
    show_default=True,
    help="Post the review and the summary comment on the pull request.",
)
@click.option(
    "--suggest",
    type=click.Choice(["off", "suggestion", "commit", "pull-request"]),
    default="suggestion",
    show_default=True,
    help="How to offer a learned revision of a changed prompt.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["gate", "never"]),
    default="gate",
    show_default=True,
    help="never: always exit 0; the promptloop check run still shows the gate's verdict.",
)
@concurrency_option
@click.option(
    "--results",
    "results_path",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Post this results.json (e.g. from `promptloop merge`) instead of running the suites.",
)
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Response cache folder (restore it with actions/cache).",
)
@budget_options
@click.option(
    "--dry-run",
    is_flag=True,
    help="Run and read GitHub as usual, then print what would be created, edited, minimized "
    "or committed there, and write nothing to GitHub.",
)
@friendly_errors
def ci(
    working_directory: Path,
    config_path: Path | None,
    output_dir: Path | None,
    comment: bool,
    suggest: str,
    fail_on: str,
    concurrency: int | None,
    results_path: Path | None,
    cache_dir: Path | None,
    max_usd: float | None,
    max_calls: int | None,
    dry_run: bool,
) -> None:
    """Run inside GitHub Actions: evaluate the prompts a pull request changes, post critiques
    and suggestions, and gate the merge. Reads the GITHUB_* environment of the runner."""
    import os

    from promptloop.commands.ci import CiOptions, run_ci
    from promptloop.commands.interrupts import stop_on_signals

    opts = CiOptions(
        working_directory=working_directory,
        config_path=config_path,
        output_dir=output_dir,
        comment=comment,
        suggest=suggest,
        fail_on=fail_on,
        concurrency=concurrency,
        cache_dir=cache_dir,
        max_usd=max_usd,
        max_calls=max_calls,
        results_path=results_path,
        dry_run=dry_run,
    )
    with stop_on_signals() as stop:
        opts.stop = stop
        code = run_ci(opts, dict(os.environ))
    sys.exit(stop.exit_code if stop.requested else code)
