"""`promptloop optimize`: learn a better prompt for one suite, told round by round."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import cast

import click

from promptloop.cli.base import (
    EXIT_CODES_HELP,
    cli,
    concurrency_option,
    config_option,
    dir_option,
    friendly_errors,
    model_option,
    named_model,
    no_cache_option,
    stdout_console,
)


@cli.command(epilog=EXIT_CODES_HELP)
@click.argument("suite", required=False)
@dir_option
@config_option
@click.option(
    "--output-dir",
    "-o",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where to write optimize-SUITE.json (every candidate and why it won or lost) and "
    "SUITE.diff [default: promptloop-results/ in the project, beside promptloop.yaml]. "
    "The revised prompt goes next to the prompt file.",
)
@model_option
@click.option(
    "--optimizer-model",
    callback=named_model,
    help="Model that rewrites the prompt [default: judge model].",
)
@click.option(
    "--rounds",
    type=click.IntRange(min=1),
    help="Rounds of critique → rewrite → validation [default: from config, 3].",
)
@click.option(
    "--max-calls",
    type=click.IntRange(min=1),
    help="Budget: model calls in all (optimizer calls plus cases scored).",
)
@click.option(
    "--max-usd",
    type=click.FloatRange(min=0),
    help="Budget in US dollars (0 still lets runs on the free embedded model go).",
)
@click.option(
    "--mode",
    type=click.Choice(["auto", "rewrite", "rules"]),
    help="rewrite the whole prompt, or keep it and maintain appended rules "
    "[default: auto = rules on the embedded model, rewrite otherwise].",
)
@click.option(
    "--feedback",
    type=click.Choice(["critiques", "scores-only"]),
    help="scores-only hides the evaluators' reasons from the optimizer (an ablation).",
)
@click.option(
    "--in-place",
    is_flag=True,
    help="Overwrite the prompt file instead of writing NAME.optimized.EXT next to it.",
)
@concurrency_option
@no_cache_option
@friendly_errors
def optimize(
    suite: str | None,
    directory: Path,
    config_path: Path | None,
    output_dir: Path | None,
    model: str | None,
    optimizer_model: str | None,
    rounds: int | None,
    max_calls: int | None,
    max_usd: float | None,
    mode: str | None,
    feedback: str | None,
    in_place: bool,
    concurrency: int | None,
    no_cache: bool,
) -> None:
    """Learn a better prompt for SUITE from the evaluators' critiques.

    Runs the suite on its train split, shows the failures and their reasons to an optimizer
    model, and accepts a rewrite only if it beats the current prompt on validation cases it
    never saw. The chosen prompt is scored once on the test split at the end.
    """
    from rich.console import Console
    from rich.text import Text

    from promptloop.commands.interrupts import stop_on_signals
    from promptloop.commands.optimize import OptimizeOptions, execute_optimize
    from promptloop.commands.run import ProjectQuery, RunOptions, project_for
    from promptloop.optimize.packing import Feedback
    from promptloop.optimize.settings import ModeSetting
    from promptloop.report.console import print_optimization

    query = ProjectQuery(
        start_dir=directory, config_path=config_path, model=model, optimizer_model=optimizer_model
    )
    run_opts = RunOptions(output_dir=output_dir, concurrency=concurrency, no_cache=no_cache)
    opts = OptimizeOptions(
        run=run_opts,
        suite=suite,
        rounds=rounds,
        max_calls=max_calls,
        max_usd=max_usd,
        mode=cast("ModeSetting | None", mode),
        feedback=cast("Feedback | None", feedback),
        in_place=in_place,
    )
    err = Console(stderr=True, highlight=False)

    def say(line: str) -> None:
        # Rounds take a while on a small model: each step is told as it starts.
        err.print(Text(f"optimize: {line}", style="dim"), soft_wrap=True)

    with stop_on_signals() as stop:
        run_opts.stop = stop
        outcome = execute_optimize(opts, project_for(query), say)
        print_optimization(outcome, stdout_console())
    if stop.requested:
        sys.exit(stop.exit_code)
    sys.exit(optimize_exit_code(outcome.result.status, outcome.result.stop_reason))


def optimize_exit_code(status: str, stop_reason: str) -> int:
    """0 a truthful answer (improved or not); 2 the budget allowed no round (the user's
    setting); 3 the optimizer model failed."""
    if status != "error":
        return 0
    return 2 if stop_reason in ("budget", "usd") else 3
