"""`promptloop run`: its options, the progress and the reports around
`commands.run.execute_run`, and `run --estimate`."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

from promptloop.cli.base import (
    EXIT_CODES_HELP,
    budget_options,
    cli,
    concurrency_option,
    config_option,
    deprecated_directory,
    dir_option,
    friendly_errors,
    model_option,
    no_cache_option,
    one_directory,
    output_option,
    quiet_option,
    stdout_console,
)

if TYPE_CHECKING:
    from promptloop.commands.run import RunOptions
    from promptloop.engine.results import RunResult
    from promptloop.project.loader import Project
    from promptloop.report.console import Show


@cli.command(epilog=EXIT_CODES_HELP)
@click.argument(
    "old_directory",
    metavar="[DIR]",
    required=False,
    type=click.Path(path_type=Path, file_okay=False, exists=True),
)
@dir_option
@config_option
@output_option
@model_option
@click.option("--suite", "-s", "suites", multiple=True, help="Run only this suite (repeatable).")
@concurrency_option
@no_cache_option
@click.option(
    "--repeat",
    type=click.IntRange(min=1),
    help="Run every case k times and average within the case (noisy models/judges).",
)
@click.option(
    "--baseline",
    metavar="REF",
    help="Also run each prompt as it is at git REF and "
    "gate on the paired difference (in CI: the PR's base sha).",
)
@click.option(
    "--shard",
    metavar="I/N",
    help="Run only shard I of N (split by case id), for a "
    "CI matrix; combine the partial results with `promptloop merge`.",
)
@click.option(
    "--otel",
    "otel_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write every verdict as OpenTelemetry (OTLP JSON lines) to this file; with "
    "OTEL_EXPORTER_OTLP_ENDPOINT set they are sent there.",
)
@budget_options
@click.option(
    "--estimate",
    is_flag=True,
    help="Print the calls, tokens and cost the run would take, and call no model.",
)
@click.option(
    "--show",
    type=click.Choice(["failing", "broken", "all"]),
    default="failing",
    show_default=True,
    help="Which cases to list: failing (and errored), broken since --baseline, or all.",
)
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="List every such case in full, not the first 8 with their text cut short.",
)
@quiet_option
@friendly_errors
def run(
    old_directory: Path | None,
    directory: Path,
    config_path: Path | None,
    output_dir: Path | None,
    model: str | None,
    suites: tuple[str, ...],
    concurrency: int | None,
    no_cache: bool,
    repeat: int | None,
    baseline: str | None,
    shard: str | None,
    otel_file: Path | None,
    show: str,
    verbose: bool,
    max_usd: float | None,
    max_calls: int | None,
    estimate: bool,
    quiet: bool,
) -> None:
    """Run the eval suites of the project in --dir (default: here) and write the reports.

    DIR as an argument still works but is deprecated: every command takes --dir.
    """
    from promptloop.commands.interrupts import stop_on_signals
    from promptloop.commands.run import ProjectQuery, RunOptions, project_for

    directory = one_directory(old_directory, directory)

    query = ProjectQuery(
        start_dir=directory,
        config_path=config_path,
        suites=suites,
        model=model,
        shard=shard,
        baseline=baseline,
    )
    opts = RunOptions(
        output_dir=output_dir,
        concurrency=concurrency,
        no_cache=no_cache,
        repeat=repeat,
        max_usd=max_usd,
        max_calls=max_calls,
    )
    if estimate:
        code = _estimate(opts, project_for(query))
    else:
        with stop_on_signals() as stop:
            opts.stop = stop
            listing = Listing(cast("Show", show), verbose)
            code = _run_and_report(opts, project_for(query), quiet, otel_file, listing)
    deprecated_directory(old_directory)
    sys.exit(code)


@dataclass(frozen=True)
class Listing:
    """Which cases the console lists after the tables, and whether in full."""

    show: Show = "failing"
    verbose: bool = False


def _run_and_report(
    opts: RunOptions,
    project: Project,
    quiet: bool,
    otel_file: Path | None = None,
    listing: Listing | None = None,
) -> int:
    from rich.console import Console

    from promptloop.commands.run import chosen_repeat, default_output_dir, execute_run
    from promptloop.errors import PromptloopError
    from promptloop.gate.verdicts import exit_code_for
    from promptloop.report.console import print_run
    from promptloop.report.files import prepare_output_dir, write_reports
    from promptloop.report.progress import progress_reporter

    out_dir = default_output_dir(opts, project)
    existed = out_dir.exists()
    prepare_output_dir(out_dir)
    err = Console(stderr=True)
    if project.models.notice:
        err.print(f"[yellow]{project.models.notice}[/yellow]")
    total = sum(len(p.cases) for p in project.plans) * chosen_repeat(opts, project)
    # Only changed prompts run on the base too; such a case is done when both sides are.
    sides = {version.plan.name: 2 for version in project.baseline.versions}
    try:
        with progress_reporter(total, quiet=quiet, sides=sides) as progress:
            opts.progress = progress
            result = execute_run(opts, project)
    except PromptloopError:
        # A model that failed its preflight (the run checks them before any call): leave
        # no empty report folder behind.
        if not existed and not any(out_dir.iterdir()):
            out_dir.rmdir()
        raise
    paths = write_reports(result, out_dir)
    _export_telemetry(result, otel_file)
    listing = listing or Listing()
    print_run(result, stdout_console(), show=listing.show, verbose=listing.verbose)
    click.echo(f"Reports written to {out_dir}/ ({', '.join(p.name for p in paths.values())})")
    # A run cut short (the budget, a signal) did not do what the note says; its verdict says why.
    if not existed and not quiet and not result.incomplete:
        from promptloop.report.first_run import first_run_note

        click.echo(first_run_note(project, out_dir))
    if opts.stop is not None and opts.stop.requested:
        # A signal after the last case still ends the process the way it asked for.
        if result.incomplete:
            click.echo(
                f"promptloop: {result.incomplete}: {result.not_run} cases did not run; "
                "run again to resume from the cache",
                err=True,
            )
        return opts.stop.exit_code
    return exit_code_for(result, project.loaded.config.gate)


def _estimate(opts: RunOptions, project: Project) -> int:
    from promptloop.commands.run import estimate_run, run_budget
    from promptloop.report.spending import forecast_line

    forecast = estimate_run(opts, project)
    click.echo(forecast_line(forecast))
    budget = run_budget(opts, project)
    if budget is not None:
        click.echo(f"Budget: {budget.limits.shown()}; no call starts that could cross it.")
    click.echo(f"How: {forecast.method}.")
    click.echo("No model was called.")
    return 0


def _export_telemetry(result: RunResult, otel_file: Path | None) -> None:
    import os

    from promptloop.commands import telemetry

    if telemetry.wanted(os.environ, otel_file):
        for problem in telemetry.export_telemetry(result, otel_file, os.environ):
            click.echo(f"promptloop: warning: {problem}", err=True)
